#!/bin/bash
# run_train_bench.sh - the CPU training engine (bench_train) against PyTorch
# (torch_train.py) on the same models, batch sizes and synthetic inputs,
# both on the same number of threads. Cases run interleaved, ours then
# torch, for several rounds, and the best round of each is kept (a shared
# machine slows whichever runs next to a burst of other work). Prints one
# table with the ratios (best round, and the range over the rounds), then
# the single-layer GFLOP/s table and the per-pass conv2d table (bench_conv,
# 1 and THREADS threads), both as fractions of the sgemm peak measured in
# the same run; with --fmnist also the Fashion-MNIST accuracy check of both.
# The header (bench/lib.sh) says which machine, load, binding, libraries.
#
#   bench/run_train_bench.sh [--fmnist]
#   env: BUILD_DIR (./build), PYTHON (the PyPI torch venv of
#        scripts/install-bench-deps.sh, else /usr/bin/python3: see
#        bench/lib.sh), THREADS (2), BENCH_SECONDS (3 per case and round),
#        ROUNDS (3), CASES (space-separated subset of the four),
#        FMNIST_DIR (/usr/share/datasets/fashion-mnist)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-$here/../build}
bin=$build/bench/bench_train
. "$here/lib.sh"
py=$(bench_peer_python)
threads=${THREADS:-2}
secs=${BENCH_SECONDS:-3}
rounds=${ROUNDS:-3}
fmnist_dir=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
cases=${CASES:-"mlp64 mlp256 smallcnn64 yearbook64"}

if [ ! -x "$bin" ]; then
  echo "run_train_bench.sh: $bin not found; build first (cmake --build build) or set BUILD_DIR" >&2
  exit 1
fi
if ! "$py" -c 'import torch' 2>/dev/null; then
  echo "run_train_bench.sh: $py cannot import torch; run scripts/install-bench-deps.sh or set PYTHON" >&2
  exit 1
fi
cores=$(nproc) # before the export: nproc obeys OMP_NUM_THREADS
export MODYN_THREADS=$threads OMP_NUM_THREADS=$threads
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

bench_header "$build" "$threads" "$py"
echo "# $cores cores, $threads threads, $rounds rounds of ${secs}s per case, interleaved;" \
     "best round [min-max over rounds]"
for r in $(seq "$rounds"); do
  for c in $cases; do
    "$bin" --cases "$c" --seconds "$secs" | grep -v '^#' >> "$raw"
    "$py" "$here/torch_train.py" --cases "$c" --seconds "$secs" --threads "$threads" \
      | grep -v '^#' >> "$raw"
  done
done

# columns of raw: engine case batch train_samples/s infer256_samples/s
awk -v cases="$cases" '
  function range(lo, hi) { return sprintf("[%.0f-%.0f]", lo, hi) }
  { k = $1 "/" $2; batch[$2] = $3
    if (!(k in tr) || $4 > tr[k]) tr[k] = $4
    if (!(k in trl) || $4 < trl[k]) trl[k] = $4
    if (!(k in inf) || $5 > inf[k]) inf[k] = $5
    if (!(k in infl) || $5 < infl[k]) infl[k] = $5 }
  END {
    printf "#%-11s%6s%8s%14s%8s%14s%7s%8s%14s%8s%14s%7s\n", "case", "batch", "train", "modyn",
           "", "torch", "ratio", "infer", "modyn", "", "torch", "ratio"
    n = split(cases, cs, " ")
    for (i = 1; i <= n; i++) {
      c = cs[i]; m = "modyn/" c; t = "torch/" c
      rt = (tr[t] > 0) ? tr[m] / tr[t] : 0
      ri = (inf[t] > 0) ? inf[m] / inf[t] : 0
      printf "%-12s%6d%8.0f%14s%8.0f%14s%7.2f%8.0f%14s%8.0f%14s%7.2f\n", c, batch[c],
             tr[m], range(trl[m], tr[m]), tr[t], range(trl[t], tr[t]), rt,
             inf[m], range(infl[m], inf[m]), inf[t], range(infl[t], inf[t]), ri
    }
  }' "$raw"

echo
peak_var=BENCH_PEAK_$threads
"$bin" --layers --seconds "$secs" --peak "${!peak_var:-0}"
echo
"$build/bench/bench_conv" --threads "1,$threads" --reps 20
echo
# the same in CPU time, waiting threads asleep: the work's fraction of the
# peak even when other work takes the cores (load average above the cores)
OMP_WAIT_POLICY=passive "$build/bench/bench_conv" --threads "1,$threads" --reps 20 --clock cpu
bench_footer

if [ "${1:-}" = "--fmnist" ]; then
  echo
  echo "# Fashion-MNIST: 3 epochs, batch 64, SGD lr 0.01 momentum 0.9; test accuracy"
  "$bin" --fmnist "$fmnist_dir"
  "$py" "$here/torch_train.py" --fmnist "$fmnist_dir" --threads "$threads" | grep -v '^#'
fi

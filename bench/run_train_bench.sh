#!/bin/bash
# run_train_bench.sh - the CPU training engine (bench_train) against PyTorch
# (torch_train.py) on the same models, batch sizes and synthetic inputs,
# both on the same number of threads. Cases run interleaved, ours then
# torch, for several rounds, and the best round of each is kept (a shared
# machine slows whichever runs next to a burst of other work). Prints one
# table with the ratios, then the single-layer GFLOP/s table; with
# --fmnist also the Fashion-MNIST accuracy check of both.
#
#   bench/run_train_bench.sh [--fmnist]
#   env: BUILD_DIR (./build), PYTHON (/usr/bin/python3), THREADS (2),
#        BENCH_SECONDS (3 per case and round), ROUNDS (3),
#        FMNIST_DIR (/usr/share/datasets/fashion-mnist)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-$here/../build}
bin=$build/bench/bench_train
py=${PYTHON:-/usr/bin/python3}
threads=${THREADS:-2}
secs=${BENCH_SECONDS:-3}
rounds=${ROUNDS:-3}
fmnist_dir=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
cases="mlp64 mlp256 smallcnn64 yearbook64"

if [ ! -x "$bin" ]; then
  echo "run_train_bench.sh: $bin not found; build first (cmake --build build) or set BUILD_DIR" >&2
  exit 1
fi
if ! "$py" -c 'import torch' 2>/dev/null; then
  echo "run_train_bench.sh: $py cannot import torch; install python3-torch or set PYTHON" >&2
  exit 1
fi
cores=$(nproc) # before the export: nproc obeys OMP_NUM_THREADS
export MODYN_THREADS=$threads OMP_NUM_THREADS=$threads
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

echo "# $cores cores, $threads threads, $rounds rounds of ${secs}s per case; best round kept"
for r in $(seq "$rounds"); do
  for c in $cases; do
    "$bin" --cases "$c" --seconds "$secs" | grep -v '^#' >> "$raw"
    "$py" "$here/torch_train.py" --cases "$c" --seconds "$secs" --threads "$threads" \
      | grep -v '^#' >> "$raw"
  done
done

# columns of raw: engine case batch train_samples/s infer256_samples/s
awk -v cases="$cases" '
  { k = $1 "/" $2; batch[$2] = $3
    if ($4 > tr[k]) tr[k] = $4
    if ($5 > inf[k]) inf[k] = $5 }
  END {
    printf "#%-11s%6s%14s%14s%8s%16s%16s%8s\n", "case", "batch", "train_modyn", "train_torch",
           "ratio", "infer256_modyn", "infer256_torch", "ratio"
    n = split(cases, cs, " ")
    for (i = 1; i <= n; i++) {
      c = cs[i]; m = "modyn/" c; t = "torch/" c
      rt = (tr[t] > 0) ? tr[m] / tr[t] : 0
      ri = (inf[t] > 0) ? inf[m] / inf[t] : 0
      printf "%-12s%6d%14.0f%14.0f%8.2f%16.0f%16.0f%8.2f\n", c, batch[c], tr[m], tr[t], rt,
             inf[m], inf[t], ri
    }
  }' "$raw"

echo
"$bin" --layers --seconds "$secs"

if [ "${1:-}" = "--fmnist" ]; then
  echo
  echo "# Fashion-MNIST: 3 epochs, batch 64, SGD lr 0.01 momentum 0.9; test accuracy"
  "$bin" --fmnist "$fmnist_dir"
  "$py" "$here/torch_train.py" --fmnist "$fmnist_dir" --threads "$threads" | grep -v '^#'
fi

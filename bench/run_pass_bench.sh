#!/bin/bash
# run_pass_bench.sh - the model pass (bench_pass: penultimate embeddings +
# per-sample loss, eval mode) against PyTorch inference (torch_pass.py:
# the same models split before their last layer, inference_mode, per-sample
# cross-entropy) on the same batches, both on the same number of threads.
# Cases run interleaved, ours then torch, for several rounds, and the best
# round of each is kept (a shared machine slows whichever runs next to a
# burst of other work). Prints one table with the ratios, then the cost of
# an embedding pass over a trigger's new data as a fraction of that
# trigger's training (YearbookNet, EPOCHS epochs at batch 64), per engine.
#
#   bench/run_pass_bench.sh
# Rates: the best round [min-max over the rounds]; the header (bench/lib.sh)
# says which machine, load, binding, libraries and sgemm peak.
#
#   env: BUILD_DIR (./build), PYTHON (the PyPI torch venv of
#        scripts/install-bench-deps.sh, else /usr/bin/python3, Debian's
#        torch: see bench/lib.sh), THREADS (2), BENCH_SECONDS (3 per case
#        and round), ROUNDS (3), EPOCHS (5), CASES (all)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-$here/../build}
bin=$build/bench/bench_pass
. "$here/lib.sh"
py=$(bench_peer_python)
threads=${THREADS:-2}
secs=${BENCH_SECONDS:-3}
rounds=${ROUNDS:-3}
epochs=${EPOCHS:-5}
cases=${CASES:-"mlp256 smallcnn64 smallcnn256 yearbook64 yearbook256 yearbook_train64"}

if [ ! -x "$bin" ]; then
  echo "run_pass_bench.sh: $bin not found; build first (cmake --build build) or set BUILD_DIR" >&2
  exit 1
fi
if ! torch_version=$("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null); then
  echo "run_pass_bench.sh: $py cannot import torch; install python3-torch (scripts/install-bench-deps.sh)" \
       "or set PYTHON to a venv with PyPI's torch" >&2
  exit 1
fi
cores=$(nproc)  # before OMP_NUM_THREADS, which nproc obeys
export MODYN_THREADS=$threads OMP_NUM_THREADS=$threads
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

bench_header "$build" "$threads" "$py"
echo "# $cores cores, $threads threads, $rounds rounds of ${secs}s per case, interleaved;" \
     "best round [min-max over rounds]; peer torch $torch_version"
for r in $(seq "$rounds"); do
  for c in $cases; do
    "$bin" --cases "$c" --seconds "$secs" | grep -v '^#' >> "$raw"
    "$py" "$here/torch_pass.py" --cases "$c" --seconds "$secs" --threads "$threads" \
      | grep -v '^#' >> "$raw"
  done
done
bench_footer

# columns of raw: engine case batch samples/s
awk -v cases="$cases" -v epochs="$epochs" '
  { k = $1 "/" $2; batch[$2] = $3
    if (!(k in best) || $4 > best[k]) best[k] = $4
    if (!(k in lo) || $4 < lo[k]) lo[k] = $4 }
  END {
    printf "#%-17s%6s%10s%16s%10s%16s%8s\n", "case", "batch", "modyn_s/s", "", "torch_s/s", "",
           "ratio"
    n = split(cases, cs, " ")
    for (i = 1; i <= n; i++) {
      c = cs[i]; m = "modyn/" c; t = "torch/" c
      printf "%-18s%6d%10.0f%16s%10.0f%16s%8.2f\n", c, batch[c], best[m],
             sprintf("[%.0f-%.0f]", lo[m], best[m]), best[t], sprintf("[%.0f-%.0f]", lo[t], best[t]),
             (best[t] > 0 ? best[m] / best[t] : 0)
    }
    # 1 pass over N samples / epochs x training over N = train rate / (epochs x pass rate)
    if (best["modyn/yearbook_train64"] > 0) {
      printf "\n# embedding pass over a trigger'"'"'s new data / that trigger'"'"'s training " \
             "(YearbookNet, %d epochs at batch 64)\n", epochs
      printf "#%-17s%6s%14s%14s\n", "pass_case", "batch", "modyn", "torch"
      for (i = 1; i <= n; i++) {
        c = cs[i]
        if (c !~ /^yearbook[0-9]+$/) continue
        fm = best["modyn/" c] > 0 ? best["modyn/yearbook_train64"] / (epochs * best["modyn/" c]) : 0
        ft = best["torch/" c] > 0 ? best["torch/yearbook_train64"] / (epochs * best["torch/" c]) : 0
        printf "%-18s%6d%14.4f%14.4f\n", c, batch[c], fm, ft
      }
    }
  }' "$raw"

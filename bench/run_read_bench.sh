#!/usr/bin/env bash
# run_read_bench.sh - selected-subset reads vs full sequential reads of the
# same store, Yearbook-like (100k x 3x32x32 float32, 1.2 GB) and Criteo-like
# (5M x 39 float32, 780 MB), on 1 and 2 ranks. Stores are created once under
# $BENCH_DATA (default ./bench_data; needs about 2.1 GB). Each read: best
# of the rounds [min-max]; the header (bench/lib.sh) says which machine,
# load, binding and libraries. Ranks run unbound (--bind-to none).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
. bench/lib.sh
BUILD=${BUILD_DIR:-build}
BIN=$BUILD/bench/bench_read
[ -x "$BIN" ] || bash scripts/build.sh
bench_header "$BUILD" "$(nproc)"
DATA=${BENCH_DATA:-bench_data}
mkdir -p "$DATA"
for np in 1 2; do
  mpirun -np $np --bind-to none "$BIN" --kind yearbook --dir "$DATA/yearbook" --samples 100000 "$@"
  mpirun -np $np --bind-to none "$BIN" --kind criteo --dir "$DATA/criteo" --samples 5000000 "$@"
done
bench_footer

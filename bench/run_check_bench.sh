#!/usr/bin/env bash
# run_check_bench.sh - `modyn check` (read every shard and verify its
# checksum) against its sequential-read peer, `cat shard_*.h5 > /dev/null`,
# on a synthetic store of about 1 GB (1M samples x 256 float32 in 20 shards;
# created once under $BENCH_DATA, default ./bench_data). Both run with the
# files in the page cache (each is run once to warm it, then timed best of
# 3), so the ratio is the cost of checksumming over reading.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
BIN=${MODYN_BIN:-build/modyn}
DATA=${BENCH_DATA:-bench_data}
S=$DATA/check1g
if [ ! -d "$S/train" ]; then
  "$BIN" synth --out "$S" --features 256 --years 20 --train-per-year 50000 --test-per-year 1 \
    --years-per-shard 1 > /dev/null
fi
bytes=$(cat "$S"/train/shard_*.h5 | wc -c)
best() { # best of 3 wall times of "$@", in seconds
  local b=999 t
  "$@" > /dev/null
  for _ in 1 2 3; do
    t=$( { /usr/bin/time -f %e "$@" > /dev/null; } 2>&1 | tail -1)
    b=$(echo "if ($t < $b) $t else $b" | bc -l)
  done
  echo "$b"
}
tc=$(best bash -c "cat '$S'/train/shard_*.h5 > /dev/null")
echo "# store $S/train: $(ls "$S"/train/shard_*.h5 | wc -l) shards, $bytes bytes (page cache warm)"
echo "# whole command (start, open: keys, timestamps, labels, checks; verify) and verify phase"
printf '%-40s %8s %10s %16s\n' "reader" "s" "MB/s" "verify MB/s"
printf '%-40s %8.3f %10.0f %16s\n' "cat shard_*.h5 > /dev/null" "$tc" "$(echo "$bytes / 1000000 / $tc" | bc -l)" "-"
for th in 1 "$(nproc)"; do
  tm=$(MODYN_THREADS=$th best "$BIN" check "$S/train" --quiet)
  vm=$(MODYN_THREADS=$th "$BIN" check "$S/train" --quiet | sed -n 's/.*(\([0-9]*\) MB\/s).*/\1/p')
  printf '%-40s %8.3f %10.0f %16s\n' "modyn check --quiet (1 rank, $th thread(s))" "$tm" \
    "$(echo "$bytes / 1000000 / $tm" | bc -l)" "$vm"
done

#!/usr/bin/env bash
# run_check_bench.sh - `modyn check` (read every shard and verify its
# checksum) against its sequential-read peer, `cat shard_*.h5 > /dev/null`,
# on a synthetic store of about 1 GB (1M samples x 256 float32 in 20 shards;
# created once under $BENCH_DATA, default ./bench_data). Both run with the
# files in the page cache (each is run once to warm it, then timed best of
# 3, the range over the 3 in brackets), so the ratio is the cost of
# checksumming over reading. The header (bench/lib.sh) says which machine,
# load, binding and libraries.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
. bench/lib.sh
BIN=${MODYN_BIN:-build/modyn}
DATA=${BENCH_DATA:-bench_data}
S=$DATA/check1g
if [ ! -d "$S/train" ]; then
  "$BIN" synth --out "$S" --features 256 --years 20 --train-per-year 50000 --test-per-year 1 \
    --years-per-shard 1 > /dev/null
fi
bytes=$(cat "$S"/train/shard_*.h5 | wc -c)
best() { # "best worst" of 3 wall times of "$@", in seconds
  local b=999 w=0 t
  "$@" > /dev/null
  for _ in 1 2 3; do
    t=$( { /usr/bin/time -f %e "$@" > /dev/null; } 2>&1 | tail -1)
    b=$(echo "if ($t < $b) $t else $b" | bc -l)
    w=$(echo "if ($t > $w) $t else $w" | bc -l)
  done
  echo "$b $w"
}
mbs() { echo "$bytes / 1000000 / $1" | bc -l; } # MB/s of a time
range() { printf '[%.0f-%.0f]' "$(mbs "$2")" "$(mbs "$1")"; } # best worst -> [min-max] MB/s
bench_header "$(dirname "$BIN")" "1 $(nproc)"
read -r tc tcw <<< "$(best bash -c "cat '$S'/train/shard_*.h5 > /dev/null")"
echo "# store $S/train: $(ls "$S"/train/shard_*.h5 | wc -l) shards, $bytes bytes (page cache warm)"
echo "# whole command (start, open: keys, timestamps, labels, checks; verify) and verify phase"
printf '%-40s %8s %10s %14s %16s\n' "reader" "s" "MB/s" "[min-max]" "verify MB/s"
printf '%-40s %8.3f %10.0f %14s %16s\n' "cat shard_*.h5 > /dev/null" "$tc" "$(mbs "$tc")" \
  "$(range "$tc" "$tcw")" "-"
for th in 1 "$(nproc)"; do
  read -r tm tmw <<< "$(MODYN_THREADS=$th best "$BIN" check "$S/train" --quiet)"
  vm=$(MODYN_THREADS=$th "$BIN" check "$S/train" --quiet | sed -n 's/.*(\([0-9]*\) MB\/s).*/\1/p')
  printf '%-40s %8.3f %10.0f %14s %16s\n' "modyn check --quiet (1 rank, $th thread(s))" "$tm" \
    "$(mbs "$tm")" "$(range "$tm" "$tmw")" "$vm"
done
bench_footer

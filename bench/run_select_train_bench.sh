#!/usr/bin/env bash
# run_select_train_bench.sh - does selection slow training? (the paper's
# throughput claim). DLRM trains one trigger over the Criteo-like store
# (5M samples, bench/dlrm_criteo.yaml) on the whole store in store order,
# and on a 50% random subset (CoresetStrategy, Random presampling) in
# shuffled order, on 1 and 2 ranks. Prints training samples/s of each
# (trained samples / training seconds, from triggers.csv), best of R
# interleaved rounds, and the ratio subset / whole. Goal: >= 0.95.
#   bench/run_select_train_bench.sh [ROUNDS]
# BENCH_DATA: store folder (default bench_data); SAMPLES (5000000): store
# size, a separate store per size. The best line gives the range over the
# rounds; the header (bench/lib.sh) says which machine, load, binding,
# libraries and sgemm peak. Ranks run unbound (--bind-to none).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
. bench/lib.sh
R=${1:-3}
DATA=${BENCH_DATA:-bench_data}
[ -x build/modyn ] && [ -x build/bench/bench_read ] || bash scripts/build.sh
N=${SAMPLES:-5000000}
STORE=criteo; [ "$N" = 5000000 ] || STORE=criteo_$N
if [ ! -d "$DATA/$STORE" ]; then
  build/bench/bench_read --kind criteo --dir "$DATA/$STORE" --samples "$N" --rounds 1 --mpio 0 > /dev/null
fi
bench_header build "1 $(nproc)"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
SUBSET=(--set selection_strategy.name=CoresetStrategy
        --set "selection_strategy.presampling_config={strategy: Random, ratio: 50}")
# trained samples / training seconds of the one trigger (columns found by name)
rate() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i }
  NR == 2 { printf "%.0f", $c["trained_samples"] / $c["train_seconds"] }' "$1/triggers.csv"; }
printf "%-6s %-8s %14s %14s %8s\n" ranks round whole/s subset/s ratio
for np in 1 2; do
  best_w=0 best_s=0 lo_w=0 lo_s=0
  for r in $(seq "$R"); do
    for kind in whole subset; do
      args=(); [ $kind = subset ] && args=("${SUBSET[@]}")
      rm -rf "$W/$kind"
      mpirun -np $np --bind-to none build/modyn run bench/dlrm_criteo.yaml --data-dir "$DATA" \
        --out "$W/$kind" --quiet --set data.dataset_id=$STORE --set trigger.num_samples=$N \
        --set training.shuffle=$([ $kind = subset ] && echo true || echo false) \
        "${args[@]}" > /dev/null
    done
    w=$(rate "$W/whole") s=$(rate "$W/subset")
    printf "%-6s %-8s %14s %14s %8.3f\n" $np $r "$w" "$s" "$(awk -v a=$s -v b=$w 'BEGIN { print a / b }')"
    [ "$w" -gt "$best_w" ] && best_w=$w
    [ "$s" -gt "$best_s" ] && best_s=$s
    { [ "$lo_w" -eq 0 ] || [ "$w" -lt "$lo_w" ]; } && lo_w=$w
    { [ "$lo_s" -eq 0 ] || [ "$s" -lt "$lo_s" ]; } && lo_s=$s
  done
  printf "%-6s %-8s %14s %14s %8.3f   whole [%s-%s], subset [%s-%s]\n" $np best "$best_w" "$best_s" \
    "$(awk -v a=$best_s -v b=$best_w 'BEGIN { print a / b }')" "$lo_w" "$best_w" "$lo_s" "$best_s"
done
bench_footer

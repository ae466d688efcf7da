# e2e_dataparallel.sh - the same seed and global batch give the same model on
# 1, 2 and 3 ranks (within 1e-4), with a batch that does not split evenly.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_dp
rm -rf "$W" && mkdir -p "$W/data"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
MODEL=${DP_MODEL:-LogisticRegression}
"$MODYN_BIN" synth --out "$W/data/quickstart" --years 5 --train-per-year 333 --test-per-year 40 > /dev/null
for np in 1 2 3; do
  check "run on $np ranks" mpi $np "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/np$np" \
    --quiet --set training.batch_size=50 --set training.epochs_per_trigger=3 \
    --set selection_strategy.maximum_keys_in_memory=120 --set training.num_prefetched_partitions=2 \
    --set training.parallel_prefetch_requests=2
done
for t in 0000 0001 0002 0003; do
  params "$W/np1/models/trigger_$t.h5" > "$W/p1"
  for np in 2 3; do
    params "$W/np$np/models/trigger_$t.h5" > "$W/p$np"
    check_eq "trigger $t: parameter count np$np" "$(wc -l < "$W/p$np")" "$(wc -l < "$W/p1")"
    d=$(paste "$W/p1" "$W/p$np" | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g", m + 0 }')
    echo "trigger $t: max |w(np1) - w(np$np)| = $d"
    check "trigger $t: np$np weights within 1e-4 of np1 (max diff $d)" awk -v d="$d" 'BEGIN { exit !(d <= 1e-4) }'
  done
done
check "weights are not trivially zero" awk '{ if ($1 != 0) nz++ } END { exit !(nz > 10) }' "$W/p1"
finish e2e_dataparallel

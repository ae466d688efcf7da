# e2e_resume.sh - a run killed mid-training is continued with `modyn resume`
# from its last completed trigger, and ends with the same models, matrix and
# triggers as a run that was never interrupted.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_resume
rm -rf "$W" && mkdir -p "$W/data"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
"$MODYN_BIN" synth --out "$W/data/quickstart" --years 7 --train-per-year 320 --test-per-year 60 > /dev/null
run() { mpi 2 "$MODYN_BIN" "$@" --data-dir "$W/data" > "$W/last.log" 2>&1; }

check "uninterrupted run" run run "$CFG" --out "$W/full"
# 320 samples x 5 epochs / batch 64 = 25 steps per trigger: step 90 is in trigger 3.
MODYN_FAULT=1:90:exit run run "$CFG" --out "$W/crashed"
check "the faulty run fails" test $? -ne 0
check_eq "completed triggers before the crash" "$(ls "$W/crashed/models" | grep -c '^trigger_....\.h5$')" 3
# What a kill mid-write would leave (the crash above exits between writes):
# temporary files, removed by resume; a partial one never counts.
echo partial > "$W/crashed/models/trigger_0003.h5.tmp"
echo partial > "$W/crashed/eval/matrix.csv.tmp"
check "resume" run resume "$W/crashed"
check "resume removes stale temporary files" grep -q "removed 2 temporary files left by the interrupted run" "$W/last.log"
check_eq "no temporary files left" "$(find "$W/crashed" -name '*.tmp' | wc -l)" 0
check "resume says what it restored" grep -q "resuming: 3 completed triggers restored" "$W/last.log"
check_eq "checkpoints after resume" "$(ls "$W/crashed/models" | grep -c '^trigger_....\.h5$')" 6
check "same evaluation matrix as the uninterrupted run" cmp "$W/full/eval/matrix.csv" "$W/crashed/eval/matrix.csv"
check "same composite models" cmp "$W/full/eval/composite.csv" "$W/crashed/eval/composite.csv"
cut -d, -f1-9 "$W/full/triggers.csv" > "$W/t_full"
cut -d, -f1-9 "$W/crashed/triggers.csv" > "$W/t_crashed"
check "same triggers, samples and losses" cmp "$W/t_full" "$W/t_crashed"
for t in 0003 0005; do
  check "same weights for trigger $t" bash -c "h5dump -d /params '$W/full/models/trigger_$t.h5' | tail -n +2 > '$W/a' && h5dump -d /params '$W/crashed/models/trigger_$t.h5' | tail -n +2 > '$W/b' && cmp -s '$W/a' '$W/b'"
done
check_eq "events: one resume" "$(grep -c '"event":"pipeline_resume"' "$W/crashed/events.jsonl")" 1

# Resuming a finished run restores everything and trains nothing.
check "resume of a finished run" run resume "$W/full"
check "nothing trained" grep -q "resuming: 6 completed triggers restored" "$W/last.log"
check "matrix unchanged" cmp "$W/full/eval/matrix.csv" "$W/crashed/eval/matrix.csv"
# A fresh run into an existing run directory is refused, with the way out.
run run "$CFG" --out "$W/full"
check "run into an existing run directory fails" test $? -ne 0
check "message points to resume" grep -q "continue it with 'modyn resume" "$W/last.log"
# Difference models (each trigger stored against the previous one's weights;
# resume and `modyn eval` read them in order, applying each difference to the
# weights already in memory): same results as the full models above.
D=(--set 'model_storage.incremental_model_strategy={name: WeightsDifference, config: {operator: xor}, full_model_interval: 4}')
MODYN_FAULT=1:90:exit run run "$CFG" --out "$W/dcrashed" "${D[@]}"
check "difference models: the faulty run fails" test $? -ne 0
check "difference models: resume" run resume "$W/dcrashed"
check "difference models: same matrix as the full models" cmp "$W/full/eval/matrix.csv" "$W/dcrashed/eval/matrix.csv"
check "difference models: modyn eval reproduces the matrix" run eval "$W/dcrashed" --out "$W/deval"
check "difference models: same matrix from modyn eval" cmp "$W/full/eval/matrix.csv" "$W/deval/matrix.csv"
# The run recorded its data folder: resume from another directory, without
# --data-dir, finds the store (and, the run being complete, trains nothing).
check "resume without --data-dir, from elsewhere" bash -c "cd / && '$MPIEXEC' -n 1 '$MODYN_BIN' resume '$W/dcrashed' > '$W/nodir.log' 2>&1"
check_eq "the recorded data folder" "$(cat "$W/dcrashed/data_dir")" "$(cd "$W/data" && pwd -P)"
finish e2e_resume

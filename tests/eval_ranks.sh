# eval_ranks.sh - the whole evaluation block end to end on a small binary
# dataset: every interval strategy, execution time and model choice, and
# the three metrics (RocAuc gathers pairs). A run on 1 rank and on 2 ranks
# writes byte-identical eval/ files; `modyn eval` from the checkpoints on 1
# and 2 ranks reproduces the run's matrix byte for byte; cell counts per
# handler are exact; `active` cells equal the matrix's values.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_eval_ranks
rm -rf "$W" && mkdir -p "$W/data"
"$MODYN_BIN" synth --out "$W/data/bin" --classes 2 --years 6 --train-per-year 200 \
  --test-per-year 100 > "$W/synth.log" || { cat "$W/synth.log"; fail "synth"; finish eval_ranks; exit 1; }
Y=31536000
cat > "$W/p.yaml" <<YAML
pipeline: {name: evalall}
model: {id: LogisticRegression}
training:
  batch_size: 32
  epochs_per_trigger: 2
  optimizers:
    - algorithm: SGD
      param_groups: [{config: {lr: 0.05, momentum: 0.9}}]
data: {dataset_id: bin/train}
trigger: {id: TimeTrigger, every: 1y, start_timestamp: 0}
selection_strategy: {name: NewDataStrategy, maximum_keys_in_memory: 1000, tail_triggers: 0}
evaluation:
  handlers:
    - name: slicing
      models: matrix
      strategy: {type: SlicingEvalStrategy, eval_every: 1y, eval_start_from: 0}
    - name: periodic
      execution_time: after_pipeline
      models: active
      strategy: {type: PeriodicEvalStrategy, every: 1y, interval: "[-60d; +60d]", start_timestamp: 0}
    - name: between
      models: matrix
      strategy: {type: BetweenTwoTriggersEvalStrategy}
    - name: offset
      strategy: {type: OffsetEvalStrategy, offsets: ["-inf", "0s", "+1y"]}
    - name: static
      execution_time: after_pipeline
      models: train
      strategy: {type: StaticEvalStrategy, intervals: [{start: 0, end: $((2 * Y))}, {start: $((3 * Y))}]}
    - name: active_slices
      models: active
      strategy: {type: SlicingEvalStrategy, eval_every: 1y, eval_start_from: 0}
  datasets:
    - dataset_id: bin/test
      batch_size: 16
      metrics: [{name: Accuracy}, {name: F1Score, average: macro}, {name: RocAuc}]
YAML

run() { # run NP OUT
  mpi "$1" "$MODYN_BIN" run "$W/p.yaml" --data-dir "$W/data" --out "$W/$2" > "$W/$2.log" 2>&1
  local rc=$?; [ $rc -eq 0 ] || cat "$W/$2.log"; return $rc
}
check "run on 1 rank" run 1 np1
check "run on 2 ranks" run 2 np2
for f in matrix.csv composite.csv score.csv; do
  check "eval/$f identical on 1 and 2 ranks" cmp "$W/np1/eval/$f" "$W/np2/eval/$f"
done
M=$W/np1/eval/matrix.csv
rows() { awk -F, -v h="$1" 'NR > 1 && $4 == h' "$M" | wc -l | tr -d ' '; }
# 6 yearly test intervals, 5 triggers, 3 metrics.
check_eq "triggers" "$(tail -n +2 "$W/np1/triggers.csv" | wc -l | tr -d ' ')" 5
check_eq "slicing: 5 models x 6 intervals x 3 metrics" "$(rows slicing)" 90
check_eq "periodic active: 5 of 6 points have an active model" "$(rows periodic)" 15
check_eq "between: 5 models x 5 usage periods" "$(rows between)" 75
check_eq "offset: 5 models x 3 own intervals" "$(rows offset)" 45
check_eq "static train: one trained model per interval" "$(rows static)" 6
check_eq "active slices: one model per interval with one" "$(rows active_slices)" 15
check_eq "static rows are models 0 and 3" \
  "$(awk -F, 'NR > 1 && $4 == "static" {print $1}' "$M" | sort -u | tr '\n' ' ')" "0 3 "
# Each active cell equals the full matrix's value of the same model and interval.
mism=$(awk -F, 'NR > 1 && $4 == "slicing" { v[$1 "," $6 "," $9] = $10 }
  NR > 1 && $4 == "active_slices" { n++; if (v[$1 "," $6 "," $9] != $10) bad++ }
  END { print n + 0, bad + 0 }' "$M")
check_eq "active cells equal matrix cells (count, mismatches)" "$mism" "15 0"
# The active model of each slice is the newest trained before its start.
check_eq "active slice models" \
  "$(awk -F, 'NR > 1 && $4 == "active_slices" && $9 == "Accuracy" {print $1 ":" $6}' "$M" | tr '\n' ' ')" \
  "0:$Y 1:$((2 * Y)) 2:$((3 * Y)) 3:$((4 * Y)) 4:$((5 * Y)) "
# Offset "0s" is the model's own training interval: [first, last + 1).
check_eq "offset 0s interval of model 0" \
  "$(awk -F, 'NR > 1 && $4 == "offset" && $1 == 0 && $9 == "Accuracy" {print $6 "," $7}' "$M" | sed -n 2p)" \
  "$(awk -F, 'NR == 2 {print $3 "," $4 + 1}' "$W/np1/triggers.csv")"
check "RocAuc values in [0, 1], and there are some" awk -F, 'NR > 1 && $9 == "ROC-AUC" && $8 > 1 { n++; if (!($10 >= 0 && $10 <= 1)) exit 1 } END { exit !(n > 0) }' "$M"
check "score.csv has the periodic active score" grep -q '^periodic,bin/test,Accuracy,active,5,' "$W/np1/eval/score.csv"

# modyn eval: recompute from checkpoints on 1 and 2 ranks.
ev() { # ev NP OUT [args]
  local np=$1 out=$2; shift 2
  mpi "$np" "$MODYN_BIN" eval "$W/np1" --data-dir "$W/data" --out "$W/$out" "$@" > "$W/$out.log" 2>&1
  local rc=$?; [ $rc -eq 0 ] || cat "$W/$out.log"; return $rc
}
check "modyn eval on 1 rank" ev 1 re1
check "modyn eval on 2 ranks" ev 2 re2
for f in matrix.csv composite.csv score.csv; do
  check "modyn eval $f identical on 1 and 2 ranks" cmp "$W/re1/$f" "$W/re2/$f"
  check "modyn eval $f equals the run's" cmp "$W/re1/$f" "$W/np1/eval/$f"
done
check "modyn eval with a new metric" ev 2 re3 --set 'evaluation.datasets[0].metrics[3]={name: Accuracy, topn: 2}'
check_eq "new metric rows (all 1.0 with 2 classes)" \
  "$(awk -F, 'NR > 1 && $9 == "Accuracy@2" && $8 > 0 {print $10}' "$W/re3/matrix.csv" | sort -u)" "1.000000"
check "summary table printed" grep -q '^# evaluation of' "$W/re2.log"
# Errors: not a run directory, a missing checkpoint.
mkdir -p "$W/broken/models"
cp "$W/np1/config.yaml" "$W/broken/"
out=$(mpi 2 "$MODYN_BIN" eval "$W/broken" --data-dir "$W/data" 2>&1); rc=$?
check_eq "empty run: exit code" "$rc" 1
check_eq "empty run: message" "$(head -1 <<< "$out")" \
  "modyn: error: $W/broken/models holds no checkpoints (trigger_NNNN.h5): the run has no trigger to evaluate"
cp "$W/np1/models/trigger_0001.h5" "$W/broken/models/"
out=$(mpi 1 "$MODYN_BIN" eval "$W/broken" --data-dir "$W/data" 2>&1); rc=$?
check_eq "gap in checkpoints: exit code" "$rc" 1
check_eq "gap in checkpoints: message" "$(head -1 <<< "$out")" \
  "modyn: error: $W/broken/models holds 1 checkpoints but numbers up to trigger_0001.h5; a checkpoint is missing"
finish eval_ranks

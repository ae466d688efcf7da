# e2e_fidelity.sh - the original's semantics where ours once differed
# (issue 16), on a 4-year stream with a trigger at each year boundary:
#  - end of stream: no trigger fires when the data ends, so 3 triggers
#    train on years 0-2 and year 3's samples are in no training set;
#  - the last model is its own successor: composite_trained averages over
#    all 4 yearly intervals (models 0, 1, 2, 2), and equals the mean
#    computed by hand from the matrix (active: 3 intervals);
#  - handler models: the default is `active`, `training` is `train`, and a
#    handler scores only the composite it evaluates;
#  - num_samples_to_pass [150, 0]: trigger 0 passes 150 samples, trigger 1
#    (0) and trigger 2 (past the list) train epochs_per_trigger epochs;
#  - execution_time manual: a run skips the handler, `modyn eval --handler`
#    runs it and keeps the other handlers' rows.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_fidelity
rm -rf "$W" && mkdir -p "$W/data"
"$MODYN_BIN" synth --out "$W/data/s" --classes 2 --years 4 --train-per-year 100 \
  --test-per-year 50 > "$W/synth.log" || { cat "$W/synth.log"; fail "synth"; finish e2e_fidelity; exit 1; }
Y=31536000
cat > "$W/p.yaml" <<YAML
pipeline: {name: fidelity}
model: {id: LogisticRegression}
training:
  batch_size: 20
  epochs_per_trigger: 2
  num_samples_to_pass: [150, 0]
  optimizers:
    - algorithm: SGD
      param_groups: [{config: {lr: 0.05, momentum: 0.9}}]
data: {dataset_id: s/train}
trigger: {id: TimeTrigger, every: 1y, start_timestamp: 0}
selection_strategy: {name: NewDataStrategy, maximum_keys_in_memory: 1000, tail_triggers: 0}
evaluation:
  handlers:
    - name: m
      models: matrix
      strategy: {type: SlicingEvalStrategy, eval_every: 1y, eval_start_from: 0}
    - name: a
      strategy: {type: SlicingEvalStrategy, eval_every: 1y, eval_start_from: 0}
    - name: t
      models: training
      strategy: {type: SlicingEvalStrategy, eval_every: 1y, eval_start_from: 0}
    - name: later
      execution_time: manual
      models: matrix
      strategy: {type: SlicingEvalStrategy, eval_every: 2y, eval_start_from: 0}
  datasets:
    - dataset_id: s/test
      metrics: [{name: Accuracy}]
YAML
"$MODYN_BIN" run "$W/p.yaml" --data-dir "$W/data" --out "$W/run" > "$W/run.log" 2>&1 \
  || { cat "$W/run.log"; fail "run"; finish e2e_fidelity; exit 1; }
R=$W/run
M=$R/eval/matrix.csv

# End of stream: triggers at the 3 year boundaries, none when the data ends.
check_eq "triggers (year boundaries crossed)" "$(tail -n +2 "$R/triggers.csv" | wc -l | tr -d ' ')" 3
check_eq "new samples per trigger (years 0, 1, 2)" \
  "$(awk -F, 'NR > 1 {printf "%s ", $5}' "$R/triggers.csv")" "100 100 100 "
check "the last trigger's data ends before year 3" \
  awk -F, -v y=$((3 * Y)) 'NR == 4 { exit !($4 < y) }' "$R/triggers.csv"
last=$(h5dump -d /timestamps "$W/data/s/train"/*.h5 2>/dev/null | grep -o '[0-9][0-9]*' | sort -n | tail -1)
check "year 3 has training samples (the stream goes on after the last trigger)" test "${last:-0}" -ge $((3 * Y))
# num_samples_to_pass [150, 0]: 150, then 2 epochs x 100, 2 epochs x 100.
check_eq "samples trained per trigger" \
  "$(awk -F, 'NR > 1 {printf "%s ", $6}' "$R/triggers.csv")" "150 200 200 "

# The matrix handler: 3 models x 4 yearly intervals.
check_eq "matrix rows" "$(awk -F, 'NR > 1 && $4 == "m"' "$M" | wc -l | tr -d ' ')" 12
v() { awk -F, -v h=m -v mo="$1" -v s=$(($2 * Y)) 'NR > 1 && $4 == h && $1 == mo && $6 == s {print $10}' "$M"; }
# Hand-computed composites: interval i (start i years) has active model i-1
# (none for i = 0) and trained model i, the last model (2) for i = 3.
want_t=$(awk -v a="$(v 0 0)" -v b="$(v 1 1)" -v c="$(v 2 2)" -v d="$(v 2 3)" \
  'BEGIN { printf "%.6f", (a + b + c + d) / 4 }')
want_a=$(awk -v a="$(v 0 1)" -v b="$(v 1 2)" -v c="$(v 2 3)" 'BEGIN { printf "%.6f", (a + b + c) / 3 }')
score() { awk -F, -v h="$1" -v m="$2" 'NR > 1 && $1 == h && $4 == m {print $5 " " $6}' "$R/eval/score.csv"; }
close() { awk -v x="$1" -v y="$2" 'BEGIN { d = x - y; exit !(d < 2e-6 && d > -2e-6) }'; }
read -r n_t got_t <<< "$(score m trained)"
read -r n_a got_a <<< "$(score m active)"
check_eq "composite_trained intervals (the last model trains year 3 too)" "$n_t" 4
check_eq "composite_active intervals" "$n_a" 3
check "composite_trained $got_t = hand-computed mean $want_t" close "$got_t" "$want_t"
check "composite_active $got_a = hand-computed mean $want_a" close "$got_a" "$want_a"
check "the run's summary line shows composite_trained $want_t" \
  grep -Eq "^3 +[0-9]+ +[0-9.]+ +$(printf '%.4f' "$want_t") " "$W/run.log"
check_eq "composite.csv: year 3's trained model is the last one" \
  "$(awk -F, -v s=$((3 * Y)) 'NR > 1 && $1 == "m" && $4 == s {print $8 "," $10}' "$R/eval/composite.csv")" "2,2"

# Default models (active): the active cells only, and no trained score.
check_eq "active handler: cells (model:year)" \
  "$(awk -F, 'NR > 1 && $4 == "a" {printf "%d:%d ", $1, $6 / '$Y'}' "$M")" "0:1 1:2 2:3 "
read -r n got <<< "$(score a active)"
check "active handler: active score as the matrix's" close "$got" "$want_a"
check_eq "active handler: no trained score" "$(score a trained)" "0 nan"
# models: training (the original schema's spelling) = train.
check_eq "train handler: cells (model:year)" \
  "$(awk -F, 'NR > 1 && $4 == "t" {printf "%d:%d ", $1, $6 / '$Y'}' "$M")" "0:0 1:1 2:2 2:3 "
read -r n got <<< "$(score t trained)"
check "train handler: trained score as the matrix's" close "$got" "$want_t"
check_eq "train handler: no active score" "$(score t active)" "0 nan"

# Manual: not in the run's files; `modyn eval --handler later` adds it.
check_eq "manual handler: no rows after the run" \
  "$(cat "$M" "$R/eval/composite.csv" "$R/eval/score.csv" | grep -c ',later,\|^later,')" 0
cp -r "$R/eval" "$W/e"
check "modyn eval --handler later" "$MODYN_BIN" eval "$R" --data-dir "$W/data" --out "$W/e" \
  --handler later --quiet
check_eq "manual handler: 3 models x 2 two-year intervals" \
  "$(awk -F, 'NR > 1 && $4 == "later"' "$W/e/matrix.csv" | wc -l | tr -d ' ')" 6
for f in matrix.csv composite.csv score.csv; do
  check "$f: the other handlers' rows kept" \
    cmp <(grep -v ',later,\|^later,' "$W/e/$f") "$R/eval/$f"
done
# Its intervals [0, 2y) and [2y, 4y): active none and model 1, trained 0 and 2.
check_eq "manual handler's composites (model:active:trained)" \
  "$(awk -F, '$1 == "later" {printf "%d:%d ", $8, $10}' "$W/e/composite.csv")" "-1:0 1:2 "
# Without --handler, modyn eval runs every handler, the manual one too.
check "modyn eval (all handlers)" "$MODYN_BIN" eval "$R" --data-dir "$W/data" --out "$W/all" --quiet
check "all handlers: the same rows as the run plus --handler later" \
  cmp <(sort "$W/all/matrix.csv") <(sort "$W/e/matrix.csv")
out=$("$MODYN_BIN" eval "$R" --data-dir "$W/data" --out "$W/x" --handler nosuch 2>&1); rc=$?
check_eq "unknown handler: exit code" "$rc" 1
check_eq "unknown handler: message" "$(head -1 <<< "$out")" \
  "modyn: error: no evaluation handler is named \"nosuch\"; the configuration has: m, a, t, later"
finish e2e_fidelity

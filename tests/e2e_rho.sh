# e2e_rho.sh - RHOLoss downsampling (batch-then-sample, ratio 50) in a
# CoresetStrategy pipeline on `modyn synth` data (4 years, 300 samples a
# year: 3 triggers of 300 new samples), the quickstart LogisticRegression
# (16 features, 4 classes: 68 parameters) and an IL model of the same kind:
#   Simple (holdout_set_ratio 30), 1 and 2 ranks: every trigger trains on
#     exactly half of each batch of its whole set (the holdout stays in the
#     main model's set, as in the original) for both epochs; an IL
#     checkpoint per trigger in RUN/aux with 68 parameters, trained on the
#     holdout (its event: holdout size = 2 epochs' samples); the same
#     holdouts, IL models and main models within 1e-4 on 1 and 2 ranks;
#   Twin: two IL checkpoints per trigger, trained on halves that together
#     are the trigger's new data;
#   a run that crashes in trigger 1's main training (after its IL model was
#     written) resumes, loads that IL checkpoint instead of training again,
#     and ends with the same IL models, main models and evaluation as an
#     uninterrupted run.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_rho
rm -rf "$W" && mkdir -p "$W/data"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
B=50
E=2
"$MODYN_BIN" synth --out "$W/data/quickstart" --years 4 --train-per-year 300 --test-per-year 40 > /dev/null
COMMON=(--quiet --data-dir "$W/data" --set training.batch_size=$B --set training.epochs_per_trigger=$E
        --set selection_strategy.maximum_keys_in_memory=120
        --set selection_strategy.name=CoresetStrategy)
IL="{il_model_id: LogisticRegression, il_model_config: {num_classes: 4}, batch_size: 32,"
IL+=" epochs_per_trigger: 2, optimizers: [{name: default, algorithm: SGD,"
IL+=" param_groups: [{module: model, config: {lr: 0.1}}]}]}"
rho() { echo "--set"; echo "selection_strategy.downsampling_config={strategy: RHOLoss, ratio: 50, $1, il_training_config: $IL}"; }
ilfield() { grep '"event":"rho_il"' "$1/events.jsonl" | grep -o "\"$2\":[0-9.]*" | cut -d: -f2; }
export -f params
# within FILE_A FILE_B WHAT: 68 parameters each, weights within 1e-4
within() {
  params "$1" > "$W/p1"
  params "$2" > "$W/p2"
  check_eq "$3: parameter counts" "$(wc -l < "$W/p1") $(wc -l < "$W/p2")" "68 68"
  local d
  d=$(paste "$W/p1" "$W/p2" | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g", m + 0 }')
  echo "$3: max |w - w(np1)| = $d"
  check "$3: weights within 1e-4 (max diff $d)" awk -v d="$d" 'BEGIN { exit !(d <= 1e-4) }'
}

# Simple, 1 and 2 ranks
mapfile -t SIMPLE < <(rho "holdout_set_ratio: 30, holdout_set_strategy: Simple")
for np in 1 2; do
  check "RHOLoss Simple on $np ranks" mpi $np "$MODYN_BIN" run "$CFG" --out "$W/s$np" "${COMMON[@]}" "${SIMPLE[@]}"
done
check_eq "3 triggers" "$(field "$W/s1" trigger | paste -sd' ')" "0 1 2"
check_eq "training sets: the whole new data (holdout not removed)" "$(field "$W/s1" training_set | paste -sd' ')" "300 300 300"
# 300 = 6 batches of 50, each keeping 25, for 2 epochs
for np in 1 2; do
  check_eq "samples_trained per trigger, $np ranks" "$(field "$W/s$np" samples_trained | paste -sd' ')" "300 300 300"
done
check "selection events name RHOLoss" grep -q '"downsampling":"RHOLoss","mode":"BtS"' "$W/s1/events.jsonl"
ilfield "$W/s1" holdout > "$W/h1"
check_eq "same holdouts on 2 ranks" "$(ilfield "$W/s2" holdout | paste -sd' ')" "$(paste -sd' ' "$W/h1")"
check "holdouts near 30% of 300 (got $(paste -sd' ' "$W/h1"))" awk '$1 < 60 || $1 > 120 { bad = 1 } END { exit bad }' "$W/h1"
check_eq "IL models trained 2 epochs on their holdout" "$(ilfield "$W/s1" samples_trained | paste -sd' ')" "$(awk '{ print 2 * $1 }' "$W/h1" | paste -sd' ')"
check_eq "IL models trained, not loaded" "$(ilfield "$W/s1" loaded | paste -sd' ')" "0 0 0"
for t in 0000 0001 0002; do
  f=$W/s1/aux/trigger_${t}_il.h5
  check "IL checkpoint of trigger $t" test -f "$f"
  check_eq "trigger $t: IL parameters (16 x 4 + 4)" "$(params "$f" | wc -l)" 68
  within "$f" "$W/s2/aux/trigger_${t}_il.h5" "trigger $t IL model, 2 ranks"
  within "$W/s1/models/trigger_$t.h5" "$W/s2/models/trigger_$t.h5" "trigger $t model, 2 ranks"
done
check "the IL model learned (last epoch's loss below the first's)" bash -c \
  "grep '\"event\":\"rho_il\"' '$W/s1/events.jsonl' | head -1 | awk -F'loss_first_epoch\":|,\"loss_last_epoch\":|,\"train_s' '{ exit !(\$3 < \$2) }'"

# Twin, 2 ranks: two IL models, on halves that make up the new data
mapfile -t TWIN < <(rho "holdout_set_ratio: 50, holdout_set_strategy: Twin")
check "RHOLoss Twin on 2 ranks" mpi 2 "$MODYN_BIN" run "$CFG" --out "$W/twin" "${COMMON[@]}" "${TWIN[@]}"
check_eq "Twin: samples_trained per trigger" "$(field "$W/twin" samples_trained | paste -sd' ')" "300 300 300"
check_eq "Twin: two IL models per trigger" "$(ls "$W/twin/aux" | paste -sd' ')" \
  "trigger_0000_il.h5 trigger_0000_il_twin.h5 trigger_0001_il.h5 trigger_0001_il_twin.h5 trigger_0002_il.h5 trigger_0002_il_twin.h5"
check_eq "Twin: the halves make up each trigger's 300 new samples" \
  "$(ilfield "$W/twin" holdout | paste - - | awk '{ print $1 + $2 }' | paste -sd' ')" "300 300 300"

# Crash in trigger 1's main training, resume. Steps over the run (IL and
# main, batches of 32 and 50): trigger 0's IL takes ceil(h0/32) x 2, its
# main training 6; trigger 1's IL ceil(h1/32) x 2: step 3 after that is
# inside trigger 1's main training.
h0=$(sed -n 1p "$W/h1"); h1=$(sed -n 2p "$W/h1")
step=$(( (h0 + 31) / 32 * 2 + 6 + (h1 + 31) / 32 * 2 + 3 ))
run2() { mpi 2 "$MODYN_BIN" "$@" > "$W/last.log" 2>&1; }
MODYN_FAULT=1:$step:exit run2 run "$CFG" --out "$W/crash" "${COMMON[@]}" "${SIMPLE[@]}"
check "the faulty run fails (rank 1 exits at step $step)" test $? -ne 0
check_eq "the crash leaves trigger 0's model and IL models 0, 1" \
  "$(ls "$W/crash/models" "$W/crash/aux" | grep '\.h5$' | sort | paste -sd' ')" \
  "trigger_0000.h5 trigger_0000_il.h5 trigger_0001_il.h5"
check "resume" run2 resume "$W/crash"
check_eq "resumed: trigger 1's IL model loaded, trigger 2's trained" \
  "$(ilfield "$W/crash" loaded | tail -2 | paste -sd' ')" "1 0"
check "same evaluation matrix after resume" cmp "$W/s2/eval/matrix.csv" "$W/crash/eval/matrix.csv"
for t in 0000 0001 0002; do
  check "trigger $t: same IL model after resume" bash -c "params '$W/s2/aux/trigger_${t}_il.h5' > '$W/a'; params '$W/crash/aux/trigger_${t}_il.h5' > '$W/b'; cmp -s '$W/a' '$W/b'"
  check "trigger $t: same model after resume" bash -c "params '$W/s2/models/trigger_$t.h5' > '$W/a'; params '$W/crash/models/trigger_$t.h5' > '$W/b'; cmp -s '$W/a' '$W/b'"
done
finish e2e_rho

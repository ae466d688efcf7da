# e2e_cost.sh - a DataIncorporationLatencyCostTrigger pipeline end to end on
# the drifting synthetic stream, with the modelled training time (1 s + 10 ms
# per sample) so the decisions do not depend on the machine: 1 and 2 ranks
# fire at the same positions; events.jsonl holds one cost_check line per
# check; each decision is regret_in_traintime_unit >= traintime_estimate;
# the orchestrator's log of completed triggers (PluginEnv.trigger_cost)
# reaches the trigger: the cost model's observations count the completed
# triggers, and its fit equals the ridge fit (alpha 1) of 1 + 0.01 x over
# their training-set sizes, computed here with awk. A run killed in the
# second trigger's training and resumed (the restored triggers' costs come
# from their checkpoints) fires at the same positions. Then an
# AvoidableMisclassificationCostTrigger on the same stream: the same
# positions on 1 and 2 ranks, every check after the first evaluates the
# newest model (the replay trains a fire's model before the next check),
# and its decisions follow the same rule.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_e2e_cost
rm -rf "$W" && mkdir -p "$W/data"
CFG=$MODYN_SOURCE_DIR/tests/configs/cost_synth.yaml

synth_rotating_stream e2e_cost

check "run on 1 rank" run_logged 1 np1
check "run on 2 ranks" run_logged 2 np2

p1=$(trigger_positions "$W/np1")
echo "fired at: $p1"
check_eq "same positions on 1 and 2 ranks" "$(trigger_positions "$W/np2")" "$p1"
n=$(echo "$p1" | wc -w)
check "fired at least 5 times (got $n)" test "$n" -ge 5
check "fired less than every other check (got $n)" test "$n" -lt 24
check_eq "the first check fires" "$(echo "$p1" | cut -d' ' -f1)" 99

ev=$W/np1/events.jsonl
lines() { grep '"event":"cost_check"' "$ev"; }
check_eq "one line per check" "$(lines | wc -l)" 48
fired=$(lines | grep '"triggered":true' | sed 's/.*"stream_index":\([0-9]*\).*/\1/' | tr '\n' ' ')
check_eq "fired check positions" "$fired" "$p1"
bad=$(lines | grep '"phase":"detect"' |
  sed 's/.*"regret_in_traintime_unit":\([-0-9.e+]*\),"traintime_estimate":\([-0-9.e+]*\),.*"triggered":\([a-z]*\).*/\1 \2 \3/' |
  awk 'NF != 3 || ($3 == "true") != ($1 >= $2) { n++ } END { print n + 0 }')
check_eq "decisions: regret >= forecast training time" "$bad" 0
# The last check saw every trigger but the one it fires (if it fires).
last=$(lines | tail -1)
obs=$(echo "$last" | sed 's/.*"cost_observations":\([0-9]*\).*/\1/')
done_before=$(awk -F, -v at=4799 'NR > 1 && $2 < at { n++ } END { print n + 0 }' "$W/np1/triggers.csv")
check_eq "observations = triggers completed before the last check" "$obs" "$done_before"
want=$(awk -F, -v at=4799 'BEGIN { n = 0 } NR > 1 && $2 < at { x[n] = $5; y[n] = 1 + 0.01 * $5; n++ }
  END { for (i = 0; i < n; i++) { mx += x[i] / n; my += y[i] / n }
        for (i = 0; i < n; i++) { sxx += (x[i] - mx) ^ 2; sxy += (x[i] - mx) * (y[i] - my) }
        s = sxy / (sxx + 1); printf "%.6f %.6f", s, my - s * mx }' "$W/np1/triggers.csv")
got=$(echo "$last" | sed 's/.*"cost_slope":\([-0-9.e+]*\),"cost_intercept":\([-0-9.e+]*\),.*/\1 \2/' |
  awk '{ printf "%.6f %.6f", $1, $2 }')
check_eq "the cost model is the ridge fit of the completed triggers" "$got" "$want"

# Killed in training (rank 0, step 40: in trigger 1), then resumed.
MODYN_FAULT=0:40:exit mpi 1 "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/cut" > "$W/cut.log" 2>&1
check "killed run fails" test $? -ne 0
check "resume" mpi 1 "$MODYN_BIN" resume "$W/cut" --data-dir "$W/data" --quiet
check_eq "resumed positions" "$(trigger_positions "$W/cut")" "$p1"

MIS='trigger={id: AvoidableMisclassificationCostTrigger, evaluation_interval_data_points: 100,
  avoidable_misclassification_latency_per_training_second: 100000, expected_accuracy: 0.95,
  warmup_intervals: 2, warmup_policy: {id: DataAmountTrigger, num_samples: 200},
  modelled_seconds_per_sample: 0.01, modelled_seconds_per_trigger: 1,
  evaluation: {device: cpu, dataset: {dataset_id: quickstart/train, metrics: [{name: Accuracy}]}}}'
mis() { # mis NP OUT
  mpi "$1" "$MODYN_BIN" run "$CFG" --set "$MIS" --data-dir "$W/data" --out "$W/$2" > "$W/$2.log" 2>&1
  local rc=$?
  cat "$W/$2.log"
  return $rc
}
check "misclassification cost trigger on 1 rank" mis 1 mis1
check "misclassification cost trigger on 2 ranks" mis 2 mis2
m1=$(trigger_positions "$W/mis1")
echo "fired at: $m1"
check_eq "same positions on 1 and 2 ranks (misclassification)" "$(trigger_positions "$W/mis2")" "$m1"
n=$(echo "$m1" | wc -w)
check "fired at least 4 times (got $n)" test "$n" -ge 4
ev=$W/mis1/events.jsonl
check_eq "evaluated checks" "$(grep -c '"event":"cost_check".*"num_samples":100,' "$ev")" 47
# "model" = the triggers completed before the check.
stale=$(grep '"event":"cost_check"' "$ev" | grep '"model":' |
  sed 's/.*"stream_index":\([0-9]*\),.*"model":\([0-9]*\),.*/\1 \2/' |
  awk -F'[ ,]' 'NR == FNR { if (FNR > 1) fire[FNR - 1] = $2; nf = FNR - 1; next }
    { k = 0; for (i = 1; i <= nf; i++) if (fire[i] < $1) k++; if (k != $2) bad++ }
    END { print bad + 0 }' "$W/mis1/triggers.csv" -)
check_eq "every check on the newest model" "$stale" 0
bad=$(grep '"event":"cost_check"' "$ev" | grep '"phase":"detect"' |
  sed 's/.*"regret_in_traintime_unit":\([-0-9.e+]*\),"traintime_estimate":\([-0-9.e+]*\),.*"triggered":\([a-z]*\).*/\1 \2 \3/' |
  awk 'NF != 3 || ($3 == "true") != ($1 >= $2) { n++ } END { print n + 0 }')
check_eq "decisions: regret >= forecast training time (misclassification)" "$bad" 0
finish e2e_cost

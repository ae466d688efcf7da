# e2e_signals.sh - SIGTERM (a scheduler's preemption, Ctrl-C's SIGINT alike)
# in the middle of a run: one message saying where it stopped and how to
# continue, exit 1, completed checkpoints kept and the interrupted trigger's
# state saved; `modyn resume` then goes on from that step and ends with the
# same matrix as a run that was never stopped. (e2e_ckpt does the same at
# a known step, byte for byte.)
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_signals
rm -rf "$W" && mkdir -p "$W"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
"$MODYN_BIN" synth --out "$W/d/quickstart" --years 4 --train-per-year 2000 --test-per-year 100 > /dev/null
SETS=(--set model.id=MLP --set 'model.config={}' --set training.epochs_per_trigger=150
      --set experiment.maximum_triggers=3)
"$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/whole" --quiet "${SETS[@]}" > /dev/null

"$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/stopped" --quiet "${SETS[@]}" \
  > /dev/null 2> "$W/stopped.err" &
pid=$!
for _ in $(seq 2400); do # until the first trigger's checkpoint is there (a sanitizer build is slow)
  [ -f "$W/stopped/models/trigger_0000.h5" ] && break
  sleep 0.05
done
kill -TERM "$pid"
wait "$pid"
check_eq "stopped run: exit status" "$?" 1
check "stopped run: one line: SIGTERM, the step, the saved state, how to continue" grep -q \
  "^modyn: error: trigger [12]: stopped by SIGTERM during training after step [0-9]* (epoch [0-9]*), saved in $W/stopped/models/trigger_000[12]_partial.h5 for resume to go on from; the completed triggers are kept: continue the run with 'modyn resume $W/stopped'$" \
  "$W/stopped.err"
check "stopped run: the first trigger's checkpoint kept" test -f "$W/stopped/models/trigger_0000.h5"
check "stopped run: not finished" test ! -f "$W/stopped/models/trigger_0002.h5"
check "resume after the stop" "$MODYN_BIN" resume "$W/stopped" > "$W/resume.log"
check "resume goes on from the step where it stopped" grep -q "continuing its training from the mid-trigger checkpoint" "$W/resume.log"
check "same matrix as the run never stopped" cmp "$W/whole/eval/matrix.csv" "$W/stopped/eval/matrix.csv"
finish e2e_signals

# progress.sh - progress lines of long work: in a log (not a terminal) '#'
# lines that count up to the total, on a terminal (a pty from script(1)) a
# live line redrawn in place and erased, and nothing with --quiet.
# MODYN_PROGRESS_EVERY=0 prints every update, so short work shows them too.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_progress
rm -rf "$W" && mkdir -p "$W"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
export MODYN_PROGRESS_EVERY=0

"$MODYN_BIN" synth --out "$W/d/quickstart" --years 4 --train-per-year 300 --test-per-year 50 \
  --years-per-shard 1 > "$W/synth.log"
check "synth: a line per shard" grep -q "^# synth: 300/1400 samples (21%), .* samples/s, .* left$" "$W/synth.log"
check "synth: the last line at the total" grep -q "^# synth: 1400/1400 samples (100%)" "$W/synth.log"

"$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/r" --set experiment.maximum_triggers=1 \
  > "$W/run.log"
# trigger 0 trains 300 samples x 5 epochs in batches of 64 (the last of each epoch 44)
check "training: the first step" grep -q "^# trigger 0: training: 64/1500 samples (4%)" "$W/run.log"
check "training: the last step" grep -q "^# trigger 0: training: 1500/1500 samples (100%)" "$W/run.log"
check_eq "training: one line per step" "$(grep -c '^# trigger 0: training:' "$W/run.log")" 25
# evaluation: 4 yearly intervals of 50 test samples, one batch each
check "evaluation: batches counted" grep -q "^# evaluation: 4/4 batches (100%)" "$W/run.log"

"$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/q" --quiet --set experiment.maximum_triggers=1 \
  > "$W/quiet.log"
check_eq "--quiet: no progress" "$(grep -c 'training:' "$W/quiet.log")" 0

if command -v script > /dev/null; then
  script -qefc "'$MODYN_BIN' run '$CFG' --data-dir '$W/d' --out '$W/t' --set experiment.maximum_triggers=1" \
    /dev/null > "$W/tty.log" 2>&1
  check "terminal: the live line is redrawn in place" grep -q $'\rtrigger 0: training: 1500/1500 samples (100%)' "$W/tty.log"
  check "terminal: and erased before the result line" grep -q $'\r\033\\[K' "$W/tty.log"
  check_eq "terminal: no '#' progress lines" "$(grep -c '^# trigger 0: training' "$W/tty.log")" 0
  # Open MPI gives ranks a terminal even when mpirun is piped: inside a
  # SLURM job, or with MODYN_PROGRESS=lines, it writes lines anyway.
  for env in SLURM_JOB_ID=7 MODYN_PROGRESS=lines; do
    env "$env" script -qefc "'$MODYN_BIN' run '$CFG' --data-dir '$W/d' --out '$W/t_$env' --set experiment.maximum_triggers=1" \
      /dev/null > "$W/tty_$env.log" 2>&1
    check_eq "terminal with $env: '#' lines" "$(grep -c '^# trigger 0: training' "$W/tty_$env.log")" 25
  done
  MODYN_PROGRESS=live "$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/live" \
    --set experiment.maximum_triggers=1 > "$W/live.log"
  check "not a terminal, MODYN_PROGRESS=live: redrawn" grep -q $'\rtrigger 0: training: 1500/1500' "$W/live.log"
fi
# ingest: shard by shard (--shard-size 2 over 5 rows: 3 shards)
printf 't,label,x\n1,0,0.5\n2,1,1.5\n3,0,2.5\n4,1,3.5\n5,0,4.5\n' > "$W/rows.csv"
"$MODYN_BIN" ingest --format csv --input "$W/rows.csv" --label-column label --timestamp-column t \
  --shard-size 2 --out "$W/ingested" > "$W/ingest.log"
check_eq "ingest: a line per shard" "$(grep -c '^# ingest: [0-9]*/5 samples' "$W/ingest.log")" 3
check "ingest: the last at the total" grep -q "^# ingest: 5/5 samples (100%)" "$W/ingest.log"
finish progress

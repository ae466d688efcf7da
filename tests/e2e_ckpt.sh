# e2e_ckpt.sh - mid-trigger checkpoints (training.checkpointing). SIGUSR1
# delivered at a known step of trigger 2 (MODYN_FAULT=RANK:STEP:SIGUSR1,
# so nothing depends on timing) stops the run after that step with one line
# naming the step and the saved file; `modyn resume` goes on from there and
# ends BYTE-IDENTICAL to a run that was never stopped: every checkpoint's
# weights, buffers and optimizer state, triggers.csv but its timing
# columns, the evaluation matrix and composite. On 1 rank, on 2 ranks
# (the signal reaching rank 1 only), with dropout (every rank's mask
# stream is part of the checkpoint), with batch-then-sample Loss
# downsampling (kept samples waiting for a step at the stop), and with
# periodic saves (checkpointing.activated) followed by an abrupt crash.
# A sample-then-batch downsampler cannot be saved mid-trigger: the stop
# says so and the trigger trains again on resume.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_ckpt
rm -rf "$W" && mkdir -p "$W/data"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
# 300 samples a year, batch 64: 5 batches an epoch (the last of 44), 5
# epochs, 25 steps a trigger; 4 triggers. Trigger 2 starts at step 51.
"$MODYN_BIN" synth --out "$W/data/quickstart" --years 5 --train-per-year 300 --test-per-year 60 \
  > /dev/null
BASE=(--quiet --data-dir "$W/data" --set model.id=MLP --set "model.config={hidden_sizes: [16]}"
      --set "training.lr_scheduler={name: CosineAnnealingLR, source: PyTorch, step_every: batch, optimizers: [default], config: {T_max: MODYN_NUM_BATCHES}}")
BTS=(--set selection_strategy.name=CoresetStrategy
     --set "selection_strategy.downsampling_config={strategy: Loss, ratio: 50}")
PERIODIC=(--set "training.checkpointing={activated: true, interval: 4}")

run() { # run NP OUT [args...]: modyn run into $W/OUT, output in $W/OUT.log
  local np=$1 out=$2
  shift 2
  mpi "$np" "$MODYN_BIN" run "$CFG" --out "$W/$out" "${BASE[@]}" "$@" > "$W/$out.log" 2>&1
}
resume() { mpi "$1" "$MODYN_BIN" resume "$W/$2" > "$W/$2.resume.log" 2>&1; }
# One HDF5 dataset of a checkpoint as text (values only).
ds() { h5dump -d "$2" -w 0 "$1" 2> /dev/null | sed -n '/DATA {/,/}/p'; }
same_run() { # same_run WHAT REF RUN: the byte-level comparison
  local what=$1 ref=$W/$2 got=$W/$3
  check "$what: same evaluation matrix" cmp "$ref/eval/matrix.csv" "$got/eval/matrix.csv"
  check "$what: same composite models" cmp "$ref/eval/composite.csv" "$got/eval/composite.csv"
  check "$what: same triggers.csv but its timing columns" \
    cmp <(cut -d, -f1-10 "$ref/triggers.csv") <(cut -d, -f1-10 "$got/triggers.csv")
  local t n=0
  for t in "$ref"/models/trigger_????.h5; do
    t=$(basename "$t")
    for d in /params /buffers /optimizer/m; do
      ds "$ref/models/$t" $d > "$W/a"
      ds "$got/models/$t" $d > "$W/b"
      [ -s "$W/a" ] && cmp -s "$W/a" "$W/b" && n=$((n + 1))
    done
  done
  check_eq "$what: identical /params, /buffers and /optimizer/m of the 4 checkpoints" "$n" 12
  check_eq "$what: no mid-trigger checkpoint left" "$(ls "$got/models" | grep -c partial)" 0
}
# The save at the stop in RUN's events.jsonl matches PATTERN.
stop_event() { grep '"event":"train_checkpoint"' "$W/$1/events.jsonl" | grep '"stop":true' | grep -q "$2"; }

# ---- a signal at step 12 of trigger 2, on 1 and on 2 ranks -------------------------
for np in 1 2; do
  check "np $np: uninterrupted run" run $np full$np
  # the signal reaches the last rank only (on 2 ranks, rank 0 learns it in the allreduce)
  MODYN_FAULT=$((np - 1)):62:SIGUSR1 run $np stop$np
  check_eq "np $np: stopped run: exit status" "$?" 1
  who=SIGUSR1
  [ "$np" = 2 ] && who="a signal to another rank"
  # (on 2 ranks the message names the rank it comes from: "modyn: error [rank 0 of 2 on HOST]:")
  check "np $np: one line: where it stopped, the file, how to continue" grep -q \
    "^modyn: error.*: trigger 2: stopped by $who during training after step 12 (epoch 2), saved in $W/stop$np/models/trigger_0002_partial.h5 for resume to go on from; the completed triggers are kept: continue the run with 'modyn resume $W/stop$np'\$" \
    "$W/stop$np.log"
  check_eq "np $np: one line of modyn's" "$(grep -c '^modyn' "$W/stop$np.log")" 1
  check "np $np: the mid-trigger checkpoint is there" test -f "$W/stop$np/models/trigger_0002_partial.h5"
  check "np $np: trigger 2 not complete" test ! -f "$W/stop$np/models/trigger_0002.h5"
  check "np $np: its event" stop_event stop$np '"trigger":2,"steps":12,"epoch":2,"batches":12,"waiting":0,'

  check "np $np: resume" resume $np stop$np
  check "np $np: resume says where it goes on" grep -q \
    "continuing its training from the mid-trigger checkpoint $W/stop$np/models/trigger_0002_partial.h5 (after step 12, epoch 2)" \
    "$W/stop$np.resume.log"
  same_run "np $np: stopped and resumed" full$np stop$np
done

# ---- dropout: each rank's mask stream is saved (MLP, dropout 0.5, 2 ranks) -----------
DROP=(--set "model.config={hidden_sizes: [16], dropout: 0.5}")
check "dropout: uninterrupted run" run 2 drop_full "${DROP[@]}"
MODYN_FAULT=1:62:SIGUSR1 run 2 drop_stop "${DROP[@]}"
check "dropout: the checkpoint holds 1 stream of each of 2 ranks (2 x 4 words)" bash -c \
  "h5dump -H -d /train_point/rng '$W/drop_stop/models/trigger_0002_partial.h5' | grep -q 'SIMPLE { ( 8 ) / ( 8 ) }'"
check "dropout: resume" resume 2 drop_stop
same_run "dropout: stopped and resumed" drop_full drop_stop
# a crash with no mid-trigger checkpoint: the completed triggers' files hold
# the streams too (/rng), so trigger 2 trains again with the same masks
MODYN_FAULT=1:62:exit run 2 drop_crash "${DROP[@]}"
check_eq "dropout crash: 2 triggers completed" "$(ls "$W/drop_crash/models" | grep -c '^trigger_....\.h5$')" 2
check "dropout crash: resume" resume 2 drop_crash
same_run "dropout: crashed and resumed from trigger 2" drop_full drop_crash

# ---- batch-then-sample Loss (ratio 50), 2 ranks -------------------------------------
# Half of each batch is kept and waits until a batch is full; the epochs'
# partial batches (44 -> 22 kept) shift the waiting count off the steps:
# an epoch keeps 4 * 32 + 22 = 150, 5 epochs 750 = 12 steps (the last of
# 46). After step 9 of trigger 2: 19 batches read (3 epochs and 4 batches),
# 3 * 150 + 4 * 32 = 578 kept, 576 trained, 2 waiting.
check "BtS: uninterrupted run" run 2 bts_full "${BTS[@]}"
s=($(field "$W/bts_full" steps))
check_eq "BtS: steps of the triggers" "${s[*]}" "12 12 12 12"
MODYN_FAULT=1:$((s[0] + s[1] + 9)):SIGUSR1 run 2 bts_stop "${BTS[@]}"
check_eq "BtS: stopped run: exit status" "$?" 1
check "BtS: kept samples were waiting at the stop" stop_event bts_stop \
  '"trigger":2,"steps":9,"epoch":3,"batches":19,"waiting":2,'

check "BtS: resume" resume 2 bts_stop
same_run "BtS: stopped and resumed" bts_full bts_stop

# The same stop resumed on 1 rank: the 2 waiting samples are dealt to the
# one rank; samples trained equal and weights within 1e-4 of the 2-rank run.
MODYN_FAULT=1:$((s[0] + s[1] + 9)):SIGUSR1 run 2 bts_to1 "${BTS[@]}"
check "BtS 2 -> 1 rank: resume" resume 1 bts_to1
check "BtS 2 -> 1 rank: same samples trained and scored" \
  cmp <(cut -d, -f1-8 "$W/bts_full/triggers.csv") <(cut -d, -f1-8 "$W/bts_to1/triggers.csv")
for t in 0002 0003; do
  params "$W/bts_full/models/trigger_$t.h5" > "$W/p2"
  params "$W/bts_to1/models/trigger_$t.h5" > "$W/p1"
  d=$(paste "$W/p1" "$W/p2" | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g", m + 0 }')
  check "BtS 2 -> 1 rank: trigger $t weights within 1e-4 (max diff $d)" \
    awk -v d="$d" -v n="$(wc -l < "$W/p1")" 'BEGIN { exit !(d <= 1e-4 && n > 100) }'
done

# ---- RHOLoss (batch-then-sample with an IL model trained first), 2 ranks ------------
# The signal at step 3 of trigger 2's main training (after the IL model's
# steps); resume loads the trigger's IL checkpoint and the point.
IL="{il_model_id: LogisticRegression, il_model_config: {num_classes: 4}, batch_size: 32,"
IL+=" epochs_per_trigger: 2, optimizers: [{name: default, algorithm: SGD,"
IL+=" param_groups: [{module: model, config: {lr: 0.1}}]}]}"
RHO=(--set selection_strategy.name=CoresetStrategy --set "selection_strategy.downsampling_config={strategy: RHOLoss, ratio: 50, holdout_set_ratio: 30, holdout_set_strategy: Simple, il_training_config: $IL}")
check "RHO: uninterrupted run" run 2 rho_full "${RHO[@]}"
# steps before trigger 2's main training: each IL model ceil(holdout / 32) x 2
# epochs, each main training its "steps"
il=($(grep '"event":"rho_il"' "$W/rho_full/events.jsonl" | grep -o '"holdout":[0-9]*' | cut -d: -f2))
m=($(field "$W/rho_full" steps))
k=$(( (il[0] + 31) / 32 * 2 + m[0] + (il[1] + 31) / 32 * 2 + m[1] + (il[2] + 31) / 32 * 2 + 3 ))
MODYN_FAULT=1:$k:SIGUSR1 run 2 rho_stop "${RHO[@]}"
check "RHO: saved after step 3 of trigger 2's main training" stop_event rho_stop '"trigger":2,"steps":3,'
check "RHO: resume" resume 2 rho_stop
check "RHO: resume loaded trigger 2's IL model" bash -c \
  "grep '\"event\":\"rho_il\",\"trigger\":2' '$W/rho_stop/events.jsonl' | tail -1 | grep -q '\"loaded\":1'"
same_run "RHO: stopped and resumed" rho_full rho_stop

# ---- periodic saves, then a crash ------------------------------------------------------
# Every 4 steps: trigger 2 saves after steps 4 and 8; rank 1 dies abruptly
# in step 10 (like kill -9); resume goes on from step 8.
check "periodic: uninterrupted run with saves" run 2 per_full "${PERIODIC[@]}"
check_eq "periodic: 6 saves per trigger (steps 4, 8, ... 24)" \
  "$(grep -c '"event":"train_checkpoint"' "$W/per_full/events.jsonl")" 24
check_eq "periodic: no mid-trigger checkpoint left" "$(ls "$W/per_full/models" | grep -c partial)" 0
same_run "periodic saves do not change the result" full2 per_full
MODYN_FAULT=1:60:exit run 2 per_crash "${PERIODIC[@]}"
check "periodic: the crashed run fails" test $? -ne 0
check "periodic: resume" resume 2 per_crash
check "periodic: resume goes on after step 8" grep -q "(after step 8, epoch 1)" "$W/per_crash.resume.log"
same_run "periodic: crashed and resumed" full2 per_crash
# the same with batch-then-sample, on 1 rank (saves after steps 4 and 8)
check "periodic BtS: uninterrupted run" run 1 perb_full "${BTS[@]}" "${PERIODIC[@]}"
MODYN_FAULT=0:$((s[0] + s[1] + 10)):exit run 1 perb_crash "${BTS[@]}" "${PERIODIC[@]}"
check "periodic BtS: the crashed run fails" test $? -ne 0
check "periodic BtS: resume" resume 1 perb_crash
check "periodic BtS: resume goes on after step 8" grep -q "(after step 8, epoch" "$W/perb_crash.resume.log"
same_run "periodic BtS: crashed and resumed" perb_full perb_crash

# ---- sample-then-batch: no mid-trigger state; the trigger trains again -------------
STB=(--set selection_strategy.name=CoresetStrategy
     --set "selection_strategy.downsampling_config={strategy: Loss, ratio: 50, sample_then_batch: true}")
# (2 ranks, the signal to rank 1: rank 0 learns it from the failed step)
check "StB: uninterrupted run" run 2 stb_full "${STB[@]}"
MODYN_FAULT=1:60:SIGUSR1 run 2 stb_stop "${STB[@]}"
check "StB: the stop says the trigger trains again" grep -q \
  "stopped by a signal to another rank during training; a sample-then-batch downsampler's per-epoch state cannot be saved mid-trigger, so \`modyn resume\` trains this trigger again from its start; the completed triggers are kept" \
  "$W/stb_stop.log"
check_eq "StB: nothing saved mid-trigger" "$(ls "$W/stb_stop/models" | grep -c partial)" 0
check "StB: resume" resume 2 stb_stop
check "StB: same matrix" cmp "$W/stb_full/eval/matrix.csv" "$W/stb_stop/eval/matrix.csv"

# ---- errors ----------------------------------------------------------------------------
MODYN_FAULT=0:62:SIGUSR1 run 1 bad
cp "$W/bad/models/trigger_0002_partial.h5" "$W/saved.h5"
# another training set than the one saved: the run's selection now differs
sed -i 's/tail_triggers: 0/tail_triggers: 1/' "$W/bad/config.yaml"
resume 1 bad
check "changed set: refused, naming the file and the way out" grep -q \
  "trigger_0002_partial.h5 holds trigger 2's training state for another training set than replaying the stream gives now .*delete it to train trigger 2 from its start" \
  "$W/bad.resume.log"
"$MODYN_BIN" run "$CFG" --out "$W/cfgerr" "${BASE[@]}" --set "training.checkpointing={activated: true}" \
  > "$W/cfgerr.log" 2>&1
check "activated without an interval: refused" grep -q \
  "training.checkpointing.interval: missing required field (checkpointing is activated)" "$W/cfgerr.log"
finish e2e_ckpt

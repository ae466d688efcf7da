# run_check.sh - `modyn check RUN_DIR`: a clean run directory passes (every
# checkpoint with all its checksums); a flipped byte in a checkpoint's
# /params, a flipped byte in its optimizer state, a truncated checkpoint,
# a damaged config.yaml and a damaged base of a difference model are each
# named as the first damaged file with what to do; `modyn resume` refuses
# the same flipped byte (the same checksum code); a gap in models/ is a
# note, not damage; stores and run directories mix in one call; RHOLoss's
# IL models in aux/ are verified and a damaged one named.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_run_check
rm -rf "$W" && mkdir -p "$W"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
"$MODYN_BIN" synth --out "$W/data/quickstart" --years 5 --train-per-year 60 --test-per-year 10 > /dev/null
Q=(--set training.epochs_per_trigger=1 --quiet)
mpi 1 "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/run" "${Q[@]}" > /dev/null ||
  { fail "the run"; finish run_check; exit 1; }
R=$W/run
check_eq "four checkpoints" "$(ls "$R/models" | grep -c '^trigger_000[0-3]\.h5$')" 4

# A byte of dataset DSET (an HDF5 path) of FILE, flipped in place: the
# dataset's file offset from h5dump, then byte `at` of its data.
flip() { # flip FILE DSET AT
  local off b
  off=$(h5dump -p -H -d "$2" "$1" | sed -n 's/.*OFFSET \([0-9]*\).*/\1/p')
  [ -n "$off" ] || { fail "no offset for $2 in $1"; return 1; }
  b=$(od -An -tu1 -j$((off + $3)) -N1 "$1" | tr -d ' ')
  printf "\\$(printf %03o $((b ^ 16)))" | dd of="$1" bs=1 seek=$((off + $3)) conv=notrunc status=none
}

# Clean: every file ok, exit 0. LogisticRegression with SGD momentum: meta,
# weights and optimizer checksum in each checkpoint.
"$MODYN_BIN" check "$R" > "$W/ok.out" 2> "$W/ok.err"
check_eq "clean: exit code" "$?" 0
cat "$W/ok.out"
check "clean: config.yaml ok" grep -q '^config.yaml  *ok$' "$W/ok.out"
check "clean: data_dir ok" grep -q '^data_dir  *ok$' "$W/ok.out"
check_eq "clean: every checkpoint ok with 3 checksums" \
  "$(grep -c '^models/trigger_000[0-3]\.h5  *ok (68 parameters, 3 checksums)$' "$W/ok.out")" 4
check "clean: summary" grep -q "^# $R: 4 checkpoints in order for resume, 12 checksums verified$" "$W/ok.out"
check "clean: files line" grep -q "^# $R: 6 files verified ok$" "$W/ok.out"
check_eq "clean: no error" "$(cat "$W/ok.err")" ""

# A flipped byte in trigger 1's /params: named, with what to do.
cp -r "$R" "$W/p"
flip "$W/p/models/trigger_0001.h5" /params 8
"$MODYN_BIN" check "$W/p" > "$W/p.out" 2> "$W/p.err"
check_eq "params: exit code" "$?" 1
check "params: the table says which" grep -q '^models/trigger_0001.h5  *DAMAGED$' "$W/p.out"
check "params: the others still ok" test "$(grep -c '^models/trigger_000[023].h5  *ok' "$W/p.out")" -eq 3
check_eq "params: one message" "$(grep -c '^modyn: error' "$W/p.err")" 1
check "params: names the file, the checksum and what to do" grep -q \
  "^modyn: error: $W/p/models/trigger_0001.h5 is damaged: damaged file: its weights_checksum ([0-9a-f]\{16\}) does not match what was read ([0-9a-f]\{16\}); delete it and every later checkpoint (models/trigger_0001.h5 onwards); \`modyn resume $W/p\` then trains those triggers again" "$W/p.err"
cat "$W/p.err"
# The load refuses the same byte: resume stops at trigger 1 with the same words.
mpi 1 "$MODYN_BIN" resume "$W/p" --quiet > /dev/null 2> "$W/p_resume.err"
check_eq "params: resume refuses too" "$?" 1
check "params: resume names the checksum" grep -q "trigger_0001.h5: damaged file: its weights_checksum" "$W/p_resume.err"

# A flipped byte in trigger 2's optimizer state (/optimizer/m).
cp -r "$R" "$W/o"
flip "$W/o/models/trigger_0002.h5" /optimizer/m 4
"$MODYN_BIN" check "$W/o" > "$W/o.out" 2> "$W/o.err"
check_eq "optimizer: exit code" "$?" 1
check "optimizer: names the file and the optimizer checksum" grep -q \
  "^modyn: error: $W/o/models/trigger_0002.h5 is damaged: .*its optimizer_checksum" "$W/o.err"

# A truncated checkpoint (half of trigger 3's bytes).
cp -r "$R" "$W/t"
T3=$W/t/models/trigger_0003.h5
truncate -s $(( $(stat -c %s "$T3") / 2 )) "$T3"
"$MODYN_BIN" check "$W/t" > "$W/t.out" 2> "$W/t.err"
check_eq "truncated: exit code" "$?" 1
check "truncated: named" grep -q "^modyn: error: $T3 is damaged: .*; delete it and every later checkpoint (models/trigger_0003.h5 onwards)" "$W/t.err"
check "truncated: earlier ones ok" test "$(grep -c '^models/trigger_000[012].h5  *ok' "$W/t.out")" -eq 3
cat "$W/t.err"

# Two damaged files: the first (in the order resume reads them) is named.
flip "$W/t/models/trigger_0001.h5" /params 0
"$MODYN_BIN" check "$W/t" --quiet > "$W/t2.out" 2> "$W/t2.err"
check "two damaged: the first is named" grep -q "^modyn: error: $W/t/models/trigger_0001.h5 is damaged" "$W/t2.err"
check "two damaged: summary counts both" grep -q "^# $W/t: 4 files verified ok, 2 DAMAGED$" "$W/t2.out"

# config.yaml that no longer parses.
cp -r "$R" "$W/c"
printf 'pipeline: [\n' >> "$W/c/config.yaml"
"$MODYN_BIN" check "$W/c" > /dev/null 2> "$W/c.err"
check_eq "config: exit code" "$?" 1
check "config: named" grep -q "^modyn: error: $W/c/config.yaml is damaged: .*config.yaml:[0-9]*: .*restore it from a copy" "$W/c.err"

# A gap (trigger 1 deleted): resume retrains from 1; later files are notes.
cp -r "$R" "$W/g"
rm "$W/g/models/trigger_0001.h5"
"$MODYN_BIN" check "$W/g" > "$W/g.out" 2> "$W/g.err"
check_eq "gap: exit code" "$?" 0
check_eq "gap: notes" "$(grep -c 'not read by resume: trigger_0001.h5 is missing' "$W/g.out")" 2

# A store and a run directory in one call; 2 ranks.
mpi 2 "$MODYN_BIN" check "$W/data/quickstart/train" "$R" --quiet > "$W/mix.out" 2> "$W/mix.err"
check_eq "store + run, 2 ranks: exit code" "$?" 0
check "store + run: the store summary" grep -q "^# $W/data/quickstart/train: 1 shard verified ok" "$W/mix.out"
check "store + run: the run summary" grep -q "^# $R: 6 files verified ok$" "$W/mix.out"

# Difference models (WeightsDifference, xor, a full model every 4): the
# check resolves each through its base; a flipped byte in the base (trigger
# 0, full) is named there, and the difference model on top of it as well.
D=(--set 'model_storage.incremental_model_strategy={name: WeightsDifference, config: {operator: xor}, full_model_interval: 4}')
mpi 1 "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/delta" "${Q[@]}" "${D[@]}" > /dev/null ||
  fail "the difference-model run"
"$MODYN_BIN" check "$W/delta" > "$W/d.out" 2> "$W/d.err"
check_eq "delta: exit code" "$?" 0
check_eq "delta: three stored as differences" \
  "$(grep -c '^models/trigger_000[123]\.h5  *ok (68 parameters, stored as a difference, 3 checksums)$' "$W/d.out")" 3
flip "$W/delta/models/trigger_0000.h5" /params 12
"$MODYN_BIN" check "$W/delta" > "$W/d2.out" 2> "$W/d2.err"
check_eq "delta base: exit code" "$?" 1
check "delta base: the base is the first named" grep -q "^modyn: error: $W/delta/models/trigger_0000.h5 is damaged" "$W/d2.err"
check_eq "delta base: every model on it is damaged too" "$(grep -c '^models/trigger_000[0-3]\.h5  *DAMAGED$' "$W/d2.out")" 4
# RHOLoss: the IL models in aux/ are verified too; a flipped byte in one is
# named with what to do (resume trains it again).
IL="{il_model_id: LogisticRegression, il_model_config: {num_classes: 4}, batch_size: 32,"
IL+=" optimizers: [{name: default, algorithm: SGD, param_groups: [{module: model, config: {lr: 0.1}}]}]}"
mpi 1 "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/rho" "${Q[@]}" \
  --set selection_strategy.name=CoresetStrategy --set selection_strategy.maximum_keys_in_memory=1000 \
  --set "selection_strategy.downsampling_config={strategy: RHOLoss, ratio: 50, holdout_set_ratio: 30, holdout_set_strategy: Simple, il_training_config: $IL}" \
  > /dev/null || fail "the RHOLoss run"
"$MODYN_BIN" check "$W/rho" > "$W/rho.out" 2> "$W/rho.err"
check_eq "rho: exit code" "$?" 0
check_eq "rho: an IL model per trigger, ok" \
  "$(grep -c '^aux/trigger_000[0-3]_il\.h5  *ok (LogisticRegression, 68 parameters, 3 checksums)$' "$W/rho.out")" 4
flip "$W/rho/aux/trigger_0001_il.h5" /params 20
"$MODYN_BIN" check "$W/rho" > "$W/rho2.out" 2> "$W/rho2.err"
check_eq "rho damaged: exit code" "$?" 1
check "rho damaged: named, with what to do" grep -q \
  "^modyn: error: $W/rho/aux/trigger_0001_il.h5 is damaged: damaged file: its weights_checksum .*; delete it: \`modyn resume\` trains this model of the downsampler again" "$W/rho2.err"
# A mid-trigger checkpoint (a stop signal in trigger 0) is verified with its
# training point; a flipped byte in it is named, with what to do.
MODYN_FAULT=0:10:SIGUSR1 mpi 1 "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/part" \
  --set training.epochs_per_trigger=50 --quiet > /dev/null 2>&1
"$MODYN_BIN" check "$W/part" > "$W/p.out" 2> "$W/p.err"
check_eq "partial: exit code" "$?" 0
check "partial: verified" grep -q \
  '^models/trigger_0000_partial\.h5  *ok (mid-trigger checkpoint of trigger 0: resume continues from it)$' \
  "$W/p.out"
flip "$W/part/models/trigger_0000_partial.h5" /params 4
"$MODYN_BIN" check "$W/part" > "$W/p2.out" 2> "$W/p2.err"
check_eq "partial damaged: exit code" "$?" 1
check "partial damaged: named, with what to do" grep -q \
  "^modyn: error: $W/part/models/trigger_0000_partial.h5 is damaged: .*; delete it: \`modyn resume\` then trains this trigger again from its start" \
  "$W/p2.err"
finish run_check

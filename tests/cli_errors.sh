# cli_errors.sh - bad input gets one clear message and a non-zero exit, on
# one rank and on two, and never hangs; every command has --help.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_cli
rm -rf "$W" && mkdir -p "$W"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml

for c in run resume validate eval report synth ingest sweep; do
  check "modyn $c --help" bash -c "'$MODYN_BIN' $c --help | grep -q '^usage: modyn $c'"
done
check "modyn --help lists commands" bash -c "'$MODYN_BIN' --help | grep -q '^  validate'"
"$MODYN_BIN" frobnicate > /dev/null 2>&1
check_eq "unknown command exit code" "$?" 2
"$MODYN_BIN" run --no-such-option x.yaml > /dev/null 2> "$W/opt.err"
check_eq "unknown option exit code" "$?" 2
check_eq "unknown option message" "$(head -1 "$W/opt.err")" "modyn run: unknown option --no-such-option"

# synth --image sizes whose product overflows an int: the real count, not a wrapped one.
"$MODYN_BIN" synth --out "$W/big" --image 100000,100000,100000 > /dev/null 2> "$W/big.err"
check_eq "synth --image too large: exit" "$?" 2
check_eq "synth --image too large: message" "$(head -1 "$W/big.err")" \
  "modyn synth: --image 100000,100000,100000 has 1000000000000000 values per sample; at most 1000000 (as --features)"

# Missing file.
"$MODYN_BIN" validate "$W/nope.yaml" > /dev/null 2> "$W/missing.err"
check_eq "missing config exit" "$?" 1
check_eq "missing config message" "$(cat "$W/missing.err")" \
  "modyn: error: cannot read $W/nope.yaml: No such file or directory"

# Plug-in errors found by validate, with file:line and path.
sed 's/id: TimeTrigger/id: TimeTriger/' "$CFG" > "$W/bad_trigger.yaml"
"$MODYN_BIN" validate --data-dir "$W" "$W/bad_trigger.yaml" > /dev/null 2> "$W/bt.err"
check_eq "unknown trigger exit" "$?" 1
line=$(grep -n 'id: TimeTriger' "$W/bad_trigger.yaml" | cut -d: -f1)
check_eq "unknown trigger message" "$(cat "$W/bt.err")" \
  "modyn: error: $W/bad_trigger.yaml:$line: trigger.id: unknown trigger \"TimeTriger\"; available: TimeTrigger, DataAmountTrigger, DataDriftTrigger, PerformanceTrigger, EnsembleTrigger, DataIncorporationLatencyCostTrigger, AvoidableMisclassificationCostTrigger"

"$MODYN_BIN" validate --syntax-only --set trigger.every=1year "$CFG" > /dev/null 2>&1
check_eq "syntax-only ignores plug-in fields" "$?" 0
"$MODYN_BIN" validate --data-dir "$W" --set trigger.every=1year "$CFG" > /dev/null 2> "$W/every.err"
check_eq "bad duration via --set" "$(cat "$W/every.err")" \
  "modyn: error: --set trigger.every: expected a duration like 30d (<int> then one of s m h d w y), got \"1year\""

# Mistakes in several sections: every one reported, each with file:line.
sed -e '0,/batch_size: 64/s//batch_size: 0/' -e '0,/  device: cpu/! {0,/  device: cpu/s//  device: tpu/}' \
  "$CFG" > "$W/three.yaml"
"$MODYN_BIN" validate "$W/three.yaml" --set experiment.maximum_triggers=0 > /dev/null 2> "$W/three.err"
check_eq "several errors: exit" "$?" 1
check_eq "several errors: all reported" "$(cat "$W/three.err")" \
"modyn: error: $W/three.yaml:$(grep -n 'batch_size: 0' "$W/three.yaml" | cut -d: -f1): training.batch_size: must be in [1, 1048576], got 0
modyn: error: $W/three.yaml:$(grep -n 'device: tpu' "$W/three.yaml" | cut -d: -f1): evaluation.device: expected cpu, cuda, cuda:N or auto, got \"tpu\"
modyn: error: --set experiment.maximum_triggers: must be -1 (no limit) or at least 1, got 0"

# pipeline.name becomes a folder under runs/: a name that would leave it is refused.
sed 's/name: quickstart/name: ..\/..\/outside/' "$CFG" > "$W/escape.yaml"
"$MODYN_BIN" validate --syntax-only "$W/escape.yaml" > /dev/null 2> "$W/escape.err"
check_eq "escaping name refused" "$(cat "$W/escape.err")" \
  "modyn: error: $W/escape.yaml:$(grep -n 'name: ../../outside' "$W/escape.yaml" | cut -d: -f1): pipeline.name: \"../../outside\" may hold only letters, digits, '.', '_' and '-', and not start with '.' (it names the run directory runs/<name>-<time>)"

# A store that does not exist: the message says how to make one.
"$MODYN_BIN" validate --data-dir "$W/none" "$CFG" > /dev/null 2> "$W/store.err"
check_eq "missing store exit" "$?" 1
check "missing store message names the store" grep -q "cannot open store $W/none/quickstart/train" "$W/store.err"

# The same under mpirun -n 2: one message, exit 1, no hang.
start=$(date +%s)
mpi 2 "$MODYN_BIN" run --data-dir "$W/none" --out "$W/run2" "$CFG" > "$W/run2.out" 2> "$W/run2.err"
rc=$?
took=$(( $(date +%s) - start ))
check "2-rank run with a missing store fails" test "$rc" -ne 0
check "2-rank failure ends in under 30 s (took ${took}s)" test "$took" -lt 30
check_eq "one error message for 2 ranks" "$(grep -c 'modyn: error' "$W/run2.err")" 1

# A model/store mismatch found at setup.
mkdir -p "$W/d" && "$MODYN_BIN" synth --out "$W/d/quickstart" --years 2 --train-per-year 20 --test-per-year 10 > /dev/null

# A failed start (run2: the store was missing) leaves nothing in the way:
# the same --out starts once the store exists; a run with a completed
# trigger is kept.
"$MODYN_BIN" run --data-dir "$W/d" --out "$W/run2" --quiet "$CFG" > /dev/null 2>&1
check_eq "a failed start's --out can be used again" "$?" 0
"$MODYN_BIN" run --data-dir "$W/d" --out "$W/run2" --quiet "$CFG" > /dev/null 2> "$W/again.err"
check_eq "a run with triggers is kept" "$(cat "$W/again.err")" \
  "modyn: error: run directory $W/run2 already holds a run; choose another --out, or continue it with 'modyn resume $W/run2'"
"$MODYN_BIN" validate --data-dir "$W/d" --set model.config.num_classes=3 "$CFG" > /dev/null 2> "$W/k.err"
check_eq "num_classes mismatch" "$(cat "$W/k.err")" \
  "modyn: error: --set model.config.num_classes: is 3 but the training store has 4 classes"
sed 's/num_classes: 4/num_classes: 5/' "$CFG" > "$W/k5.yaml"
"$MODYN_BIN" validate --data-dir "$W/d" "$W/k5.yaml" > /dev/null 2> "$W/k5.err"
line=$(grep -n 'num_classes: 5' "$W/k5.yaml" | cut -d: -f1)
check_eq "num_classes mismatch in the file" "$(cat "$W/k5.err")" \
  "modyn: error: $W/k5.yaml:$line: model.config.num_classes: is 5 but the training store has 4 classes"

# training.device: cuda where it cannot be had is an error on every rank
# (one message); auto falls back to the CPU with one line saying why.
if ! nvidia-smi -L > /dev/null 2>&1; then
  mpi 2 "$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/dev" --quiet \
    --set training.device=cuda > /dev/null 2> "$W/dev.err"
  check_eq "device cuda exit" "$?" 1
  check "device cuda message" grep -q "^modyn: error: training.device is cuda, but no CUDA device is visible (.*); set training.device to cpu or auto$" "$W/dev.err"
  check_eq "device cuda: one message for 2 ranks" "$(grep -c "modyn: error" "$W/dev.err")" 1
  "$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/auto" --set training.device=auto \
    > "$W/auto.out" 2>&1
  check_eq "device auto without a GPU runs" "$?" 0
  check "device auto says it fell back" grep -q \
    "^# training.device auto: running on the CPU (no CUDA device is visible" "$W/auto.out"
  check "device auto: rank on the cpu" grep -q "^# rank 0 on .*, device cpu," "$W/auto.out"
fi
finish cli_errors

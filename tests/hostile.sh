# hostile.sh - the hostile-input sweep: damaged or wrong inputs of every kind
# given to the modyn binary, each outcome classified, and a table of counts
# by class. Target: no crash, no hang, no silent wrong result, no data loss,
# no debris (temporary files or half-written stores left behind).
#
#   clear_error  exit code 1 (or 2, a usage error) with a "modyn: error" message
#   ok           exit code 0 and the result is right: the input was still valid
#                (a YAML or CSV edit that keeps it well-formed), or the damaged
#                bytes carried nothing (h5diff finds the file unchanged; the same
#                evaluation matrix), or the run finished before the kill
#   crash        killed by a signal (exit code >= 128), a sanitizer report
#   hang         no exit within HOSTILE_TIMEOUT seconds
#   silent_wrong exit code 0 with a different result (store contents, sample
#                count, evaluation matrix)
#   data_loss    a completed result lost: resume after the failure does not end
#                with the reference matrix
#   debris       *.tmp files or a store that does not open left after a failure
#   unclear      exit code != 0 without a modyn message
#
# CTest runs a quick variant (HOSTILE_N=1: 1 to 9 cases per class, no stop
# cases);
# the README's table comes from HOSTILE_N=10, by hand (about 6 minutes):
#   MODYN_BIN=build/modyn MODYN_SOURCE_DIR=. HOSTILE_H5=build/tests/hostile_h5 \
#     HOSTILE_N=10 nice bash tests/hostile.sh
# prints the table (Markdown, as in the README) and writes every case to
# tmp_hostile/cases.tsv. Full disk needs root (a small tmpfs); otherwise that
# class is skipped. Exit code 0 when every target count is 0.
. "$(dirname "$0")/lib.sh"
N=${HOSTILE_N:-3}
SEED=${HOSTILE_SEED:-1}
TMO=${HOSTILE_TIMEOUT:-120}
H5=${HOSTILE_H5:?HOSTILE_H5 must name the hostile_h5 helper (ctest sets it)}
W=$PWD/tmp_hostile
[ -d "$W/disk" ] && umount "$W/disk" 2> /dev/null
rm -rf "$W" && mkdir -p "$W"
RANDOM=$SEED
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
M=$MODYN_BIN

# ---- bookkeeping ---------------------------------------------------------------
OUTCOMES=(clear_error ok crash hang silent_wrong data_loss debris unclear)
CLASSES=()
declare -A COUNT
record() { # record CLASS OUTCOME WHAT
  local c=$1 o=$2
  [[ " ${CLASSES[*]} " == *" $c "* ]] || CLASSES+=("$c")
  COUNT[$c,$o]=$((${COUNT[$c,$o]:-0} + 1))
  printf '%s\t%s\t%s\n' "$c" "$o" "$3" >> "$W/cases.tsv"
  if [ "$o" != clear_error ] && [ "$o" != ok ]; then
    BADN=$((BADN + 1))
    echo "hostile: $c: $o: $3 (stderr in $W/bad_$BADN.err)" >&2
    cp "$W/$LAST.err" "$W/bad_$BADN.err" 2> /dev/null
  fi
}
BADN=0
LAST=none
# run_cmd NAME CMD...: run with the timeout, stdout/stderr to $W/NAME.out/.err
run_cmd() {
  local name=$1; shift
  LAST=$name
  local t0=$SECONDS
  timeout -k 5 "$TMO" "$@" > "$W/$name.out" 2> "$W/$name.err"
  RC=$?
  HUNG=$((SECONDS - t0 >= TMO))
}
# The outcome of a command that did not exit 0.
failed_as() {
  local e=$W/$1.err
  if [ "$HUNG" -eq 1 ]; then echo hang
  elif [ "$RC" -ge 128 ] || grep -qE "Sanitizer|runtime error:|Segmentation fault|exited on signal|core dumped|double free" "$e"; then echo crash
  elif grep -qE "^modyn: error|^modyn [a-z]+: " "$e"; then echo clear_error
  else echo unclear; fi
}
# RN = a random number in 0 .. $1-1. (Not $(...): a subshell would draw
# from a fresh seed, and the sweep would not repeat with HOSTILE_SEED.)
rnd() { RN=$(((RANDOM * 32768 + RANDOM) % $1)); }
flip() { # flip FILE OFFSET: xor the byte with a random nonzero value
  local b x
  b=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
  x=$((1 + RANDOM % 255))
  printf "\\$(printf %03o $((b ^ x)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
no_tmp() { [ -z "$(find "$1" -name '*.tmp' 2> /dev/null)" ]; }

# ---- the reference data and run ------------------------------------------------
D=$W/data
"$M" synth --out "$D/quickstart" --years 4 --train-per-year 200 --test-per-year 50 \
  --years-per-shard 2 > /dev/null || { echo "hostile: synth failed"; exit 1; }
mpi 2 "$M" run "$CFG" --data-dir "$D" --out "$W/ref" --quiet > /dev/null 2>&1 ||
  { echo "hostile: the reference run failed"; exit 1; }
REF=$W/ref/eval/matrix.csv
"$M" eval "$W/ref" --data-dir "$D" --out "$W/ref_eval" --quiet > /dev/null 2>&1 ||
  { echo "hostile: modyn eval of the reference run failed"; exit 1; }

# ---- bad YAML --------------------------------------------------------------------
# Edits of the quickstart pipeline at random lines; validate, and run what
# validates (2 triggers) to see that an accepted file does not crash.
mapfile -t LINES < "$CFG"
for i in $(seq "$N"); do
  for op in 0 1 2 3 4 5; do
    y=$W/y.yaml
    rnd ${#LINES[@]}; L=$RN
    case $op in
      0) sed "$((L + 1))d" "$CFG" > "$y"; what="line $((L + 1)) deleted" ;;
      1) sed "$((L + 1))p" "$CFG" > "$y"; what="line $((L + 1)) doubled" ;;
      2) sed "$((L + 1))s/\$/ : [/" "$CFG" > "$y"; what="line $((L + 1)): ' : [' appended" ;;
      3) sed -E "$((L + 1))s/: +[^ #].*/: x${i}y/" "$CFG" > "$y"; what="line $((L + 1)): value replaced" ;;
      4) sed "$((L + 1))s/^/   /" "$CFG" > "$y"; what="line $((L + 1)) indented by 3" ;;
      5) rnd "$(wc -c < "$CFG")"; head -c "$RN" "$CFG" > "$y"; what="truncated to $RN bytes" ;;
    esac
    run_cmd yaml "$M" validate "$y" --data-dir "$D"
    if [ "$RC" -ne 0 ]; then record bad_yaml "$(failed_as yaml)" "$what"; continue; fi
    rm -rf "$W/yrun"
    run_cmd yrun "$M" run "$y" --data-dir "$D" --out "$W/yrun" --quiet --set experiment.maximum_triggers=2
    if [ "$RC" -eq 0 ]; then record bad_yaml ok "$what (valid; ran)"
    else record bad_yaml "$(failed_as yrun)" "$what (valid; run failed)"; fi
  done
done

# ---- bad CSV ---------------------------------------------------------------------
# 40 rows: label, timestamp, 3 features. An accepted file must give a store
# that verifies, with one sample per data row left in the file.
base=$W/base.csv
{
  echo "label,timestamp,f0,f1,f2"
  for r in $(seq 0 39); do echo "$((r % 3)),$((1000 + r)),$r.5,-$r.25,1e-3"; done
} > "$base"
for i in $(seq "$N"); do
  for op in 0 1 2 3 4 5 6 7; do
    c=$W/c.csv
    rnd 40; R=$((2 + RN))
    case $op in
      0) sed -E "${R}s/,[^,]*\$//" "$base" > "$c"; what="row $R: a field dropped" ;;
      1) sed "${R}s/\$/,7/" "$base" > "$c"; what="row $R: a field added" ;;
      2) sed -E "${R}s/,[^,]*\$/,abc/" "$base" > "$c"; what="row $R: feature 'abc'" ;;
      3) sed -E "${R}s/,[^,]*\$/,/" "$base" > "$c"; what="row $R: empty feature" ;;
      4) { head -n "$R" "$base"; printf '\001\377\000garbage\n'; tail -n +"$((R + 1))" "$base"; } > "$c"
         what="binary line after row $R" ;;
      5) rnd "$(wc -c < "$base")"; head -c "$RN" "$base" > "$c"; what="truncated to $RN bytes" ;;
      6) sed -E "${R}s/^[0-9]+,/-1,/" "$base" > "$c"; what="row $R: label -1" ;;
      7) sed -E "${R}s/^([0-9]+),[0-9]+,/\\1,12x4,/" "$base" > "$c"; what="row $R: timestamp '12x4'" ;;
    esac
    rm -rf "$W/cstore"
    run_cmd csv "$M" ingest --format csv --input "$c" --label-column label \
      --timestamp-column timestamp --out "$W/cstore"
    if [ "$RC" -ne 0 ]; then
      o=$(failed_as csv)
      [ "$o" = clear_error ] && [ -e "$W/cstore" ] && o=debris
      record bad_csv "$o" "$what"
      continue
    fi
    rows=$(tail -n +2 "$c" | grep -c .)
    run_cmd csvchk "$M" check "$W/cstore" --quiet
    got=$(sed -n 's/^wrote .*: \([0-9]*\) samples.*/\1/p' "$W/csv.out")
    if [ "$RC" -eq 0 ] && [ "$got" = "$rows" ]; then record bad_csv ok "$what (valid; $rows rows)"
    else record bad_csv silent_wrong "$what: $got samples for $rows rows (check rc $RC)"; fi
  done
done

# ---- bad IDX ---------------------------------------------------------------------
# 20 images of 4x4 and their labels; damaged headers, truncated or extended
# files, swapped files.
be32() { printf "\\$(printf %03o $(($1 >> 24 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 & 255)))"; }
{ be32 $((0x803)); be32 20; be32 4; be32 4; yes abcdefgh | tr -d "\n" | head -c 320; } > "$W/img"
{ be32 $((0x801)); be32 20; for r in $(seq 0 19); do printf "\\$(printf %03o $((r % 5)))"; done; } > "$W/lab"
for i in $(seq "$N"); do
  for op in 0 1 2 3 4 5; do
    cp "$W/img" "$W/img2"
    cp "$W/lab" "$W/lab2"
    case $op in
      0) rnd 16; o=$RN; flip "$W/img2" "$o"; what="image header byte $o flipped" ;;
      1) rnd 8; o=$RN; flip "$W/lab2" "$o"; what="label header byte $o flipped" ;;
      2) rnd 336; head -c "$RN" "$W/img" > "$W/img2"; what="images truncated to $RN bytes" ;;
      3) printf garbage >> "$W/img2"; what="7 bytes appended to the images" ;;
      4) cp "$W/lab" "$W/img2"; cp "$W/img" "$W/lab2"; what="files swapped" ;;
      5) : > "$W/lab2"; what="empty label file" ;;
    esac
    rm -rf "$W/istore"
    run_cmd idx "$M" ingest --format idx --images "$W/img2" --labels "$W/lab2" --out "$W/istore" --shard-size 8
    if [ "$RC" -ne 0 ]; then
      o=$(failed_as idx)
      [ "$o" = clear_error ] && [ -e "$W/istore" ] && o=debris
      record bad_idx "$o" "$what"
    else
      run_cmd idxchk "$M" check "$W/istore" --quiet
      if [ "$RC" -eq 0 ] && grep -q ": 20 samples" "$W/idx.out" && cmp -s "$W/img" "$W/img2" && cmp -s "$W/lab" "$W/lab2"
      then record bad_idx ok "$what (unchanged input)"
      else record bad_idx silent_wrong "$what: accepted ($(head -c 200 "$W/idx.out"))"; fi
    fi
  done
done

# ---- wrong HDF5 schema ---------------------------------------------------------
# One object of a shard of the training store changed as another tool might
# have written it; `modyn check` and `modyn run` must refuse the store.
S0=$D/quickstart/train/shard_00000.h5
NR=$(h5dump -H -d /keys "$S0" | grep -o 'SIMPLE { ( [0-9]*' | grep -o '[0-9]*$')
SCHEMA=(
  "del-dset /keys" "del-dset /timestamps" "del-dset /labels" "del-dset /features"
  "del-attr modyn_schema_version" "del-attr feature_type" "del-attr feature_shape"
  "del-attr num_classes" "attr-int modyn_schema_version 2" "attr-int num_classes 0"
  "attr-int num_classes 2" "attr-f64 num_classes 4" "attr-str feature_type float64"
  "attr-ints feature_shape 17" "attr-ints feature_shape 4,4" "attr-ints feature_shape 0"
  "attr-int modyn_checksum 5" "attr-str modyn_checksum abc"
  "dset f64 /keys $NR" "dset i64 /labels $NR" "dset i32 /labels $((NR - 1))"
  "dset f32 /features $NR,17" "dset f64 /features $NR,16" "dset str /timestamps $NR"
  "dset i64 /keys $NR" "dset i64 /timestamps $((NR + 1))" "dset i32 /labels $NR,1"
)
# (the quick variant, HOSTILE_N=1, takes every third)
for k in "${!SCHEMA[@]}"; do
  s=${SCHEMA[$k]}
  [ "$N" -eq 1 ] && [ $((k % 3)) -ne 0 ] && continue
  rm -rf "$W/sdata" && cp -r "$D" "$W/sdata"
  # shellcheck disable=SC2086
  "$H5" "$W/sdata/quickstart/train/shard_00000.h5" $s || { record wrong_schema unclear "$s: helper failed"; continue; }
  run_cmd schema "$M" check "$W/sdata/quickstart/train"
  if [ "$RC" -ne 0 ]; then
    o=$(failed_as schema)
    [ "$o" = clear_error ] && ! grep -q "shard_00000.h5" "$W/schema.err" && o=unclear
    record wrong_schema "$o" "$s"
  else
    record wrong_schema silent_wrong "$s: modyn check accepted it"
  fi
done

# ---- missing files ---------------------------------------------------------------
rm -rf "$W/m" && mkdir -p "$W/m/empty" && : > "$W/m/file" && cp -r "$D" "$W/m/d0" &&
  : > "$W/m/d0/quickstart/train/shard_00001.h5" && cp -r "$D" "$W/m/d1" && rm -rf "$W/m/d1/quickstart/test" &&
  cp -r "$W/ref" "$W/m/run" && rm "$W/m/run/models/trigger_0001.h5" && cp -r "$W/ref" "$W/m/run2" &&
  rm "$W/m/run2/config.yaml"
MISSING=(
  "run $W/m/none.yaml --data-dir $D --out $W/m/o1"
  "run $CFG --data-dir $W/m/empty --out $W/m/o2"
  "run $CFG --data-dir $W/m/d0 --out $W/m/o3"
  "run $CFG --data-dir $W/m/d1 --out $W/m/o4"
  "validate $CFG --data-dir $W/m/nodir"
  "check $W/m/nodir" "check $W/m/empty" "check $W/m/file" "check $W/m/d0/quickstart/train"
  "eval $W/m/run --data-dir $D --out $W/m/o5"
  "eval $W/m/run2 --data-dir $D --out $W/m/o6"
  "resume $W/m/norun" "resume $W/m/run2"
  "ingest --format csv --input $W/m/none.csv --label-column label --timestamp-column timestamp --out $W/m/o7"
  "ingest --format idx --images $W/img --labels $W/m/none --out $W/m/o8"
  "report $W/m/norun --out $W/m/o9"
  "sweep $W/m/none.yaml --list"
)
for k in "${!MISSING[@]}"; do
  c=${MISSING[$k]}
  [ "$N" -eq 1 ] && [ $((k % 2)) -ne 0 ] && continue # quick variant: every second
  # shellcheck disable=SC2086
  run_cmd miss "$M" $c
  if [ "$RC" -ne 0 ]; then record missing_files "$(failed_as miss)" "$c"
  else record missing_files silent_wrong "$c: exit 0"; fi
done

# ---- flipped bytes and truncation in shards ------------------------------------
# `modyn check` must name the damaged shard, or the damage must be in bytes
# that carry nothing (h5diff finds the contents unchanged).
S1=$D/quickstart/train/shard_00001.h5
SZ=$(stat -c %s "$S1")
for i in $(seq $((6 * N))); do
  rm -rf "$W/fdata" && cp -r "$D" "$W/fdata"
  F=$W/fdata/quickstart/train/shard_00001.h5
  if [ $((i % 3)) -eq 0 ]; then
    rnd "$SZ"; len=$RN; truncate -s "$len" "$F"; what="truncated to $len of $SZ bytes"
  else
    rnd "$SZ"; off=$RN; flip "$F" "$off"; what="byte $off of $SZ flipped"
  fi
  run_cmd shard "$M" check "$W/fdata/quickstart/train" --quiet
  if [ "$RC" -ne 0 ]; then
    o=$(failed_as shard)
    [ "$o" = clear_error ] && ! grep -q "shard_00001.h5" "$W/shard.err" && o=unclear
    record shard_bytes "$o" "$what"
  elif h5diff -q "$S1" "$F" > /dev/null 2>&1 && h5diff -q "$F" "$S1" > /dev/null 2>&1; then
    record shard_bytes ok "$what (contents unchanged)"
  else
    record shard_bytes silent_wrong "$what: modyn check passed, contents differ"
  fi
done

# ---- flipped bytes and truncation in checkpoints -------------------------------
# `modyn eval` of the run reads every checkpoint; it must refuse the damaged
# one or give the reference matrix.
C1=$W/ref/models/trigger_0001.h5
CSZ=$(stat -c %s "$C1")
for i in $(seq $((6 * N))); do
  rm -rf "$W/crun" "$W/ceval" && cp -r "$W/ref" "$W/crun"
  F=$W/crun/models/trigger_0001.h5
  if [ $((i % 3)) -eq 0 ]; then
    rnd "$CSZ"; len=$RN; truncate -s "$len" "$F"; what="truncated to $len of $CSZ bytes"
  else
    rnd "$CSZ"; off=$RN; flip "$F" "$off"; what="byte $off of $CSZ flipped"
  fi
  run_cmd ckpt "$M" eval "$W/crun" --data-dir "$D" --out "$W/ceval" --quiet
  if [ "$RC" -ne 0 ]; then record checkpoint_bytes "$(failed_as ckpt)" "$what"
  elif cmp -s "$W/ref_eval/matrix.csv" "$W/ceval/matrix.csv"; then record checkpoint_bytes ok "$what (same matrix)"
  else record checkpoint_bytes silent_wrong "$what: eval passed, matrix differs"; fi
done

# ---- full disk -------------------------------------------------------------------
# A tmpfs of a random size (8 KiB .. 200 KiB) under a run, a synth and an
# ingest. A failure must say so, leave no temporary file and no store that
# does not open; the run, resumed with room, must end with the reference.
if [ "$(id -u)" -eq 0 ] && mkdir -p "$W/disk" && mount -t tmpfs -o size=64k tmpfs "$W/disk" 2> /dev/null; then
  trap 'umount "$W/disk" 2> /dev/null' EXIT
  umount "$W/disk"
  for i in $(seq "$N"); do
    for job in run synth ingest; do
      rnd 192; kb=$((8 + RN))
      mount -t tmpfs -o size=${kb}k tmpfs "$W/disk" || { record full_disk unclear "mount failed"; continue; }
      case $job in
        run) run_cmd disk "$MPIEXEC" -n 2 --oversubscribe "$M" run "$CFG" --data-dir "$D" --out "$W/disk/run" --quiet ;;
        synth) run_cmd disk "$M" synth --out "$W/disk/s" --years 4 --train-per-year 200 --test-per-year 50 --years-per-shard 1 ;;
        ingest) run_cmd disk "$M" ingest --format idx --images "$W/img" --labels "$W/lab" --out "$W/disk/i" --shard-size 2 ;;
      esac
      what="$job on ${kb} KiB"
      if [ "$RC" -ne 0 ]; then
        o=$(failed_as disk)
        if [ "$o" = clear_error ]; then
          grep -q "No space left on device" "$W/disk.err" || o=unclear
          no_tmp "$W/disk" || o=debris
          for st in "$W/disk/s/train" "$W/disk/s/test" "$W/disk/i"; do
            if [ -e "$st" ] && ! "$M" check "$st" --quiet > /dev/null 2>&1; then o=debris; fi
          done
        fi
        if [ "$o" = clear_error ] && [ $job = run ]; then
          mount -o remount,size=4m "$W/disk"
          run_cmd disk2 "$MPIEXEC" -n 2 --oversubscribe "$M" resume "$W/disk/run" --quiet
          if [ "$RC" -ne 0 ] || ! cmp -s "$REF" "$W/disk/run/eval/matrix.csv"; then o=data_loss; fi
        fi
        record full_disk "$o" "$what"
      else
        o=ok
        [ $job = run ] && ! cmp -s "$REF" "$W/disk/run/eval/matrix.csv" && o=silent_wrong
        record full_disk "$o" "$what (fit)"
      fi
      umount "$W/disk"
    done
  done
else
  echo "hostile: cannot mount a tmpfs here (root needed); the full-disk class is skipped"
fi

# ---- killed rank and signals -----------------------------------------------------
# A 2-rank run stopped after a random time: one rank SIGKILLed, or SIGUSR1 to
# mpirun (the documented way: mpirun forwards it), SIGTERM to one rank (a
# scheduler), SIGTERM to mpirun (which forwards it, then kills the ranks
# that have not stopped within its own timeout). The job must end (no hang),
# and `modyn resume` must end with the reference matrix. The quick variant
# leaves these out (e2e_failures and e2e_signals cover one case each).
if [ "$N" -gt 1 ]; then
# A run long enough to be stopped mid-way (about 3 s of training on 2 ranks).
KD=$W/kdata
KSETS=(--set model.id=MLP --set 'model.config={}' --set training.epochs_per_trigger=30
       --set experiment.maximum_triggers=3)
"$M" synth --out "$KD/quickstart" --years 4 --train-per-year 2000 --test-per-year 100 > /dev/null
mpi 2 "$M" run "$CFG" --data-dir "$KD" --out "$W/kref" --quiet "${KSETS[@]}" > /dev/null 2>&1 ||
  { echo "hostile: the reference run for the stop cases failed"; exit 1; }
KREF=$W/kref/eval/matrix.csv
stop_case() { # stop_case CLASS SIGNAL TARGET
  local cls=$1 sig=$2 target=$3 ms pid mp="" kids="" victim=""
  rm -rf "$W/krun"
  rnd 2500; ms=$RN
  timeout -k 5 "$TMO" "$MPIEXEC" -n 2 --oversubscribe "$M" run "$CFG" --data-dir "$KD" \
    --out "$W/krun" --quiet "${KSETS[@]}" > "$W/kill.out" 2> "$W/kill.err" &
  pid=$!
  local t0=$SECONDS
  # the ranks are children of mpirun (under timeout); wait until both run
  for _ in $(seq 200); do
    mp=$(pgrep -P $pid | head -1)
    [ -n "$mp" ] && kids=$(pgrep -P "$mp" | tr '\n' ' ')
    [ "$(echo $kids | wc -w)" -ge 2 ] && break
    sleep 0.02
  done
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  if [ "$target" = mpirun ]; then victim=$mp
  else victim=$(echo "$kids" | tr ' ' '\n' | grep . | sed -n "$((1 + RANDOM % 2))p"); fi
  [ -n "$victim" ] && kill -"$sig" "$victim" 2> /dev/null
  wait $pid
  RC=$?
  LAST=kill
  what="SIG$sig to $target ${ms} ms after the start"
  # (mpirun's exit code is 137 when a rank was SIGKILLed: only the time tells a hang)
  if [ $((SECONDS - t0)) -ge "$TMO" ]; then record "$cls" hang "$what"; return; fi
  if [ "$RC" -eq 0 ]; then
    if cmp -s "$KREF" "$W/krun/eval/matrix.csv"; then record "$cls" ok "$what (finished first)"
    else record "$cls" silent_wrong "$what: exit 0, different matrix"; fi
    return
  fi
  # The run finished first (its results printed, the matrix complete) and
  # mpirun, signalled itself, exits 1 anyway: a right result.
  if grep -q "^# results of pipeline" "$W/kill.out" && cmp -s "$KREF" "$W/krun/eval/matrix.csv"; then
    record "$cls" ok "$what (finished first; mpirun exit code $RC)"
    return
  fi
  local o=clear_error
  if [ "$sig" != KILL ] && ! grep -qE "^modyn: error" "$W/kill.err"; then
    grep -q "Sanitizer\|Segmentation" "$W/kill.err" && o=crash || o=unclear
  fi
  no_tmp "$W/krun" || o=debris
  if [ ! -f "$W/krun/config.yaml" ]; then
    # stopped before the run directory was made: start it again
    run_cmd kres "$MPIEXEC" -n 2 --oversubscribe "$M" run "$CFG" --data-dir "$KD" --out "$W/krun" --quiet "${KSETS[@]}"
  else
    run_cmd kres "$MPIEXEC" -n 2 --oversubscribe "$M" resume "$W/krun" --quiet
  fi
  if [ "$RC" -ne 0 ] || ! cmp -s "$KREF" "$W/krun/eval/matrix.csv"; then o=data_loss; fi
  record "$cls" "$o" "$what"
}
for i in $(seq "$N"); do
  stop_case killed_rank KILL rank
  case $((i % 3)) in
    1) stop_case signals USR1 mpirun ;;
    2) stop_case signals TERM rank ;;
    0) stop_case signals TERM mpirun ;;
  esac
done
fi

# ---- the table -------------------------------------------------------------------
{
  printf '| class |'; for o in cases "${OUTCOMES[@]}"; do printf ' %s |' "$o"; done; echo
  printf '|---|'; for o in cases "${OUTCOMES[@]}"; do printf -- '---:|'; done; echo
  declare -A TOT
  for c in "${CLASSES[@]}"; do
    n=0; for o in "${OUTCOMES[@]}"; do n=$((n + ${COUNT[$c,$o]:-0})); done
    TOT[cases]=$((${TOT[cases]:-0} + n))
    printf '| %s | %d |' "$c" "$n"
    for o in "${OUTCOMES[@]}"; do
      printf ' %d |' "${COUNT[$c,$o]:-0}"
      TOT[$o]=$((${TOT[$o]:-0} + ${COUNT[$c,$o]:-0}))
    done
    echo
  done
  printf '| **total** | %d |' "${TOT[cases]}"
  for o in "${OUTCOMES[@]}"; do printf ' %d |' "${TOT[$o]:-0}"; done; echo
} > "$W/table.md"
echo "# hostile-input sweep: HOSTILE_N=$N, seed $SEED; every case in $W/cases.tsv"
cat "$W/table.md"
bad=0
for c in "${CLASSES[@]}"; do
  for o in crash hang silent_wrong data_loss debris unclear; do bad=$((bad + ${COUNT[$c,$o]:-0})); done
done
check_eq "no crash, hang, silent wrong result, data loss, debris or unclear error" "$bad" 0
finish hostile

# e2e_fulldisk.sh - a run whose disk fills up mid-run stops with one message
# that says what happened and what to do, keeps its completed triggers, and
# `modyn resume` (after space is freed) ends with the same results as a run
# that had room. The disk is a small tmpfs; skipped (77) where mounting one
# is not allowed (no root, or a container without CAP_SYS_ADMIN).
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_fulldisk
[ -d "$W/disk" ] && umount "$W/disk" 2> /dev/null
rm -rf "$W" && mkdir -p "$W/data" "$W/disk"
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=48k tmpfs "$W/disk" 2> /dev/null; then
  echo "e2e_fulldisk: cannot mount a tmpfs here; skipping"
  exit 77
fi
trap 'umount "$W/disk" 2> /dev/null' EXIT
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
"$MODYN_BIN" synth --out "$W/data/quickstart" --years 6 --train-per-year 200 --test-per-year 50 > /dev/null
run() { mpi 2 "$MODYN_BIN" "$@" --data-dir "$W/data" --quiet; }

check "run with room" run run "$CFG" --out "$W/roomy" > /dev/null
run run "$CFG" --out "$W/disk/run" > "$W/full.out" 2> "$W/full.err"
check "a full disk fails the run" test $? -ne 0
check_eq "one message" "$(grep -c '^modyn: error' "$W/full.err")" 1
check "it names the cause" grep -q "No space left on device" "$W/full.err"
check "it says what to do" grep -q "Free some space, then continue the run with 'modyn resume $W/disk/run'" "$W/full.err"
check_eq "the failed write left no temporary file" "$(find "$W/disk/run" -name '*.tmp' | wc -l)" 0
kept=$(ls "$W/disk/run/models" | grep -c '^trigger_....\.h5$')
check "some triggers completed before the disk filled ($kept)" test "$kept" -ge 1
check "more space" mount -o remount,size=1m "$W/disk"
check "resume" run resume "$W/disk/run" > /dev/null
check "same evaluation matrix as the run with room" cmp "$W/roomy/eval/matrix.csv" "$W/disk/run/eval/matrix.csv"
check "same composite models" cmp "$W/roomy/eval/composite.csv" "$W/disk/run/eval/composite.csv"
check "no temporary files left" test -z "$(find "$W/disk/run" -name '*.tmp')"
finish e2e_fulldisk

# store_check.sh - `modyn check` and `modyn run --verify` on the command
# line: a fresh store verifies; one flipped feature byte is found and the
# shard named, on 1 and 2 ranks, and --verify stops a run before it starts
# (a run without it does not read the damaged byte's checksum); a shard
# without a checksum (an old store) is reported as such and passes.
. "$(dirname "$0")/lib.sh"
: "${HOSTILE_H5:?HOSTILE_H5 must name the hostile_h5 helper (ctest sets it)}"
W=$PWD/tmp_store_check
rm -rf "$W" && mkdir -p "$W"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
D=$W/d/quickstart
"$MODYN_BIN" synth --out "$D" --years 4 --train-per-year 100 --test-per-year 20 --years-per-shard 2 > /dev/null

check "a fresh store verifies" "$MODYN_BIN" check "$D/train" "$D/test" > "$W/ok.out"
check_eq "one line per shard" "$(grep -c '^shard_0000[01].h5 .* ok$' "$W/ok.out")" 4
check "summary" grep -q "^# $D/train: 2 shards verified ok; 0.0 MiB in" "$W/ok.out"

# Flip one byte inside shard 1's /features (its offset from h5dump).
S1=$D/train/shard_00001.h5
off=$(h5dump -p -H -d /features "$S1" | sed -n 's/.*OFFSET \([0-9]*\).*/\1/p')
check "found the features offset" test -n "$off"
cp "$S1" "$W/orig.h5"
b=$(od -An -tu1 -j$((off + 100)) -N1 "$S1" | tr -d ' ')
printf "\\$(printf %03o $((b ^ 4)))" | dd of="$S1" bs=1 seek=$((off + 100)) conv=notrunc status=none
"$MODYN_BIN" check "$D/train" > "$W/bad.out" 2> "$W/bad.err"
check_eq "damaged: exit code" "$?" 1
check "damaged: the table says which" grep -q '^shard_00001.h5 .* DAMAGED$' "$W/bad.out"
check "damaged: shard 0 still ok" grep -q '^shard_00000.h5 .* ok$' "$W/bad.out"
check_eq "damaged: one message" "$(grep -c '^modyn: error' "$W/bad.err")" 1
check "damaged: it names the shard" grep -q "^modyn: error: $S1 is damaged: its contents give checksum [0-9a-f]\{16\} but the shard records [0-9a-f]\{16\}; restore" "$W/bad.err"
mpi 2 "$MODYN_BIN" check "$D/train" --quiet > "$W/bad2.out" 2> "$W/bad2.err"
check_eq "2 ranks: exit code" "$?" 1
check_eq "2 ranks: one message naming the shard" "$(grep -c "^modyn: error: $S1 is damaged" "$W/bad2.err")" 1
check "2 ranks: summary" grep -q "1 shard verified ok, 1 DAMAGED" "$W/bad2.out"
mpi 2 "$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/run_v" --verify --quiet > /dev/null 2> "$W/v.err"
check_eq "run --verify: exit code" "$?" 1
check "run --verify: names the shard" grep -q "^modyn: error: $S1 is damaged" "$W/v.err"
check "run --verify: stopped before the run started" test ! -e "$W/run_v/models/trigger_0000.h5"
check "a run without --verify does not verify" mpi 2 "$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/run_nv" --quiet

# An old shard: no checksum attribute. It opens; check says so and passes.
cp "$W/orig.h5" "$S1"
check "remove the attribute" "$HOSTILE_H5" "$S1" del-attr modyn_checksum
check "no checksum: exit 0" "$MODYN_BIN" check "$D/train" > "$W/old.out"
check "no checksum: the shard line" grep -q '^shard_00001.h5 .* -  *no checksum (not verified)$' "$W/old.out"
check "no checksum: the summary" grep -q "1 shard verified ok, 1 without a checksum" "$W/old.out"
check "run --verify passes" mpi 2 "$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/run_old" --verify --quiet
check "usage error without a store" bash -c "'$MODYN_BIN' check 2>&1 | grep -q 'expected one or more store or run directories'"
finish store_check

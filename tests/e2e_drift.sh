# e2e_drift.sh - a DataDriftTrigger pipeline end to end on a drifting
# synthetic stream (2 classes whose means rotate 0.5 rad per year): the
# trigger fires, 1 and 2 ranks fire at the same stream positions, and
# events.jsonl holds one line per drift check whose outcome matches the
# triggers; every check runs on the newest model through the model pass (the
# first check always fires). A run killed mid-way and resumed fires at the
# same positions and does not log the restored triggers' checks again.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_e2e_drift
rm -rf "$W" && mkdir -p "$W/data"
CFG=$MODYN_SOURCE_DIR/tests/configs/drift_synth.yaml

synth_rotating_stream e2e_drift

check "run on 1 rank" run_logged 1 np1
check "run on 2 ranks" run_logged 2 np2

p1=$(trigger_positions "$W/np1")
p2=$(trigger_positions "$W/np2")
echo "fired at (1 rank): $p1"
echo "fired at (2 ranks): $p2"
check_eq "same positions on 1 and 2 ranks" "$p2" "$p1"
n=$(echo "$p1" | wc -w)
check "drift fired at least 5 times (got $n)" test "$n" -ge 5
check "drift fired less than every check (got $n)" test "$n" -lt 40
check_eq "the first check fires" "$(echo "$p1" | cut -d' ' -f1)" 99

ev=$W/np1/events.jsonl
check_eq "one line per check" "$(grep -c '"event":"drift_check"' "$ev")" 48
check_eq "fired checks = triggers" "$(grep '"event":"drift_check"' "$ev" | grep -c '"triggered":true')" "$n"
# The stream positions of the fired checks are the trigger positions.
fired=$(grep '"event":"drift_check"' "$ev" | grep '"triggered":true' |
  sed 's/.*"stream_index":\([0-9]*\).*/\1/' | tr '\n' ' ')
check_eq "fired check positions" "$fired" "$p1"
# Every detection has an MMD value, and a fire means it reached 0.05.
check_eq "detections with a distance" \
  "$(grep '"phase":"detect"' "$ev" | grep -c '"mmd":{"id":"AlibiDetectMmdDriftMetric","distance":[-0-9]')" 47
bad=$(grep '"phase":"detect"' "$ev" | sed 's/.*"distance":\([-0-9.e]*\).*"triggered":\([a-z]*\).*/\1 \2/' |
  awk '($2 == "true") != ($1 >= 0.05) { n++ } END { print n + 0 }')
check_eq "decisions follow the threshold" "$bad" 0
# The replay cuts its chunks at the drift checks, so the model a fire asks
# for is trained before the next check: every later check embeds with the
# newest model (none is stale), through the model pass.
check "embeddings from the model pass" grep -q '"vectors":"embeddings"' "$ev"
check_eq "no check on a stale model" "$(grep -c '"stale_model":true' "$ev")" 0
check_eq "same check lines on 2 ranks" \
  "$(grep -o '"distance":[-0-9.e]*' "$W/np2/events.jsonl" | md5sum)" \
  "$(grep -o '"distance":[-0-9.e]*' "$ev" | md5sum)"
# Killed in training (rank 0, step 40, in trigger 1), then resumed: same
# triggers; the checks up to the restored trigger 0 are not logged again
# (those after it, up to the interrupted training, are: the interrupted run
# logged them, and the resumed run cannot tell how far it got).
MODYN_FAULT=0:40:exit mpi 1 "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/cut" > "$W/cut.log" 2>&1
check "killed run fails" test $? -ne 0
check "resume" mpi 1 "$MODYN_BIN" resume "$W/cut" --data-dir "$W/data" --quiet
check_eq "resumed positions" "$(trigger_positions "$W/cut")" "$p1"
checks() { grep '"event":"drift_check"' "$1" | sed 's/.*"check":\([0-9]*\),.*/\1/'; }
check_eq "every check logged" "$(checks "$W/cut/events.jsonl" | sort -un | wc -l)" 48
check_eq "restored trigger's checks logged once" \
  "$(checks "$W/cut/events.jsonl" | sort -n | uniq -d | head -1)" 1
finish e2e_drift

# e2e_follow.sh - a growing store: `modyn run --follow` on 2 ranks while a
# writer appends shards with `modyn ingest --append`. Every sample is trained
# on exactly once, in stream order, and the evaluation matrix equals a run
# on the final store; a signal ends a followed run cleanly; `modyn resume`
# of the followed run follows again (until idle); a shard older than the replay is
# skipped with a warning; a run without --follow reports the shards that
# came too late for it.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_follow
rm -rf "$W" && mkdir -p "$W"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
SETS=(--set training.epochs_per_trigger=2)
YEAR=31536000

# year Y as CSV: N rows, label, timestamp (spread over the year from
# OFFSET), 8 features around a class mean that drifts with the year
year_csv() { # year_csv Y N OFFSET FILE
  awk -v y="$1" -v n="$2" -v off="$3" -v Y=$YEAR 'BEGIN {
    srand(1000 * y + n); print "label,ts,f0,f1,f2,f3,f4,f5,f6,f7"
    for (i = 0; i < n; i++) {
      l = int(rand() * 4); printf "%d,%d", l, y * Y + off + int(i * (Y - off) / n)
      for (f = 0; f < 8; f++) printf ",%.4f", (f % 4 == l) + (f == (l + y) % 8) + rand() + rand() + rand() - 1.5
      printf "\n" } }' > "$4"
}
ingest() { # ingest CSV STORE [--append]
  "$MODYN_BIN" ingest --format csv --input "$1" --label-column label --timestamp-column ts \
    --num-classes 4 --out "$2" "${@:3}" > /dev/null
}
# option errors: exit 2, one message
for bad in "--poll abc" "--poll 0" "--stall-timeout -3" "--follow-until-idle x"; do
  "$MODYN_BIN" run $bad "$CFG" > /dev/null 2> "$W/opt.err"
  check_eq "'$bad': exit" "$?" 2
done
check_eq "--follow-until-idle x: message" "$(head -1 "$W/opt.err")" \
  'modyn run: --follow-until-idle expects seconds (a number >= 0), got "x"'
"$MODYN_BIN" run --poll 0 "$CFG" 2>&1 > /dev/null | head -1 > "$W/opt.err"
check_eq "--poll 0: message" "$(cat "$W/opt.err")" "modyn run: --poll must be > 0"

for y in 0 1 2 3 4; do year_csv $y 300 0 "$W/y$y.csv"; done
# the evaluation store: years 0..4, 100 samples each
for y in 0 1 2 3 4; do year_csv $y 100 7 "$W/t$y.csv"; done
ingest "$W/t0.csv" "$W/d/quickstart/test"
for y in 1 2 3 4; do ingest "$W/t$y.csv" "$W/d/quickstart/test" --append; done
ingest "$W/y0.csv" "$W/d/quickstart/train"

wait_for() { # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local n=$(($1 * 20)); shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.05; done
  return 1
}
grew() { [ "$(grep -c '"event":"store_grew"' "$1/events.jsonl" 2> /dev/null)" -ge "$2" ]; }
keys() { h5dump -d /keys -y -w 0 "$1" | sed -n '/DATA {/,/}/p' | tr -d 'DATA{}' | tr ',' '\n' | awk 'NF { print $1 }'; }

# ---- follow while a writer appends years 1, 2, 3 --------------------------
# mpirun itself in the background ($! is its pid), so that it gets the signal
"$MPIEXEC" -n 2 --oversubscribe "$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/follow" \
  "${SETS[@]}" --follow --poll 0.2 > "$W/follow.out" 2> "$W/follow.err" &
pid=$!
check "follow: says it follows" wait_for 120 grep -q "^# following .*every 0.2 s$" "$W/follow.out"
for y in 1 2 3; do # one shard at a time: each is seen on its own
  ingest "$W/y$y.csv" "$W/d/quickstart/train" --append
  check "follow: year $y picked up" wait_for 120 grew "$W/follow" "$y"
done
# trigger 2 (year 2, closed by year 3) done: the run waits for data again
check "follow: trigger 2 reported" wait_for 120 grep -q '^2,' "$W/follow/triggers.csv"
kill -USR1 "$pid" # the normal end of a followed run; mpirun forwards SIGUSR1 to every rank
wait "$pid"
check_eq "follow: stopped by a signal while following: exit status" "$?" 0
cat "$W/follow.err" >&2
check "follow: says how to go on" grep -q "^# stopped by SIGUSR1 while following .*; continue following with 'modyn resume $W/follow'$" "$W/follow.out"
check "follow: results table printed" grep -q "^# results of pipeline quickstart (2 ranks)" "$W/follow.out"
check_eq "follow: 3 'store grew' lines" "$(grep -c '^# store grew: 1 new shard (shard_0000[123].h5), 300 samples; 300 to replay$' "$W/follow.out")" 3
check_eq "follow: events say 1 shard, 300 samples, none late, each time" \
  "$(grep -c '"event":"store_grew","shards":1,"samples":300,"replayed":300,"late":0' "$W/follow/events.jsonl")" 3
# years 0, 1, 2 trained (year 3 waits for a later sample to close it)
check_eq "follow: 3 triggers" "$(ls "$W/follow/models" | wc -l)" 3
# each sample once, in stream order: ingest gives keys in timestamp order
for t in 0 1 2; do keys "$W/follow/selection/trigger_000$t.h5"; done > "$W/follow.keys"
check_eq "follow: trained keys are 0..899 in stream order, each once" "$(cat "$W/follow.keys")" "$(seq 0 899)"
check_eq "follow: samples trained (2 epochs of 300 per trigger)" \
  "$(grep -o '"samples_trained":[0-9]*' "$W/follow/events.jsonl" | grep -v 1800 | sort | uniq -c | awk '{ print $1, $2 }')" \
  '3 "samples_trained":600'

# the same pipeline on the final store, without following
mpi 2 "$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/whole" "${SETS[@]}" --quiet > /dev/null
for t in 0 1 2; do keys "$W/whole/selection/trigger_000$t.h5"; done > "$W/whole.keys"
check "follow: same training sets as a run on the final store" cmp "$W/follow.keys" "$W/whole.keys"
check "follow: same matrix as a run on the final store" cmp "$W/follow/eval/matrix.csv" "$W/whole/eval/matrix.csv"
check "follow: recorded for resume" test -s "$W/follow/follow"

# ---- resume follows again, until idle -------------------------------------
ingest "$W/y4.csv" "$W/d/quickstart/train" --append # closes year 3
mpi 2 "$MODYN_BIN" resume "$W/follow" --follow-until-idle 2 > "$W/resume.out" 2> "$W/resume.err"
check_eq "resume: exit status" "$?" 0
cat "$W/resume.err" >&2
check "resume: follows with the recorded poll" grep -q "^# following .*every 0.2 s, until none came for --follow-until-idle$" "$W/resume.out"
check_eq "resume: 3 triggers restored, 1 trained" "$(grep -c '(restored)$' "$W/resume.out") $(ls "$W/follow/models" | wc -l)" "3 4"
check "resume: ends when idle" grep -q "^# no new shard for 2 s: the run ends (--follow-until-idle)$" "$W/resume.out"
mpi 2 "$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/whole5" "${SETS[@]}" --quiet > /dev/null
check "resume: same matrix as a run on the final store" cmp "$W/follow/eval/matrix.csv" "$W/whole5/eval/matrix.csv"
check "resume: same composite as a run on the final store" cmp "$W/follow/eval/composite.csv" "$W/whole5/eval/composite.csv"

# ---- a shard older than the replay is skipped, with a warning -------------
ingest "$W/y0.csv" "$W/d/late/train"
ingest "$W/y1.csv" "$W/d/late/train" --append
cp -r "$W/d/quickstart/test" "$W/d/late/test"
LATE=(--set data.dataset_id=late/train --set 'evaluation.handlers[0].datasets=[late/test]'
      --set evaluation.datasets[0].dataset_id=late/test)
"$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/late" "${SETS[@]}" "${LATE[@]}" --follow \
  --poll 0.2 > "$W/late.out" 2> "$W/late.err" &
pid=$!
check "late: follows" wait_for 120 grep -q "^# following " "$W/late.out"
year_csv 0 50 3 "$W/old.csv" # 50 samples of year 0: the replay is in year 1 already
ingest "$W/old.csv" "$W/d/late/train" --append
check "late: seen" wait_for 120 grew "$W/late" 1
ingest "$W/y2.csv" "$W/d/late/train" --append
check "late: the next shard seen" wait_for 120 grew "$W/late" 2
check "late: trigger 1 reported" wait_for 120 grep -q '^1,' "$W/late/triggers.csv"
kill -TERM "$pid"
wait "$pid"
check_eq "late: exit status" "$?" 0
check "late: warns and names the shard" grep -q "^# warning: 50 samples of the new shards (the first in shard_00002.h5, at 1970-01-01) sort before the last one replayed (1971-12-3[01]): a followed stream cannot go back, so they are skipped$" "$W/late.out"
check "late: events.jsonl line" grep -q '"event":"late_samples","skipped":50' "$W/late/events.jsonl"
check_eq "late: trigger 1 trains year 1's 300 samples only" "$(keys "$W/late/selection/trigger_0001.h5" | wc -l)" 300

# ---- without --follow: shards that came during the run are reported ------
ingest "$W/y0.csv" "$W/d/slow/train"
ingest "$W/y1.csv" "$W/d/slow/train" --append
ingest "$W/y2.csv" "$W/d/slow/train" --append
cp -r "$W/d/quickstart/test" "$W/d/slow/test"
SLOW=(--set data.dataset_id=slow/train --set 'evaluation.handlers[0].datasets=[slow/test]'
      --set evaluation.datasets[0].dataset_id=slow/test)
"$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$W/slow" --set training.epochs_per_trigger=400 \
  --set model.id=MLP --set 'model.config={}' "${SLOW[@]}" > "$W/slow.out" 2> "$W/slow.err" &
pid=$!
check "no follow: first trigger" wait_for 120 test -f "$W/slow/models/trigger_0000.h5"
kill -STOP "$pid" # the shard arrives while the run is surely still going
ingest "$W/y3.csv" "$W/d/slow/train" --append
kill -CONT "$pid"
wait "$pid"
check_eq "no follow: exit status" "$?" 0
check "no follow: reports the unused shard" grep -q "^modyn: warning: 1 shard arrived in .*/slow/train after the start and was not used; rerun with --follow to train on them$" "$W/slow.err"
check "no follow: events.jsonl line" grep -q '"event":"unused_shards","shards":1' "$W/slow/events.jsonl"
check_eq "no follow: 2 triggers (the third year is the store's end)" "$(ls "$W/slow/models" | wc -l)" 2
finish e2e_follow

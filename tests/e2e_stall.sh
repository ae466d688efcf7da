# e2e_stall.sh - a stopped rank (SIGSTOP) ends the job within the stall
# timeout with a message naming it, instead of leaving the others spinning
# in a collective; no process is left behind.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_stall
rm -rf "$W" && mkdir -p "$W"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
"$MODYN_BIN" synth --out "$W/d/quickstart" --years 4 --train-per-year 2000 --test-per-year 100 > /dev/null

# ranks of the job that mpirun PID started: "pid rank" lines
ranks_of() {
  local p
  for p in $(pgrep -P "$1"); do
    echo "$p $(tr '\0' '\n' < "/proc/$p/environ" | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')"
  done
}

stall() { # stall NP RANK: stop RANK of an NP-rank run after its first trigger
  local np=$1 rank=$2 out=$W/stall$1_$2 victim start
  # mpirun itself in the background: $! is its pid, its children the ranks
  "$MPIEXEC" -n "$np" --oversubscribe "$MODYN_BIN" run "$CFG" --data-dir "$W/d" --out "$out" \
    --stall-timeout 5 --set training.epochs_per_trigger=500 > "$out.out" 2> "$out.err" &
  local mp=$!
  for _ in $(seq 2400); do [ -f "$out/models/trigger_0000.h5" ] && break; sleep 0.05; done
  victim=$(ranks_of "$mp" | awk -v r="$rank" '$2 == r { print $1 }')
  check "np $np: rank $rank found" test -n "$victim"
  kill -STOP "$victim"
  start=$(date +%s%N)
  wait "$mp"
  RC=$?
  TOOK=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  echo "np $np, rank $rank stopped: exit $RC after ${TOOK}s" >&2
  cat "$out.err" >&2
  check "np $np: the job fails" test "$RC" -ne 0
  check "np $np: not before the timeout (${TOOK}s)" awk -v t="$TOOK" 'BEGIN { exit !(t >= 4.5) }'
  check "np $np: within the timeout + 10 s (${TOOK}s)" awk -v t="$TOOK" 'BEGIN { exit !(t < 15) }'
  check "np $np: the message names rank $rank and its pid" grep -q \
    "^modyn: error \[rank [0-9] of $np on .*\]: rank $rank (pid $victim on .*) has not responded for [5-9] s (stopped, frozen, or its node hung): ending the job (--stall-timeout 5)$" \
    "$out.err"
  check_eq "np $np: one such message" "$(grep -c 'has not responded' "$out.err")" 1
  check "np $np: says how to continue" grep -q "^The completed triggers are kept: continue the run with 'modyn resume $out'$" "$out.err"
  check "np $np: the completed trigger is kept" test -s "$out/models/trigger_0000.h5"
  for _ in $(seq 100); do # nothing may be left (a zombie waits for its reaper)
    kill -0 "$victim" 2> /dev/null && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$victim/stat" 2> /dev/null || break
    sleep 0.05
  done
  if kill -0 "$victim" 2> /dev/null && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$victim/stat" 2> /dev/null; then
    cat "/proc/$victim/stat" >&2
    fail "np $np: the stopped rank $victim is still there"
    kill -CONT "$victim"
    kill -KILL "$victim"
  fi
}

stall 3 1 # a worker: rank 0 names it
stall 2 0 # rank 0: the worker names it
finish e2e_stall

# e2e_failures.sh - a rank that dies or errors mid-training brings the whole
# job down quickly with a message naming the rank; NaN loss says what to do.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_fail
rm -rf "$W" && mkdir -p "$W/data"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
"$MODYN_BIN" synth --out "$W/data/quickstart" --years 6 --train-per-year 400 --test-per-year 50 > /dev/null

run_fault() { # run_fault NAME NP FAULT
  local start rc
  start=$(date +%s%N)
  MODYN_FAULT=$3 mpi "$2" "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/$1" \
    > "$W/$1.out" 2> "$W/$1.err"
  rc=$?
  TOOK=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  RC=$rc
}

# Rank 1 of 2 exits abruptly at its 40th step (in trigger 2 or so).
run_fault exit 2 1:40:exit
echo "killed rank: mpirun exit $RC after ${TOOK}s"
check "killed rank: mpirun fails" test "$RC" -ne 0
check "killed rank: ends in under 30 s (took ${TOOK}s)" awk -v t="$TOOK" 'BEGIN { exit !(t < 30) }'
check "killed rank: mpirun names the rank" grep -qE 'Process name: \[\[[0-9]+,[0-9]+\],1\]' "$W/exit.err"
# The run directory keeps the triggers completed before the crash.
check "killed rank: completed triggers kept" test -s "$W/exit/models/trigger_0000.h5"

# Rank 2 of 3 reports an error: MPI_Abort, one message naming the rank.
run_fault error 3 2:25:error
echo "error on rank 2: mpirun exit $RC after ${TOOK}s"
check "error rank: mpirun fails" test "$RC" -ne 0
check "error rank: ends in under 30 s (took ${TOOK}s)" awk -v t="$TOOK" 'BEGIN { exit !(t < 30) }'
check_eq "error rank: one message" "$(grep -c '^modyn: error' "$W/error.err")" 1
check "error rank: message names rank and cause" \
  grep -q '^modyn: error \[rank 2 of 3 on .*\]: trigger [0-9]*: injected fault at step 25' "$W/error.err"

# NaN loss on one rank: every rank sees it after the allreduce; one message.
run_fault nan 2 0:30:nan
check "nan: mpirun fails" test "$RC" -ne 0
check_eq "nan: one message" "$(grep -c '^modyn: error' "$W/nan.err")" 1
check "nan: message says what to do" grep -q 'training loss became NaN.*lower the learning rate' "$W/nan.err"
finish e2e_failures

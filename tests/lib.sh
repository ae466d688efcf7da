# lib.sh - sourced by the script tests: paths, mpirun, and assertions that
# print what differed and count failures.
set -uo pipefail
: "${MODYN_BIN:?MODYN_BIN must name the modyn binary (ctest sets it)}"
: "${MODYN_SOURCE_DIR:?MODYN_SOURCE_DIR must name the source tree (ctest sets it)}"
MPIEXEC=${MPIEXEC:-mpirun}
. "$MODYN_SOURCE_DIR/scripts/env.sh"
FAILS=0
CHECKS=0

mpi() { local np=$1; shift; timeout 300 "$MPIEXEC" -n "$np" --oversubscribe "$@"; }

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  CHECKS=$((CHECKS + 1))
  if ! "$@"; then fail "$what"; fi
}
check_eq() { # check_eq DESCRIPTION GOT WANT
  CHECKS=$((CHECKS + 1))
  if [ "$2" != "$3" ]; then fail "$1: got '$2', want '$3'"; fi
}
finish() {
  echo "$1: $CHECKS checks, $FAILS failed"
  [ "$FAILS" -eq 0 ]
}

# The drift and cost tests' stream: 12 years of 2 classes whose means
# rotate 0.5 rad per year, in $W/data/quickstart (NAME: the test, for finish).
synth_rotating_stream() { # synth_rotating_stream NAME
  "$MODYN_BIN" synth --out "$W/data/quickstart" --years 12 --train-per-year 400 --test-per-year 100 \
    --classes 2 --features 4 --drift 0.5 > "$W/synth.log" ||
    { cat "$W/synth.log"; fail "synth"; finish "$1"; exit 1; }
}
# Run $CFG on NP ranks into $W/OUT; its output is kept in $W/OUT.log and shown.
run_logged() { # run_logged NP OUT
  mpi "$1" "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/$2" > "$W/$2.log" 2>&1
  local rc=$?
  cat "$W/$2.log"
  return $rc
}
# The stream positions at which a run's triggers fired, space-separated.
trigger_positions() { awk -F, 'NR > 1 { print $2 }' "$1/triggers.csv" | tr '\n' ' '; }
# Field NAME of each trigger line of a run's events.jsonl, one per line.
field() { grep '"event":"trigger"' "$1/events.jsonl" | grep -o "\"$2\":[0-9.]*" | cut -d: -f2; }
# A checkpoint's /params, one value per line.
params() { h5dump -d /params -y -w 0 "$1" | sed -n '/DATA {/,/}/p' | tr -d 'DATA{}():' | tr ',' '\n' | awk 'NF { print $1 }'; }

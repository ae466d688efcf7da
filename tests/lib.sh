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

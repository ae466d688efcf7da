#!/usr/bin/env bash
# run_fuzz.sh BUILD NAME SECONDS [WORK]: fuzz one harness (built with
# -DMODYN_FUZZ=ON in BUILD) for SECONDS, niced, one process, starting from
# the committed corpus; then minimise the committed corpus plus what the
# run found (-merge=1) into WORK/merged, which replaces
# tests/fuzz/corpus/NAME when committed. Crashes, hangs (-timeout=10) and leaks land in
# WORK/artifacts (default /tmp/modyn-fuzz-NAME); add each one to
# tests/fuzz/regress/NAME once the bug is fixed.
set -euo pipefail
build=$1 name=$2 secs=$3
work=${4:-/tmp/modyn-fuzz-$name}
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/tests/fuzz_$name
. "$here/../../scripts/env.sh"
export LSAN_OPTIONS=suppressions=$here/lsan.supp:print_suppressions=0
asan=allocator_may_return_null=1:detect_leaks=1
# The store harness: full unwinding on malloc, since libhdf5 has no frame
# pointers and the suppressions name its functions (slower; the others
# allocate little inside HDF5 and keep the fast unwinder).
[ "$name" = store ] && asan=$asan:fast_unwind_on_malloc=0
# The config harness starts MPI: what Open MPI's plugins keep to the end
# cannot be named at exit (unknown modules). Leaks are still checked per
# input (libFuzzer's -detect_leaks), just not once more at exit.
[ "$name" = config ] && asan=$asan:leak_check_at_exit=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-$asan}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The harnesses' scratch files (ingested stores, shard copies) on a tmpfs
# when there is one: every shard write ends in an fsync.
if [ -z "${TMPDIR:-}" ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
mkdir -p "$work/corpus" "$work/artifacts"
extra=()
[ -d "$here/regress/$name" ] && extra+=("$here/regress/$name")
set +e
# Fork mode, one child at a time: a crash, hang or OOM is saved and fuzzing
# goes on (libhdf5 1.10 itself crashes on some damaged files; those must
# not end the session before our own code has been fuzzed).
nice -n 19 "$bin" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
  -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
  "$work/corpus" "$here/corpus/$name" "${extra[@]}" 2>&1 | tee "$work/fuzz.log" | grep -v "^#[0-9].*\(NEW\|REDUCE\|pulse\)\|^INFO\|^\s"
rc=${PIPESTATUS[0]}
set -e
echo "fuzz exit code: $rc"
# Minimise: the committed corpus keeps only inputs that add coverage.
rm -rf "$work/merged" && mkdir -p "$work/merged"
nice -n 19 "$bin" -merge=1 -timeout=10 -rss_limit_mb=4096 "$work/merged" "$here/corpus/$name" \
  "$work/corpus" > "$work/merge.log" 2>&1
tail -2 "$work/merge.log"
exit "$rc"

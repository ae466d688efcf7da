#!/usr/bin/env bash
# test-sanitize.sh - the test programs (tests/test_*.c, one and several
# ranks) and the fuzz corpus replays (fuzz_replay_*: every committed fuzz
# input and regression case) built with AddressSanitizer and
# UndefinedBehaviorSanitizer into build-san/; any memory error or undefined
# behaviour fails its test.
# CI runs it after scripts/test.sh. Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
cmake -S . -B build-san -DCMAKE_BUILD_TYPE=Debug -DMODYN_SANITIZE=ON -DMODYN_CUDA=OFF \
  -DMODYN_WERROR=OFF > /dev/null # (-O0 warns differently; the -Werror build is scripts/test.sh)
cmake --build build-san -j "$(nproc)" > build-san/build.log 2>&1 || { tail -40 build-san/build.log; exit 1; }
# Leak checks are off (Open MPI keeps its allocations to the end); tests that
# make an allocation fail on purpose need malloc to return NULL.
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-san
ctest --output-on-failure -j "$(nproc)" -R '^test_' "$@"
# The fuzz corpus replays check for leaks after every input (as libFuzzer
# does; tests/fuzz/replay.c): what Open MPI and libhdf5 keep is suppressed
# by name, which needs full unwinding through libhdf5.
ASAN_OPTIONS=detect_leaks=1:leak_check_at_exit=0:allocator_may_return_null=1:fast_unwind_on_malloc=0 \
  LSAN_OPTIONS=suppressions=$PWD/../tests/fuzz/lsan.supp:print_suppressions=0 \
  ctest --output-on-failure -j "$(nproc)" -R '^fuzz_replay_' "$@"

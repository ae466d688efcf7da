#!/usr/bin/env bash
# test.sh - install what is missing, build, and run the whole CTest suite.
# Extra arguments go to ctest (e.g. -L unit, -R store).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
bash scripts/build.sh
. scripts/env.sh
cd build
ctest --output-on-failure -j "$(nproc)" "$@"

#!/usr/bin/env bash
# build.sh - configure and build into ./build (idempotent).
# CI=true (or MODYN_WERROR=ON) turns compiler warnings into errors.
set -euo pipefail
cd "$(dirname "$0")/.."
werror=${MODYN_WERROR:-OFF}
if [ "${CI:-}" = "true" ]; then werror=ON; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMODYN_WERROR="$werror"
cmake --build build -j "$(nproc)"

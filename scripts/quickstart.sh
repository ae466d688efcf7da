#!/usr/bin/env bash
# quickstart.sh - from a fresh Debian 12 machine to results: install what is
# missing, build, generate the quick-start dataset, and run
# configs/quickstart.yaml with MPI on 2 processes. Prints the results table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
. scripts/env.sh
if [ ! -d data/quickstart/train ]; then
  build/modyn synth --out data/quickstart
fi
out="runs/quickstart-$(date -u +%Y%m%d-%H%M%S)"
mpirun -np "${NP:-2}" build/modyn run configs/quickstart.yaml --out "$out"
build/modyn report "$out" --out "$out/report" > /dev/null
echo "# run directory: $out (eval/matrix.csv, eval/composite.csv, triggers.csv, events.jsonl)"
echo "# report with figures: $out/report/index.html"

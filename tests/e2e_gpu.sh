# e2e_gpu.sh - a 5-trigger YearbookNet pipeline on the GPU against the same
# pipeline on the CPU (label gpu; skipped without a device): the same
# triggers and samples, per-trigger losses within 1e-3 (relative), every
# accuracy of the evaluation matrix within 2 test samples, the GPU run's
# log naming its device, and its checkpoints giving the same matrix when
# `modyn eval` evaluates them on the CPU. Prints both wall times. One process, no mpirun:
# the device machine of scripts/gpu-check.sh has no MPI launcher.
. "$(dirname "$0")/lib.sh"
# E2E_GPU_DEVICE=cpu runs both sides on the CPU (a check of this script).
DEV=${E2E_GPU_DEVICE:-cuda}
if [ "$DEV" = cuda ] && ! nvidia-smi -L > /dev/null 2>&1; then
  echo "e2e_gpu: no CUDA device; skipped"
  exit 77
fi
W=$PWD/tmp_e2e_gpu
rm -rf "$W" && mkdir -p "$W/data"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
"$MODYN_BIN" synth --out "$W/data/quickstart" --years 6 --train-per-year 200 \
  --test-per-year 100 --image 3,32,32 > "$W/synth.log" || { cat "$W/synth.log"; exit 1; }

run() { # run DEVICE OUT
  local t0 t1
  t0=$(date +%s.%N)
  "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/$2" --set model.id=YearbookNet \
    --set training.device="$1" > "$W/$2.log" 2>&1
  local rc=$?
  t1=$(date +%s.%N)
  cat "$W/$2.log"
  echo "wall $2: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
  return $rc
}
check "pipeline on the CPU" run cpu cpu
check "pipeline on the GPU" run "$DEV" gpu
[ "$DEV" = cuda ] && check "the GPU run names its device" grep -q "device cuda:0" "$W/gpu.log"

rows() { tail -n +2 "$1" | wc -l | tr -d ' '; }
check_eq "triggers on the GPU" "$(rows "$W/gpu/triggers.csv")" 5
check_eq "triggers: the same on both" "$(cut -d, -f1-6 "$W/gpu/triggers.csv")" \
  "$(cut -d, -f1-6 "$W/cpu/triggers.csv")"
# losses: the column named loss, relative difference
col=$(head -1 "$W/cpu/triggers.csv" | tr ',' '\n' | grep -n '^loss_last_epoch$' | cut -d: -f1)
worst=$(paste -d, "$W/cpu/triggers.csv" "$W/gpu/triggers.csv" | awk -F, -v c="$col" '
  NR == 1 { n = NF / 2; next }
  { a = $c; b = $(c + n); d = a - b; if (d < 0) d = -d; r = d / (a < 0 ? -a : a) + 0;
    if (r > m) { m = r; w = a " vs " b } }
  END { printf "%.3g (%s)\n", m, w }')
echo "worst relative loss difference, cpu vs gpu: $worst"
check "losses within 1e-3" awk -v d="${worst%% *}" 'BEGIN { exit !(d + 0 <= 1e-3) }'
check_eq "matrix rows" "$(rows "$W/gpu/eval/matrix.csv")" "$(rows "$W/cpu/eval/matrix.csv")"
maxdiff=$(paste -d, "$W/cpu/eval/matrix.csv" "$W/gpu/eval/matrix.csv" | awk -F, '
  NR > 1 { d = $10 - $20; if (d < 0) d = -d; if (d > m) m = d }
  END { printf "%.6f\n", m + 0 }')
echo "max |matrix cpu - gpu| = $maxdiff (one test sample is 0.01)"
check "matrix within 2 test samples" awk -v d="$maxdiff" 'BEGIN { exit !(d + 0 <= 0.0201) }'
# Checkpoints are interchangeable: the GPU run's models, re-evaluated on the
# CPU (modyn eval reads config.yaml, whose training.device is cuda, but
# evaluates where `modyn eval` runs: the CPU), give the GPU run's matrix.
check "modyn eval of the GPU run on the CPU" "$MODYN_BIN" eval "$W/gpu" --out "$W/gpu_on_cpu" --quiet \
  --data-dir "$W/data"
cpudiff=$(paste -d, "$W/gpu/eval/matrix.csv" "$W/gpu_on_cpu/matrix.csv" | awk -F, '
  NR > 1 { d = $10 - $20; if (d < 0) d = -d; if (d > m) m = d }
  END { printf "%.6f\n", m + 0 }')
echo "max |matrix gpu - gpu checkpoints evaluated on the cpu| = $cpudiff"
check "GPU checkpoints on the CPU within 2 test samples" awk -v d="$cpudiff" 'BEGIN { exit !(d + 0 <= 0.0201) }'
finish e2e_gpu

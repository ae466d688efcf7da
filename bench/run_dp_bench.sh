#!/usr/bin/env bash
# run_dp_bench.sh - data-parallel efficiency and read/compute overlap,
# measured with `modyn run` itself (timings from events.jsonl).
#
# 1. Efficiency: YearbookNet on 3x32x32 images, one trigger of N samples,
#    the same global batch, one thread per rank:
#        efficiency = samples/s at np=2 / (2 x samples/s at np=1)
# 2. Overlap: a model whose reads are a large part of a step (a linear
#    model on 3x32x32 images), training samples/s with prefetching off
#    (num_prefetched_partitions: 0) and on (2 partitions ahead).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
[ -x build/modyn ] || bash scripts/build.sh
W=${BENCH_DATA:-bench_data}/dp
N=${N:-12800}
mkdir -p "$W"
[ -d "$W/synth_images/train" ] || build/modyn synth --out "$W/synth_images" --image 3,32,32 \
  --years 4 --train-per-year $((N / 4)) --test-per-year 10 > /dev/null
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

rate() { # samples/s and allreduce seconds of the run's first trigger
  awk -F'[,:}]' '/"event":"trigger"/ { for (i = 1; i < NF; i++) { if ($i ~ /"samples_trained"/) s = $(i+1); if ($i ~ /"train_s"/) t = $(i+1); if ($i ~ /"allreduce_s"/) a = $(i+1) } printf "%.1f %.4f %.4f\n", s / t, t, a; exit }' "$1/events.jsonl"
}
run() { # run NP NAME [--set ...]   (BIND: core, or none to give a rank's threads all cores)
  local np=$1 name=$2; shift 2
  rm -rf "$W/$name"
  mpirun -np "$np" --bind-to "${BIND:-core}" build/modyn run configs/yearbooknet_synth.yaml --quiet \
    --data-dir "$W" --out "$W/$name" --set trigger.num_samples=$N \
    --set experiment.maximum_triggers=1 --set evaluation= "$@" > /dev/null
  rate "$W/$name"
}
read -r r1 t1 a1 <<< "$(run 1 yb_np1)"
read -r r2 t2 a2 <<< "$(run 2 yb_np2)"
steps=$((N / 64))
echo "# data-parallel efficiency, YearbookNet 3x32x32, global batch 64, $N samples, 1 thread per rank"
printf "%-28s %12s %10s %14s %16s\n" "ranks" "samples/s" "train_s" "allreduce_s" "allreduce_ms/step"
printf "%-28s %12.1f %10.3f %14.4f %16.3f\n" "np=1" "$r1" "$t1" "$a1" "$(awk -v a="$a1" -v s=$steps 'BEGIN{print 1000*a/s}')"
printf "%-28s %12.1f %10.3f %14.4f %16.3f\n" "np=2" "$r2" "$t2" "$a2" "$(awk -v a="$a2" -v s=$steps 'BEGIN{print 1000*a/s}')"
awk -v a="$r1" -v b="$r2" 'BEGIN { printf "efficiency np=2: %.3f\n", b / (2 * a) }'

# Open MPI binds a rank to one core by default, which would put the prefetch
# thread on the trainer's core: give the rank both cores here.
export BIND=none
HID=${HID:-12}
MLP=(--set model.id=MLP --set "model.config={hidden_sizes: [$HID], num_classes: 4}"
     --set training.epochs_per_trigger=10)
# Short runs on a shared machine are noisy: three interleaved rounds, best of each.
o0=0 o2=0
for round in 1 2 3; do
  read -r x _ _ <<< "$(run 1 lr_off "${MLP[@]}" --set training.num_prefetched_partitions=0)"
  o0=$(awk -v a="$o0" -v b="$x" 'BEGIN { print (b > a ? b : a) }')
  read -r x _ _ <<< "$(run 1 lr_on "${MLP[@]}" --set training.num_prefetched_partitions=2)"
  o2=$(awk -v a="$o2" -v b="$x" 'BEGIN { print (b > a ? b : a) }')
done
share=$(awk -F'[,:]' '/"event":"trigger"/ { for (i = 1; i < NF; i++) { if ($i ~ /"train_s"/) t = $(i+1); if ($i ~ /"read_s"/) r = $(i+1) } printf "%.0f", 100 * r / t; exit }' "$W/lr_off/events.jsonl")
echo "# overlap: MLP 3072-$HID-4 on 3x32x32, 1 rank with 1 compute thread, --bind-to none; reads are ${share}% of training time without prefetching"
printf "prefetch off %12.1f samples/s\nprefetch on  %12.1f samples/s\nspeed-up     %12.2f\n" "$o0" "$o2" \
  "$(awk -v a="$o0" -v b="$o2" 'BEGIN { print b / a }')"

#!/usr/bin/env bash
# run_dp_bench.sh - data-parallel efficiency and read/compute overlap,
# measured with `modyn run` itself (timings from events.jsonl, CPU seconds
# and the per-step breakdown from the MODYN_NET_PROFILE step profile).
#
# 1. Efficiency: YearbookNet on 3x32x32 images, one trigger of N samples,
#    the same global batch 64, one thread per rank, each rank bound to its
#    own core (--bind-to core):
#        efficiency = samples/s at np=2 / (2 x samples/s at np=1)
#    ROUNDS interleaved rounds (np=1, np=2, np=1 with 2 threads); the best
#    round of each is reported with the range over the rounds, and the
#    efficiency with the range of the per-round ratios. Besides wall time:
#        cpu efficiency = CPU s per sample at np=1 / CPU s per sample at
#                         np=2 (both ranks' processes, training only)
#    which says what data parallelism costs in work (collectives, waiting,
#    a smaller batch per rank) whatever else runs on the machine. With
#    THREADS2=1 each round also runs one process of 2 threads
#    (--bind-to none), to compare np=2 with it on the same 2 cores.
# 2. Overlap: a model whose reads are a large part of a step (a linear
#    model on 3x32x32 images), training samples/s with prefetching off
#    (num_prefetched_partitions: 0) and on (2 partitions ahead).
#
# Environment: BUILD_DIR (./build), BENCH_DATA (bench_data), N (6400),
# ROUNDS (3), HID (12), THREADS2 (0). Every figure depends on the machine's other load:
# the script prints the load average before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
BUILD=${BUILD_DIR:-build}
[ -x "$BUILD/modyn" ] || { [ "$BUILD" = build ] && bash scripts/build.sh; }
W=${BENCH_DATA:-bench_data}/dp
N=${N:-6400}
ROUNDS=${ROUNDS:-3}
mkdir -p "$W"
# one store per N: the run's one trigger needs exactly N samples
D=$W/data_$N
[ -d "$D/synth_images/train" ] || "$BUILD/modyn" synth --out "$D/synth_images" --image 3,32,32 \
  --years 4 --train-per-year $((N / 4)) --test-per-year 10 > /dev/null
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

. bench/lib.sh
bench_header "$BUILD" 1 # the machine, binding, load and the 1-thread sgemm peak

# measure NAME: samples/s, train_s, allreduce_s of the run's first trigger,
# the CPU seconds of training summed over ranks, and the ms/step of rank 0
# waiting in the allreduce and in the layers' collectives.
measure() {
  grep -q '"event":"trigger"' "$W/$1/events.jsonl" 2> /dev/null \
    || { echo "run_dp_bench.sh: run $1 trained nothing; see $W/$1.err" >&2; exit 1; }
  awk -F'[,:}]' '/"event":"trigger"/ { for (i = 1; i < NF; i++) { if ($i ~ /"samples_trained"/) s = $(i+1); if ($i ~ /"train_s"/) t = $(i+1); if ($i ~ /"allreduce_s"/) a = $(i+1) } printf "%.1f %.4f %.4f ", s / t, t, a; exit }' "$W/$1/events.jsonl"
  awk '/# step profile/ { c += $NF; if ($5 ~ /^0\//) { for (i = 1; i <= NF; i++) { if ($i == "(collectives") k += $(i+1); if ($i == "allreduce") ar = $(i+1) } } }
       END { printf "%.3f %.3f %.3f\n", c, ar + 0, k + 0 }' FS='[ ,;)]+' "$W/$1.err"
}
run() { # run NP NAME [--set ...]   (BIND: core, or none to give a rank's threads all cores)
  local np=$1 name=$2; shift 2
  rm -rf "${W:?}/$name"
  MODYN_NET_PROFILE=1 mpirun -np "$np" --bind-to "${BIND:-core}" "$BUILD/modyn" run \
    configs/yearbooknet_synth.yaml --quiet --data-dir "$D" --out "$W/$name" \
    --set trigger.num_samples="$N" --set experiment.maximum_triggers=1 --set evaluation= "$@" \
    > /dev/null 2> "$W/$name.err"
  measure "$name"
}
steps=$((N / 64))
declare -a R1 R2 RT E C1 C2 A2 K2
for round in $(seq "$ROUNDS"); do
  read -r r1 _ _ c1 _ _ <<< "$(run 1 yb_np1)"
  read -r r2 _ _ c2 a2 k2 <<< "$(run 2 yb_np2)"
  rt=0
  [ "${THREADS2:-0}" = 1 ] &&
    read -r rt _ _ _ _ _ <<< "$(OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 BIND=none run 1 yb_np1t2)"
  [ -n "$r1" ] && [ -n "$r2" ] && [ -n "$rt" ] || exit 1
  R1+=("$r1"); R2+=("$r2"); RT+=("$rt"); C1+=("$c1"); C2+=("$c2"); A2+=("$a2"); K2+=("$k2")
  E+=("$(awk -v a="$r1" -v b="$r2" 'BEGIN { print b / (2 * a) }')")
  echo "# round $round: np=1 $r1, np=2 $r2$([ "$rt" = 0 ] || echo ", np=1 x 2 threads $rt") samples/s"
done
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%s %s %s", v[NR], v[1], v[NR] }'; }
best() { printf '%s\n' "$@" | sort -g | tail -1; }
read -r b1 lo1 hi1 <<< "$(stats "${R1[@]}")"
read -r b2 lo2 hi2 <<< "$(stats "${R2[@]}")"
read -r bt lot hit <<< "$(stats "${RT[@]}")"
read -r _ elo ehi <<< "$(stats "${E[@]}")"
# CPU per sample: the lowest of the rounds
cpu1=$(printf '%s\n' "${C1[@]}" | sort -g | head -1)
cpu2=$(printf '%s\n' "${C2[@]}" | sort -g | head -1)
echo "# data-parallel efficiency, YearbookNet 3x32x32, global batch 64, $N samples ($steps steps)," \
  "1 thread per rank, --bind-to core; best of $ROUNDS interleaved rounds [range]"
printf "%-24s %12s %22s %18s\n" "ranks" "samples/s" "range" "cpu ms/sample"
# a binary without the step profile (older than the bench) reports no CPU
per_sample() { awk -v c="$1" -v n="$N" 'BEGIN { if (c > 0) printf "%.3f", 1000 * c / n; else print "n/a" }'; }
printf "%-24s %12.1f %22s %18s\n" "np=1" "$b1" "[$lo1-$hi1]" "$(per_sample "$cpu1")"
printf "%-24s %12.1f %22s %18s\n" "np=2" "$b2" "[$lo2-$hi2]" "$(per_sample "$cpu2")"
[ "$bt" = 0 ] || printf "%-24s %12.1f %22s\n" "np=1, 2 threads" "$bt" "[$lot-$hit]"
awk -v a="$b1" -v b="$b2" -v lo="$elo" -v hi="$ehi" \
  'BEGIN { printf "efficiency np=2: %.3f (best / 2 x best; per-round ratios %.3f-%.3f)\n", b / (2 * a), lo, hi }'
awk -v a="$cpu1" -v b="$cpu2" 'BEGIN { if (a > 0 && b > 0) printf "cpu efficiency np=2: %.3f\n", a / b }'
[ "$bt" = 0 ] ||
  awk -v a="$bt" -v b="$b2" 'BEGIN { printf "np=2 / (np=1 x 2 threads) on the same 2 cores: %.3f\n", b / a }'
[ "$cpu2" = 0.000 ] || echo "# np=2 rank 0, ms per step: waiting in the gradient allreduce $(best "${A2[@]}" | awk '{ printf "%.2f", $1 }') (max over rounds)," \
  "in batchnorm's collectives $(best "${K2[@]}" | awk '{ printf "%.2f", $1 }')"
echo "# load average after the efficiency part: $(cut -d' ' -f1-3 /proc/loadavg)"

# Open MPI binds a rank to one core by default, which would put the prefetch
# thread on the trainer's core: give the rank both cores here.
export BIND=none
HID=${HID:-12}
MLP=(--set model.id=MLP --set "model.config={hidden_sizes: [$HID], num_classes: 4}"
     --set training.epochs_per_trigger=10)
# Short runs on a shared machine are noisy: interleaved rounds, best of each.
o0=0 o2=0
for round in $(seq "$ROUNDS"); do
  read -r x _ _ _ _ _ <<< "$(run 1 lr_off "${MLP[@]}" --set training.num_prefetched_partitions=0)"
  o0=$(awk -v a="$o0" -v b="$x" 'BEGIN { print (b > a ? b : a) }')
  read -r x _ _ _ _ _ <<< "$(run 1 lr_on "${MLP[@]}" --set training.num_prefetched_partitions=2)"
  o2=$(awk -v a="$o2" -v b="$x" 'BEGIN { print (b > a ? b : a) }')
done
share=$(awk -F'[,:]' '/"event":"trigger"/ { for (i = 1; i < NF; i++) { if ($i ~ /"train_s"/) t = $(i+1); if ($i ~ /"read_s"/) r = $(i+1) } printf "%.0f", 100 * r / t; exit }' "$W/lr_off/events.jsonl")
echo "# overlap: MLP 3072-$HID-4 on 3x32x32, 1 rank with 1 compute thread, --bind-to none; reads are ${share}% of training time without prefetching"
printf "prefetch off %12.1f samples/s\nprefetch on  %12.1f samples/s\nspeed-up     %12.2f\n" "$o0" "$o2" \
  "$(awk -v a="$o0" -v b="$o2" 'BEGIN { print b / a }')"
bench_footer

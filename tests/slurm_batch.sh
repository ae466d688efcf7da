# slurm_batch.sh - modyn as a batch job on a real one-node SLURM cluster
# (munged + slurmctld + slurmd, started by slurm/local-cluster.sh): a
# 2-rank job gives the same results as mpirun, a failing job fails with
# modyn's message in its output file, a crashed job is continued by a
# `resume` job, a job warned of its time limit (SIGUSR1) stops, requeues
# itself and resumes to the uninterrupted result, and a sweep submitted as
# a job array equals the same sweep run with mpirun. Skipped (77) without root or the SLURM packages.
. "$(dirname "$0")/lib.sh"
for b in slurmctld slurmd sbatch munged; do
  command -v "$b" > /dev/null || { echo "slurm_batch: $b not installed; skipping"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "slurm_batch: needs root to start slurmd; skipping"; exit 77; }
W=$PWD/tmp_slurm
rm -rf "$W" && mkdir -p "$W/data"
CLUSTER=$MODYN_SOURCE_DIR/slurm/local-cluster.sh
export MODYN_SLURM_PORT=16837 SLURM_CONF=$W/cluster/slurm.conf MODYN=$MODYN_BIN
trap '"$CLUSTER" stop "$W/cluster" > /dev/null 2>&1' EXIT
if ! "$CLUSTER" start "$W/cluster"; then
  tail -20 "$W"/cluster/log/*.log >&2
  fail "local cluster starts"
  # Failing tasks: the message names each one and its log.
MODYN_FAULT=0:3:error "$MODYN_BIN" sweep "$W/grid.yaml" --submit --sbatch=--wait \
  --out "$W/failing" --data-dir "$W/data" > /dev/null 2> "$W/failing.err"
check "a failing array fails" test $? -ne 0
check "the message names the failed tasks and their logs" grep -q \
  "failed array tasks: task 0 ($W/failing/logs/point-0.out: .*injected fault.*), task 1 ($W/failing/logs/point-1.out: " \
  "$W/failing.err"
finish slurm_batch
  exit 1
fi
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
"$MODYN_BIN" synth --out "$W/data/quickstart" --years 6 --train-per-year 320 --test-per-year 60 > /dev/null
job() { # job NAME SBATCH_ARGS... -- MODYN_ARGS...   (waits; returns the job's exit status)
  local name=$1; shift
  local args=()
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  shift
  (cd "$MODYN_SOURCE_DIR" && timeout 300 sbatch --wait --quiet -J "$name" -o "$W/$name.out" "${args[@]}" \
    slurm/modyn.sbatch "$@")
}

check "2-rank batch job" job run2 -n 2 -- run "$CFG" --data-dir "$W/data" --out "$W/batch"
check "job ran on 2 ranks" grep -q "results of pipeline quickstart (2 ranks)" "$W/run2.out"
check "same run under mpirun" mpi 2 "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/direct" --quiet
check "same evaluation matrix as mpirun" cmp "$W/batch/eval/matrix.csv" "$W/direct/eval/matrix.csv"
check_eq "checkpoints (a trigger per year but the last)" "$(ls "$W/batch/models" | grep -c '^trigger_....\.h5$')" 5

job bad -n 1 -- run "$W/missing.yaml" --data-dir "$W/data" --out "$W/bad"
check "a failing job fails" test $? -ne 0
check "its output has modyn's message" grep -q "^modyn: error: cannot read $W/missing.yaml" "$W/bad.out"

# A job that dies mid-training (rank 1 exits at step 90, in trigger 3),
# continued by a resume job: the same matrix as the uninterrupted run.
MODYN_FAULT=1:90:exit job crash -n 2 -- run "$CFG" --data-dir "$W/data" --out "$W/crashed"
check "the crashing job fails" test $? -ne 0
check_eq "completed triggers kept" "$(ls "$W/crashed/models" | grep -c '^trigger_....\.h5$')" 3
check "resume job" job resume -n 2 -- resume "$W/crashed" --data-dir "$W/data"
check "resumed matrix equals the uninterrupted one" cmp "$W/batch/eval/matrix.csv" "$W/crashed/eval/matrix.csv"
# The time limit's warning (--signal=B:USR1@120; scancel sends it here):
# the script passes SIGUSR1 to the ranks, which stop after their current
# step and save it, and requeues the job; the job starts again (Restarts=1),
# resumes the run, and ends with the matrix of a run never stopped.
# Each trigger trains 3.2M samples (about a second on a quiet machine),
# so the signal, sent once trigger 1 is saved, reaches a run still training.
LONG=(--set training.epochs_per_trigger=10000)
check "uninterrupted run for the requeue" mpi 2 "$MODYN_BIN" run "$CFG" --data-dir "$W/data" \
  --out "$W/long" --quiet "${LONG[@]}"
id=$(cd "$MODYN_SOURCE_DIR" && sbatch --parsable -n 2 -J requeue -o "$W/requeue.out" \
  slurm/modyn.sbatch run "$CFG" --data-dir "$W/data" --out "$W/requeued" "${LONG[@]}")
for _ in $(seq 1200); do [ -f "$W/requeued/models/trigger_0001.h5" ] && break; sleep 0.1; done
check "USR1 to the batch script" scancel --signal=USR1 --batch "$id"
for _ in $(seq 600); do grep -q "requeueing job" "$W/requeue.out" 2> /dev/null && break; sleep 0.1; done
# SLURM holds a requeued job for a while (Reason=BeginTime): not in a test
for _ in $(seq 100); do
  scontrol show job "$id" | grep -q "JobState=PENDING" && break
  sleep 0.1
done
scontrol update JobId="$id" StartTime=now > /dev/null 2>&1
state=
for _ in $(seq 1500); do
  state=$(scontrol show job "$id" | grep -o "JobState=[A-Z]*")
  case "$state" in *COMPLETED* | *FAILED* | *CANCELLED*) break ;; esac
  sleep 0.2
done
check_eq "requeued job: final state" "$state" "JobState=COMPLETED"
check "requeued job: restarted once" bash -c "scontrol show job '$id' | grep -q 'Restarts=1'"
check "the script said it stops and requeues" grep -q \
  "modyn.sbatch: modyn stopped (exit 1); requeueing job $id to resume it" "$W/requeue.out"
check "modyn said where it stopped" grep -q "stopped by SIGUSR1" "$W/requeue.out"
check "the restarted job resumed the run" grep -q \
  "modyn.sbatch: $W/requeued holds the run (restart 1): resuming it" "$W/requeue.out"
check "requeued run: same matrix as the run never stopped" \
  cmp "$W/long/eval/matrix.csv" "$W/requeued/eval/matrix.csv"
check_eq "requeued run: no mid-trigger checkpoint left" "$(ls "$W/requeued/models" | grep -c partial)" 0

# A sweep submitted as a job array (one task of 2 ranks per point) gives
# the same runs as the same sweep run here.
cat > "$W/grid.yaml" <<YAML
pipeline: $CFG
grid:
  training.seed: [42, 7]
slurm: {ranks: 2}
YAML
# Submitted from a shell without scripts/env.sh's settings: as root, the
# script itself must let Open MPI run.
check "sweep submitted as a job array" env -u OMPI_ALLOW_RUN_AS_ROOT -u OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
  "$MODYN_BIN" sweep "$W/grid.yaml" --submit --sbatch=--wait \
  --out "$W/array" --data-dir "$W/data" > "$W/submit.out"
check "submission names the job array" grep -q "submitted job array [0-9]*: 2 points x 2 rank(s)" "$W/submit.out"
check "each task logs" grep -q "results of pipeline grid-001 (2 ranks)" "$W/array/logs/point-1.out"
check "the same sweep here" mpi 2 "$MODYN_BIN" sweep "$W/grid.yaml" --out "$W/here" --data-dir "$W/data" --quiet
for p in 000 001; do
  check "point $p: same matrix from the array" cmp "$W/array/$p/eval/matrix.csv" "$W/here/$p/eval/matrix.csv"
done
# Failing tasks: the message names each one and its log.
MODYN_FAULT=0:3:error "$MODYN_BIN" sweep "$W/grid.yaml" --submit --sbatch=--wait \
  --out "$W/failing" --data-dir "$W/data" > /dev/null 2> "$W/failing.err"
check "a failing array fails" test $? -ne 0
check "the message names the failed tasks and their logs" grep -q \
  "failed array tasks: task 0 ($W/failing/logs/point-0.out: .*injected fault.*), task 1 ($W/failing/logs/point-1.out: " \
  "$W/failing.err"
finish slurm_batch

# slurm_batch.sh - modyn as a batch job on a real one-node SLURM cluster
# (munged + slurmctld + slurmd, started by slurm/local-cluster.sh): a
# 2-rank job gives the same results as mpirun, a failing job fails with
# modyn's message in its output file, a crashed job is continued by a
# `resume` job, and a sweep submitted as a job array equals the same sweep
# run with mpirun. Skipped (77) without root or the SLURM packages.
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

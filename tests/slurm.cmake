# Batch submission on a real one-node SLURM cluster (skipped without it).
modyn_script_test(slurm_batch "slurm" slurm_batch.sh)

# env.sh - sourced by the scripts: settings every mpirun here needs.
# Open MPI refuses to run as root without these two (containers, CI).
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# More ranks than cores (3 ranks on a 2-core CI machine) is fine for tests.
export OMPI_MCA_rmaps_base_oversubscribe=1
# Containers often forbid the ptrace-based single-copy path; plain shared
# memory works everywhere.
export OMPI_MCA_btl_vader_single_copy_mechanism=none

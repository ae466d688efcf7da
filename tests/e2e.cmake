# End-to-end and command-line tests: they drive the modyn binary.
modyn_script_test(e2e_quickstart "mpi" e2e_quickstart.sh)
modyn_script_test(cli_errors "unit" cli_errors.sh)
modyn_script_test(e2e_failures "mpi" e2e_failures.sh)
modyn_script_test(e2e_dataparallel "mpi" e2e_dataparallel.sh)
modyn_script_test(e2e_resume "mpi" e2e_resume.sh)
modyn_script_test(e2e_models "mpi" e2e_models.sh)
modyn_script_test(e2e_fulldisk "mpi" e2e_fulldisk.sh)
modyn_script_test(e2e_sweep "mpi" e2e_sweep.sh)

# Data selection: the per-key state, presamplers, downsamplers (unit), selection
# inside the trainer (weighted steps, BtS accumulation, StB periods, RS2) on 1
# and 2 ranks, a 1- vs 2-rank pipeline with batch-then-sample downsampling,
# the coreset downsamplers on 1, 2 and 3 ranks, and the Fashion-MNIST
# reproduction, reduced (scripts).
modyn_unit_test(test_key_state ${CMAKE_CURRENT_SOURCE_DIR}/test_key_state.c)
modyn_unit_test(test_presample ${CMAKE_CURRENT_SOURCE_DIR}/test_presample.c)
modyn_unit_test(test_downsample ${CMAKE_CURRENT_SOURCE_DIR}/test_downsample.c)
modyn_script_test(e2e_selection "mpi" e2e_selection.sh)
modyn_script_test(e2e_fashion "mpi" e2e_fashion.sh)
modyn_script_test(e2e_coreset "mpi" e2e_coreset.sh)
modyn_script_test(e2e_rho "mpi" e2e_rho.sh)
modyn_mpi_test(test_trainer_select 2 ${CMAKE_CURRENT_SOURCE_DIR}/test_trainer_select.c)

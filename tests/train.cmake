# Unit tests of the CPU training engine: layers, losses and models.
modyn_unit_test(test_layers ${CMAKE_CURRENT_SOURCE_DIR}/test_layers.c)
modyn_unit_test(test_models ${CMAKE_CURRENT_SOURCE_DIR}/test_models.c)
# SyncBatchNorm: groups of 1, 2 and 3 ranks against one process.
modyn_mpi_test(test_syncbn 3 ${CMAKE_CURRENT_SOURCE_DIR}/test_syncbn.c)

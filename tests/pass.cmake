# The model pass (train/model_pass): gathered outputs against a direct
# computation, bitwise for any rank count; the visitor path; the split.
modyn_mpi_test(test_model_pass 1 ${CMAKE_CURRENT_SOURCE_DIR}/test_model_pass.c)
modyn_mpi_test(test_model_pass 2 ${CMAKE_CURRENT_SOURCE_DIR}/test_model_pass.c)
modyn_mpi_test(test_model_pass 3 ${CMAKE_CURRENT_SOURCE_DIR}/test_model_pass.c)

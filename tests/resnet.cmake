# ResNet18 and its residual block: a hand computation, finite differences,
# and the model against a PyTorch fixture (tests/data/resnet18_w4.txt, from
# tests/gen_resnet_fixture.py; CI only reads it).
modyn_unit_test(test_resnet ${CMAKE_CURRENT_SOURCE_DIR}/test_resnet.c)
target_compile_definitions(test_resnet PRIVATE
  MODYN_TEST_DATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/data")
# The blocks' batchnorm across ranks: groups of 1, 2 and 3 against one process.
modyn_mpi_test(test_resnet_ranks 3 ${CMAKE_CURRENT_SOURCE_DIR}/test_resnet_ranks.c)

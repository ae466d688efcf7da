# The plug-in seam end to end: a test trigger and a test strategy,
# registered at run time, drive whole pipelines (on 2 ranks and on 1).
modyn_mpi_test(test_plugins 2 ${CMAKE_CURRENT_SOURCE_DIR}/test_plugins.c)

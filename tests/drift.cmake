# Drift and performance triggers: metrics, criteria, windows, the triggers
# on a stand-in model pass; end to end on a drifting synthetic stream; the
# cost-aware triggers.
modyn_unit_test(test_drift ${CMAKE_CURRENT_SOURCE_DIR}/test_drift.c)
modyn_script_test(e2e_drift "mpi" e2e_drift.sh)
modyn_unit_test(test_performance ${CMAKE_CURRENT_SOURCE_DIR}/test_performance.c)
modyn_unit_test(test_cost ${CMAKE_CURRENT_SOURCE_DIR}/test_cost.c)
modyn_script_test(e2e_cost "mpi" e2e_cost.sh)

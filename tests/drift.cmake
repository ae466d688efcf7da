# Drift and performance triggers: metrics, criteria, windows, the triggers
# on a stand-in model pass; end to end on a drifting synthetic stream; the
# cost-aware triggers.
modyn_unit_test(test_drift ${CMAKE_CURRENT_SOURCE_DIR}/test_drift.c)
modyn_script_test(e2e_drift "mpi" e2e_drift.sh)
modyn_unit_test(test_performance ${CMAKE_CURRENT_SOURCE_DIR}/test_performance.c)
modyn_unit_test(test_cost ${CMAKE_CURRENT_SOURCE_DIR}/test_cost.c)
modyn_script_test(e2e_cost "mpi" e2e_cost.sh)
# Our MMD against an independent NumPy implementation (bench/mmd_crosscheck.py;
# skipped where /usr/bin/python3 has no NumPy).
add_executable(drift_driver ${CMAKE_CURRENT_SOURCE_DIR}/drift_driver.c)
target_link_libraries(drift_driver PRIVATE modyn_lib)
add_test(NAME mmd_crosscheck
  COMMAND sh -c "[ -x /usr/bin/python3 ] || exit 77; exec /usr/bin/python3 \"$0\" \"$1\""
          ${CMAKE_SOURCE_DIR}/bench/mmd_crosscheck.py $<TARGET_FILE:drift_driver>)
set_tests_properties(mmd_crosscheck PROPERTIES LABELS unit SKIP_RETURN_CODE 77 TIMEOUT 120)
# Exact small-sample KS and CvM p-values against brute-force enumeration
# (bench/pvalue_crosscheck.py, pure Python).
add_test(NAME pvalue_crosscheck
  COMMAND sh -c "[ -x /usr/bin/python3 ] || exit 77; exec /usr/bin/python3 \"$0\" \"$1\""
          ${CMAKE_SOURCE_DIR}/bench/pvalue_crosscheck.py $<TARGET_FILE:drift_driver>)
set_tests_properties(pvalue_crosscheck PROPERTIES LABELS unit SKIP_RETURN_CODE 77 TIMEOUT 120)

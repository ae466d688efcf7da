# GPU tests: label gpu; they exit 77 (skipped) where there is no device.
modyn_unit_test(test_gpu ${CMAKE_CURRENT_SOURCE_DIR}/test_gpu.c)
set_tests_properties(test_gpu PROPERTIES LABELS gpu)
modyn_script_test(e2e_gpu gpu e2e_gpu.sh)

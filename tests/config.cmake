# Configuration module: YAML tree, typed pipeline config, --set overrides; the
# original's SIGMOD selection pipelines through `modyn validate` and a short run.
# The test reads tests/configs/*.yaml from $MODYN_SOURCE_DIR, or from the
# path compiled in here when run by hand (e.g. under valgrind).
modyn_unit_test(test_config ${CMAKE_CURRENT_SOURCE_DIR}/test_config.c)
target_compile_definitions(test_config PRIVATE
  MODYN_CONFIG_TEST_DIR="${CMAKE_CURRENT_SOURCE_DIR}/configs")
modyn_script_test(original_pipelines "unit" original_pipelines.sh)

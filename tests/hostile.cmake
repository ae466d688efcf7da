# The hostile-input sweep (tests/hostile.sh): damaged and wrong inputs of
# every class, each outcome classified. CTest runs the quick variant
# (HOSTILE_N=1); the README's table comes from HOSTILE_N=10, run by hand.
add_executable(hostile_h5 hostile_h5.c)
target_link_libraries(hostile_h5 PRIVATE modyn_lib)
modyn_script_test(hostile "mpi" hostile.sh)
set_property(TEST hostile APPEND PROPERTY ENVIRONMENT
  "HOSTILE_H5=$<TARGET_FILE:hostile_h5>" "HOSTILE_N=1")
# modyn check and run --verify on the command line (uses hostile_h5 too).
modyn_script_test(store_check "mpi" store_check.sh)
set_property(TEST store_check APPEND PROPERTY ENVIRONMENT "HOSTILE_H5=$<TARGET_FILE:hostile_h5>")
# modyn check RUN_DIR: checkpoints and the files resume reads.
modyn_script_test(run_check "mpi" run_check.sh)

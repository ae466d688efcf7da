# Fuzz harnesses (tests/fuzz/, README "Fuzzing"). Each harness is one file
# defining LLVMFuzzerTestOneInput. In every build, fuzz_replay_NAME feeds
# the committed corpus (tests/fuzz/corpus/NAME) and the regression inputs
# (tests/fuzz/regress/NAME: every crash, hang or leak found) to the harness
# once: a fast regression test. With -DMODYN_FUZZ=ON (clang only) fuzz_NAME
# is the libFuzzer binary itself.
set(MODYN_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
foreach(h config store ingest_csv ingest_idx)
  add_executable(fuzz_replay_${h} ${MODYN_FUZZ_DIR}/fuzz_${h}.c ${MODYN_FUZZ_DIR}/replay.c)
  target_link_libraries(fuzz_replay_${h} PRIVATE modyn_lib)
  target_compile_options(fuzz_replay_${h} PRIVATE ${MODYN_WARN})
  add_test(NAME fuzz_replay_${h}
    COMMAND fuzz_replay_${h} ${MODYN_FUZZ_DIR}/corpus/${h} ${MODYN_FUZZ_DIR}/regress/${h})
  set_tests_properties(fuzz_replay_${h} PROPERTIES LABELS unit TIMEOUT 120
    ENVIRONMENT "${MODYN_MPI_ENV}" WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  if(MODYN_FUZZ)
    add_executable(fuzz_${h} ${MODYN_FUZZ_DIR}/fuzz_${h}.c)
    target_link_libraries(fuzz_${h} PRIVATE modyn_lib)
    target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer)
  endif()
endforeach()

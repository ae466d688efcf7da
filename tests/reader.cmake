# The read path: direct (mmap) vs HDF5 reads, the partitioned prefetching
# reader, and the key index at 10M keys.
modyn_unit_test(test_reader ${CMAKE_CURRENT_SOURCE_DIR}/test_reader.c)
modyn_unit_test(test_keyindex ${CMAKE_CURRENT_SOURCE_DIR}/test_keyindex.c)

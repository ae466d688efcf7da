# Unit tests of triggers, selection, composite models and the training core.
modyn_unit_test(test_trigger ${CMAKE_CURRENT_SOURCE_DIR}/test_trigger.c)
modyn_unit_test(test_selection ${CMAKE_CURRENT_SOURCE_DIR}/test_selection.c)
modyn_unit_test(test_composite ${CMAKE_CURRENT_SOURCE_DIR}/test_composite.c)
modyn_unit_test(test_train ${CMAKE_CURRENT_SOURCE_DIR}/test_train.c)

# Tests of the data module: sample store, synth generator, ingest formats.
modyn_unit_test(test_store test_store.c)
modyn_unit_test(test_synth test_synth.c)
modyn_unit_test(test_ingest test_ingest.c)
# test_synth and test_ingest also drive the modyn binary ($MODYN_BIN).
add_dependencies(test_synth modyn)
add_dependencies(test_ingest modyn)

# Tests of the evaluation module (interval strategies, metrics, 1 vs 2 ranks,
# `modyn eval`) and of `modyn report`; composite models are in core.cmake.
modyn_unit_test(test_eval_strategy test_eval_strategy.c)
modyn_unit_test(test_eval_metric test_eval_metric.c)
modyn_script_test(eval_ranks "mpi" eval_ranks.sh)
modyn_script_test(report "unit" report.sh)
modyn_script_test(e2e_fidelity "unit" e2e_fidelity.sh)

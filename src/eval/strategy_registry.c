/* strategy_registry.c - every evaluation strategy; one line each. */
#include "eval/strategy.h"

extern const EvalStrategyType eval_strategy_slicing;
extern const EvalStrategyType eval_strategy_periodic;
extern const EvalStrategyType eval_strategy_static;
extern const EvalStrategyType eval_strategy_between_triggers;
extern const EvalStrategyType eval_strategy_offset;

const EvalStrategyType *const eval_strategy_registry[] = {
    &eval_strategy_slicing,
    &eval_strategy_periodic,
    &eval_strategy_static,
    &eval_strategy_between_triggers,
    &eval_strategy_offset,
    NULL,
};

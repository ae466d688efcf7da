/* strategy_registry.c - every evaluation strategy; one line each. */
#include "eval/strategy.h"

extern const EvalStrategyType eval_strategy_slicing;

const EvalStrategyType *const eval_strategy_registry[] = {
    &eval_strategy_slicing,
    NULL,
};

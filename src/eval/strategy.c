/* strategy.c - registry lookup for evaluation strategies. */
#include "eval/strategy.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

extern const EvalStrategyType *const eval_strategy_registry[];

int eval_strategy_intervals(const CfgRef *cfg, const EvalContext *ctx, EvalInterval **out,
                            int *n) {
  char type[128];
  *out = NULL;
  *n = 0;
  MH_TRY(cfg_req_string(cfg, "type", type, sizeof type));
  for (int i = 0; eval_strategy_registry[i]; i++)
    if (!strcmp(eval_strategy_registry[i]->type, type))
      return eval_strategy_registry[i]->intervals(cfg, ctx, out, n);
  char list[512] = "";
  for (int i = 0; eval_strategy_registry[i]; i++) {
    if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
    strncat(list, eval_strategy_registry[i]->type, sizeof list - strlen(list) - 1);
  }
  CfgRef at;
  cfg_child(cfg, "type", &at);
  return cfg_errorf(&at, "unknown evaluation strategy \"%s\"; available: %s", type, list);
}

/* between_triggers.c - BetweenTwoTriggersEvalStrategy: each model's usage
 * period, the time it would have served: from just after its trigger's data
 * end to the next trigger's data end, [last_ts[i] + 1, last_ts[i+1] + 1);
 * the last model's period runs to the end of the evaluation data. One
 * interval per model, in model order (two triggers at one timestamp give the
 * earlier one an empty period). Reference time = interval start, so the
 * currently active model of interval i is model i. Needs every trigger, so
 * it is evaluated after the pipeline. */
#include <stdlib.h>

#include "core/error.h"
#include "eval/strategy.h"

static int between_intervals(const CfgRef *cfg, const EvalContext *ctx, EvalInterval **out, int *n) {
  static const char *const keys[] = {"type", NULL};
  MH_TRY(cfg_check_keys(cfg, keys));
  if (ctx->nmodels == 0) return MH_OK;
  EvalInterval *iv = mh_malloc((size_t)ctx->nmodels * sizeof *iv);
  if (!iv) return MH_ERR;
  for (int i = 0; i < ctx->nmodels; i++) {
    int64_t s = ctx->model_last_ts[i] + 1;
    int64_t e = i + 1 < ctx->nmodels ? ctx->model_last_ts[i + 1] + 1 : ctx->data_max_ts + 1;
    iv[i].start = s;
    iv[i].end = e > s ? e : s;
    iv[i].ref = s;
    iv[i].owner = -1;
  }
  *out = iv;
  *n = ctx->nmodels;
  return MH_OK;
}

const EvalStrategyType eval_strategy_between_triggers = {"BetweenTwoTriggersEvalStrategy", 1, 1,
                                                         between_intervals};

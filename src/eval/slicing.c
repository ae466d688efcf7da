/* slicing.c - SlicingEvalStrategy: tumbling windows of `eval_every` from
 * `eval_start_from` (default: the first evaluation timestamp) up to
 * `eval_end_at` (exclusive; default: one past the last evaluation
 * timestamp). The last window is cut at eval_end_at. Reference time for
 * the currently active model = window start. */
#include <stdlib.h>

#include "core/error.h"
#include "eval/strategy.h"

static int slicing_intervals(const CfgRef *cfg, const EvalContext *ctx, EvalInterval **out,
                             int *n) {
  static const char *const keys[] = {"type", "eval_every", "eval_start_from", "eval_end_at", NULL};
  MH_TRY(cfg_check_keys(cfg, keys));
  int64_t every, start, end;
  MH_TRY(cfg_req_duration(cfg, "eval_every", &every));
  MH_TRY(cfg_get_int(cfg, "eval_start_from", ctx->data_min_ts, INT64_MIN / 4, INT64_MAX / 4, &start));
  MH_TRY(cfg_get_int(cfg, "eval_end_at", ctx->data_max_ts + 1, INT64_MIN / 4, INT64_MAX / 4, &end));
  if (every <= 0) {
    CfgRef at;
    cfg_child(cfg, "eval_every", &at);
    return cfg_errorf(&at, "must be positive");
  }
  if (end <= start) {
    CfgRef at;
    cfg_child(cfg, "eval_end_at", &at);
    if (!cfg_present(&at)) at = *cfg;
    return cfg_errorf(&at, "the evaluation range is empty: eval_end_at (%lld) <= eval_start_from (%lld)",
                      (long long)end, (long long)start);
  }
  int64_t count = (end - start + every - 1) / every;
  if (count > 1000000) return cfg_errorf(cfg, "eval_every gives %lld intervals; at most 1000000", (long long)count);
  EvalInterval *iv = mh_malloc((size_t)count * sizeof *iv);
  if (!iv) return MH_ERR;
  for (int64_t i = 0; i < count; i++) {
    iv[i].start = start + i * every;
    iv[i].end = iv[i].start + every < end ? iv[i].start + every : end;
    iv[i].ref = iv[i].start;
    iv[i].owner = -1;
  }
  *out = iv;
  *n = (int)count;
  return MH_OK;
}

const EvalStrategyType eval_strategy_slicing = {"SlicingEvalStrategy", 0, 0, slicing_intervals};

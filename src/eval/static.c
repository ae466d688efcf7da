/* static.c - StaticEvalStrategy: the intervals listed in `intervals`, each
 * a map {start: T, end: T} (end exclusive; an absent or null end means "to
 * the end of the evaluation data"). Reference time = interval start. */
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "eval/strategy.h"

static int static_intervals(const CfgRef *cfg, const EvalContext *ctx, EvalInterval **out, int *n) {
  static const char *const keys[] = {"type", "intervals", NULL};
  static const char *const ikeys[] = {"start", "end", NULL};
  MH_TRY(cfg_check_keys(cfg, keys));
  CfgRef list;
  if (!cfg_child(cfg, "intervals", &list)) return cfg_errorf(&list, "missing required field");
  MH_TRY(cfg_expect_seq(&list));
  int count = cfg_len(&list);
  if (count < 1 || count > 100000)
    return cfg_errorf(&list, "must list 1 to 100000 intervals, got %d", count);
  EvalInterval *iv = mh_malloc((size_t)count * sizeof *iv);
  if (!iv) return MH_ERR;
  for (int i = 0; i < count; i++) {
    CfgRef item = cfg_item(&list, i), at;
    int64_t s, e;
    if (cfg_expect_map(&item) || cfg_check_keys(&item, ikeys) ||
        cfg_req_int(&item, "start", INT64_MIN / 4, INT64_MAX / 4, &s) ||
        cfg_get_int(&item, "end", INT64_MAX, INT64_MIN / 4, INT64_MAX, &e)) {
      free(iv);
      return MH_ERR;
    }
    if (e == INT64_MAX) {
      e = ctx->data_max_ts + 1 > s ? ctx->data_max_ts + 1 : s;
    } else if (e <= s) {
      cfg_child(&item, "end", &at);
      free(iv);
      return cfg_errorf(&at, "must be after start (%lld), got %lld", (long long)s, (long long)e);
    }
    iv[i].start = s;
    iv[i].end = e;
    iv[i].ref = s;
    iv[i].owner = -1;
  }
  *out = iv;
  *n = count;
  return MH_OK;
}

const EvalStrategyType eval_strategy_static = {"StaticEvalStrategy", 0, 0, static_intervals};

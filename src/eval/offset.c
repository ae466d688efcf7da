/* offset.c - OffsetEvalStrategy: intervals relative to each model's
 * training interval [first, last] (its trigger's new data), one per entry
 * of `offsets`, as in Modyn:
 *   "-inf"        data before the training interval: [data start, first)
 *   "inf"/"+inf"  data after it: [last + 1, data end]
 *   "-D"          the D before it: [first - D, first)
 *   "+D" / "D"    the D after it: [last + 1, last + 1 + D)
 *   "0" / "0s"    the training interval itself: [first, last + 1)
 * Each interval belongs to its model (owner): only that model is evaluated
 * there, and it has no composite (reference time = last + 1). Can run right
 * after each training or after the pipeline. */
#include <stdlib.h>

#include "core/error.h"
#include "eval/strategy.h"

#define MAX_OFFSETS 32

static int offset_intervals(const CfgRef *cfg, const EvalContext *ctx, EvalInterval **out, int *n) {
  static const char *const keys[] = {"type", "offsets", NULL};
  MH_TRY(cfg_check_keys(cfg, keys));
  CfgRef list;
  if (!cfg_child(cfg, "offsets", &list)) return cfg_errorf(&list, "missing required field");
  MH_TRY(cfg_expect_seq(&list));
  int no = cfg_len(&list);
  if (no < 1 || no > MAX_OFFSETS)
    return cfg_errorf(&list, "must list 1 to %d offsets, got %d", MAX_OFFSETS, no);
  int64_t secs[MAX_OFFSETS];
  int inf[MAX_OFFSETS];
  for (int k = 0; k < no; k++) {
    CfgRef item = cfg_item(&list, k);
    char text[64];
    int sign;
    MH_TRY(cfg_as_string(&item, text, sizeof text));
    if (eval_parse_offset(text, &sign, &secs[k], &inf[k]))
      return cfg_errorf(&item, "expected -inf, inf or a signed duration like -30d, 0s or +1y, "
                               "got \"%s\"", text);
  }
  if (ctx->nmodels == 0) return MH_OK;
  EvalInterval *iv = mh_malloc((size_t)ctx->nmodels * (size_t)no * sizeof *iv);
  if (!iv) return MH_ERR;
  int c = 0;
  for (int i = 0; i < ctx->nmodels; i++) {
    int64_t first = ctx->model_first_ts[i], last = ctx->model_last_ts[i];
    for (int k = 0; k < no; k++, c++) {
      int64_t s, e;
      if (inf[k] < 0) s = ctx->data_min_ts, e = first;
      else if (inf[k] > 0) s = last + 1, e = ctx->data_max_ts + 1;
      else if (secs[k] < 0) s = eval_add_sat(first, secs[k]), e = first;
      else if (secs[k] > 0) s = last + 1, e = eval_add_sat(last + 1, secs[k]);
      else s = first, e = last + 1;
      if (e < s) e = s;
      iv[c].start = s;
      iv[c].end = e;
      iv[c].ref = last + 1;
      iv[c].owner = i;
    }
  }
  *out = iv;
  *n = c;
  return MH_OK;
}

const EvalStrategyType eval_strategy_offset = {"OffsetEvalStrategy", 1, 0, offset_intervals};

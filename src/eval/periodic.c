/* periodic.c - PeriodicEvalStrategy: evaluation points every `every` from
 * `start_timestamp` (default: the first evaluation timestamp) up to and
 * including `end_timestamp` (default: the last evaluation timestamp), and a
 * window `interval` around each point, e.g. "[-25h; +25h]":
 *   - '[' / ']' include the bound, '(' / ')' exclude it; ',' may replace ';';
 *   - a bound is a signed duration ("-25h", "+1d", "0", "-0", "+0") or
 *     "-inf" (left) / "+inf" / "inf" (right);
 *   - around a point p, both -0 and +0 are p itself (the point is a training
 *     interval of length zero, as in Modyn), so "[-0; +0]" is [p, p+1).
 * The reference time for the currently active model is the point p (the
 * window's centre for symmetric windows). Windows may overlap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "eval/strategy.h"

typedef struct {
  int left_closed, right_closed;
  int left_inf, right_inf;   /* -1 / +1 when infinite */
  int64_t left, right;       /* offsets in seconds */
} Window;

/* Order -inf < -x < -0 < 0 < +0 < +x < +inf (Modyn's validity check). */
static int bound_rank(int sign, int64_t secs, int inf) {
  if (inf) return inf < 0 ? -3 : 3;
  if (secs == 0) return sign; /* -0: -1, 0: 0, +0: +1 */
  return secs < 0 ? -2 : 2;
}

/* Parse "[-25h; +25h]". Errors name the field. */
static int parse_window(const CfgRef *at, const char *text, Window *w) {
  char buf[128];
  size_t n = 0;
  for (const char *p = text; *p && n + 1 < sizeof buf; p++)
    if (*p != ' ' && *p != '\t') buf[n++] = *p;
  buf[n] = '\0';
  if (n < 5 || (buf[0] != '[' && buf[0] != '(') || (buf[n - 1] != ']' && buf[n - 1] != ')'))
    return cfg_errorf(at, "expected a window like \"[-25h; +25h]\" (brackets [ or ( and ] or ), "
                          "two bounds separated by ';'), got \"%s\"", text);
  w->left_closed = buf[0] == '[';
  w->right_closed = buf[n - 1] == ']';
  buf[n - 1] = '\0';
  char *sep = strpbrk(buf + 1, ";,");
  if (!sep || strpbrk(sep + 1, ";,"))
    return cfg_errorf(at, "expected two bounds separated by ';' in \"%s\"", text);
  *sep = '\0';
  int sl, sr;
  if (eval_parse_offset(buf + 1, &sl, &w->left, &w->left_inf))
    return cfg_errorf(at, "bad left bound \"%s\" in \"%s\": expected a signed duration like "
                          "-25h, 0, -0, +0 or -inf", buf + 1, text);
  if (eval_parse_offset(sep + 1, &sr, &w->right, &w->right_inf))
    return cfg_errorf(at, "bad right bound \"%s\" in \"%s\": expected a signed duration like "
                          "+25h, 0, -0, +0 or +inf", sep + 1, text);
  if (w->left_inf > 0) return cfg_errorf(at, "the left bound cannot be +inf in \"%s\"", text);
  if (w->right_inf < 0) return cfg_errorf(at, "the right bound cannot be -inf in \"%s\"", text);
  if (bound_rank(sl, w->left, w->left_inf) > bound_rank(sr, w->right, w->right_inf) ||
      (!w->left_inf && !w->right_inf && w->left > w->right))
    return cfg_errorf(at, "the left bound must not be after the right bound in \"%s\"", text);
  return MH_OK;
}

/* The window around p as a half-open range, clamped to the data range. */
static void window_at(const Window *w, int64_t p, const EvalContext *ctx, EvalInterval *iv) {
  int64_t lo = w->left_inf ? ctx->data_min_ts
                           : eval_add_sat(eval_add_sat(p, w->left), w->left_closed ? 0 : 1);
  int64_t hi = w->right_inf ? eval_add_sat(ctx->data_max_ts, 1)
                            : eval_add_sat(eval_add_sat(p, w->right), w->right_closed ? 1 : 0);
  if (hi < lo) hi = lo;
  iv->start = lo;
  iv->end = hi;
  iv->ref = p;
  iv->owner = -1;
}

static int periodic_intervals(const CfgRef *cfg, const EvalContext *ctx, EvalInterval **out,
                              int *n) {
  static const char *const keys[] = {"type", "every", "interval", "start_timestamp",
                                     "end_timestamp", NULL};
  MH_TRY(cfg_check_keys(cfg, keys));
  int64_t every, start, end;
  char text[128];
  MH_TRY(cfg_req_duration(cfg, "every", &every));
  MH_TRY(cfg_req_string(cfg, "interval", text, sizeof text));
  CfgRef at;
  cfg_child(cfg, "interval", &at);
  Window w;
  MH_TRY(parse_window(&at, text, &w));
  MH_TRY(cfg_get_int(cfg, "start_timestamp", ctx->data_min_ts, INT64_MIN / 4, INT64_MAX / 4, &start));
  MH_TRY(cfg_get_int(cfg, "end_timestamp", ctx->data_max_ts, INT64_MIN / 4, INT64_MAX / 4, &end));
  if (every <= 0) {
    cfg_child(cfg, "every", &at);
    return cfg_errorf(&at, "must be positive");
  }
  CfgRef s_at, e_at;
  int have_s = cfg_child(cfg, "start_timestamp", &s_at), have_e = cfg_child(cfg, "end_timestamp", &e_at);
  if (end < start) {
    if (!have_s && !have_e) return MH_OK; /* no evaluation data: no points */
    return cfg_errorf(have_e ? &e_at : &s_at, "end_timestamp (%lld) is before start_timestamp (%lld)",
                      (long long)end, (long long)start);
  }
  int64_t count = (end - start) / every + 1;
  if (count > 1000000)
    return cfg_errorf(cfg, "every gives %lld evaluation points; at most 1000000", (long long)count);
  EvalInterval *iv = mh_malloc((size_t)count * sizeof *iv);
  if (!iv) return MH_ERR;
  for (int64_t i = 0; i < count; i++) window_at(&w, start + i * every, ctx, &iv[i]);
  *out = iv;
  *n = (int)count;
  return MH_OK;
}

const EvalStrategyType eval_strategy_periodic = {"PeriodicEvalStrategy", 0, 0, periodic_intervals};

/* test_eval_strategy.c - every interval strategy gives exact intervals for
 * hand-made timestamps: slicing, periodic windows (brackets, -inf/+inf,
 * -0/+0, separators, spaces), static lists, usage periods between triggers
 * and offsets from training intervals; and every configuration error names
 * file:line and the field. */
#include <stdlib.h>

#include "core/error.h"
#include "eval/strategy.h"
#include "testutil.h"

typedef struct {
  int64_t s, e, ref;
  int owner;
} Want;

/* Parse "strategy: {...}" YAML (line 1 = "strategy:") and compute. */
static int run(const char *yaml, const EvalContext *ctx, EvalInterval **iv, int *n) {
  CfgDoc doc;
  if (cfg_load_string("s.yaml", yaml, &doc)) return MH_ERR;
  CfgRef root = cfg_root(&doc), st;
  cfg_child(&root, "strategy", &st);
  int rc = eval_strategy_intervals(&st, ctx, iv, n);
  cfg_doc_free(&doc);
  return rc;
}

static void expect(const char *yaml, const EvalContext *ctx, const Want *w, int nw) {
  EvalInterval *iv = NULL;
  int n = -1;
  CHECK_OK(run(yaml, ctx, &iv, &n));
  CHECK_EQ_INT(n, nw);
  for (int i = 0; i < n && i < nw; i++) {
    CHECK_EQ_INT(iv[i].start, w[i].s);
    CHECK_EQ_INT(iv[i].end, w[i].e);
    CHECK_EQ_INT(iv[i].ref, w[i].ref);
    CHECK_EQ_INT(iv[i].owner, w[i].owner);
  }
  free(iv);
}

static void expect_error(const char *yaml, const EvalContext *ctx, const char *msg) {
  EvalInterval *iv = NULL;
  int n = 0;
  mh_error_clear();
  CHECK(run(yaml, ctx, &iv, &n) == MH_ERR);
  CHECK_STR(mh_error(), msg);
  free(iv);
}

static char *periodic(const char *window) {
  static char buf[256];
  snprintf(buf, sizeof buf,
           "strategy:\n  type: PeriodicEvalStrategy\n  every: 100s\n  start_timestamp: 100\n"
           "  end_timestamp: 300\n  interval: \"%s\"\n", window);
  return buf;
}

int main(void) {
  EvalContext data = {0, 1000, 0, NULL, NULL};

  /* Slicing: tumbling windows, the last one cut at eval_end_at. */
  const Want sl[] = {{0, 10, 0, -1}, {10, 20, 10, -1}, {20, 25, 20, -1}};
  expect("strategy:\n  type: SlicingEvalStrategy\n  eval_every: 10s\n  eval_start_from: 0\n"
         "  eval_end_at: 25\n", &data, sl, 3);

  /* Periodic: points 100, 200, 300 (end inclusive). */
  const Want p1[] = {{75, 126, 100, -1}, {175, 226, 200, -1}, {275, 326, 300, -1}};
  expect(periodic("[-25s; +25s]"), &data, p1, 3);
  const Want p2[] = {{76, 125, 100, -1}, {176, 225, 200, -1}, {276, 325, 300, -1}};
  expect(periodic("(-25s; +25s)"), &data, p2, 3);
  const Want p3[] = {{100, 101, 100, -1}, {200, 201, 200, -1}, {300, 301, 300, -1}};
  expect(periodic("[-0; +0]"), &data, p3, 3);
  expect(periodic("[0s, 0s]"), &data, p3, 3);
  const Want p4[] = {{0, 1001, 100, -1}, {0, 1001, 200, -1}, {0, 1001, 300, -1}};
  expect(periodic("(-inf; +inf]"), &data, p4, 3);
  expect(periodic("[-inf;inf)"), &data, p4, 3);
  const Want p5[] = {{100 - 3600, 100, 100, -1}, {200 - 3600, 200, 200, -1}, {300 - 3600, 300, 300, -1}};
  expect(periodic("[ -1h , -0 )"), &data, p5, 3);
  const Want p6[] = {{101, 1001, 100, -1}, {201, 1001, 200, -1}, {301, 1001, 300, -1}};
  expect(periodic("(+0; +inf)"), &data, p6, 3);
  /* Defaults: points from the first to the last evaluation timestamp. */
  EvalContext small = {10, 30, 0, NULL, NULL};
  const Want p7[] = {{10, 11, 10, -1}, {20, 21, 20, -1}, {30, 31, 30, -1}};
  expect("strategy:\n  type: PeriodicEvalStrategy\n  every: 10s\n  interval: '[-0s; +0s]'\n", &small,
         p7, 3);

  expect_error(periodic("[-25s; +25s"), &data,
               "s.yaml:6: strategy.interval: expected a window like \"[-25h; +25h]\" (brackets [ or "
               "( and ] or ), two bounds separated by ';'), got \"[-25s; +25s\"");
  expect_error(periodic("[-25s +25s]"), &data,
               "s.yaml:6: strategy.interval: expected two bounds separated by ';' in \"[-25s +25s]\"");
  expect_error(periodic("[+inf; +1d]"), &data,
               "s.yaml:6: strategy.interval: the left bound cannot be +inf in \"[+inf; +1d]\"");
  expect_error(periodic("[-1d; -inf]"), &data,
               "s.yaml:6: strategy.interval: the right bound cannot be -inf in \"[-1d; -inf]\"");
  expect_error(periodic("[+1d; -1d]"), &data,
               "s.yaml:6: strategy.interval: the left bound must not be after the right bound in "
               "\"[+1d; -1d]\"");
  expect_error(periodic("[+0; -0]"), &data,
               "s.yaml:6: strategy.interval: the left bound must not be after the right bound in "
               "\"[+0; -0]\"");
  expect_error(periodic("[-1x; +1d]"), &data,
               "s.yaml:6: strategy.interval: bad left bound \"-1x\" in \"[-1x; +1d]\": expected a "
               "signed duration like -25h, 0, -0, +0 or -inf");
  expect_error("strategy:\n  type: PeriodicEvalStrategy\n  every: 1d\n", &data,
               "s.yaml:2: strategy.interval: missing required field");
  expect_error("strategy:\n  type: PeriodicEvalStrategy\n  every: 1d\n  interval: '[-1d; +1d]'\n"
               "  start_timestamp: 10\n  end_timestamp: 5\n", &data,
               "s.yaml:6: strategy.end_timestamp: end_timestamp (5) is before start_timestamp (10)");

  /* Static: an absent end runs to the end of the data. */
  const Want st[] = {{0, 10, 0, -1}, {5, 1001, 5, -1}, {-50, -20, -50, -1}};
  expect("strategy:\n  type: StaticEvalStrategy\n  intervals:\n    - {start: 0, end: 10}\n"
         "    - {start: 5}\n    - start: -50\n      end: -20\n", &data, st, 3);
  expect_error("strategy:\n  type: StaticEvalStrategy\n  intervals:\n    - {start: 0, end: 10}\n"
               "    - {start: 10, end: 10}\n", &data,
               "s.yaml:5: strategy.intervals[1].end: must be after start (10), got 10");
  expect_error("strategy:\n  type: StaticEvalStrategy\n  intervals:\n    - {begin: 0}\n", &data,
               "s.yaml:4: strategy.intervals[0].begin: unknown field; expected one of: start, end");

  /* Between two triggers: models trained up to 9, 19, 19 (two triggers at
   * one time), 29; data up to 40. */
  const int64_t first[] = {0, 10, 19, 20}, last[] = {9, 19, 19, 29};
  EvalContext models = {0, 40, 4, first, last};
  const Want bt[] = {{10, 20, 10, -1}, {20, 20, 20, -1}, {20, 30, 20, -1}, {30, 41, 30, -1}};
  expect("strategy:\n  type: BetweenTwoTriggersEvalStrategy\n", &models, bt, 4);
  /* Validation only (no models yet): no intervals, no error. */
  expect("strategy:\n  type: BetweenTwoTriggersEvalStrategy\n", &data, NULL, 0);
  expect_error("strategy:\n  type: BetweenTwoTriggersEvalStrategy\n  every: 1d\n", &data,
               "s.yaml:3: strategy.every: unknown field; expected one of: type");

  /* Offset: relative to [first, last] of each model; owned by the model. */
  const int64_t f2[] = {10, 20}, l2[] = {19, 29};
  EvalContext two = {0, 40, 2, f2, l2};
  const Want of[] = {{0, 10, 20, 0},  {20, 41, 20, 0}, {5, 10, 20, 0},  {20, 25, 20, 0},
                     {10, 20, 20, 0}, {0, 20, 30, 1},  {30, 41, 30, 1}, {15, 20, 30, 1},
                     {30, 35, 30, 1}, {20, 30, 30, 1}};
  expect("strategy:\n  type: OffsetEvalStrategy\n  offsets: ['-inf', inf, -5s, +5s, 0s]\n", &two, of,
         10);
  expect_error("strategy:\n  type: OffsetEvalStrategy\n  offsets: [-5s, 5x]\n", &two,
               "s.yaml:3: strategy.offsets[1]: expected -inf, inf or a signed duration like -30d, "
               "0s or +1y, got \"5x\"");

  expect_error("strategy:\n  type: SlidingEvalStrategy\n", &data,
               "s.yaml:2: strategy.type: unknown evaluation strategy \"SlidingEvalStrategy\"; "
               "available: SlicingEvalStrategy, PeriodicEvalStrategy, StaticEvalStrategy, "
               "BetweenTwoTriggersEvalStrategy, OffsetEvalStrategy");
  return test_finish("test_eval_strategy");
}

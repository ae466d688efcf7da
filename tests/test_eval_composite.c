/* test_eval_composite.c - composite models for the intervals of the other
 * strategies: the reference time of a periodic window is its centre (a
 * window that starts before a trigger but is centred after it has the new
 * model active), the usage period of BetweenTwoTriggers has its own model
 * active, and ties of several triggers at one timestamp pick the newest. */
#include "eval/composite.h"
#include "testutil.h"

static void expect(const int64_t *last_ts, int n, int64_t ref, int want_active, int want_trained) {
  int a = -2, t = -2;
  composite_select(last_ts, n, ref, &a, &t);
  CHECK_EQ_INT(a, want_active);
  CHECK_EQ_INT(t, want_trained);
}

int main(void) {
  /* Yearly triggers: data up to the end of each year (365-day years). */
  const int64_t y = 31536000;
  const int64_t last[] = {y - 1, 2 * y - 1, 3 * y - 1};
  /* Periodic window [-25h; +25h] centred on the start of year 1: it starts
   * in year 0 (before model 0's data ends) but its reference time is the
   * centre, after model 0's data: model 0 is active, model 1 trained. */
  expect(last, 3, y, 0, 1);
  /* Centred one second before the end of year 0's data: nothing active yet. */
  expect(last, 3, y - 1, -1, 0);
  /* Usage periods (BetweenTwoTriggers): the period of model i starts at
   * last_ts[i] + 1, where model i is active and i + 1 trained. */
  for (int i = 0; i < 3; i++) expect(last, 3, last[i] + 1, i, i + 1 < 3 ? i + 1 : -1);
  /* Ties: models 1 and 2 trained up to the same time; the newest is active
   * and the earlier one never is. */
  const int64_t tie[] = {9, 19, 19};
  expect(tie, 3, 20, 2, -1);
  expect(tie, 3, 19, 0, 1);
  /* Negative timestamps work like any other. */
  const int64_t neg[] = {-100, -1};
  expect(neg, 2, -100, -1, 0);
  expect(neg, 2, -99, 0, 1);
  expect(neg, 2, 0, 1, -1);
  return test_finish("test_eval_composite");
}

/* test_composite.c - currently active / currently trained model for
 * hand-made models and intervals, including the edge cases: no model yet,
 * intervals before the first trigger, and several triggers at one time. */
#include "eval/composite.h"
#include "testutil.h"

static void expect(const int64_t *last_ts, int n, int64_t ref, int want_active, int want_trained) {
  int a = -2, t = -2;
  composite_select(last_ts, n, ref, &a, &t);
  CHECK_EQ_INT(a, want_active);
  CHECK_EQ_INT(t, want_trained);
}

int main(void) {
  /* Models trained on data up to t = 9, 19, 19 (two triggers at one
   * timestamp), 29. */
  const int64_t last[] = {9, 19, 19, 29};
  expect(last, 4, 0, -1, 0);   /* before the first model: none active, the first is training */
  expect(last, 4, 9, -1, 0);   /* strictly before: data up to 9 is not before ref 9 */
  expect(last, 4, 10, 0, 1);
  expect(last, 4, 19, 0, 1);
  expect(last, 4, 20, 2, 3);   /* two models at 19: the newest (2) is active */
  expect(last, 4, 29, 2, 3);
  expect(last, 4, 30, 3, -1);  /* after the last model: nothing is being trained */
  expect(last, 4, 1000, 3, -1);
  expect(last, 0, 5, -1, -1);  /* no models at all */
  const int64_t one[] = {100};
  expect(one, 1, 50, -1, 0);
  expect(one, 1, 101, 0, -1);
  return test_finish("test_composite");
}

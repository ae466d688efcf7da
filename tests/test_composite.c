/* test_composite.c - currently active / currently trained model for
 * hand-made models and intervals, including the edge cases: no model yet,
 * intervals before the first trigger, several triggers at one time, and
 * after the last trigger (the last model is also the trained one); the
 * original's own test case; the reference times the evaluation strategies use (a periodic window's
 * centre, BetweenTwoTriggers' usage periods); and the strided form that
 * evaluation calls on its array of checkpoint metadata. */
#include "eval/composite.h"
#include "testutil.h"
#include "train/checkpoint.h"

static void expect(const int64_t *last_ts, int n, int64_t ref, int want_active, int want_trained) {
  int a = -2, t = -2;
  composite_select(last_ts, n, ref, &a, &t);
  CHECK_EQ_INT(a, want_active);
  CHECK_EQ_INT(t, want_trained);
}

/* Yearly triggers (data up to the end of each 365-day year). */
static void test_reference_times(void) {
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
  for (int i = 0; i < 3; i++) expect(last, 3, last[i] + 1, i, i + 1 < 3 ? i + 1 : i);
  /* Negative timestamps work like any other. */
  const int64_t neg[] = {-100, -1};
  expect(neg, 2, -100, -1, 0);
  expect(neg, 2, -99, 0, 1);
  expect(neg, 2, 0, 1, 1);
}

/* composite_select_stride over CheckpointMeta gives what composite_select
 * gives over the bare timestamps. */
static void test_stride(void) {
  const int64_t last[] = {9, 19, 19, 29};
  CheckpointMeta meta[4] = {{0}};
  for (int i = 0; i < 4; i++) {
    meta[i].trigger = i;
    meta[i].first_timestamp = -7;
    meta[i].last_timestamp = last[i];
  }
  for (int64_t ref = 0; ref <= 31; ref++) {
    int a = -2, t = -2, sa = -3, st = -3;
    composite_select(last, 4, ref, &a, &t);
    composite_select_stride(&meta[0].last_timestamp, sizeof meta[0], 4, ref, &sa, &st);
    CHECK_EQ_INT(sa, a);
    CHECK_EQ_INT(st, t);
  }
}

/* The original's own case (tests/supervisor/internal/eval/
 * test_eval_handler.py, test_get_eval_requests_after_pipeline): six models
 * with data up to 0, 2, 3, 14, 20, 26 and intervals whose reference times
 * are 10, 20, 25, 26, 27, 31, 34. Its expected (active, trained) pairs by
 * model index: (2,3) (3,4) (4,5) (4,5) (5,5) (5,5) (5,5); the last three
 * are the last model as both, its "(28, True, True)" rows. */
static void test_original_case(void) {
  const int64_t last[] = {0, 2, 3, 14, 20, 26};
  const int64_t ref[] = {10, 20, 25, 26, 27, 31, 34};
  const int want[][2] = {{2, 3}, {3, 4}, {4, 5}, {4, 5}, {5, 5}, {5, 5}, {5, 5}};
  for (int i = 0; i < 7; i++) expect(last, 6, ref[i], want[i][0], want[i][1]);
}

int main(void) {
  test_reference_times();
  test_stride();
  test_original_case();
  /* Models trained on data up to t = 9, 19, 19 (two triggers at one
   * timestamp), 29. */
  const int64_t last[] = {9, 19, 19, 29};
  expect(last, 4, 0, -1, 0);   /* before the first model: none active, the first is training */
  expect(last, 4, 9, -1, 0);   /* strictly before: data up to 9 is not before ref 9 */
  expect(last, 4, 10, 0, 1);
  expect(last, 4, 19, 0, 1);
  expect(last, 4, 20, 2, 3);   /* two models at 19: the newest (2) is active */
  expect(last, 4, 29, 2, 3);
  /* After the last model: the original's successor of the last model is
   * the model itself (supervisor/internal/eval/handler.py; its test
   * expects (28, True, True) for every interval after model 28). */
  expect(last, 4, 30, 3, 3);
  expect(last, 4, 1000, 3, 3);
  expect(last, 0, 5, -1, -1);  /* no models at all */
  const int64_t one[] = {100};
  expect(one, 1, 50, -1, 0);
  expect(one, 1, 101, 0, 0);
  return test_finish("test_composite");
}

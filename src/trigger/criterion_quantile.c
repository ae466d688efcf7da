/* criterion_quantile.c - a dynamic threshold: the value must be more
 * extreme than the (1 - quantile) quantile of the previous window_size
 * values (the quantile itself when low values trigger), with NumPy's
 * default linear interpolation between order statistics. The comparison is
 * strict and happens before the value joins the window; the first value
 * always triggers (nothing to compare with), as in the original. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "trigger/criterion.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* numpy.quantile(a, q, method="linear") of n sorted values. */
static double linear_quantile(const double *s, int64_t n, double q) {
  double h = (double)(n - 1) * q;
  int64_t lo = (int64_t)floor(h);
  if (lo >= n - 1) return s[n - 1];
  return s[lo] + (h - (double)lo) * (s[lo + 1] - s[lo]);
}

static int quantile_decide(Criterion *c, double v) {
  if (c->nobs == 0) {
    criterion_window_push(c, v);
    c->last_threshold = NAN;
    return 1;
  }
  double *s = malloc((size_t)c->nobs * sizeof *s);
  if (!s) return 1; /* out of memory: trigger rather than miss a drift */
  criterion_window_values(c, s);
  qsort(s, (size_t)c->nobs, sizeof *s, cmp_double);
  double thr = linear_quantile(s, c->nobs, c->lower ? c->quantile : 1.0 - c->quantile);
  free(s);
  criterion_window_push(c, v);
  c->last_threshold = thr;
  return c->lower ? v < thr : v > thr;
}

static int quantile_create(const CfgRef *cfg, Criterion *c) {
  static const char *const keys[] = {"id", "metric", "window_size", "quantile",
                                     "needs_calibration", NULL};
  static const char *const drift_keys[] = {"id", "window_size", "quantile", "needs_calibration",
                                           NULL};
  MH_TRY(cfg_check_keys(cfg, c->metric[0] ? keys : drift_keys));
  c->decide = quantile_decide;
  c->needs_calibration = 1;
  int64_t w;
  MH_TRY(cfg_get_int(cfg, "window_size", 10, 1, 1000000, &w));
  MH_TRY(cfg_get_double(cfg, "quantile", 0.05, 0.0, 1.0, &c->quantile));
  return criterion_window_init(c, w);
}

const CriterionType criterion_quantile = {"DynamicQuantileThresholdCriterion",
                                          "DynamicQuantilePerformanceThresholdCriterion",
                                          quantile_create};

/* drift_ks.c - AlibiDetectKSDriftMetric: a two-sample Kolmogorov-Smirnov
 * test on every dimension. The distance is the mean of the per-dimension
 * statistics D (what the original's decision criterion sees); the test
 * decision corrects the per-dimension p-values for multiple testing
 * (`correction`: bonferroni or fdr) at level p_val, as alibi-detect does.
 *
 * D follows scipy.stats.ks_2samp (the empirical CDFs compared after each
 * distinct value; `alternative_hypothesis` two-sided, less or greater).
 * p-values are asymptotic like alibi-detect's (mode "asymp"): one-sided
 * with Hodges' formula as scipy; two-sided from the Kolmogorov limit
 * distribution with Stephens' small-sample correction, where scipy uses the
 * exact one-sample distribution at the effective size (they agree to about
 * 1e-2 for effective sizes above 50). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "trigger/drift_metric.h"

double drift_kolmogorov_sf(double lambda) {
  if (lambda <= 0.0) return 1.0;
  if (lambda < 1.18) { /* the series in 1/lambda converges fast here */
    const double pi = 3.14159265358979323846;
    double s = 0.0;
    for (int k = 1; k <= 20; k++) {
      double e = (2.0 * k - 1.0) * (2.0 * k - 1.0) * pi * pi / (8.0 * lambda * lambda);
      s += exp(-e);
    }
    double cdf = sqrt(2.0 * pi) / lambda * s;
    return cdf >= 1.0 ? 0.0 : 1.0 - cdf;
  }
  double s = 0.0, sign = 1.0;
  for (int k = 1; k <= 100; k++) {
    double t = exp(-2.0 * k * k * lambda * lambda);
    s += sign * t;
    sign = -sign;
    if (t < 1e-16) break;
  }
  double p = 2.0 * s;
  return p < 0.0 ? 0.0 : p > 1.0 ? 1.0 : p;
}

double drift_ks_2samp(const double *a, int64_t n, const double *b, int64_t m, int alternative,
                      double *p) {
  double maxs = 0.0, mins = 0.0; /* max of F_a - F_b and of F_b - F_a */
  int64_t i = 0, j = 0;
  while (i < n || j < m) {
    double v = i < n && (j >= m || a[i] <= b[j]) ? a[i] : b[j];
    while (i < n && a[i] <= v) i++;
    while (j < m && b[j] <= v) j++;
    double diff = (double)i / (double)n - (double)j / (double)m;
    if (diff > maxs) maxs = diff;
    if (-diff > mins) mins = -diff;
  }
  if (mins > 1.0) mins = 1.0;
  double d = alternative == 1 ? mins : alternative == 2 ? maxs : (mins > maxs ? mins : maxs);
  double big = n > m ? (double)n : (double)m, small = n > m ? (double)m : (double)n;
  double en = big * small / (big + small);
  if (alternative == 0) {
    double s = sqrt(en);
    *p = drift_kolmogorov_sf((s + 0.12 + 0.11 / s) * d);
  } else {
    double z = sqrt(en) * d;
    double expt = -2.0 * z * z - 2.0 * z * (big + 2.0 * small) / sqrt(big * small * (big + small)) / 3.0;
    *p = exp(expt);
  }
  return d;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* One dimension: sort both samples, then the two-sample statistic. */
static double ks_dimension(const DriftMetric *m, double *x, int64_t nx, double *y, int64_t ny,
                           double *p) {
  qsort(x, (size_t)nx, sizeof *x, cmp_double);
  qsort(y, (size_t)ny, sizeof *y, cmp_double);
  return drift_ks_2samp(x, nx, y, ny, m->alternative, p);
}

static int ks_compute(const DriftMetric *m, const float *x, int64_t nx, const float *y, int64_t ny,
                      int64_t dim, uint64_t seed, DriftMetricResult *out) {
  (void)seed;
  return drift_per_dimension(m, x, nx, y, ny, dim, ks_dimension, "KS", out);
}

static int ks_create(const CfgRef *cfg, DriftMetric *m) {
  static const char *const alts[] = {"two-sided", "less", "greater", NULL};
  static const char *const corr[] = {"bonferroni", "fdr", NULL};
  m->compute = ks_compute;
  MH_TRY(cfg_get_enum(cfg, "alternative_hypothesis", alts, 0, &m->alternative));
  return cfg_get_enum(cfg, "correction", corr, 0, &m->correction_fdr);
}

static const char *const ks_keys[] = {"p_val", "x_ref_preprocessed", "preprocessor",
                                      "alternative_hypothesis", "correction", NULL};

const DriftMetricType drift_metric_ks = {"AlibiDetectKSDriftMetric", ks_create, ks_keys};

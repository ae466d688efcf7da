/* drift_ks.c - AlibiDetectKSDriftMetric: a two-sample Kolmogorov-Smirnov
 * test on every dimension. The distance is the mean of the per-dimension
 * statistics D (what the original's decision criterion sees); the test
 * decision corrects the per-dimension p-values for multiple testing
 * (`correction`: bonferroni or fdr) at level p_val, as alibi-detect does.
 *
 * D follows scipy.stats.ks_2samp (the empirical CDFs compared after each
 * distinct value; `alternative_hypothesis` two-sided, less or greater).
 * p-values are asymptotic like alibi-detect's (mode "asymp"), computed as
 * scipy does: one-sided with Hodges' formula; two-sided from the
 * one-sample distribution of D at the effective size round(n m / (n + m))
 * (drift_kstwo.c). `method` (an extension; scipy's
 * names) asks for the exact two-sample p-value instead: `exact` always,
 * `auto` as scipy's default when max(n, m) <= 10000; `asymp` (default) is
 * what the original gets from alibi-detect. */
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
    int64_t ne = (int64_t)nearbyint(en); /* numpy's round: half to even */
    *p = drift_kstwo_sf(d, ne > 0 ? ne : 1);
  } else {
    double z = sqrt(en) * d;
    double expt = -2.0 * z * z - 2.0 * z * (big + 2.0 * small) / sqrt(big * small * (big + small)) / 3.0;
    *p = exp(expt);
  }
  return d;
}

/* ---- the exact two-sample distribution ---------------------------------------------- */

static int64_t gcd64(int64_t a, int64_t b) {
  while (b) {
    int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* log C(a, b) */
static double lchoose(int64_t a, int64_t b) {
  return lgamma((double)a + 1.0) - lgamma((double)b + 1.0) - lgamma((double)(a - b) + 1.0);
}

/* The pooled sample in order is a uniformly random lattice path from
 * (0, 0) to (n, m) (i values of the first sample and j of the second so
 * far); D >= d when the path reaches a point where i/n - j/m (greater),
 * j/m - i/n (less) or either (two-sided) is at least d. In units of
 * 1/lcm(n, m) the distances are integers, so d is taken as h / lcm with h
 * = round(d lcm), as scipy does. Equal sizes have closed forms (reflection
 * principle); otherwise the probability mass walks the lattice, leaving it
 * at the first point beyond the bound (each step picks the next value from
 * the remaining ones). */
double drift_ks_exact_p(int64_t n, int64_t m, double d, int alternative) {
  const int64_t g = gcd64(n, m), lcm = n / g * m, a = lcm / n, b = lcm / m;
  const int64_t h = llround(d * (double)lcm);
  if (h <= 0) return 1.0;
  if (n == m) {
    if (h > n) return 0.0;
    if (alternative != 0) return exp(lchoose(2 * n, n - h) - lchoose(2 * n, n));
    double p = 0.0;
    for (int64_t j = 1; j * h <= n; j++)
      p += (j % 2 ? 2.0 : -2.0) * exp(lchoose(2 * n, n - j * h) - lchoose(2 * n, n));
    return p < 0.0 ? 0.0 : p > 1.0 ? 1.0 : p;
  }
  double *f = calloc((size_t)(m + 1), sizeof *f);
  if (!f) return NAN;
  double out = 0.0;
  for (int64_t i = 0; i <= n; i++) {
    /* f[j]: mass at (i, j) still inside; first the steps from row i - 1
     * (already in f), then the steps along the row. */
    for (int64_t j = 0; j <= m; j++) {
      if (i == 0 && j == 0) {
        f[0] = 1.0;
        continue;
      }
      double in = 0.0;
      if (i > 0) in += f[j] * (double)(n - i + 1) / (double)(n + m - (i - 1) - j);
      if (j > 0) in += f[j - 1] * (double)(m - j + 1) / (double)(n + m - i - (j - 1));
      const int64_t diff = i * a - j * b;
      const int64_t v =
          alternative == 2 ? diff : alternative == 1 ? -diff : (diff < 0 ? -diff : diff);
      if (v >= h) {
        out += in;
        f[j] = 0.0;
      } else {
        f[j] = in;
      }
    }
  }
  free(f);
  return out > 1.0 ? 1.0 : out;
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
  double d = drift_ks_2samp(x, nx, y, ny, m->alternative, p);
  if (m->ks_method == 1 || (m->ks_method == 2 && nx <= 10000 && ny <= 10000)) {
    double e = drift_ks_exact_p(nx, ny, d, m->alternative);
    if (!isnan(e)) *p = e;
  }
  return d;
}

static int ks_compute(const DriftMetric *m, const float *x, int64_t nx, const float *y, int64_t ny,
                      int64_t dim, uint64_t seed, DriftMetricResult *out) {
  (void)seed;
  return drift_per_dimension(m, x, nx, y, ny, dim, ks_dimension, "KS", out);
}

static int ks_create(const CfgRef *cfg, DriftMetric *m) {
  static const char *const alts[] = {"two-sided", "less", "greater", NULL};
  static const char *const corr[] = {"bonferroni", "fdr", NULL};
  static const char *const methods[] = {"asymp", "exact", "auto", NULL};
  m->compute = ks_compute;
  MH_TRY(cfg_get_enum(cfg, "method", methods, 0, &m->ks_method));
  MH_TRY(cfg_get_enum(cfg, "alternative_hypothesis", alts, 0, &m->alternative));
  return cfg_get_enum(cfg, "correction", corr, 0, &m->correction_fdr);
}

static const char *const ks_keys[] = {"p_val", "x_ref_preprocessed", "preprocessor",
                                      "alternative_hypothesis", "correction", "method", NULL};

const DriftMetricType drift_metric_ks = {"AlibiDetectKSDriftMetric", ks_create, ks_keys};

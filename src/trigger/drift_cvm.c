/* drift_cvm.c - AlibiDetectCVMDriftMetric: a two-sample Cramer-von Mises
 * test on every dimension. The distance is the mean of the per-dimension
 * statistics T; the test decision corrects the per-dimension p-values
 * (`correction`: bonferroni or fdr) at level p_val, as alibi-detect does.
 *
 * T follows scipy.stats.cramervonmises_2samp (ranks in the pooled sample,
 * ties get their average rank), and so does the p-value with alibi-detect's
 * method "auto": exact when both samples have at most 20 values (the share
 * of the equally likely rank arrangements whose U is at least the
 * observed one), else asymptotic (the normalised statistic under the limit
 * distribution of the one-sample statistic). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "trigger/drift_metric.h"

/* K_{1/4}(q) = int_0^inf exp(-q cosh t) cosh(t / 4) dt; the trapezoid rule
 * converges geometrically for this integrand. */
static double bessel_k_quarter(double q) {
  const double h = 0.02;
  double s = 0.5 * exp(-q);
  for (int i = 1; i < 100000; i++) {
    double t = h * i;
    double e = q * cosh(t);
    if (e > 745.0) break;
    s += exp(-e) * cosh(0.25 * t);
  }
  return s * h;
}

/* Csorgo and Faraway (1996), eq. 1.3, summed until a term is below 1e-7. */
double drift_cvm_limit_cdf(double x) {
  const double pi = 3.14159265358979323846;
  double tot = 0.0;
  for (int k = 0; k < 1000; k++) {
    double u = exp(lgamma(k + 0.5) - lgamma(k + 1.0)) / (pow(pi, 1.5) * sqrt(x));
    double y = 4.0 * k + 1.0;
    double q = y * y / (16.0 * x);
    double term = u * sqrt(y) * exp(-q) * bessel_k_quarter(q);
    tot += term;
    if (fabs(term) < 1e-7) break;
  }
  return tot;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* ---- the exact distribution --------------------------------------------------------- */

/* The values U takes on the paths into one lattice point, capped at top,
 * with their path counts (exact in a double up to 2^53; C(40, 20) is
 * 1.4e11). Sorted by value. */
typedef struct {
  int64_t *v;
  double *c;
  int64_t len;
} UDist;

static void udist_free(UDist *d) {
  free(d->v);
  free(d->c);
  memset(d, 0, sizeof *d);
}

/* out = (a + da) merged with (b + db), values capped at top; a or b may be
 * NULL. Shifting and capping keep each list sorted. */
static int udist_merge(UDist *out, const UDist *a, int64_t da, const UDist *b, int64_t db,
                       int64_t top) {
  const int64_t na = a ? a->len : 0, nb = b ? b->len : 0;
  out->len = 0;
  out->v = malloc((size_t)(na + nb) * sizeof *out->v);
  out->c = malloc((size_t)(na + nb) * sizeof *out->c);
  if (!out->v || !out->c) return -1;
  for (int64_t i = 0, j = 0; i < na || j < nb;) {
    int64_t va = INT64_MAX, vb = INT64_MAX;
    if (i < na) va = a->v[i] + da < top ? a->v[i] + da : top;
    if (j < nb) vb = b->v[j] + db < top ? b->v[j] + db : top;
    int64_t v;
    double c;
    if (va <= vb) {
      v = va;
      c = a->c[i++];
    } else {
      v = vb;
      c = b->c[j++];
    }
    if (out->len && out->v[out->len - 1] == v) out->c[out->len - 1] += c;
    else {
      out->v[out->len] = v;
      out->c[out->len++] = c;
    }
  }
  return 0;
}

/* A rank arrangement of n values of the first sample and m of the second
 * is a lattice path from (0, 0) to (n, m); taking the first sample's
 * (i+1)-th value at pooled rank i + j + 1 adds n (rank - (i+1))^2 = n j^2
 * to U, the second's (j+1)-th adds m i^2. p = share of paths with U >= u
 * (scipy's exact method, written from that definition). */
double drift_cvm_exact_p(int64_t n, int64_t m, double u) {
  const int64_t top = (int64_t)ceil(u - 1e-9);
  if (top <= 0) return 1.0;
  UDist *prev = calloc((size_t)(m + 1), sizeof *prev), *cur = calloc((size_t)(m + 1), sizeof *cur);
  int err = !prev || !cur;
  for (int64_t i = 0; !err && i <= n; i++) {
    for (int64_t j = 0; !err && j <= m; j++) {
      if (i == 0 && j == 0) {
        cur[0].v = malloc(sizeof *cur[0].v);
        cur[0].c = malloc(sizeof *cur[0].c);
        if (!cur[0].v || !cur[0].c) err = 1;
        else {
          cur[0].v[0] = 0;
          cur[0].c[0] = 1.0;
          cur[0].len = 1;
        }
        continue;
      }
      err = udist_merge(&cur[j], i > 0 ? &prev[j] : NULL, n * j * j, j > 0 ? &cur[j - 1] : NULL,
                        m * i * i, top);
    }
    for (int64_t j = 0; j <= m; j++) {
      udist_free(&prev[j]);
      prev[j] = cur[j];
      memset(&cur[j], 0, sizeof cur[j]);
    }
  }
  double p = NAN;
  if (!err) {
    const UDist *end = &prev[m];
    double all = 0.0, hit = 0.0;
    for (int64_t k = 0; k < end->len; k++) {
      all += end->c[k];
      if (end->v[k] >= top) hit += end->c[k];
    }
    p = hit / all;
  }
  for (int64_t j = 0; prev && j <= m; j++) udist_free(&prev[j]);
  for (int64_t j = 0; cur && j <= m; j++) udist_free(&cur[j]);
  free(prev);
  free(cur);
  return p;
}

double drift_cvm_2samp(double *a, int64_t n, double *b, int64_t m, double *p) {
  qsort(a, (size_t)n, sizeof *a, cmp_double);
  qsort(b, (size_t)m, sizeof *b, cmp_double);
  /* Walk the pooled sample in order; a run of t equal values holding
   * positions r+1 .. r+t gets the average rank r + (t + 1) / 2. */
  double ua = 0.0, ub = 0.0;
  int64_t i = 0, j = 0, r = 0;
  while (i < n || j < m) {
    double v = i < n && (j >= m || a[i] <= b[j]) ? a[i] : b[j];
    int64_t i1 = i, j1 = j;
    while (i1 < n && a[i1] == v) i1++;
    while (j1 < m && b[j1] == v) j1++;
    int64_t t = (i1 - i) + (j1 - j);
    double rank = (double)r + (double)(t + 1) / 2.0;
    for (int64_t k = i; k < i1; k++) ua += (rank - (double)(k + 1)) * (rank - (double)(k + 1));
    for (int64_t k = j; k < j1; k++) ub += (rank - (double)(k + 1)) * (rank - (double)(k + 1));
    r += t;
    i = i1;
    j = j1;
  }
  const double nx = (double)n, ny = (double)m, k = nx * ny, N = nx + ny;
  double u = nx * ua + ny * ub;
  double t = u / (k * N) - (4.0 * k - 1.0) / (6.0 * N);
  double et = (1.0 + 1.0 / N) / 6.0;
  double vt = (N + 1.0) * (4.0 * k * N - 3.0 * (nx * nx + ny * ny) - 2.0 * k);
  vt = vt / (45.0 * N * N * 4.0 * k);
  double tn = 1.0 / 6.0 + (t - et) / sqrt(45.0 * vt);
  if (n <= DRIFT_CVM_EXACT_MAX && m <= DRIFT_CVM_EXACT_MAX) {
    *p = drift_cvm_exact_p(n, m, u);
    if (!isnan(*p)) return t;
  }
  if (tn < 0.003) *p = 1.0;
  else {
    double c = 1.0 - drift_cvm_limit_cdf(tn);
    *p = c > 0.0 ? c : 0.0;
  }
  return t;
}

static double cvm_dimension(const DriftMetric *m, double *x, int64_t nx, double *y, int64_t ny,
                            double *p) {
  (void)m;
  return drift_cvm_2samp(x, nx, y, ny, p);
}

static int cvm_compute(const DriftMetric *m, const float *x, int64_t nx, const float *y,
                       int64_t ny, int64_t dim, uint64_t seed, DriftMetricResult *out) {
  (void)seed;
  return drift_per_dimension(m, x, nx, y, ny, dim, cvm_dimension, "CvM", out);
}

static int cvm_create(const CfgRef *cfg, DriftMetric *m) {
  static const char *const corr[] = {"bonferroni", "fdr", NULL};
  m->compute = cvm_compute;
  return cfg_get_enum(cfg, "correction", corr, 0, &m->correction_fdr);
}

static const char *const cvm_keys[] = {"p_val", "x_ref_preprocessed", "preprocessor",
                                       "correction", NULL};

const DriftMetricType drift_metric_cvm = {"AlibiDetectCVMDriftMetric", cvm_create, cvm_keys};

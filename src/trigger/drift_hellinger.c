/* drift_hellinger.c - EvidentlyHellingerDistanceDriftMetric: the mean over
 * dimensions of the Hellinger distance between the histograms of the two
 * windows, as Evidently computes it for a numerical column: Sturges' number
 * of equal bins over the pooled range (NumPy's histogram_bin_edges),
 * per-window shares p and q, H = sqrt(sum (sqrt p - sqrt q)^2) / sqrt 2,
 * from 0 (same histograms) to 1 (disjoint). */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "trigger/drift_metric.h"

/* NumPy's bin of v among nb equal bins of [lo, hi] (the last one closed). */
static int64_t bin_of(double v, double lo, double hi, int64_t nb) {
  double norm = (double)nb / (hi - lo);
  int64_t b = (int64_t)((v - lo) * norm);
  if (b >= nb) b = nb - 1;
  if (b < 0) b = 0;
  /* NumPy corrects the index against the edges it returns (1-ULP cases). */
  double step = (hi - lo) / (double)nb;
  if (b > 0 && v < lo + (double)b * step) b--;
  if (b < nb - 1 && v >= lo + (double)(b + 1) * step) b++;
  return b;
}

static double hellinger_column(const double *a, int64_t n, const double *b, int64_t m,
                               int64_t *counts) {
  double lo = a[0], hi = a[0];
  for (int64_t i = 0; i < n; i++) {
    if (a[i] < lo) lo = a[i];
    if (a[i] > hi) hi = a[i];
  }
  for (int64_t i = 0; i < m; i++) {
    if (b[i] < lo) lo = b[i];
    if (b[i] > hi) hi = b[i];
  }
  if (lo == hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const int64_t nb = (int64_t)ceil(log2((double)(n + m)) + 1.0); /* Sturges */
  int64_t *ca = counts, *cb = counts + nb;
  for (int64_t k = 0; k < 2 * nb; k++) counts[k] = 0;
  for (int64_t i = 0; i < n; i++) ca[bin_of(a[i], lo, hi, nb)]++;
  for (int64_t i = 0; i < m; i++) cb[bin_of(b[i], lo, hi, nb)]++;
  double s = 0.0;
  for (int64_t k = 0; k < nb; k++) {
    double d = sqrt((double)ca[k] / (double)n) - sqrt((double)cb[k] / (double)m);
    s += d * d;
  }
  return sqrt(s) / sqrt(2.0);
}

static int hellinger_compute(const DriftMetric *m, const float *x, int64_t nx, const float *y,
                             int64_t ny, int64_t dim, uint64_t seed, DriftMetricResult *out) {
  (void)m;
  (void)seed;
  double *h = mh_malloc((size_t)(dim ? dim : 1) * sizeof *h);
  if (!h) return MH_ERR;
  int err = 0;
#pragma omp parallel
  {
    double *a = malloc((size_t)(nx + ny) * sizeof *a);
    int64_t *counts = malloc(2 * 80 * sizeof *counts); /* Sturges: < 70 bins below 2^68 values */
    if (!a || !counts) {
#pragma omp atomic write
      err = 1;
    }
#pragma omp for schedule(dynamic)
    for (int64_t j = 0; j < dim; j++) {
      if (!a || !counts) continue;
      drift_column(x, nx, dim, j, a);
      drift_column(y, ny, dim, j, a + nx);
      h[j] = hellinger_column(a, nx, a + nx, ny, counts);
    }
    free(a);
    free(counts);
  }
  double s = 0.0;
  for (int64_t j = 0; j < dim; j++) s += h[j];
  free(h);
  if (err) return mh_errorf("drift Hellinger: out of memory");
  out->distance = dim ? s / (double)dim : 0.0;
  return MH_OK;
}

static int hellinger_create(const CfgRef *cfg, DriftMetric *m) {
  (void)cfg;
  m->compute = hellinger_compute;
  return MH_OK;
}

static const char *const hellinger_keys[] = {NULL};

const DriftMetricType drift_metric_hellinger = {"EvidentlyHellingerDistanceDriftMetric",
                                                hellinger_create, hellinger_keys};

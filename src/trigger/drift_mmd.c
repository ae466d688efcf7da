/* drift_mmd.c - AlibiDetectMmdDriftMetric: maximum mean discrepancy between
 * the reference and current windows with a Gaussian RBF kernel, the
 * paper's main drift metric (see drift_metric.h for the definition).
 *
 * Squared distances come from a GEMM per block of rows (|a|^2 + |b|^2 -
 * 2 a.b, in float like alibi-detect's PyTorch backend, accumulated in
 * double); only the triangle j > i is visited. Each row's kernel sums are
 * kept apart and added in row order, so the result does not depend on the
 * thread count. The kernel matrix is stored only for the permutation test
 * (N(N-1)/2 floats for N = reference + current samples). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "train/parallel.h"
#include "trigger/drift_metric.h"

#define MMD_BLOCK 128               /* rows per GEMM block */
#define MMD_MIN_D2 1e-30            /* alibi-detect's floor of a squared distance */
#define MMD_MAX_KERNEL_BYTES (1LL << 31)

/* ---- squared distances ----------------------------------------------------------------- */

static void row_norms(const float *z, int64_t n, int64_t d, double *out) {
  for (int64_t i = 0; i < n; i++) {
    double s = 0.0;
    for (int64_t k = 0; k < d; k++) s += (double)z[i * d + k] * (double)z[i * d + k];
    out[i] = s;
  }
}

/* Squared distances of rows [i0, i1) of a to rows [j0, j1) of b into
 * out[(i - i0) * (j1 - j0) + (j - j0)]. */
static void block_d2(const float *a, const double *na, int64_t i0, int64_t i1, const float *b,
                     const double *nb, int64_t j0, int64_t j1, int64_t d, float *out) {
  const int64_t w = j1 - j0;
  par_sgemm1(0, 1, (int)(i1 - i0), (int)w, (int)d, 1.0f, a + i0 * d, (int)d, b + j0 * d, (int)d,
             0.0f, out, (int)w);
  for (int64_t i = i0; i < i1; i++)
    for (int64_t j = j0; j < j1; j++) {
      float *o = out + (i - i0) * w + (j - j0);
      double v = na[i] + nb[j] - 2.0 * (double)*o;
      *o = (float)(v > MMD_MIN_D2 ? v : MMD_MIN_D2);
    }
}

/* ---- the median heuristic ------------------------------------------------------------- */

/* The k-th smallest of a[n] (a is reordered). */
static float select_kth(float *a, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    float x = a[lo], y = a[(lo + hi) / 2], z = a[hi];
    float pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        float t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/* sigma of alibi-detect's sigma_median: sqrt(median / 2) of the squared
 * distances among distinct reference points (from_ref) or between the
 * reference and current points, taking the lower median. */
static int median_sigma(const float *x, const double *nx_, int64_t nx, const float *y,
                        const double *ny_, int64_t ny, int64_t d, int from_ref, double *sigma) {
  int64_t P = from_ref ? nx * (nx - 1) / 2 : nx * ny;
  float *v = mh_malloc((size_t)P * sizeof *v);
  if (!v) return mh_error_context("drift MMD: the median heuristic needs %lld distances",
                                  (long long)P);
  int err = 0;
  const int64_t nblk = (nx + MMD_BLOCK - 1) / MMD_BLOCK;
#pragma omp parallel
  {
    float *buf = malloc((size_t)MMD_BLOCK * (size_t)(from_ref ? nx : ny) * sizeof *buf);
    if (!buf) {
#pragma omp atomic write
      err = 1;
    }
#pragma omp for schedule(dynamic)
    for (int64_t b = 0; b < nblk; b++) {
      if (!buf) continue;
      int64_t i0 = b * MMD_BLOCK, i1 = i0 + MMD_BLOCK < nx ? i0 + MMD_BLOCK : nx;
      if (from_ref) {
        block_d2(x, nx_, i0, i1, x, nx_, i0, nx, d, buf);
        for (int64_t i = i0; i < i1; i++) {
          int64_t at = i * (2 * nx - i - 1) / 2; /* first pair (i, i+1) in the triangle */
          memcpy(v + at, buf + (i - i0) * (nx - i0) + (i + 1 - i0),
                 (size_t)(nx - i - 1) * sizeof *v);
        }
      } else {
        block_d2(x, nx_, i0, i1, y, ny_, 0, ny, d, buf);
        memcpy(v + i0 * ny, buf, (size_t)((i1 - i0) * ny) * sizeof *v);
      }
    }
    free(buf);
  }
  if (err) {
    free(v);
    return mh_errorf("drift MMD: out of memory");
  }
  /* Reference pairs: alibi sorts all nx^2 entries (each pair twice, the
   * diagonal first) and takes entry nx + (nx^2 - nx)/2 - 1, i.e. pair
   * (P - 1)/2 of the sorted distinct pairs; cross pairs: entry n + (P -
   * n)/2 - 1 of the nx x ny entries, where n = nx when the two windows are
   * the same points (alibi's sigma_median checks), else 0. */
  int64_t k;
  if (from_ref) k = (P - 1) / 2;
  else {
    int64_t same = nx == ny && !memcmp(x, y, (size_t)(nx * d) * sizeof *x) ? nx : 0;
    k = same + (P - same) / 2 - 1;
    if (k < 0) k = 0;
  }
  double med = (double)select_kth(v, P, k);
  free(v);
  *sigma = sqrt(0.5 * med);
  return MH_OK;
}

/* ---- kernel sums ------------------------------------------------------------------------ */

/* MMD^2 from the sums over unordered pairs of distinct points: both in the
 * reference (sxx), both current (syy), one of each (sxy). */
static double mmd_from_sums(double sxx, double syy, double sxy, int64_t nx, int64_t ny) {
  return 2.0 * sxx / ((double)nx * (double)(nx - 1)) + 2.0 * syy / ((double)ny * (double)(ny - 1)) -
         2.0 * sxy / ((double)nx * (double)ny);
}

/* Index of pair (i, j), i < j, in the row-major upper triangle of N points. */
static inline int64_t tri(int64_t i, int64_t j, int64_t N) {
  return i * (2 * N - i - 1) / 2 + (j - i - 1);
}

/* Visit every pair i < j of z[N * d] once: per-row sums of the kernel by
 * group (is_y[i]: point i is current), and the kernel values into kmat
 * when it is not NULL. */
static int kernel_pass(const float *z, const double *nz, int64_t N, int64_t d, int64_t nx,
                       double gamma, float *kmat, double *rxx, double *ryy, double *rxy) {
  int err = 0;
  const int64_t nblk = (N + MMD_BLOCK - 1) / MMD_BLOCK;
#pragma omp parallel
  {
    float *buf = malloc((size_t)MMD_BLOCK * (size_t)N * sizeof *buf);
    if (!buf) {
#pragma omp atomic write
      err = 1;
    }
#pragma omp for schedule(dynamic)
    for (int64_t b = 0; b < nblk; b++) {
      if (!buf) continue;
      int64_t i0 = b * MMD_BLOCK, i1 = i0 + MMD_BLOCK < N ? i0 + MMD_BLOCK : N;
      block_d2(z, nz, i0, i1, z, nz, i0, N, d, buf);
      const int64_t w = N - i0;
      for (int64_t i = i0; i < i1; i++) {
        double sxx = 0.0, syy = 0.0, sxy = 0.0;
        const float *row = buf + (i - i0) * w; /* column j at row[j - i0] */
        for (int64_t j = i + 1; j < N; j++) {
          double k = exp(-gamma * (double)row[j - i0]);
          if (kmat) kmat[tri(i, j, N)] = (float)k;
          if (i < nx && j < nx) sxx += k;
          else if (i >= nx) syy += k;
          else sxy += k;
        }
        rxx[i] = sxx;
        ryy[i] = syy;
        rxy[i] = sxy;
      }
    }
    free(buf);
  }
  return err ? mh_errorf("drift MMD: out of memory") : MH_OK;
}

/* MMD^2 of a relabelling g (g[i] = 1: point i counts as current) from the
 * stored kernel triangle. */
static double mmd_relabelled(const float *kmat, const unsigned char *g, int64_t N, int64_t nx,
                             double *rxx, double *ryy, double *rxy) {
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < N; i++) {
    double sxx = 0.0, syy = 0.0, sxy = 0.0;
    const float *row = kmat + tri(i, i + 1, N); /* pair (i, j) at row[j - i - 1] */
    for (int64_t j = i + 1; j < N; j++) {
      double k = row[j - i - 1];
      if (!g[i] && !g[j]) sxx += k;
      else if (g[i] && g[j]) syy += k;
      else sxy += k;
    }
    rxx[i] = sxx;
    ryy[i] = syy;
    rxy[i] = sxy;
  }
  double sxx = 0.0, syy = 0.0, sxy = 0.0;
  for (int64_t i = 0; i < N; i++) {
    sxx += rxx[i];
    syy += ryy[i];
    sxy += rxy[i];
  }
  return mmd_from_sums(sxx, syy, sxy, nx, N - nx);
}

static int cmp_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

int drift_mmd2(const float *x, int64_t nx, const float *y, int64_t ny, int64_t dim,
               int sigma_from_ref, int64_t permutations, double level, uint64_t seed,
               MmdResult *out) {
  out->mmd2 = out->sigma = out->p_val = out->threshold = NAN;
  if (nx < 2 || ny < 2)
    return mh_errorf("drift MMD needs at least 2 samples in each window (got %lld reference, "
                     "%lld current)", (long long)nx, (long long)ny);
  const int64_t N = nx + ny;
  if (permutations > 0 && (N * (N - 1) / 2) * (int64_t)sizeof(float) > MMD_MAX_KERNEL_BYTES)
    return mh_errorf("drift MMD: the permutation test keeps the kernel matrix of %lld samples "
                     "(%.1f GiB); lower sample_size", (long long)N,
                     (double)(N * (N - 1) / 2) * 4.0 / (1 << 30));
  par_init(0);
  float *z = mh_malloc((size_t)(N * dim) * sizeof *z);
  double *nz = mh_malloc((size_t)N * 4 * sizeof *nz); /* norms, then 3 row sums */
  if (!z || !nz) {
    free(z);
    free(nz);
    return MH_ERR;
  }
  double *rxx = nz + N, *ryy = rxx + N, *rxy = ryy + N;
  memcpy(z, x, (size_t)(nx * dim) * sizeof *z);
  memcpy(z + nx * dim, y, (size_t)(ny * dim) * sizeof *z);
  row_norms(z, N, dim, nz);
  int rc = median_sigma(z, nz, nx, z + nx * dim, nz + nx, ny, dim, sigma_from_ref, &out->sigma);
  float *kmat = NULL;
  if (!rc && permutations > 0) {
    kmat = mh_malloc((size_t)(N * (N - 1) / 2) * sizeof *kmat);
    if (!kmat) rc = MH_ERR;
  }
  const double gamma = 1.0 / (2.0 * out->sigma * out->sigma);
  if (!rc) rc = kernel_pass(z, nz, N, dim, nx, gamma, kmat, rxx, ryy, rxy);
  if (!rc) {
    double sxx = 0.0, syy = 0.0, sxy = 0.0;
    for (int64_t i = 0; i < N; i++) {
      sxx += rxx[i];
      syy += ryy[i];
      sxy += rxy[i];
    }
    out->mmd2 = mmd_from_sums(sxx, syy, sxy, nx, ny);
  }
  if (!rc && permutations > 0) {
    unsigned char *g = mh_malloc((size_t)N);
    int64_t *perm = mh_malloc((size_t)N * sizeof *perm);
    double *pm = mh_malloc((size_t)permutations * sizeof *pm);
    if (!g || !perm || !pm) rc = MH_ERR;
    Rng rng;
    rng_seed(&rng, seed);
    int64_t above = 0;
    for (int64_t p = 0; !rc && p < permutations; p++) {
      for (int64_t i = 0; i < N; i++) perm[i] = i;
      rng_shuffle_i64(&rng, perm, N);
      for (int64_t i = 0; i < N; i++) g[perm[i]] = i >= nx; /* the first nx drawn are "reference" */
      pm[p] = mmd_relabelled(kmat, g, N, nx, rxx, ryy, rxy);
      if (out->mmd2 <= pm[p]) above++;
    }
    if (!rc) {
      out->p_val = (double)above / (double)permutations;
      qsort(pm, (size_t)permutations, sizeof *pm, cmp_desc);
      int64_t at = (int64_t)(level * (double)permutations);
      out->threshold = pm[at < permutations ? at : permutations - 1];
    }
    free(g);
    free(perm);
    free(pm);
  }
  free(kmat);
  free(z);
  free(nz);
  return rc;
}

/* ---- the metric ------------------------------------------------------------------------ */

static int mmd_compute(const DriftMetric *m, const float *x, int64_t nx, const float *y,
                       int64_t ny, int64_t dim, uint64_t seed, DriftMetricResult *out) {
  MmdResult r;
  MH_TRY(drift_mmd2(x, nx, y, ny, dim, m->sigma_from_ref, m->num_permutations, m->p_val, seed, &r));
  out->distance = r.mmd2;
  out->sigma = r.sigma;
  out->p_val = r.p_val;
  out->test_drift = m->num_permutations > 0 ? r.p_val < m->p_val : -1;
  return MH_OK;
}

static int mmd_create(const CfgRef *cfg, DriftMetric *m) {
  m->compute = mmd_compute;
  char kernel[64];
  MH_TRY(cfg_get_string(cfg, "kernel", "GaussianRBF", kernel, sizeof kernel));
  if (strcmp(kernel, "GaussianRBF")) {
    CfgRef at;
    cfg_child(cfg, "kernel", &at);
    return cfg_errorf(&at, "only GaussianRBF is supported, got \"%s\"", kernel);
  }
  MH_TRY(cfg_get_bool(cfg, "configure_kernel_from_x_ref", 1, &m->sigma_from_ref));
  CfgRef perm;
  if (cfg_child(cfg, "num_permutations", &perm) && !cfg_is_null(&perm)) {
    MH_TRY(cfg_as_int(&perm, 1, 100000, &m->num_permutations));
    CfgRef crit;
    if (!cfg_child(cfg, "decision_criterion", &crit) || cfg_is_null(&crit))
      m->has_criterion = 0; /* the permutation test decides */
  }
  CfgRef thr;
  if (cfg_child(cfg, "threshold", &thr) && !cfg_is_null(&thr)) {
    /* The original's older schema: compare the distance with a threshold. */
    if (m->num_permutations > 0)
      return cfg_errorf(&thr, "threshold and num_permutations are mutually exclusive");
    double t;
    MH_TRY(cfg_as_double(&thr, -1e300, 1e300, &t));
    criterion_threshold_init(&m->criterion, t, 0);
  }
  return MH_OK;
}

static const char *const mmd_keys[] = {"p_val", "x_ref_preprocessed", "preprocessor", "device",
                                       "num_permutations", "kernel",
                                       "configure_kernel_from_x_ref", "threshold", NULL};

const DriftMetricType drift_metric_mmd = {"AlibiDetectMmdDriftMetric", mmd_create, mmd_keys};

/* drift_metric.h - drift metrics: a distance between the reference and the
 * current window's vectors (embeddings or raw features), one file each,
 * under the original Modyn's metric ids:
 *   AlibiDetectMmdDriftMetric      drift_mmd.c   MMD^2, Gaussian RBF kernel
 *   AlibiDetectKSDriftMetric       drift_ks.c    mean per-dimension Kolmogorov-Smirnov D
 *   AlibiDetectCVMDriftMetric      drift_cvm.c   mean per-dimension Cramer-von Mises T
 *   EvidentlyHellingerDistanceDriftMetric  drift_hellinger.c  mean per-dimension Hellinger
 *   EvidentlySimpleDistanceDriftMetric     drift_distance.c   distance of the mean vectors
 * Each metric has a decision criterion (criterion.h) that turns its
 * distance into a decision, as in the original (which overwrites
 * alibi-detect's own hypothesis-test decision with it). The per-dimension
 * tests also report alibi-detect's corrected test decision (Bonferroni or
 * FDR over the dimensions) and the mean p-value; MMD reports a permutation
 * p-value when num_permutations is set, and then, without a
 * decision_criterion, the test decides (p-value < p_val).
 * This module neither gets the vectors (drift.c) nor keeps windows. */
#ifndef MH_DRIFT_METRIC_H
#define MH_DRIFT_METRIC_H

#include <stdint.h>

#include "config/cfgtree.h"
#include "trigger/criterion.h"

typedef struct {
  double distance;   /* what the criterion sees */
  double p_val;      /* mean p-value / permutation p-value; NaN when not computed */
  int test_drift;    /* the hypothesis test's own decision; -1 when none */
  double sigma;      /* MMD: kernel bandwidth; NaN for the others */
} DriftMetricResult;

typedef struct DriftMetric DriftMetric;

typedef struct {
  const char *id; /* metrics.NAME.id in the YAML */
  /* Read the metric's own fields (cfg is the metric's map); the common ones
   * (id, decision_criterion, p_val, device, ...) are read by
   * drift_metric_create. allowed[] lists this metric's own keys. */
  int (*create)(const CfgRef *cfg, DriftMetric *m);
  const char *const *keys; /* the metric's own keys, NULL terminated */
} DriftMetricType;

struct DriftMetric {
  const DriftMetricType *type;
  char name[64];          /* its key under `metrics` */
  Criterion criterion;    /* decision_criterion */
  int has_criterion;      /* 0: the hypothesis test decides (MMD with num_permutations) */
  double p_val;           /* significance level of the hypothesis tests (0.05) */
  int correction_fdr;     /* KS, CvM: 1 = fdr, 0 = bonferroni */
  int alternative;        /* KS: 0 two-sided, 1 less, 2 greater */
  int ks_method;          /* KS p-values: 0 asymp, 1 exact, 2 auto */
  int64_t num_permutations; /* MMD: 0 = no permutation test */
  int sigma_from_ref;     /* MMD: configure_kernel_from_x_ref */
  int distance_kind;      /* simple distance: 0 euclidean, 1 cosine, 2 cityblock, 3 chebyshev */
  /* x [nx * dim] reference, y [ny * dim] current (row-major); seed for any
   * randomness (permutations). */
  int (*compute)(const DriftMetric *m, const float *x, int64_t nx, const float *y, int64_t ny,
                 int64_t dim, uint64_t seed, DriftMetricResult *out);
};

/* Create metrics.NAME (cfg is its map). Errors name file:line. */
int drift_metric_create(const char *name, const CfgRef *cfg, DriftMetric *m);
void drift_metric_free(DriftMetric *m);

/* ---- the computations, for the metric files and tests -------------------------- */

/* Unbiased MMD^2 with the Gaussian kernel k(a,b) = exp(-|a-b|^2 / (2 sigma^2))
 * (alibi-detect's estimator: mean of k over distinct reference pairs + over
 * distinct current pairs - 2 x mean over cross pairs). sigma: the median
 * heuristic of alibi-detect's GaussianRBF, sigma^2 = median/2 of the
 * squared distances between distinct reference points (sigma_from_ref) or
 * between reference and current points (otherwise; when both windows are
 * the same points alibi counts them as reference pairs, and so do we); the
 * median is the lower one. permutations > 0 adds the permutation test: p_val = share of
 * permuted MMD^2 >= the observed one, thr = the permuted value at rank
 * int(level * permutations) from the top. */
typedef struct {
  double mmd2, sigma, p_val, threshold;
} MmdResult;
int drift_mmd2(const float *x, int64_t nx, const float *y, int64_t ny, int64_t dim,
               int sigma_from_ref, int64_t permutations, double level, uint64_t seed,
               MmdResult *out);

/* Two-sample Kolmogorov-Smirnov on sorted a[n], b[m]: D (alternative 0:
 * two-sided, 1: less, 2: greater, as scipy.stats.ks_2samp) and its
 * p-value as ks_2samp(mode="asymp") computes it. */
double drift_ks_2samp(const double *a, int64_t n, const double *b, int64_t m, int alternative,
                      double *p);
/* The exact p-value P(D >= d) of the two-sample statistic (alternative as
 * above) for samples of n and m distinct values (scipy's method "exact";
 * O(n m) unless n = m; NaN when out of memory). */
double drift_ks_exact_p(int64_t n, int64_t m, double d, int alternative);
/* P(D_n >= x) of the two-sided one-sample Kolmogorov-Smirnov statistic for
 * n values (scipy.stats.kstwo.sf; drift_kstwo.c). */
double drift_kstwo_sf(double x, int64_t n);
/* Its parts, for tests: 0 P(D_n < x) by the Durbin matrix, 1 P(D_n <= x) by
 * the Pelz-Good series, 2 the one-sided P(D_n^+ >= x). */
double drift_kstwo_part(int part, int64_t n, double x);
/* P(K > lambda) of the Kolmogorov distribution (the KS limit law). */
double drift_kolmogorov_sf(double lambda);
/* Two-sample Cramer-von Mises T (scipy.stats.cramervonmises_2samp, average
 * ranks for ties) of a[n], b[m] (any order; reordered), and its p-value as
 * scipy's method "auto" (what alibi-detect uses): exact when n and m are at
 * most DRIFT_CVM_EXACT_MAX, else asymptotic. */
#define DRIFT_CVM_EXACT_MAX 20
double drift_cvm_2samp(double *a, int64_t n, double *b, int64_t m, double *p);
/* The exact p-value of U = n sum (rank of the i-th first-sample value - i)^2
 * + m sum (rank of the j-th second-sample value - j)^2: the share of the
 * C(n+m, n) rank arrangements with U >= u (NaN when out of memory). */
double drift_cvm_exact_p(int64_t n, int64_t m, double u);
/* CDF of the limit distribution of the one-sample Cramer-von Mises
 * statistic (scipy's _cdf_cvm_inf). */
double drift_cvm_limit_cdf(double x);
/* alibi-detect's decision over nd per-dimension p-values at level: 1 when
 * drift (Bonferroni: some p < level/nd; FDR: Benjamini-Hochberg). */
int drift_correct(const double *p, int64_t nd, double level, int fdr);
/* One two-sample test on a dimension's values (x[nx], y[ny], scratch the
 * test may reorder): the statistic, and its p-value in *p. */
typedef double (*DriftTwoSample)(const DriftMetric *m, double *x, int64_t nx, double *y,
                                 int64_t ny, double *p);
/* Per-dimension tests (KS, CvM): the test on every dimension (in parallel),
 * then one result: the mean statistic as the distance, the mean p-value,
 * and the corrected test decision. name is for the error message. */
int drift_per_dimension(const DriftMetric *m, const float *x, int64_t nx, const float *y,
                        int64_t ny, int64_t dim, DriftTwoSample test, const char *name,
                        DriftMetricResult *out);
/* Column j of a row-major [n * dim] array as doubles. */
void drift_column(const float *x, int64_t n, int64_t dim, int64_t j, double *out);

#endif

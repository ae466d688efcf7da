/* test_drift.c - drift metrics against hand-computed values, decision
 * criteria on fixed sequences, the drift windows' exact contents, and the
 * DataDriftTrigger (with a stand-in model pass) firing at the expected
 * checks whatever the chunking. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "core/rng.h"
#include "testutil.h"
#include "trigger/batched.h"
#include "trigger/criterion.h"
#include "trigger/drift_aggregation.h"
#include "trigger/drift_metric.h"
#include "trigger/drift_windows.h"
#include "trigger/trigger.h"

/* ---- MMD --------------------------------------------------------------------------------- */

static void test_mmd(void) {
  /* Reference x = (0,0), (1,0), (0,2); current y = (3,0), (3,1).
   * Squared distances among x: 1, 4, 5 -> the lower median of 3 pairs is 4,
   * so sigma^2 = 4/2 = 2 and k(a,b) = exp(-d2/4).
   * y-y: 1. x-y: (0,0): 9, 10; (1,0): 4, 5; (0,2): 13, 10.
   * MMD^2 = mean over distinct x pairs + mean over distinct y pairs
   *         - 2 * mean over x-y pairs
   *       = (e^-1/4 + e^-1 + e^-5/4) / 3 + e^-1/4
   *         - 2 * (e^-9/4 + e^-10/4 + e^-1 + e^-5/4 + e^-13/4 + e^-10/4) / 6 */
  const float x[] = {0, 0, 1, 0, 0, 2};
  const float y[] = {3, 0, 3, 1};
  double want = (exp(-0.25) + exp(-1.0) + exp(-1.25)) / 3.0 + exp(-0.25) -
                2.0 * (exp(-2.25) + exp(-2.5) + exp(-1.0) + exp(-1.25) + exp(-3.25) + exp(-2.5)) / 6.0;
  MmdResult r;
  CHECK_OK(drift_mmd2(x, 3, y, 2, 2, 1, 0, 0.05, 1, &r));
  CHECK_NEAR(r.sigma, sqrt(2.0), 1e-6);
  CHECK_NEAR(r.mmd2, want, 1e-6);
  CHECK(isnan(r.p_val));
  /* Bandwidth from the 6 cross distances 4 5 9 10 10 13: alibi takes entry
   * 6/2 - 1 = 2 of the sorted list, 9, so sigma^2 = 4.5, k = exp(-d2/9). */
  want = (exp(-1.0 / 9) + exp(-4.0 / 9) + exp(-5.0 / 9)) / 3.0 + exp(-1.0 / 9) -
         2.0 * (exp(-1.0) + exp(-10.0 / 9) + exp(-4.0 / 9) + exp(-5.0 / 9) + exp(-13.0 / 9) +
                exp(-10.0 / 9)) / 6.0;
  CHECK_OK(drift_mmd2(x, 3, y, 2, 2, 0, 0, 0.05, 1, &r));
  CHECK_NEAR(r.sigma, sqrt(4.5), 1e-6);
  CHECK_NEAR(r.mmd2, want, 1e-6);

  /* ~0 for identical windows (exactly 2 (mean kernel - 1) / n <= 0 for the
   * unbiased estimator), ~0 for two samples of one distribution, large for
   * a shift of two standard deviations; the permutation test agrees. */
  enum { N = 200, D = 8 };
  float *a = malloc(sizeof(float) * N * D), *b = malloc(sizeof(float) * N * D),
        *s = malloc(sizeof(float) * N * D);
  Rng rng;
  rng_seed(&rng, 7);
  for (int i = 0; i < N * D; i++) {
    a[i] = (float)rng_normal(&rng);
    b[i] = (float)rng_normal(&rng);
    s[i] = (float)rng_normal(&rng) + (i % D == 0 ? 2.0f : 0.0f);
  }
  CHECK_OK(drift_mmd2(a, N, a, N, D, 1, 0, 0.05, 1, &r));
  CHECK(r.mmd2 <= 0.0 && r.mmd2 > -2.0 / N);
  CHECK_OK(drift_mmd2(a, N, b, N, D, 1, 50, 0.05, 3, &r));
  CHECK(fabs(r.mmd2) < 0.01);
  CHECK(r.p_val > 0.05);
  double same = r.mmd2;
  CHECK_OK(drift_mmd2(a, N, s, N, D, 1, 50, 0.05, 3, &r));
  CHECK(r.mmd2 > 0.1 && r.mmd2 > 20 * fabs(same));
  CHECK_NEAR(r.p_val, 0.0, 0.0);
  CHECK(r.threshold < 0.05); /* the permuted values stay near 0 */
  /* The permutation test's observed value is the plain one. */
  MmdResult plain;
  CHECK_OK(drift_mmd2(a, N, s, N, D, 1, 0, 0.05, 3, &plain));
  CHECK_NEAR(plain.mmd2, r.mmd2, 1e-9);
  CHECK(drift_mmd2(a, 1, s, N, D, 1, 0, 0.05, 3, &r) == MH_ERR);
  free(a);
  free(b);
  free(s);
}

/* ---- KS, CvM, corrections, Hellinger, simple distances ----------------------------- */

static void test_tests(void) {
  /* KS: a = 1 2 3 4, b = 2.5 5 6. F_a - F_b after each value:
   * 1: 1/4, 2: 2/4, 2.5: 2/4-1/3, 3: 3/4-1/3, 4: 1-1/3, 5: 1-2/3, 6: 0.
   * D = max = 2/3 (two-sided and "greater"); "less" (max of F_b - F_a) = 0. */
  const double a[] = {1, 2, 3, 4}, b[] = {2.5, 5, 6};
  double p;
  CHECK_NEAR(drift_ks_2samp(a, 4, b, 3, 0, &p), 2.0 / 3.0, 1e-12);
  CHECK_NEAR(drift_ks_2samp(a, 4, b, 3, 2, &p), 2.0 / 3.0, 1e-12);
  CHECK_NEAR(drift_ks_2samp(a, 4, b, 3, 1, &p), 0.0, 1e-12);
  CHECK_NEAR(p, 1.0, 1e-12); /* one-sided, D = 0: exp(0) */
  /* Ties: a = 1 2 2 3, b = 2 2 4: after 1: 1/4; after 2: 3/4 - 2/3; after 3:
   * 1 - 2/3; after 4: 0 -> D = 1/3. */
  const double ta[] = {1, 2, 2, 3}, tb[] = {2, 2, 4};
  CHECK_NEAR(drift_ks_2samp(ta, 4, tb, 3, 0, &p), 1.0 / 3.0, 1e-12);
  /* The Kolmogorov law: P(K > 1) = 0.2699996717, P(K > 0.5) = 0.9639452437,
   * P(K > 1.5) = 0.0222179626, and the 5% point 1.3581. */
  CHECK_NEAR(drift_kolmogorov_sf(1.0), 0.2699996717, 1e-9);
  CHECK_NEAR(drift_kolmogorov_sf(0.5), 0.9639452437, 1e-9);
  CHECK_NEAR(drift_kolmogorov_sf(1.5), 0.0222179626, 1e-9);
  CHECK_NEAR(drift_kolmogorov_sf(1.3581), 0.05, 1e-4);
  /* The finite-n distribution of the one-sample D_n (scipy's kstwo):
   * Marsaglia, Tsang and Wang's example P(D_10 < 0.274) =
   * 0.6284796154565043; Miller's (1956) two-sided critical values: 5% at
   * 0.56328 (n = 5), 0.40925 (10), 0.29408 (20), 0.26404 (25), 0.21012
   * (40); 1% at 0.48893 (10), 0.35241 (20) (five digits); the limits of
   * each formula: x <= 1/(2n) (1), n x <= 1 (1 - n!/n^n (2nx - 1)^n), x >=
   * 1/2 (2 x the one-sided Smirnov probability). */
  CHECK_NEAR(drift_kstwo_sf(0.274, 10), 1.0 - 0.6284796154565043, 1e-14);
  const double crit[][3] = {{5, 0.56328, 0.05},  {10, 0.40925, 0.05}, {20, 0.29408, 0.05},
                            {25, 0.26404, 0.05}, {40, 0.21012, 0.05}, {10, 0.48893, 0.01},
                            {20, 0.35241, 0.01}};
  for (int i = 0; i < 7; i++)
    CHECK_NEAR(drift_kstwo_sf(crit[i][1], (int64_t)crit[i][0]), crit[i][2], 2e-5);
  CHECK_NEAR(drift_kstwo_sf(0.04, 10), 1.0, 0);
  CHECK_NEAR(drift_kstwo_sf(0.08, 10), 1.0 - 3628800.0 / 1e10 * pow(0.6, 10), 1e-15);
  CHECK_NEAR(drift_kstwo_sf(0.6, 10), 2.0 * drift_kstwo_part(2, 10, 0.6), 1e-15);
  /* One-sided Smirnov, n = 2: D+ = max(1/2 - U_(1), 1 - U_(2)) >= 0.6 iff
   * U_(2) <= 0.4: 0.16 (the sum's only term, j = 0: 0.6 x 0.4^2 / 0.6);
   * x = 0.3: U_(2) <= 0.7 or U_(1) <= 0.2 = 0.49 + 2 (0.2)(1 - 0.7) = 0.61
   * (the term j = 1: 0.3 x 2 x 0.2 x (0.8)^0 = 0.12, and 0.3 x 0.49 / 0.3). */
  CHECK_NEAR(drift_kstwo_part(2, 2, 0.6), 0.16, 1e-15);
  CHECK_NEAR(drift_kstwo_part(2, 2, 0.3), 0.61, 1e-15);
  /* Beyond n = 140 the Pelz-Good series takes over from the exact Durbin
   * matrix where n x^1.5 > 1.4; they agree within 2e-6 at n = 200 and 1e-7
   * at n = 1000 near the switch (n x^1.5 = 1.4 x 0.6 .. 1.6). */
  for (double f = 0.6; f < 1.7; f += 0.2) {
    double x200 = f * pow(1.4 / 200, 2.0 / 3.0), x1000 = f * pow(1.4 / 1000, 2.0 / 3.0);
    CHECK_NEAR(drift_kstwo_part(0, 200, x200), drift_kstwo_part(1, 200, x200), 2e-6);
    CHECK_NEAR(drift_kstwo_part(0, 1000, x1000), drift_kstwo_part(1, 1000, x1000), 1e-7);
  }
  /* Two-sided p of D = 0.2 for n = m = 50: the effective size 25, P(D_25 >=
   * 0.2) = 0.236320656445 (the Durbin matrix). */
  double big1[50], big2[50];
  for (int i = 0; i < 50; i++) {
    big1[i] = i;
    big2[i] = i < 40 ? i + 10 : 100 + i; /* F_1 - F_2 peaks at 10/50 */
  }
  CHECK_NEAR(drift_ks_2samp(big1, 50, big2, 50, 0, &p), 0.2, 1e-12);
  CHECK_NEAR(p, 0.236320656445, 1e-11);
  CHECK_NEAR(p, drift_kstwo_sf(0.2, 25), 0);

  /* CvM: a = 1 2 3, b = 4 5: ranks 1 2 3 | 4 5;
   * U = 3 * 0 + 2 * ((4-1)^2 + (5-2)^2) = 36, T = U / (k N) - (4k - 1) / (6N)
   * with k = 6, N = 5: 36/30 - 23/30 = 13/30. */
  double ca[] = {3, 1, 2}, cb[] = {5, 4};
  CHECK_NEAR(drift_cvm_2samp(ca, 3, cb, 2, &p), 13.0 / 30.0, 1e-12);
  /* Both samples have at most 20 values: the exact p-value (scipy's
   * "auto", which alibi-detect uses). Of the C(5, 3) = 10 splits of the
   * ranks, U >= 36 for 1 2 3 | 4 5 and 3 4 5 | 1 2 only: p = 0.2. */
  CHECK_NEAR(p, 0.2, 1e-15);
  /* Ties get the average rank: a = 1 2, b = 2 3 -> ranks 1 2.5 | 2.5 4;
   * U = 2 * (0 + 0.25) + 2 * (2.25 + 4) = 13; k = 4, N = 4: 13/16 - 15/24. */
  double da[] = {1, 2}, db[] = {2, 3};
  CHECK_NEAR(drift_cvm_2samp(da, 2, db, 2, &p), 13.0 / 16.0 - 15.0 / 24.0, 1e-12);
  /* U of the 6 splits of ranks 1-4: 1 2|3 4 and 3 4|1 2 give 2 (4 + 4) =
   * 16; 1 3|2 4 gives 2 x 1 + 2 x 5 = 12, and so do the other three. U =
   * 13 is reached by the first two: p = 2/6. */
  CHECK_NEAR(p, 1.0 / 3.0, 1e-15);
  CHECK_NEAR(drift_cvm_exact_p(2, 2, 16), 1.0 / 3.0, 1e-15);
  CHECK_NEAR(drift_cvm_exact_p(2, 2, 12.5), 1.0 / 3.0, 1e-15);
  CHECK_NEAR(drift_cvm_exact_p(2, 2, 12), 1.0, 1e-15);
  CHECK_NEAR(drift_cvm_exact_p(2, 2, 16.5), 0.0, 0);
  CHECK_NEAR(drift_cvm_exact_p(2, 2, 0), 1.0, 0);
  /* 21 values: asymptotic (the exact share of C(41, 20) splits is not
   * computed). */
  double big_a[21], big_b[20];
  for (int i = 0; i < 21; i++) big_a[i] = i;
  for (int i = 0; i < 20; i++) big_b[i] = i + 0.5;
  drift_cvm_2samp(big_a, 21, big_b, 20, &p);
  CHECK(p > 0.99); /* interleaved: no evidence */

  /* Exact two-sample KS p-values (scipy's "exact"; hand-counted or by
   * exact path counting in integers). a = 1 2 3 4, b = 2.5 5 6, D = 2/3:
   * of the C(7, 4) = 35 orders, 14 reach |F_a - F_b| >= 2/3 (p = 0.4) and
   * 7 reach F_a - F_b >= 2/3 (p = 0.2). */
  CHECK_NEAR(drift_ks_exact_p(4, 3, 2.0 / 3.0, 0), 0.4, 1e-15);
  CHECK_NEAR(drift_ks_exact_p(4, 3, 2.0 / 3.0, 2), 0.2, 1e-15);
  CHECK_NEAR(drift_ks_exact_p(4, 3, 0.0, 1), 1.0, 0);
  /* n = m = 50, D = 0.2: 2 sum_j (-1)^(j+1) C(100, 50 - 10j) / C(100, 50)
   * = 0.2719135601522248 (scipy gives the same); one-sided C(100, 40) /
   * C(100, 50) = 0.1362479032043704. */
  CHECK_NEAR(drift_ks_exact_p(50, 50, 0.2, 0), 0.2719135601522248, 1e-13);
  CHECK_NEAR(drift_ks_exact_p(50, 50, 0.2, 2), 0.1362479032043704, 1e-13);
  CHECK_NEAR(drift_ks_exact_p(50, 50, 0.2, 1), 0.1362479032043704, 1e-13);
  /* Unequal sizes through the lattice walk: n = 30, m = 20, D = 0.3
   * (18 in units of 1/60); n = 200, m = 150, D = 0.15. */
  CHECK_NEAR(drift_ks_exact_p(30, 20, 0.3, 0), 0.20235672077103803, 1e-13);
  CHECK_NEAR(drift_ks_exact_p(30, 20, 0.3, 1), 0.10124448867206595, 1e-13);
  CHECK_NEAR(drift_ks_exact_p(30, 20, 0.3, 2), 0.10124448867206595, 1e-13);
  CHECK_NEAR(drift_ks_exact_p(200, 150, 0.15, 0), 0.038552148251302945, 1e-13);
  /* The limit law of the one-sample statistic: upper 10%, 5%, 1% points
   * 0.34730, 0.46136, 0.74346 (Anderson and Darling 1952). */
  CHECK_NEAR(drift_cvm_limit_cdf(0.34730), 0.90, 1e-4);
  CHECK_NEAR(drift_cvm_limit_cdf(0.46136), 0.95, 1e-4);
  CHECK_NEAR(drift_cvm_limit_cdf(0.74346), 0.99, 1e-4);

  /* alibi-detect's corrections at level 0.05 over 3 dimensions. */
  const double p1[] = {0.012, 0.5, 0.9}, p2[] = {0.02, 0.03, 0.04}, p3[] = {0.02, 0.04, 0.2};
  CHECK_EQ_INT(drift_correct(p1, 3, 0.05, 0), 1); /* 0.012 < 0.05/3 */
  CHECK_EQ_INT(drift_correct(p2, 3, 0.05, 0), 0);
  CHECK_EQ_INT(drift_correct(p2, 3, 0.05, 1), 1); /* BH: 0.03 < 0.05 * 2/3 */
  CHECK_EQ_INT(drift_correct(p3, 3, 0.05, 1), 0);

  /* Hellinger and simple distances through the metric plug-ins. */
  CfgDoc doc;
  CHECK_OK(cfg_load_string("m.yaml",
                           "h: {id: EvidentlyHellingerDistanceDriftMetric, decision_criterion: "
                           "{id: ThresholdDecisionCriterion, threshold: 0.1}}\n"
                           "e: {id: EvidentlySimpleDistanceDriftMetric, decision_criterion: "
                           "{id: ThresholdDecisionCriterion, threshold: 0.1}}\n"
                           "c: {id: EvidentlySimpleDistanceDriftMetric, distance_metric: cityblock,"
                           " decision_criterion: {id: ThresholdDecisionCriterion, threshold: 1}}\n"
                           "k: {id: EvidentlySimpleDistanceDriftMetric, distance_metric: cosine,"
                           " decision_criterion: {id: ThresholdDecisionCriterion, threshold: 1}}\n"
                           "ks: {id: AlibiDetectKSDriftMetric, method: exact, decision_criterion: "
                           "{id: ThresholdDecisionCriterion, threshold: 0.5}}\n"
                           "ka: {id: AlibiDetectKSDriftMetric, decision_criterion: "
                           "{id: ThresholdDecisionCriterion, threshold: 0.5}}\n"
                           "cv: {id: AlibiDetectCVMDriftMetric, decision_criterion: "
                           "{id: ThresholdDecisionCriterion, threshold: 0.5}}\n",
                           &doc));
  CfgRef root = cfg_root(&doc), at;
  DriftMetric h, e, c, k;
  cfg_child(&root, "h", &at);
  CHECK_OK(drift_metric_create("h", &at, &h));
  cfg_child(&root, "e", &at);
  CHECK_OK(drift_metric_create("e", &at, &e));
  cfg_child(&root, "c", &at);
  CHECK_OK(drift_metric_create("c", &at, &c));
  cfg_child(&root, "k", &at);
  CHECK_OK(drift_metric_create("k", &at, &k));
  /* One dimension, 8 values -> Sturges: ceil(log2 8 + 1) = 4 bins over
   * [0, 1]: a = 0 0 1 1 -> shares 1/2 0 0 1/2; b = 0 1 1 1 -> 1/4 0 0 3/4. */
  const float ha[] = {0, 0, 1, 1}, hb[] = {0, 1, 1, 1};
  DriftMetricResult r;
  CHECK_OK(h.compute(&h, ha, 4, hb, 4, 1, 0, &r));
  double hw = sqrt(pow(sqrt(0.5) - sqrt(0.25), 2) + pow(sqrt(0.5) - sqrt(0.75), 2)) / sqrt(2.0);
  CHECK_NEAR(r.distance, hw, 1e-12);
  CHECK_OK(h.compute(&h, ha, 4, ha, 4, 1, 0, &r));
  CHECK_NEAR(r.distance, 0.0, 1e-12);
  const float hc[] = {5, 5, 6, 6};
  CHECK_OK(h.compute(&h, ha, 4, hc, 4, 1, 0, &r));
  CHECK_NEAR(r.distance, 1.0, 1e-12); /* disjoint */
  /* Means (0,0) and (3,4): euclidean 5, cityblock 7; (1,0) vs (0,1): cosine 1. */
  const float m1[] = {-1, 1, 1, -1}, m2[] = {3, 4, 3, 4}, u[] = {1, 0}, v[] = {0, 1};
  CHECK_OK(e.compute(&e, m1, 2, m2, 2, 2, 0, &r));
  CHECK_NEAR(r.distance, 5.0, 1e-12);
  CHECK_OK(c.compute(&c, m1, 2, m2, 2, 2, 0, &r));
  CHECK_NEAR(r.distance, 7.0, 1e-12);
  CHECK_OK(k.compute(&k, u, 1, v, 1, 2, 0, &r));
  CHECK_NEAR(r.distance, 1.0, 1e-12);
  /* KS and CvM through the plug-ins: method exact gives the exact p-value
   * (0.4, above), the default the asymptotic one; CvM's is exact (0.2). */
  DriftMetric ks, ka, cv;
  cfg_child(&root, "ks", &at);
  CHECK_OK(drift_metric_create("ks", &at, &ks));
  cfg_child(&root, "ka", &at);
  CHECK_OK(drift_metric_create("ka", &at, &ka));
  cfg_child(&root, "cv", &at);
  CHECK_OK(drift_metric_create("cv", &at, &cv));
  const float ka_[] = {1, 2, 3, 4}, kb_[] = {2.5f, 5, 6}, ca_[] = {3, 1, 2}, cb_[] = {5, 4};
  CHECK_OK(ks.compute(&ks, ka_, 4, kb_, 3, 1, 0, &r));
  CHECK_NEAR(r.distance, 2.0 / 3.0, 1e-12);
  CHECK_NEAR(r.p_val, 0.4, 1e-12);
  double asymp;
  drift_ks_2samp((const double[]){1, 2, 3, 4}, 4, (const double[]){2.5, 5, 6}, 3, 0, &asymp);
  CHECK_OK(ka.compute(&ka, ka_, 4, kb_, 3, 1, 0, &r));
  CHECK_NEAR(r.p_val, asymp, 1e-12);
  CHECK(fabs(asymp - 0.4) > 0.01);
  CHECK_OK(cv.compute(&cv, ca_, 3, cb_, 2, 1, 0, &r));
  CHECK_NEAR(r.distance, 13.0 / 30.0, 1e-12);
  CHECK_NEAR(r.p_val, 0.2, 1e-12);
  drift_metric_free(&ks);
  drift_metric_free(&ka);
  drift_metric_free(&cv);
  drift_metric_free(&h);
  drift_metric_free(&e);
  drift_metric_free(&c);
  drift_metric_free(&k);
  cfg_doc_free(&doc);
}

/* ---- decision criteria --------------------------------------------------------------- */

/* Decisions of a criterion (YAML flow text) on values[n]. */
static void expect_decisions(const char *yaml, int perf, int lower, const double *values,
                             const int *want, const double *thr, int n) {
  CfgDoc doc;
  CHECK_OK(cfg_load_string("c.yaml", yaml, &doc));
  CfgRef root = cfg_root(&doc);
  Criterion c;
  CHECK_OK(criterion_create(&root, perf, lower, &c));
  for (int i = 0; i < n; i++) {
    int got = criterion_decide(&c, values[i]);
    if (got != want[i]) fprintf(stderr, "%s: value %d (%g)\n", yaml, i, values[i]);
    CHECK_EQ_INT(got, want[i]);
    if (thr && isnan(thr[i])) CHECK(isnan(c.last_threshold));
    else if (thr) CHECK_NEAR(c.last_threshold, thr[i], 1e-12);
  }
  criterion_free(&c);
  cfg_doc_free(&doc);
}

static void test_criteria(void) {
  const double s1[] = {0.1, 0.5, 0.7, 0.2};
  const int w1[] = {0, 1, 1, 0};
  expect_decisions("{id: ThresholdDecisionCriterion, threshold: 0.5}", 0, 0, s1, w1, NULL, 4);
  /* Quantile 0.1 over the last 3 values, compared before the value enters:
   * 1.0 first -> fire; 0.5 vs q90([1]) = 1 -> no; 2.0 vs q90([1, .5]) = .95
   * -> fire; 1.5 vs q90([.5 1 2]) = 1.8 -> no; 1.9 vs q90([.5 2 1.5]) = 1.9
   * -> no (strict); 2.0 vs q90([2 1.5 1.9]) = 1.98 -> fire. */
  const double s2[] = {1.0, 0.5, 2.0, 1.5, 1.9, 2.0};
  const int w2[] = {1, 0, 1, 0, 0, 1};
  const double t2[] = {NAN, 1.0, 0.95, 1.8, 1.9, 1.98};
  expect_decisions("{id: DynamicQuantileThresholdCriterion, window_size: 3, quantile: 0.1}", 0, 0,
                   s2, w2, t2, 6);
  /* Rolling average of the last 2, relative deviation 0.5: 1 first -> fire;
   * 1.25 vs avg 1 (needs +0.5) -> no; 1.75 vs 1.125 (+0.5625) -> fire; 2.25
   * vs 1.5 (+0.75, inclusive) -> fire; 2.5 vs 2 (+1) -> no. Absolute 0.5:
   * the last one fires (2.5 - 2 >= 0.5). */
  const double s3[] = {1.0, 1.25, 1.75, 2.25, 2.5};
  const int w3[] = {1, 0, 1, 1, 0}, w4[] = {1, 0, 1, 1, 1};
  const double t3[] = {NAN, 1.5, 1.6875, 2.25, 3.0};
  expect_decisions("{id: DynamicRollingAverageThresholdCriterion, window_size: 2, deviation: 0.5}",
                   0, 0, s3, w3, t3, 5);
  expect_decisions("{id: DynamicRollingAverageThresholdCriterion, window_size: 2, deviation: 0.5,"
                   " absolute: true}", 0, 0, s3, w4, NULL, 5);
  /* Performance scores trigger when low. */
  const double s5[] = {0.95, 0.9, 0.85};
  const int w5[] = {0, 1, 1};
  expect_decisions("{id: StaticPerformanceThresholdCriterion, metric: Accuracy, "
                   "metric_threshold: 0.9}", 1, 1, s5, w5, NULL, 3);
  /* Median of the previous ones (quantile 0.5, lower): 0.9 first; 0.8 < 0.9
   * -> fire; 0.875 vs median(.9, .8) = .85 -> no. */
  const double s6[] = {0.9, 0.8, 0.875};
  const int w6[] = {1, 1, 0};
  expect_decisions("{id: DynamicQuantilePerformanceThresholdCriterion, metric: Accuracy, "
                   "window_size: 3, quantile: 0.5}", 1, 1, s6, w6, NULL, 3);

  /* Aggregation: MajorityVote needs more than half, AtLeastN n. */
  DriftAggregation ag = {0};
  const int v1[] = {1, 0}, v2[] = {1, 1, 0};
  CHECK_EQ_INT(drift_aggregate(&ag, v1, 2), 0);
  CHECK_EQ_INT(drift_aggregate(&ag, v2, 3), 1);
  ag.at_least = 1;
  CHECK_EQ_INT(drift_aggregate(&ag, v1, 2), 1);
  ag.at_least = 3;
  CHECK_EQ_INT(drift_aggregate(&ag, v2, 3), 0);
}

/* ---- windows ----------------------------------------------------------------------------- */

static void window_from(const char *yaml, DriftWindows *w) {
  CfgDoc doc;
  CHECK_OK(cfg_load_string("w.yaml", yaml, &doc));
  CfgRef root = cfg_root(&doc);
  CHECK_OK(drift_windows_init(&root, w));
  cfg_doc_free(&doc);
}

/* "k1 k2 ..." of a queue. */
static const char *keys_of(const KeyTsQueue *q) {
  static char buf[512];
  buf[0] = 0;
  for (int64_t i = 0; i < q->len; i++)
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%lld", i ? " " : "",
             (long long)kq_key(q, i));
  return buf;
}

static void add(DriftWindows *w, int64_t from, int64_t to, int64_t step) {
  for (int64_t k = from; k <= to; k += step) CHECK_OK(drift_windows_add(w, &k, &k, 1));
}

static void test_windows(void) {
  DriftWindows w;
  /* Amount 4/2 without overlap: current keeps 2, the reservoir the 2 before. */
  window_from("{id: AmountWindowingStrategy, amount_ref: 4, amount_cur: 2}", &w);
  add(&w, 0, 2, 1);
  CHECK_STR(keys_of(&w.current), "1 2");
  CHECK_STR(keys_of(&w.reservoir), "0");
  CHECK_OK(drift_windows_on_trigger(&w));
  CHECK_STR(keys_of(&w.reference), "0 1 2");
  CHECK_STR(keys_of(&w.current), "");
  add(&w, 3, 7, 1);
  CHECK_STR(keys_of(&w.current), "6 7");
  CHECK_STR(keys_of(&w.reservoir), "4 5");
  CHECK_OK(drift_windows_on_trigger(&w));
  CHECK_STR(keys_of(&w.reference), "4 5 6 7");
  drift_windows_free(&w);
  /* Amount 3/2 with overlap: current slides, a trigger moves the new samples. */
  window_from("{id: AmountWindowingStrategy, amount_ref: 3, amount_cur: 2, allow_overlap: true}", &w);
  add(&w, 0, 2, 1);
  CHECK_OK(drift_windows_on_trigger(&w));
  CHECK_STR(keys_of(&w.reference), "0 1 2");
  CHECK_STR(keys_of(&w.current), "1 2");
  add(&w, 3, 3, 1);
  CHECK_STR(keys_of(&w.current), "2 3");
  CHECK_OK(drift_windows_on_trigger(&w));
  CHECK_STR(keys_of(&w.reference), "1 2 3");
  drift_windows_free(&w);
  /* Time 10 s / 5 s (keys = timestamps). */
  window_from("{id: TimeWindowingStrategy, limit_ref: 10s, limit_cur: 5s}", &w);
  add(&w, 0, 8, 2);
  CHECK_STR(keys_of(&w.current), "4 6 8");
  CHECK_STR(keys_of(&w.reservoir), "0 2");
  CHECK_OK(drift_windows_on_trigger(&w));
  CHECK_STR(keys_of(&w.reference), "0 2 4 6 8");
  add(&w, 12, 14, 2);
  add(&w, 20, 20, 1);
  CHECK_STR(keys_of(&w.current), "20");
  CHECK_STR(keys_of(&w.reservoir), "12 14");
  CHECK_OK(drift_windows_on_trigger(&w));
  CHECK_STR(keys_of(&w.reference), "12 14 20"); /* older than 20 - 10 dropped */
  drift_windows_free(&w);
  window_from("{id: TimeWindowingStrategy, limit_ref: 10s, limit_cur: 5s, allow_overlap: true}", &w);
  add(&w, 0, 8, 2);
  CHECK_STR(keys_of(&w.current), "4 6 8");
  CHECK_OK(drift_windows_on_trigger(&w));
  CHECK_STR(keys_of(&w.reference), "0 2 4 6 8");
  CHECK_STR(keys_of(&w.current), "4 6 8");
  add(&w, 12, 14, 2);
  add(&w, 20, 20, 1);
  CHECK_STR(keys_of(&w.current), "20");
  CHECK_STR(keys_of(&w.exclusive), "12 14 20");
  CHECK_OK(drift_windows_on_trigger(&w));
  CHECK_STR(keys_of(&w.reference), "12 14 20");
  drift_windows_free(&w);
}

/* ---- the trigger with a stand-in model pass ------------------------------------------ */

/* The stream: key k at time k; the "embedding" of key k is 2-D, a fixed
 * pseudo-random point around (0, 0) before key 400, around (4, 0) from 400
 * and around (4, 4) from 800 (two abrupt shifts). */
#define STREAM_N 1200
static int models = 1;
static int passes;
static int64_t pass_n[64], pass_first[64], pass_last[64];
static int64_t pass_sorted_distinct[64];
static char events[1 << 20];
static int nevents;

static double embed_value(int64_t k, int j) {
  Rng r;
  rng_seed(&r, (uint64_t)k * 2 + (uint64_t)j + 1);
  double shift = j == 0 ? (k >= 400 ? 4.0 : 0.0) : (k >= 800 ? 4.0 : 0.0);
  return shift + rng_normal(&r);
}

static int fake_pass(PluginEnv *env, const int64_t *keys, int64_t n, unsigned outputs,
                     int64_t which, PassResult *out) {
  (void)env;
  (void)which;
  memset(out, 0, sizeof *out);
  if (outputs != PASS_EMBED) return mh_errorf("unexpected outputs");
  out->n = n;
  out->D = 2;
  out->embed = malloc(sizeof(float) * (size_t)(2 * n + 1));
  int sorted = 1;
  for (int64_t i = 0; i < n; i++) {
    out->embed[2 * i] = (float)embed_value(keys[i], 0);
    out->embed[2 * i + 1] = (float)embed_value(keys[i], 1);
    if (i && keys[i] <= keys[i - 1]) sorted = 0;
  }
  if (passes < 64) {
    pass_n[passes] = n;
    pass_first[passes] = n ? keys[0] : -1;
    pass_last[passes] = n ? keys[n - 1] : -1;
    pass_sorted_distinct[passes] = sorted;
  }
  passes++;
  return MH_OK;
}

static void fake_event(PluginEnv *env, const char *json) {
  (void)env;
  size_t len = strlen(events);
  snprintf(events + len, sizeof events - len, "%s\n", json);
  nevents++;
}

/* Run a trigger over the stream in chunks of `chunk` samples (0: cut at
 * batched_next_chunk_limit, like an orchestrator that trains right after
 * each fire); global fire positions into got. */
static int run_drift(const char *yaml, int64_t chunk, I64Vec *got) {
  static int64_t keys[STREAM_N];
  static int32_t labels[STREAM_N];
  for (int64_t i = 0; i < STREAM_N; i++) keys[i] = i;
  PluginEnv env;
  memset(&env, 0, sizeof env);
  env.models_done = &models;
  env.pass = fake_pass;
  env.event = fake_event;
  passes = 0;
  nevents = 0;
  events[0] = 0;
  CfgDoc doc;
  if (cfg_load_string("drift.yaml", yaml, &doc)) return MH_ERR;
  CfgRef root = cfg_root(&doc);
  Trigger *t = NULL;
  int rc = trigger_create(&root, &env, &t);
  for (int64_t off = 0; !rc && off < STREAM_N;) {
    int64_t n = chunk ? chunk : 100; /* interval 100 in all the YAMLs below */
    if (!chunk) n = 100 - (off % 100);
    if (off + n > STREAM_N) n = STREAM_N - off;
    StreamChunk c = {keys + off, keys + off, labels + off, n};
    I64Vec f = {0};
    rc = t->inform(t, &c, &f);
    for (int64_t i = 0; !rc && i < f.len; i++) rc = i64vec_push(got, off + f.data[i]);
    i64vec_free(&f);
    off += n;
  }
  trigger_free(t);
  cfg_doc_free(&doc);
  return rc;
}

static int count_lines(const char *needle) {
  int n = 0;
  for (const char *p = events; (p = strstr(p, needle)); p++) n++;
  return n;
}

static void test_trigger(void) {
  const char *mmd =
      "id: DataDriftTrigger\n"
      "evaluation_interval_data_points: 100\n"
      "windowing_strategy: {id: AmountWindowingStrategy, amount_ref: 100, amount_cur: 100}\n"
      "metrics:\n"
      "  mmd:\n"
      "    id: AlibiDetectMmdDriftMetric\n"
      "    decision_criterion: {id: ThresholdDecisionCriterion, threshold: 0.2}\n";
  /* Checks at 99, 199, ..., 1199. The first fires (no model before it);
   * the reference is then keys 0..99, and the batches 400..499 (shift in
   * x) and 800..899 (shift in y) are the first to differ from it. */
  const int64_t want[] = {99, 499, 899};
  const int64_t chunks[] = {0, STREAM_N, 37, 1, 250};
  for (int c = 0; c < 5; c++) {
    I64Vec got = {0};
    CHECK_OK(run_drift(mmd, chunks[c], &got));
    CHECK_EQ_INT(got.len, 3);
    for (int i = 0; i < 3 && i < got.len; i++) CHECK_EQ_INT(got.data[i], want[i]);
    i64vec_free(&got);
    CHECK_EQ_INT(count_lines("\"event\":\"drift_check\""), 12);
    CHECK_EQ_INT(count_lines("\"triggered\":true"), 3);
  }
  /* The passes of the last run: at check 1, the reference (0..99, the
   * first batch) and the current window (100..199); the reference's vectors
   * are then reused until the trigger at 499 makes 400..499 the reference. */
  CHECK_EQ_INT(pass_first[0], 0);
  CHECK_EQ_INT(pass_last[0], 99);
  CHECK_EQ_INT(pass_first[1], 100);
  CHECK_EQ_INT(pass_last[1], 199);
  CHECK_EQ_INT(pass_first[2], 200); /* check 2: current only */
  CHECK_EQ_INT(pass_n[2], 100);
  CHECK_EQ_INT(pass_first[4], 400); /* check 4: drift */
  CHECK_EQ_INT(pass_first[5], 400); /* check 5: the new reference... */
  CHECK_EQ_INT(pass_last[5], 499);
  CHECK_EQ_INT(pass_first[6], 500); /* ...and the current window, emptied at the trigger */
  CHECK_EQ_INT(pass_last[6], 599);
  CHECK_EQ_INT(passes, 14); /* 11 current windows + 3 references */
  CHECK(strstr(events, "\"stream_index\":499,") != NULL);
  CHECK(strstr(events, "\"metrics\":{\"mmd\":{\"id\":\"AlibiDetectMmdDriftMetric\",\"distance\":") != NULL);
  CHECK(strstr(events, "\"threshold\":0.2,") != NULL);

  /* sample_size caps what the pass gets: 30 of each 100, distinct and in
   * stream order; the decisions stay the same on such clear shifts. */
  const char *sampled =
      "id: DataDriftTrigger\n"
      "evaluation_interval_data_points: 100\n"
      "sample_size: 30\n"
      "windowing_strategy: {id: AmountWindowingStrategy, amount_ref: 100, amount_cur: 100}\n"
      "metrics:\n"
      "  mmd: {id: AlibiDetectMmdDriftMetric, decision_criterion: {id: ThresholdDecisionCriterion, threshold: 0.2}}\n"
      "  ks: {id: AlibiDetectKSDriftMetric, decision_criterion: {id: ThresholdDecisionCriterion, threshold: 0.3}}\n"
      "aggregation_strategy: {id: AtLeastN, n: 2}\n";
  I64Vec got = {0};
  CHECK_OK(run_drift(sampled, 0, &got));
  CHECK_EQ_INT(got.len, 3);
  for (int i = 0; i < 3 && i < got.len; i++) CHECK_EQ_INT(got.data[i], want[i]);
  i64vec_free(&got);
  for (int i = 0; i < passes && i < 64; i++) {
    CHECK_EQ_INT(pass_n[i], 30);
    CHECK_EQ_INT(pass_sorted_distinct[i], 1);
  }
  CHECK_EQ_INT(count_lines("\"ks\":{\"id\":\"AlibiDetectKSDriftMetric\""), 11);

  /* Warmup: 3 checks decided by a DataAmountTrigger of 250 samples (it
   * fires inside the third batch, so the check at 299 fires), then the
   * quantile criterion, calibrated at check 2 on the 3 warmup references. */
  const char *warm =
      "id: DataDriftTrigger\n"
      "evaluation_interval_data_points: 100\n"
      "warmup_intervals: 3\n"
      "warmup_policy: {id: DataAmountTrigger, num_samples: 250}\n"
      "windowing_strategy: {id: AmountWindowingStrategy, amount_ref: 100, amount_cur: 100}\n"
      "metrics:\n"
      "  mmd:\n"
      "    id: AlibiDetectMmdDriftMetric\n"
      "    decision_criterion: {id: DynamicQuantileThresholdCriterion, window_size: 10, quantile: 0.05}\n";
  got.len = 0;
  CHECK_OK(run_drift(warm, 0, &got));
  /* Calibration values: -0.0073 twice (checks 0 and 1 kept the same
   * reference) and -0.0099; check 3 (no shift) measures -0.0067, above the
   * 95% quantile of those three, and fires - a dynamic criterion with three
   * calibration values is that noisy, in the original too. Check 4 (shift)
   * fires; the large value it adds keeps checks 5-7 quiet until the second
   * shift (0.77 > quantile 0.47 at check 8). */
  const int64_t want_warm[] = {99, 299, 399, 499, 899};
  CHECK_EQ_INT(got.len, 5);
  for (int i = 0; i < 5 && i < got.len; i++) CHECK_EQ_INT(got.data[i], want_warm[i]);
  i64vec_free(&got);
  CHECK_EQ_INT(count_lines("\"event\":\"drift_calibration\""), 3);
  CHECK_EQ_INT(count_lines("\"phase\":\"warmup\""), 2);
  CHECK_EQ_INT(count_lines("\"phase\":\"detect\""), 9);
  /* The calibration compares each warmup check's reference (the first
   * batch for checks 0 and 1, 100..199 for check 2) with the current window
   * (200..299, passed once). */
  CHECK_EQ_INT(pass_first[0], 0);
  CHECK_EQ_INT(pass_last[0], 99);
  CHECK_EQ_INT(pass_first[1], 200);
  CHECK_EQ_INT(pass_first[2], 0);
  CHECK_EQ_INT(pass_first[3], 100);
  CHECK_EQ_INT(pass_last[3], 199);

  /* A current window of 300 samples checked every 100: each check passes
   * only its 100 new samples; the rest come from the previous check. */
  const char *long_cur =
      "id: DataDriftTrigger\n"
      "evaluation_interval_data_points: 100\n"
      "windowing_strategy: {id: AmountWindowingStrategy, amount_ref: 300, amount_cur: 300}\n"
      "metrics:\n"
      "  mmd: {id: AlibiDetectMmdDriftMetric, decision_criterion: {id: ThresholdDecisionCriterion, threshold: 100}}\n";
  got.len = 0;
  CHECK_OK(run_drift(long_cur, 0, &got));
  CHECK_EQ_INT(got.len, 1); /* the first check only */
  i64vec_free(&got);
  CHECK_EQ_INT(passes, 12); /* the reference 0..99, then 100 new samples per check */
  for (int i = 0; i < passes && i < 12; i++) {
    CHECK_EQ_INT(pass_n[i], 100);
    CHECK_EQ_INT(pass_first[i], 100 * i);
  }
  CHECK(strstr(events, "\"check\":5,") && strstr(strstr(events, "\"check\":5,"),
        "\"current\":{\"samples\":300,\"used\":300"));
}

/* ---- configuration errors --------------------------------------------------------------- */

static void expect_error(const char *yaml, const char *msg) {
  CfgDoc doc;
  CHECK_OK(cfg_load_string("t.yaml", yaml, &doc));
  CfgRef root = cfg_root(&doc);
  Trigger *t = NULL;
  CHECK(trigger_create(&root, NULL, &t) == MH_ERR);
  CHECK_STR(mh_error(), msg);
  cfg_doc_free(&doc);
}

static void test_errors(void) {
  expect_error("id: DataDriftTrigger\nevaluation_interval_data_points: 10\nmetrics:\n"
               "  a: {id: AlibiDetectMmd}\n",
               "t.yaml:4: metrics.a.id: unknown drift metric \"AlibiDetectMmd\"; available: "
               "AlibiDetectMmdDriftMetric, AlibiDetectKSDriftMetric, AlibiDetectCVMDriftMetric, "
               "EvidentlyHellingerDistanceDriftMetric, EvidentlySimpleDistanceDriftMetric");
  expect_error("id: DataDriftTrigger\nevaluation_interval_data_points: 10\nmetrics:\n"
               "  a: {id: AlibiDetectMmdDriftMetric}\n",
               "t.yaml:4: metrics.a.decision_criterion: missing required field");
  expect_error("id: DataDriftTrigger\nevaluation_interval_data_points: 10\nmetrics:\n"
               "  a: {id: AlibiDetectMmdDriftMetric, decision_criterion: "
               "{id: DynamicQuantileThresholdCriterion}}\n",
               "t.yaml:1: warmup_policy: a warmup_policy is required: a metric's decision "
               "criterion needs calibration (DynamicQuantile/DynamicRollingAverage)");
  expect_error("id: DataDriftTrigger\nevaluation_interval_data_points: 10\nmetrics:\n"
               "  a: {id: AlibiDetectKSDriftMetric, correction: holm, decision_criterion: "
               "{id: ThresholdDecisionCriterion, threshold: 0.1}}\n",
               "t.yaml:4: metrics.a.correction: expected one of bonferroni, fdr, got \"holm\"");
  expect_error("id: DataDriftTrigger\nevaluation_interval_data_points: 10\nmetrics:\n"
               "  a: {id: AlibiDetectKSDriftMetric, decision_criterion: "
               "{id: ThresholdDecisionCriterion, threshold: 0.1}}\n"
               "aggregation_strategy: {id: AtLeastN, n: 2}\n",
               "t.yaml:5: aggregation_strategy.n: is 2 but there are only 1 metrics; the trigger "
               "could never fire");
  expect_error("id: DataDriftTrigger\nmetrics: {}\n",
               "t.yaml:1: evaluation_interval_data_points: missing required field");
}

int main(void) {
  test_mmd();
  test_tests();
  test_criteria();
  test_windows();
  test_trigger();
  test_errors();
  return test_finish("test_drift");
}

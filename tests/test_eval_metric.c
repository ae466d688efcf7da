/* test_eval_metric.c - metrics against hand-computed values: Accuracy
 * (top-1, top-2, ties), F1Score (macro, micro, weighted, binary with
 * pos_label), RocAuc against the Mann-Whitney formulation with ties (0.5
 * credit) on a hand example and on random data with many ties, for 2-output
 * and 1-output models; summable states split in two parts add up to the
 * whole exactly; configuration errors name file:line. */
#include <stdlib.h>

#include "core/error.h"
#include "core/rng.h"
#include "eval/metric.h"
#include "testutil.h"

static Metric *make(const char *yaml, int num_classes) {
  CfgDoc doc;
  Metric *m = NULL;
  if (cfg_load_string("m.yaml", yaml, &doc)) return NULL;
  CfgRef root = cfg_root(&doc), ref;
  cfg_child(&root, "metric", &ref);
  if (metric_create(&ref, num_classes, &m)) m = NULL;
  cfg_doc_free(&doc);
  return m;
}

static void expect_error(const char *yaml, int num_classes, const char *msg) {
  mh_error_clear();
  Metric *m = make(yaml, num_classes);
  CHECK(m == NULL);
  CHECK_STR(mh_error(), msg);
  metric_free(m);
}

static double compute(Metric *m, const float *z, const int32_t *y, int n, int K) {
  double v = -1;
  CHECK_OK(metric_compute_local(m, z, y, n, K, &v));
  return v;
}

/* One-hot logits for predictions. */
static void onehot(const int *pred, int n, int K, float *z) {
  for (int i = 0; i < n * K; i++) z[i] = 0;
  for (int i = 0; i < n; i++) z[i * K + pred[i]] = 1;
}

/* Brute-force Mann-Whitney AUC with 0.5 credit for ties. */
static double auc_brute(const double *s, const int32_t *y, int n) {
  double num = 0, P = 0, N = 0;
  for (int i = 0; i < n; i++) {
    if (y[i] == 1) P++;
    else N++;
    if (y[i] != 1) continue;
    for (int j = 0; j < n; j++)
      if (y[j] != 1) num += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
  }
  return num / (P * N);
}

int main(void) {
  /* ---- Accuracy ---- */
  Metric *acc = make("metric: {name: Accuracy}\n", 3);
  Metric *acc2 = make("metric: {name: Accuracy, topn: 2}\n", 3);
  CHECK(acc && acc2);
  const float za[] = {3, 2, 1, /* y=0: correct */ 3, 2, 1, /* y=1: 2nd */ 1, 1, 0, /* y=1: tie at top */
                      0, 1, 2 /* y=0: 3rd */};
  const int32_t ya[] = {0, 1, 1, 0};
  if (acc && acc2) {
    CHECK_STR(acc2->label, "Accuracy@2");
    CHECK_NEAR(compute(acc, za, ya, 4, 3), 2.0 / 4, 0);
    CHECK_NEAR(compute(acc2, za, ya, 4, 3), 3.0 / 4, 0);
    CHECK(isnan(compute(acc, za, ya, 0, 3)));
  }

  /* ---- F1Score (3 classes) ----
   * labels 0 0 1 1 2 2 1, predictions 0 1 1 1 0 2 1:
   *   class 0: tp 1, fp 1, fn 1 -> 2/4 = 0.5
   *   class 1: tp 3, fp 1, fn 0 -> 6/7
   *   class 2: tp 1, fp 0, fn 1 -> 2/3
   * macro = (0.5 + 6/7 + 2/3) / 3; micro = 10 / 14; weighted by support 2, 3, 2. */
  const int32_t yf[] = {0, 0, 1, 1, 2, 2, 1};
  const int pf[] = {0, 1, 1, 1, 0, 2, 1};
  float zf[7 * 3];
  onehot(pf, 7, 3, zf);
  const char *avg[] = {"macro", "micro", "weighted"};
  const double want[] = {(0.5 + 6.0 / 7 + 2.0 / 3) / 3, 10.0 / 14,
                         (0.5 * 2 + 6.0 / 7 * 3 + 2.0 / 3 * 2) / 7};
  for (int k = 0; k < 3; k++) {
    char yaml[128];
    snprintf(yaml, sizeof yaml, "metric: {name: F1Score, num_classes: 3, average: %s}\n", avg[k]);
    Metric *f = make(yaml, 3);
    CHECK(f != NULL);
    if (!f) continue;
    char label[32];
    snprintf(label, sizeof label, "F1-%s", avg[k]);
    CHECK_STR(f->label, label);
    CHECK_NEAR(compute(f, zf, yf, 7, 3), want[k], 1e-15);
    /* Two halves of the state add up to the whole, exactly. */
    double *a = calloc((size_t)f->state_len, sizeof(double));
    double *b = calloc((size_t)f->state_len, sizeof(double));
    f->update(f, a, zf, yf, 3, 3);
    f->update(f, a, zf + 9, yf + 3, 4, 3);
    f->update(f, b, zf, yf, 7, 3);
    for (int64_t i = 0; i < f->state_len; i++) CHECK(a[i] == b[i]);
    CHECK(f->result(f, a) == f->result(f, b));
    free(a);
    free(b);
    metric_free(f);
  }
  /* Default average is macro; num_classes defaults to the store's. */
  Metric *fd = make("metric: {name: F1Score}\n", 3);
  CHECK(fd && !strcmp(fd->label, "F1-macro"));
  if (fd) CHECK_NEAR(compute(fd, zf, yf, 7, 3), want[0], 1e-15);
  metric_free(fd);
  /* Binary: labels 1 1 0 0 1, predictions 1 0 0 1 1: class 1 tp 2 fp 1 fn 1
   * -> 4/6; pos_label 0: tp 1 fp 1 fn 1 -> 2/4. */
  const int32_t yb[] = {1, 1, 0, 0, 1};
  const int pb[] = {1, 0, 0, 1, 1};
  float zb[10];
  onehot(pb, 5, 2, zb);
  Metric *fb = make("metric: {name: F1Score, num_classes: 2, average: binary}\n", 2);
  Metric *fb0 = make("metric: {name: F1Score, num_classes: 2, average: binary, pos_label: 0}\n", 2);
  CHECK(fb && fb0);
  if (fb && fb0) {
    CHECK_NEAR(compute(fb, zb, yb, 5, 2), 4.0 / 6, 1e-15);
    CHECK_NEAR(compute(fb0, zb, yb, 5, 2), 2.0 / 4, 1e-15);
  }
  metric_free(fb);
  metric_free(fb0);

  /* ---- RocAuc ----
   * positives score 0.8, 0.4; negatives 0.4, 0.1: pairs 1 + 1 + 0.5 + 1 = 3.5 of 4. */
  Metric *auc = make("metric: {name: RocAuc}\n", 2);
  CHECK(auc != NULL);
  if (auc) {
    CHECK_STR(auc->label, "ROC-AUC");
    const float z2[] = {0, 0.8f, 0, 0.4f, 0, 0.4f, 0, 0.1f}; /* 2 outputs: margin z1 - z0 */
    const float z1[] = {0.8f, 0.4f, 0.4f, 0.1f};               /* 1 output: the logit */
    const int32_t y4[] = {1, 1, 0, 0};
    CHECK_NEAR(compute(auc, z2, y4, 4, 2), 0.875, 0);
    CHECK_NEAR(compute(auc, z1, y4, 4, 1), 0.875, 0);
    /* Softmax probability order = margin order: other logits with the same
     * margins order (and tie) the same way. */
    const float z2s[] = {5, 5.75f, -3, -2.5f, 1, 1.5f, 2, 2.25f}; /* margins .75 .5 .5 .25 */
    CHECK_NEAR(compute(auc, z2s, y4, 4, 2), 0.875, 1e-12);
    /* Only one class: undefined. */
    const int32_t ones[] = {1, 1, 1, 1};
    CHECK(isnan(compute(auc, z1, ones, 4, 1)));
    /* Random scores on a coarse grid (many ties) vs brute force. */
    Rng rng;
    rng_seed(&rng, 7);
    enum { N = 500 };
    float z[N];
    double s[N];
    int32_t y[N];
    for (int i = 0; i < N; i++) {
      y[i] = (int32_t)(rng_next(&rng) % 3 == 0);
      z[i] = (float)(rng_next(&rng) % 20) / 4 + (y[i] ? 0.5f : 0.0f);
      s[i] = z[i];
    }
    double got = compute(auc, z, y, N, 1), ref = auc_brute(s, y, N);
    CHECK_NEAR(got, ref, 1e-12);
    CHECK(got > 0.5 && got < 1);
  }
  metric_free(auc);

  /* ---- errors ---- */
  expect_error("metric: {name: RocAuc}\n", 3,
               "m.yaml:1: metric.name: RocAuc is for binary classification, but the evaluation "
               "store has 3 classes; use Accuracy or F1Score");
  expect_error("metric:\n  name: F1Score\n  average: binary\n", 3,
               "m.yaml:3: metric.average: binary needs 2 classes, but there are 3; use macro, micro "
               "or weighted");
  expect_error("metric:\n  name: F1Score\n  average: samples\n", 3,
               "m.yaml:3: metric.average: expected one of macro, micro, weighted, binary, got "
               "\"samples\"");
  expect_error("metric:\n  name: F1Score\n  num_classes: 4\n", 3,
               "m.yaml:3: metric.num_classes: is 4 but the evaluation store has 3 classes");
  expect_error("metric:\n  name: Accuracy\n  topn: 4\n", 3,
               "m.yaml:3: metric.topn: must be in [1, 3], got 4");
  expect_error("metric: {name: Precision}\n", 3,
               "m.yaml:1: metric.name: unknown metric \"Precision\"; available: Accuracy, F1Score, "
               "RocAuc");
  metric_free(acc);
  metric_free(acc2);
  return test_finish("test_eval_metric");
}

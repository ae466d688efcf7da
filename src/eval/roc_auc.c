/* roc_auc.c - RocAuc, the area under the ROC curve of a binary classifier
 * (label 1 = positive), computed exactly.
 *
 * Score: the softmax probability of class 1 for a 2-output model, or the
 * sigmoid of the single logit for a 1-output model. Both are monotonic in
 * the logit margin (z1 - z0, or z0), and AUC depends only on the order of
 * the scores, so the margin in double precision is kept instead: it orders
 * the samples the same way without the rounding ties that float
 * probabilities get near 0 and 1.
 *
 * Exact over ranks: a fixed-bin histogram would change the value, so this
 * is a pair metric: every rank keeps its (score, label) pairs, rank 0
 * gathers them, sorts them by (score, label) and computes the Mann-Whitney
 * statistic
 *   AUC = sum over positives p and negatives q of ([s_p > s_q] + 0.5 [s_p = s_q])
 *         / (P * N)
 * from the sorted order in O(n log n). The sort makes the result independent
 * of which rank saw which sample. NaN when there are no positives or no
 * negatives. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "eval/metric.h"

static void auc_score(const Metric *m, const float *logits, int64_t n, int K, double *scores) {
  for (int64_t i = 0; i < n; i++)
    scores[i] = K == 1 ? (double)logits[i] : (double)logits[i * K + 1] - (double)logits[i * K];
}

static int cmp_pair(const void *a, const void *b) {
  const ScorePair *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? -1 : 1;
  return (x->label > y->label) - (x->label < y->label);
}

static double auc_result(const Metric *m, ScorePair *p, int64_t n) {
  qsort(p, (size_t)n, sizeof *p, cmp_pair);
  double neg_below = 0, sum = 0, P = 0, N = 0;
  for (int64_t i = 0; i < n;) {
    int64_t j = i;
    double pos = 0, neg = 0;
    for (; j < n && p[j].score == p[i].score; j++) {
      if (p[j].label == 1) pos += 1;
      else neg += 1;
    }
    sum += pos * (neg_below + 0.5 * neg); /* ties get half credit */
    neg_below += neg;
    P += pos;
    N += neg;
    i = j;
  }
  return P > 0 && N > 0 ? sum / (P * N) : NAN;
}

static int auc_create(const CfgRef *cfg, int num_classes, Metric **out) {
  static const char *const keys[] = {"name", "evaluation_transformer_function", NULL};
  MH_TRY(cfg_check_keys(cfg, keys));
  if (num_classes != 2) {
    CfgRef at;
    cfg_child(cfg, "name", &at);
    return cfg_errorf(&at, "RocAuc is for binary classification, but the evaluation store has %d "
                           "classes; use Accuracy or F1Score", num_classes);
  }
  Metric *m = mh_calloc(1, sizeof *m);
  if (!m) return MH_ERR;
  *out = m;
  snprintf(m->label, sizeof m->label, "ROC-AUC");
  m->uses_pairs = 1;
  m->score = auc_score;
  m->result_pairs = auc_result;
  return MH_OK;
}

const MetricType metric_roc_auc = {"RocAuc", auc_create};

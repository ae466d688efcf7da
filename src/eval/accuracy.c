/* accuracy.c - Accuracy with `topn` (default 1): a sample counts as correct
 * when fewer than topn classes have a logit strictly greater than the true
 * class's logit (so a tie at the top counts as correct).
 * State: [correct, total]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "eval/metric.h"

static void acc_update(const Metric *m, double *state, const float *logits, const int32_t *labels,
                       int64_t n, int K) {
  int64_t topn = *(const int64_t *)m->impl;
  double correct = 0;
  for (int64_t i = 0; i < n; i++) {
    const float *z = logits + i * K;
    float zy = metric_score(z, K, labels[i]);
    int64_t above = 0;
    for (int k = 0; k < metric_num_scores(K); k++) above += metric_score(z, K, k) > zy;
    correct += above < topn;
  }
  state[0] += correct;
  state[1] += (double)n;
}

static double acc_result(const Metric *m, const double *state) {
  return state[1] > 0 ? state[0] / state[1] : NAN;
}

static int acc_create(const CfgRef *cfg, int num_classes, Metric **out) {
  /* num_classes: written by the original's earlier metric configs; it must
   * agree with the evaluation store */
  static const char *const keys[] = {"name", "topn", "num_classes",
                                     "evaluation_transformer_function", NULL};
  MH_TRY(cfg_check_keys(cfg, keys));
  int64_t nc = 0;
  MH_TRY(cfg_get_int(cfg, "num_classes", num_classes, 1, 1 << 20, &nc));
  if (nc != num_classes) {
    CfgRef at;
    cfg_child(cfg, "num_classes", &at);
    return cfg_errorf(&at, "is %lld but the evaluation store has %d classes", (long long)nc,
                      num_classes);
  }
  Metric *m = mh_calloc(1, sizeof *m);
  if (!m) return MH_ERR;
  *out = m;
  m->impl = mh_calloc(1, sizeof(int64_t));
  if (!m->impl) return MH_ERR;
  m->state_len = 2;
  int64_t topn = 1;
  MH_TRY(cfg_get_int(cfg, "topn", 1, 1, num_classes, &topn));
  *(int64_t *)m->impl = topn;
  if (topn == 1) snprintf(m->label, sizeof m->label, "Accuracy");
  else snprintf(m->label, sizeof m->label, "Accuracy@%lld", (long long)topn);
  m->update = acc_update;
  m->result = acc_result;
  return MH_OK;
}

const MetricType metric_accuracy = {"Accuracy", acc_create};

/* f1_score.c - F1Score, as Modyn computes it: the prediction is the arg-max
 * logit (the lowest class on ties); per class k, tp/fp/fn counts and
 * F1_k = 2 tp / (2 tp + fp + fn) (0 where the denominator is 0).
 *   average: macro    (default) mean of F1_k over all num_classes classes
 *            micro    2 sum tp / (2 sum tp + sum fp + sum fn) (= accuracy)
 *            weighted mean of F1_k weighted by class support tp + fn
 *            binary   F1 of class pos_label (default 1); needs 2 classes
 * num_classes defaults to the store's and must match it when given.
 * State: [tp[C], fp[C], fn[C]]; NaN when no samples were seen. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "eval/metric.h"

enum { F1_MACRO, F1_MICRO, F1_WEIGHTED, F1_BINARY };

typedef struct {
  int average;     /* F1_* */
  int num_classes; /* C */
  int pos_label;   /* class scored by average: binary */
} F1Impl;

static void f1_update(const Metric *m, double *state, const float *logits, const int32_t *labels,
                      int64_t n, int K) {
  const F1Impl *f = m->impl;
  const int C = f->num_classes;
  double *tp = state, *fp = state + C, *fn = state + 2 * C;
  for (int64_t i = 0; i < n; i++) {
    const float *z = logits + i * K;
    int pred = 0;
    for (int k = 1; k < metric_num_scores(K); k++)
      if (metric_score(z, K, k) > metric_score(z, K, pred)) pred = k;
    int y = labels[i];
    if (pred == y) {
      tp[y] += 1;
    } else {
      if (pred < C) fp[pred] += 1;
      fn[y] += 1;
    }
  }
}

static double f1_class(double tp, double fp, double fn) {
  double den = 2 * tp + fp + fn;
  return den > 0 ? 2 * tp / den : 0.0;
}

static double f1_result(const Metric *m, const double *state) {
  const F1Impl *f = m->impl;
  const int C = f->num_classes;
  const double *tp = state, *fp = state + C, *fn = state + 2 * C;
  double stp = 0, sfp = 0, sfn = 0;
  for (int k = 0; k < C; k++) stp += tp[k], sfp += fp[k], sfn += fn[k];
  double total = stp + sfn; /* every sample is a tp or an fn of its true class */
  if (total <= 0) return NAN;
  switch (f->average) {
  case F1_MICRO: return f1_class(stp, sfp, sfn);
  case F1_BINARY: return f1_class(tp[f->pos_label], fp[f->pos_label], fn[f->pos_label]);
  case F1_WEIGHTED: {
    double s = 0;
    for (int k = 0; k < C; k++) s += f1_class(tp[k], fp[k], fn[k]) * (tp[k] + fn[k]);
    return s / total;
  }
  default: {
    double s = 0;
    for (int k = 0; k < C; k++) s += f1_class(tp[k], fp[k], fn[k]);
    return s / C;
  }
  }
}

static int f1_create(const CfgRef *cfg, int num_classes, Metric **out) {
  static const char *const keys[] = {"name", "num_classes", "average", "pos_label",
                                     "evaluation_transformer_function", NULL};
  static const char *const averages[] = {"macro", "micro", "weighted", "binary", NULL};
  MH_TRY(cfg_check_keys(cfg, keys));
  Metric *m = mh_calloc(1, sizeof *m);
  if (!m) return MH_ERR;
  *out = m;
  F1Impl *f = mh_calloc(1, sizeof *f);
  if (!f) return MH_ERR;
  m->impl = f;
  int64_t nc, pos;
  MH_TRY(cfg_get_int(cfg, "num_classes", num_classes, 1, 1 << 20, &nc));
  if (nc != num_classes) {
    CfgRef at;
    cfg_child(cfg, "num_classes", &at);
    return cfg_errorf(&at, "is %lld but the evaluation store has %d classes", (long long)nc,
                      num_classes);
  }
  MH_TRY(cfg_get_enum(cfg, "average", averages, F1_MACRO, &f->average));
  MH_TRY(cfg_get_int(cfg, "pos_label", 1, 0, nc - 1, &pos));
  if (f->average == F1_BINARY && nc != 2) {
    CfgRef at;
    cfg_child(cfg, "average", &at);
    return cfg_errorf(&at, "binary needs 2 classes, but there are %lld; use macro, micro or "
                           "weighted", (long long)nc);
  }
  f->num_classes = (int)nc;
  f->pos_label = (int)pos;
  m->state_len = 3 * nc;
  snprintf(m->label, sizeof m->label, "F1-%s", averages[f->average]);
  m->update = f1_update;
  m->result = f1_result;
  return MH_OK;
}

const MetricType metric_f1_score = {"F1Score", f1_create};

/* metric.h - evaluation metrics (plug-ins) whose per-rank results combine
 * exactly, so a 2-rank result equals the 1-rank result bit for bit.
 *
 * Two kinds:
 *   - summable metrics (Accuracy, F1Score) keep a flat state of doubles
 *     that hold counts (exact in double up to 2^53); the states of several
 *     ranks are combined with one MPI_SUM;
 *   - pair metrics (RocAuc) need every sample: each sample gives a score,
 *     the evaluation keeps (score, label) pairs, gathers them to rank 0 and
 *     calls result_pairs, which sorts them first, so the order in which
 *     ranks contributed does not matter.
 * The state lives outside the Metric (one per evaluation cell), so one
 * Metric serves any number of (model, interval) cells. Each metric is one
 * file defining a MetricType plus one line in metric_registry.c. This
 * module does not run models (evaluation.h). */
#ifndef MH_METRIC_H
#define MH_METRIC_H

#include <stdint.h>

#include "config/cfgtree.h"

typedef struct Metric Metric;

typedef struct {
  double score;  /* per-sample score; larger = more confident in class 1 */
  int32_t label; /* true label */
  int32_t pad;   /* zero */
} ScorePair;

typedef struct {
  const char *name; /* metrics[i].name in the YAML */
  /* Validate the metric entry (including "name") and create. num_classes
   * is the evaluation store's class count. */
  int (*create)(const CfgRef *cfg, int num_classes, Metric **out);
} MetricType;

struct Metric {
  const MetricType *type;
  char label[64];    /* metric column value in eval/matrix.csv, e.g. "Accuracy@5", "F1-macro" */
  int64_t state_len; /* doubles of summable state (0 for pair metrics) */
  int uses_pairs;    /* 1: a pair metric (score + result_pairs) */
  void *impl;        /* the metric's settings */
  /* Summable metrics: add n samples (logits [n * K]) into state[state_len]. */
  void (*update)(const Metric *m, double *state, const float *logits, const int32_t *labels,
                 int64_t n, int K);
  double (*result)(const Metric *m, const double *state); /* NaN when no samples */
  /* Pair metrics: scores[n] of n samples; result over all pairs of a cell
   * (may reorder them). NaN when undefined. */
  void (*score)(const Metric *m, const float *logits, int64_t n, int K, double *scores);
  double (*result_pairs)(const Metric *m, ScorePair *pairs, int64_t n);
  void (*destroy)(Metric *m);
};

int metric_create(const CfgRef *cfg, int num_classes, Metric **out);
void metric_free(Metric *m);
/* The result on n samples on this rank alone (tests, quick checks). */
int metric_compute_local(const Metric *m, const float *logits, const int32_t *labels, int64_t n,
                         int K, double *result);

/* A model with one output (binary, trained with BCEWithLogitsLoss) scores
 * class 1 with its logit and class 0 with 0, i.e. it predicts 1 when the
 * logit is positive. These give every metric the same view of K-output
 * and 1-output models. */
static inline int metric_num_scores(int K) { return K == 1 ? 2 : K; }
static inline float metric_score(const float *z, int K, int k) {
  return K == 1 ? (k == 1 ? z[0] : 0.0f) : z[k];
}

#endif

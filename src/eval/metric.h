/* metric.h - evaluation metrics (plug-ins) with states that reduce exactly.
 *
 * A metric keeps its running state in a flat array of doubles that holds
 * counts (exact in double up to 2^53), so the state of several ranks is
 * combined with one MPI_SUM and a 2-rank result equals the 1-rank result.
 * Each metric is one file defining a MetricType plus one line in
 * metric_registry.c. */
#ifndef MH_METRIC_H
#define MH_METRIC_H

#include <stdint.h>

#include "config/cfgtree.h"

typedef struct Metric Metric;

typedef struct {
  const char *name; /* metrics[i].name in the YAML */
  /* Validate the metric entry (including "name") and create. */
  int (*create)(const CfgRef *cfg, int num_classes, Metric **out);
} MetricType;

struct Metric {
  const MetricType *type;
  char label[64];     /* column name in eval/matrix.csv, e.g. "Accuracy" or "Accuracy@5" */
  int64_t state_len;  /* doubles in state */
  double *state;      /* summable state; zeroed by metric_reset */
  void *impl;
  void (*update)(Metric *m, const float *logits, const int32_t *labels, int64_t n, int K);
  double (*result)(const Metric *m); /* NaN when no samples were seen */
  void (*destroy)(Metric *m);
};

int metric_create(const CfgRef *cfg, int num_classes, Metric **out);
void metric_reset(Metric *m);
/* Sum the state over all ranks (every rank gets the total). */
int metric_allreduce(Metric *m);
void metric_free(Metric *m);

#endif

/* evaluation.h - the `evaluation` block of a pipeline: its datasets (each a
 * store with metrics), its handlers (each an interval strategy over some
 * datasets), and the evaluation of one model on every (handler, dataset)
 * interval set, split across ranks.
 *
 * A task is one (handler, dataset) pair with its intervals. Evaluating a
 * model fills values[task][interval][metric] and counts[task][interval];
 * every rank reads its slice of each interval's rows, and metric states are
 * summed over ranks, so results are identical for any rank count. */
#ifndef MH_EVALUATION_H
#define MH_EVALUATION_H

#include <stdint.h>

#include "config/pipeline.h"
#include "data/store.h"
#include "eval/metric.h"
#include "eval/strategy.h"
#include "train/model.h"

typedef struct {
  char id[CFG_NAME];   /* dataset id (or path) as in the YAML */
  Store store;
  int64_t *rows_by_ts; /* store rows sorted by (timestamp, key) */
  int64_t batch_size;
  int nmetrics;
  Metric *metrics[CFG_MAX_METRICS];
} EvalDataset;

typedef struct {
  int handler;           /* index into cfg->evaluation.handlers */
  int dataset;           /* index into Evaluation.datasets */
  int niv;
  EvalInterval *iv;      /* [niv] */
  int64_t *row_lo, *row_hi; /* [niv]: each interval's range in rows_by_ts */
} EvalTask;

typedef struct {
  int ndatasets;
  EvalDataset datasets[CFG_MAX_EVAL_DATASETS];
  int ntasks;
  EvalTask *tasks;
  int64_t values_per_model; /* sum over tasks of niv * nmetrics */
} Evaluation;

/* Open the evaluation stores, create metrics and compute every handler's
 * intervals. num_classes must match the model. Errors name file:line. */
int evaluation_init(Evaluation *ev, const PipelineConfig *cfg, int num_classes,
                    const ModelShape *shape);
void evaluation_free(Evaluation *ev);
/* Offset of task t's block in a model's values array. */
int64_t evaluation_offset(const Evaluation *ev, int t);
/* Evaluate m everywhere. values: [values_per_model]; counts: [sum of niv]. */
int evaluation_run(Evaluation *ev, Model *m, double *values, int64_t *counts);

#endif

/* evaluation.h - the `evaluation` block of a pipeline: its datasets (each a
 * store with metrics), its handlers (each an interval strategy over some
 * datasets, with an execution time and a model choice), the evaluation of
 * models on intervals split across ranks, and the output files.
 *
 * A task is one (handler, dataset) pair with its intervals; a cell is one
 * (task, interval, model) with one value per metric of the dataset.
 * Which cells are evaluated (handler `models`):
 *   matrix  every model on every interval;
 *   active  per interval, the currently active model (composite.h);
 *   train   per interval, the currently trained model;
 * and an interval owned by one model (OffsetEvalStrategy) only gets that
 * model. `execution_time: after_training` evaluates each new model right
 * after its training on the cells it may fill (for `active` that is every
 * later interval, since the next model is not known yet; cells a later
 * model supersedes are left out of the outputs); `after_pipeline` (and
 * BetweenTwoTriggersEvalStrategy, which needs every trigger) evaluates all
 * models after the last trigger from their checkpoints (bank.h); `manual`
 * handlers are skipped by a run and evaluated only when asked for
 * (`modyn eval`: evaluation_all_after_pipeline, evaluation_pick_handlers).
 *
 * Work split: an interval's rows (in timestamp order) are cut into batches
 * of the dataset's batch_size counted from the interval start, the same for
 * any number of ranks; each batch costs rows x models to run there, and
 * ranks take contiguous runs of batches of equal cost. A rank reads each of
 * its batches once and runs every model of the interval over it. Summable
 * metric states are reduced with one MPI_SUM per task; pair metrics gather
 * to rank 0. Batches (and so logits) do not depend on the rank count, and
 * the reductions are exact, so 1 and N ranks give identical values.
 * This module does not train, pick composite models by itself
 * (composite.h) or draw figures (report/). */
#ifndef MH_EVALUATION_H
#define MH_EVALUATION_H

#include <stdint.h>

#include "core/dist.h"
#include "eval/eval_config.h"
#include "data/store.h"
#include "eval/bank.h"
#include "eval/metric.h"
#include "eval/strategy.h"
#include "train/checkpoint.h"
#include "train/model.h"

enum { EVAL_MODELS_MATRIX = 0, EVAL_MODELS_ACTIVE = 1, EVAL_MODELS_TRAIN = 2 };

typedef struct {
  char id[EVAL_NAME];   /* dataset id (or path) as in the YAML */
  Store store;
  int64_t *rows_by_ts; /* store rows sorted by (timestamp, key) */
  int64_t batch_size;
  int nmetrics;
  Metric *metrics[EVAL_MAX_METRICS];
  int64_t state_len;   /* summable state doubles of all metrics */
  int npair;           /* pair metrics among them */
} EvalDataset;

typedef struct {
  int handler;           /* index into cfg->handlers */
  int dataset;           /* index into Evaluation.datasets */
  const EvalStrategyType *strategy;
  int after_pipeline;    /* 1: evaluated once after the last trigger */
  int off;               /* 1: not evaluated now (a manual handler in a run, a handler that
                            `modyn eval --handler` did not pick): no cells, no rows */
  int models;            /* EVAL_MODELS_* */
  int niv, cap;
  EvalInterval *iv;      /* [niv] */
  int64_t *row_lo, *row_hi; /* [niv]: each interval's range in rows_by_ts */
} EvalTask;

typedef struct {
  int task, interval, model;
  int64_t num_samples;            /* evaluation samples in the interval */
  double value[EVAL_MAX_METRICS];  /* per metric of the task's dataset */
} EvalCell;

typedef struct {
  double mean_active, mean_trained; /* mean over intervals with data of the composite's value */
  double tw_active, tw_trained;     /* same, weighted by interval duration (end - start) */
  int n_active, n_trained;          /* intervals that count */
} EvalScore;

typedef struct {
  const EvaluationConfig *cfg;
  int ndatasets;
  EvalDataset datasets[EVAL_MAX_DATASETS];
  int ntasks;
  EvalTask *tasks;
  int ncells, cells_cap;
  EvalCell *cells;       /* results, identical on every rank */
} Evaluation;

/* Open the evaluation stores, create metrics and compute every fixed
 * handler's intervals (per-model strategies are validated only). The stores
 * must have num_classes classes and the model's input size. Errors name
 * file:line. */
int evaluation_init(Evaluation *ev, const EvaluationConfig *cfg, int num_classes,
                    const ModelShape *shape);
void evaluation_free(Evaluation *ev);
/* Treat every handler, manual ones included, as after_pipeline
 * (`modyn eval`). */
void evaluation_all_after_pipeline(Evaluation *ev);
/* Evaluate only the handlers named names[0..n-1] (`modyn eval --handler`);
 * the others are off. A name no handler has is an error that lists them. */
int evaluation_pick_handlers(Evaluation *ev, const char *const *names, int n);
int64_t evaluation_num_intervals(const Evaluation *ev);
/* 1 when some handler runs after the pipeline. */
int evaluation_has_after_pipeline(const Evaluation *ev);

/* Collective. meta[0..nmodels-1] describe the models so far; m holds model
 * nmodels-1, just trained. Evaluates it on the after_training handlers. */
int evaluation_after_training(Evaluation *ev, const Dist *d, Model *m, const CheckpointMeta *meta,
                              int nmodels);
/* Collective. Evaluates the after_pipeline handlers on every model of the
 * bank (m is used as scratch: its weights are overwritten). */
int evaluation_after_pipeline(Evaluation *ev, const Dist *d, Model *m, const EvalBank *bank);

/* The value of model mi's first metric on the first after_training task's
 * first interval with data that it serves (reference time after its data). */
double evaluation_next_value(const Evaluation *ev, const CheckpointMeta *meta, int nmodels, int mi);

/* Rank 0 outputs (written atomically):
 * matrix.csv    model,trigger_first_ts,trigger_last_ts,handler,dataset,interval_start,
 *               interval_end,num_samples,metric,value
 * composite.csv handler,dataset,metric,interval_start,interval_end,reference_time,num_samples,
 *               active_model,active_value,trained_model,trained_value
 * score.csv     handler,dataset,metric,model,intervals,mean,time_weighted_mean
 *               (model = active | trained; a handler with `models: active`
 *               scores no trained model, one with `train` no active model:
 *               nan over 0 intervals, as their cells are not there)
 * Tasks that are off write no rows. *first gets the score of the first
 * evaluated task's first metric. */
int evaluation_write_matrix(const Evaluation *ev, const CheckpointMeta *meta, int nmodels,
                            const char *path);
int evaluation_write_composite(const Evaluation *ev, const CheckpointMeta *meta, int nmodels,
                               const char *composite_path, const char *score_path,
                               EvalScore *first);

#endif

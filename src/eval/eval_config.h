/* eval_config.h - the `evaluation` section of a pipeline as plain values:
 * what config/ fills from the YAML and the evaluation engine
 * (evaluation.h) takes. Plug-ins (metrics, interval strategies) keep their
 * own maps as CfgRefs and validate them themselves, as models do. */
#ifndef MH_EVAL_CONFIG_H
#define MH_EVAL_CONFIG_H

#include <stdint.h>

#include "config/cfgtree.h"

#define EVAL_NAME 128
#define EVAL_PATH 1024
#define EVAL_MAX_DATASETS 8
#define EVAL_MAX_METRICS 8
#define EVAL_MAX_HANDLERS 8

typedef struct {
  char name[EVAL_NAME]; /* metrics[i].name: Accuracy | F1Score | RocAuc | ... */
  CfgRef ref;          /* the whole metric entry, for the metric plug-in */
} MetricConfig;

typedef struct {
  char dataset_id[EVAL_NAME];
  char path[EVAL_PATH]; /* resolved like data.path */
  int64_t batch_size;  /* default 256 */
  int num_metrics;
  MetricConfig metrics[EVAL_MAX_METRICS];
} EvalDatasetConfig;

typedef struct {
  char name[EVAL_NAME];           /* handlers[i].name, default "default" */
  char execution_time[EVAL_NAME]; /* after_training | after_pipeline | manual; default
                                     after_training */
  char models[EVAL_NAME];         /* matrix | active | train (YAML `training` is stored as
                                     train); default active, as in the original */
  char strategy_type[EVAL_NAME];  /* strategy.type, e.g. SlicingEvalStrategy */
  CfgRef strategy;               /* the strategy map, for the eval-strategy plug-in */
  int num_datasets;
  char datasets[EVAL_MAX_DATASETS][EVAL_NAME]; /* dataset ids; default: all */
} EvalHandlerConfig;

typedef struct {
  int enabled; /* 0 when the evaluation section is absent */
  char device[EVAL_NAME];
  int num_handlers;
  EvalHandlerConfig handlers[EVAL_MAX_HANDLERS];
  int num_datasets;
  EvalDatasetConfig datasets[EVAL_MAX_DATASETS];
} EvaluationConfig;

#endif

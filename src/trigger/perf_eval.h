/* perf_eval.h - what the triggers that judge the current model on the
 * checked batch share (PerformanceTrigger, AvoidableMisclassificationCost-
 * Trigger): the `evaluation` section (metrics, evaluated on rank 0 from a
 * model pass's logits), the other fields of the original's
 * _InternalPerformanceTriggerConfig, and the avoidable-misclassification
 * estimate of the original's NumberAvoidableMisclassificationEstimator. */
#ifndef MH_PERF_EVAL_H
#define MH_PERF_EVAL_H

#include <stdint.h>

#include "eval/metric.h"
#include "trigger/check_log.h"
#include "trigger/trigger.h"

#define PERF_EVAL_MAX 16

/* The keys of _InternalPerformanceTriggerConfig besides the batched ones. */
#define PERF_EVAL_KEYS                                                                  \
  "data_density_window_size", "performance_triggers_window_size", "evaluation", "mode", \
      "forecasting_method"

typedef struct {
  PluginEnv *env;
  char metric_text[PERF_EVAL_MAX][512]; /* each metric map as YAML flow text */
  char metric_name[PERF_EVAL_MAX][64];
  int nmetrics;
  Metric *metrics[PERF_EVAL_MAX]; /* created at the first evaluation (needs the
                                     class count) */
} PerfEval;

/* Read `evaluation` (metrics; Accuracy required) and check mode,
 * forecasting_method and the window sizes of cfg (the trigger's map). */
int perf_eval_parse(PerfEval *p, const CfgRef *cfg, PluginEnv *env);
void perf_eval_free(PerfEval *p);
/* Index of the metric named name, or -1. */
int perf_eval_metric(const PerfEval *p, const char *name);
/* Evaluate the current model on the batch (a model pass on every rank):
 * samples, misclassifications and each metric's score (scores[nmetrics]). */
int perf_eval_run(PerfEval *p, const StreamChunk *batch, int64_t *n, int64_t *wrong,
                  double *scores);
/* ,"num_samples":..,"num_misclassifications":..,"scores":{..} */
void perf_eval_log(const PerfEval *p, CheckLog *l, int64_t n, int64_t wrong, const double *scores);
/* Avoidable misclassifications of a batch: wrong - (1 - expected_accuracy)
 * x n, not below 0 unless allow_reduction (unrounded). */
double perf_avoidable_misclassifications(int64_t wrong, int64_t n, double expected_accuracy,
                                         int allow_reduction);

#endif

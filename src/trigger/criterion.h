/* criterion.h - decision criteria: turn the value a trigger measures at each
 * check (a drift metric's distance, a performance metric's score) into a
 * yes/no trigger decision.
 *
 * The same three criteria serve both triggers, under the original Modyn's
 * two sets of names:
 *   DataDriftTrigger metric's decision_criterion  PerformanceTrigger's decision_criteria
 *   ThresholdDecisionCriterion                    StaticPerformanceThresholdCriterion
 *   DynamicQuantileThresholdCriterion             DynamicQuantilePerformanceThresholdCriterion
 *   DynamicRollingAverageThresholdCriterion       DynamicRollingAveragePerformanceThresholdCriterion
 * A drift distance triggers when it is high, a performance score when it is
 * low (`lower`). The dynamic criteria compare the new value with the values
 * seen before it (a window of the last window_size values), and only then
 * add it to the window; the very first value always decides "trigger", as
 * in the original. Each criterion is one file (criterion_*.c) plus one line
 * in criterion.c's table. This module does not know where values come
 * from, nor how several decisions combine (drift_aggregation.h). */
#ifndef MH_CRITERION_H
#define MH_CRITERION_H

#include <stdint.h>

#include "config/cfgtree.h"

typedef struct Criterion Criterion;

typedef struct {
  const char *drift_id; /* id under a drift metric's decision_criterion */
  const char *perf_id;  /* id under a PerformanceTrigger's decision_criteria */
  /* Read the criterion's fields (cfg's keys are checked by the caller's
   * type, see criterion_create) into c. */
  int (*create)(const CfgRef *cfg, Criterion *c);
} CriterionType;

struct Criterion {
  const CriterionType *type;
  int lower;              /* 1: low values trigger (performance); 0: high values (drift) */
  int needs_calibration;  /* dynamic criteria: a warmup must feed them first */
  char metric[64];        /* performance criteria: the metric (e.g. "Accuracy") */
  double threshold;       /* ThresholdDecisionCriterion */
  int64_t window_size;    /* dynamic: values kept */
  double quantile;        /* DynamicQuantile */
  double deviation;       /* DynamicRollingAverage */
  int absolute;           /* DynamicRollingAverage: deviation is absolute, else relative */
  double *obs;            /* dynamic: ring of the last window_size values */
  int64_t nobs, head;     /* values in the ring; index of the oldest */
  double last_threshold;  /* the threshold of the last decision (NaN: none, e.g. the first) */
  /* 1: trigger. Updates the criterion's window. */
  int (*decide)(Criterion *c, double value);
};

/* Create from a criterion map: perf selects the PerformanceTrigger names
 * (and their `metric` field), lower the direction. Errors name
 * file:line. */
int criterion_create(const CfgRef *cfg, int perf, int lower, Criterion *c);
void criterion_free(Criterion *c);
/* Decide on value; the threshold used is left in c->last_threshold. */
int criterion_decide(Criterion *c, double value);

/* A ThresholdDecisionCriterion with this threshold, without a YAML map. */
void criterion_threshold_init(Criterion *c, double threshold, int lower);

/* For the criterion files: the window of previous values. */
int criterion_window_init(Criterion *c, int64_t window_size);
void criterion_window_push(Criterion *c, double v);
/* Copy the window's values (oldest first) into out[c->nobs]. */
void criterion_window_values(const Criterion *c, double *out);

#endif

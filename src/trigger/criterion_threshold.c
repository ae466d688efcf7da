/* criterion_threshold.c - a fixed threshold. Drift: trigger when the
 * distance is >= threshold; performance: when the score is <= it (the
 * original's StaticThresholdDecisionPolicy, both bounds inclusive). */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "trigger/criterion.h"

extern const CriterionType criterion_threshold;

static int threshold_decide(Criterion *c, double v) {
  c->last_threshold = c->threshold;
  return c->lower ? v <= c->threshold : v >= c->threshold;
}

void criterion_threshold_init(Criterion *c, double threshold, int lower) {
  memset(c, 0, sizeof *c);
  c->type = &criterion_threshold;
  c->lower = lower;
  c->threshold = threshold;
  c->last_threshold = NAN;
  c->decide = threshold_decide;
}

static int threshold_create(const CfgRef *cfg, Criterion *c) {
  static const char *const drift_keys[] = {"id", "threshold", "needs_calibration", NULL};
  static const char *const perf_keys[] = {"id", "metric", "metric_threshold", "needs_calibration",
                                          NULL};
  c->decide = threshold_decide;
  if (c->metric[0]) {
    MH_TRY(cfg_check_keys(cfg, perf_keys));
    return cfg_get_double(cfg, "metric_threshold", 0.0, -1e300, 1e300, &c->threshold);
  }
  MH_TRY(cfg_check_keys(cfg, drift_keys));
  return cfg_req_double(cfg, "threshold", -1e300, 1e300, &c->threshold);
}

const CriterionType criterion_threshold = {"ThresholdDecisionCriterion",
                                           "StaticPerformanceThresholdCriterion",
                                           threshold_create};

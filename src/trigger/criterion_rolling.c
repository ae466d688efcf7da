/* criterion_rolling.c - a dynamic threshold around the rolling average of
 * the previous window_size values: trigger when the value exceeds the
 * average by at least `deviation` (absolute) or deviation x average
 * (relative; below it for performance scores). As in the original, the
 * average is taken before the value joins the window, and the first value
 * always triggers. */
#include <math.h>

#include "core/error.h"
#include "trigger/criterion.h"

static int rolling_decide(Criterion *c, double v) {
  if (c->nobs == 0) {
    criterion_window_push(c, v);
    c->last_threshold = NAN;
    return 1;
  }
  double sum = 0.0;
  for (int64_t i = 0; i < c->nobs; i++) sum += c->obs[(c->head + i) % c->window_size];
  double avg = sum / (double)c->nobs;
  double dev = c->lower ? avg - v : v - avg;
  double need = c->absolute ? c->deviation : c->deviation * avg;
  criterion_window_push(c, v);
  c->last_threshold = c->lower ? avg - need : avg + need;
  return dev >= need;
}

static int rolling_create(const CfgRef *cfg, Criterion *c) {
  static const char *const keys[] = {"id", "metric", "window_size", "deviation", "absolute",
                                     "needs_calibration", NULL};
  static const char *const drift_keys[] = {"id", "window_size", "deviation", "absolute",
                                           "needs_calibration", NULL};
  MH_TRY(cfg_check_keys(cfg, c->metric[0] ? keys : drift_keys));
  c->decide = rolling_decide;
  c->needs_calibration = 1;
  int64_t w;
  MH_TRY(cfg_get_int(cfg, "window_size", 10, 1, 1000000, &w));
  MH_TRY(cfg_get_double(cfg, "deviation", 0.05, -1e300, 1e300, &c->deviation));
  MH_TRY(cfg_get_bool(cfg, "absolute", 0, &c->absolute));
  return criterion_window_init(c, w);
}

const CriterionType criterion_rolling = {"DynamicRollingAverageThresholdCriterion",
                                         "DynamicRollingAveragePerformanceThresholdCriterion",
                                         rolling_create};

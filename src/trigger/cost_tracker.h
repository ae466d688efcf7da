/* cost_tracker.h - the two trackers of the cost-aware triggers (the
 * original's CostTracker and IncorporationLatencyTracker).
 *
 * CostTracker: the last `window` completed triggers' (training-set size,
 * training seconds) and a linear model of seconds over samples fitted to
 * them the way the original does (scikit-learn's Ridge with its defaults:
 * alpha = 1, an unpenalised intercept): with the means x_, y_,
 *   slope = sum (x - x_)(y - y_) / (sum (x - x_)^2 + alpha),
 *   intercept = y_ - slope x_.
 * One observation gives the constant model y. alpha = 0 is ordinary least
 * squares.
 *
 * IncorporationLatencyTracker: the area under the curve of regret units
 * not yet addressed by a trigger (regret x seconds). */
#ifndef MH_COST_TRACKER_H
#define MH_COST_TRACKER_H

#include <stdint.h>

typedef struct {
  int64_t window;  /* cost_tracking_window_size */
  double alpha;    /* ridge penalty (1: scikit-learn's default, as the original) */
  double *x, *y;   /* ring of the last window observations */
  int64_t n, head; /* observations held; next slot */
  double slope, intercept;
} CostTracker;

int cost_tracker_init(CostTracker *t, int64_t window, double alpha);
void cost_tracker_free(CostTracker *t);
/* Add an observation (samples, seconds) and refit. */
void cost_tracker_add(CostTracker *t, double samples, double seconds);
/* Forecast seconds for samples; the tracker must hold an observation. */
double cost_tracker_forecast(const CostTracker *t, double samples);

typedef struct {
  double current;    /* regret units not yet addressed */
  double cumulative; /* area under the regret curve (units x seconds) */
} LatencyTracker;

/* A batch's regret that arrives uniformly over `duration` seconds (counted
 * half the period); the regret already there counts the whole period.
 * Returns the cumulative value. */
double latency_add_uniform(LatencyTracker *l, double regret, double duration);
/* Per-sample regrets: regret[i] arrived at ts[i] in a period that ends at
 * start + duration; each counts from its arrival to the end (regret NULL:
 * 1 each). Returns the cumulative value. */
double latency_add_samples(LatencyTracker *l, const int64_t *ts, const double *regret, int64_t n,
                           int64_t start, double duration);
/* A trigger addressed everything. */
void latency_reset(LatencyTracker *l);

#endif

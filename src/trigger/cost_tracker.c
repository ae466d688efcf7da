/* cost_tracker.c - training-cost model and incorporation latency (see
 * cost_tracker.h). */
#include "trigger/cost_tracker.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int cost_tracker_init(CostTracker *t, int64_t window, double alpha) {
  memset(t, 0, sizeof *t);
  t->window = window;
  t->alpha = alpha;
  t->x = mh_malloc((size_t)window * sizeof *t->x);
  t->y = mh_malloc((size_t)window * sizeof *t->y);
  return t->x && t->y ? MH_OK : MH_ERR;
}

void cost_tracker_free(CostTracker *t) {
  free(t->x);
  free(t->y);
  memset(t, 0, sizeof *t);
}

void cost_tracker_add(CostTracker *t, double samples, double seconds) {
  t->x[t->head] = samples;
  t->y[t->head] = seconds;
  t->head = (t->head + 1) % t->window;
  if (t->n < t->window) t->n++;
  /* Centred sums in a fixed order (oldest first): the same bits on every
   * run. */
  double mx = 0.0, my = 0.0;
  int64_t first = (t->head - t->n + t->window) % t->window;
  for (int64_t k = 0; k < t->n; k++) {
    int64_t i = (first + k) % t->window;
    mx += t->x[i];
    my += t->y[i];
  }
  mx /= (double)t->n;
  my /= (double)t->n;
  double sxx = 0.0, sxy = 0.0;
  for (int64_t k = 0; k < t->n; k++) {
    int64_t i = (first + k) % t->window;
    sxx += (t->x[i] - mx) * (t->x[i] - mx);
    sxy += (t->x[i] - mx) * (t->y[i] - my);
  }
  t->slope = sxx + t->alpha > 0.0 ? sxy / (sxx + t->alpha) : 0.0;
  t->intercept = my - t->slope * mx;
}

double cost_tracker_forecast(const CostTracker *t, double samples) {
  return t->intercept + t->slope * samples;
}

double latency_add_uniform(LatencyTracker *l, double regret, double duration) {
  l->cumulative += l->current * duration + regret * (duration / 2.0);
  l->current += regret;
  return l->cumulative;
}

double latency_add_samples(LatencyTracker *l, const int64_t *ts, const double *regret, int64_t n,
                           int64_t start, double duration) {
  const double end = (double)start + duration;
  double added = 0.0, area = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const double r = regret ? regret[i] : 1.0;
    added += r;
    area += (end - (double)ts[i]) * r;
  }
  l->cumulative += l->current * duration + area;
  l->current += added;
  return l->cumulative;
}

void latency_reset(LatencyTracker *l) { l->current = l->cumulative = 0.0; }

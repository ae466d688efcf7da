/* cost.h - the base of the cost-aware triggers (the original's
 * CostTrigger): every evaluation_interval_data_points samples (batched.h)
 * a regret metric - an area under a curve of regret units not yet
 * addressed by a trigger, in regret x seconds of stream time - is divided
 * by the conversion factor (regret per training second) and compared with
 * the forecast training time of the samples that arrived since the last
 * trigger; the trigger fires when the regret is at least the forecast.
 *
 * The forecast comes from a CostTracker (cost_tracker.h) fitted to the
 * completed triggers' (training-set size, training seconds), which the
 * orchestrator logs in PluginEnv.trigger_cost; a trigger learns about them
 * at its next check (a check comes after the training of the previous
 * fire: max_chunk). A completed trigger also resets the regret and the
 * samples waiting. The first check fires (no model yet); during the warmup
 * the warmup policy decides, the regret still accumulates.
 *
 * Wall-clock training time makes the decisions depend on the machine. For
 * reproducible runs and tests, `modelled_seconds_per_sample` (and
 * `modelled_seconds_per_trigger`, default 0) replace each completed
 * trigger's measured seconds by fixed + per_sample x training-set size.
 *
 * A cost trigger is a CostKind (its regret and its fields) plus this. */
#ifndef MH_COST_H
#define MH_COST_H

#include <stdint.h>

#include "trigger/batched.h"
#include "trigger/check_log.h"
#include "trigger/cost_tracker.h"

/* The keys every cost trigger's map may hold besides its own. */
#define COST_KEYS                                                                 \
  "id", BATCHED_KEYS, "cost_tracking_window_size", "modelled_seconds_per_sample", \
      "modelled_seconds_per_trigger"

typedef struct CostTrig CostTrig;

typedef struct {
  const char *id;             /* trigger.id */
  const char *conversion_key; /* the YAML field of the conversion factor */
  /* This batch's regret: add it to c->latency and return the cumulative
   * regret; first: no model has been trained yet. May append its own
   * ,"key":value fields to log. */
  int (*regret)(CostTrig *c, const BatchedCheck *bc, int64_t batch_start, double duration,
                int first, CheckLog *log, double *cumulative);
  void (*destroy)(CostTrig *c); /* may be NULL */
} CostKind;

struct CostTrig {
  Batched b;
  PluginEnv *env;
  const CostKind *kind;
  double conversion; /* regret units per training second */
  CostTracker cost;
  LatencyTracker latency;
  int triggered_once;
  int have_prev_end;
  int64_t prev_end;       /* last timestamp of the previous checked batch */
  int64_t unincorporated; /* samples since the last completed trigger */
  int64_t models_seen;    /* completed triggers taken into the cost model */
  int modelled;           /* modelled_seconds_per_sample given */
  double per_sample, per_trigger;
  void *impl; /* the kind's own state */
};

/* Check keys (the kind's full list), read the common fields, create the
 * trigger. *ct gets the base for the kind to fill impl. */
int cost_trigger_create(const CfgRef *cfg, PluginEnv *env, const CostKind *kind,
                        const char *const *keys, Trigger **out, CostTrig **ct);

#endif

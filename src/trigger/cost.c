/* cost.c - the base of the cost-aware triggers (see cost.h). */
#include "trigger/cost.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/timing.h"

/* Take the triggers completed since the last check into the cost model; a
 * completed trigger addressed the regret and the samples waiting. */
static int sync_completed(CostTrig *c) {
  PluginEnv *env = c->env;
  const int64_t models = env && env->models_done ? *env->models_done : 0;
  if (models <= c->models_seen) return MH_OK;
  for (int64_t k = c->models_seen; k < models; k++) {
    if (!env->trigger_cost) break;
    TriggerCost tc;
    MH_TRY(env->trigger_cost(env, k, &tc));
    double seconds =
        c->modelled ? c->per_trigger + c->per_sample * (double)tc.training_set : tc.train_s;
    /* As the original: a trigger without samples or time is no observation. */
    if (tc.training_set > 0 && seconds > 0.0)
      cost_tracker_add(&c->cost, (double)tc.training_set, seconds);
  }
  c->models_seen = models;
  c->unincorporated = 0;
  latency_reset(&c->latency);
  return MH_OK;
}

static int cost_check(void *owner, const BatchedCheck *bc, int *fire) {
  CostTrig *c = owner;
  const double t0 = mh_now();
  const StreamChunk *b = &bc->batch;
  MH_TRY(sync_completed(c));
  const int64_t start = c->have_prev_end ? c->prev_end : b->timestamps[0];
  const double duration = (double)(b->timestamps[b->n - 1] - start);
  c->prev_end = b->timestamps[b->n - 1];
  c->have_prev_end = 1;
  c->unincorporated += b->n;

  CheckLog l = {0};
  check_log_printf(&l,
                   "{\"event\":\"cost_check\",\"trigger\":\"%s\",\"check\":%lld,"
                   "\"stream_index\":%lld,\"batch_first_timestamp\":%lld,"
                   "\"batch_last_timestamp\":%lld,\"batch_duration\":%.0f,"
                   "\"unincorporated_samples\":%lld",
                   c->kind->id, (long long)bc->check, (long long)bc->last_index,
                   (long long)b->timestamps[0], (long long)b->timestamps[b->n - 1], duration,
                   (long long)c->unincorporated);
  double regret = 0.0;
  int rc = c->kind->regret(c, bc, start, duration, !c->triggered_once, &l, &regret);
  if (rc) {
    check_log_free(&l);
    return rc;
  }
  const double in_traintime = regret / c->conversion;
  double estimate = NAN;
  int triggered, delegated = -1;
  const char *phase;
  if (!c->triggered_once || !batched_warmup_completed(&c->b)) {
    phase = c->triggered_once ? "warmup" : "first";
    rc = batched_delegate(&c->b, b, &delegated);
    triggered = !c->triggered_once || delegated;
    c->triggered_once = 1;
  } else {
    phase = "detect";
    /* Without an observation (no completed trigger trained anything) there
     * is nothing to forecast from: the cost counts as 0. */
    estimate = c->cost.n > 0 ? cost_tracker_forecast(&c->cost, (double)c->unincorporated) : 0.0;
    triggered = in_traintime >= estimate;
  }
  check_log_printf(&l, ",\"phase\":\"%s\",\"regret_metric\":", phase);
  check_log_num(&l, regret);
  check_log_printf(&l, ",\"regret_in_traintime_unit\":");
  check_log_num(&l, in_traintime);
  check_log_printf(&l, ",\"traintime_estimate\":");
  check_log_num(&l, estimate);
  check_log_printf(&l, ",\"cost_observations\":%lld,\"cost_slope\":", (long long)c->cost.n);
  check_log_num(&l, c->cost.n ? c->cost.slope : NAN);
  check_log_printf(&l, ",\"cost_intercept\":");
  check_log_num(&l, c->cost.n ? c->cost.intercept : NAN);
  if (delegated >= 0 && c->b.warmup)
    check_log_printf(&l, ",\"warmup_policy_fired\":%s", delegated ? "true" : "false");
  check_log_printf(&l, ",\"triggered\":%s,\"check_s\":%.6f}", triggered ? "true" : "false",
                   mh_now() - t0);
  if (!rc && c->env && c->env->event && !l.failed) c->env->event(c->env, l.s);
  check_log_free(&l);
  *fire = triggered;
  return rc;
}

static int cost_inform(Trigger *t, const StreamChunk *c, I64Vec *fired) {
  CostTrig *x = t->impl;
  return batched_inform(&x->b, c, fired);
}

/* Chunks end at the next check: a fire's model is trained, and its cost
 * logged, before it. */
static int64_t cost_max_chunk(Trigger *t) {
  CostTrig *x = t->impl;
  return batched_next_chunk_limit(&x->b);
}

static void cost_destroy(Trigger *t) {
  CostTrig *x = t->impl;
  if (!x) return;
  if (x->kind && x->kind->destroy) x->kind->destroy(x);
  batched_free(&x->b);
  cost_tracker_free(&x->cost);
}

int cost_trigger_create(const CfgRef *cfg, PluginEnv *env, const CostKind *kind,
                        const char *const *keys, Trigger **out, CostTrig **ct) {
  MH_TRY(cfg_check_keys(cfg, keys));
  CostTrig *x = mh_calloc(1, sizeof *x);
  Trigger *t = mh_calloc(1, sizeof *t);
  if (!x || !t) {
    free(x);
    free(t);
    return MH_ERR;
  }
  t->impl = x;
  t->inform = cost_inform;
  t->max_chunk = cost_max_chunk;
  t->destroy = cost_destroy;
  *out = t;
  *ct = x;
  x->env = env;
  x->kind = kind;
  MH_TRY(batched_init(&x->b, cfg, env, x, cost_check));
  int64_t window;
  MH_TRY(cfg_get_int(cfg, "cost_tracking_window_size", 1000, 1, 100000000, &window));
  MH_TRY(cost_tracker_init(&x->cost, window, 1.0));
  MH_TRY(cfg_req_double(cfg, kind->conversion_key, 0.0, DBL_MAX, &x->conversion));
  if (!(x->conversion > 0.0)) {
    CfgRef at;
    cfg_child(cfg, kind->conversion_key, &at);
    return cfg_errorf(&at, "must be > 0 (regret per training second), got %g", x->conversion);
  }
  CfgRef ps;
  if (cfg_child(cfg, "modelled_seconds_per_sample", &ps) && !cfg_is_null(&ps)) {
    x->modelled = 1;
    MH_TRY(cfg_as_double(&ps, 0.0, DBL_MAX, &x->per_sample));
  }
  MH_TRY(cfg_get_double(cfg, "modelled_seconds_per_trigger", 0.0, 0.0, DBL_MAX, &x->per_trigger));
  if (x->per_trigger > 0.0 && !x->modelled) {
    CfgRef at;
    cfg_child(cfg, "modelled_seconds_per_trigger", &at);
    return cfg_errorf(&at, "needs modelled_seconds_per_sample (0 for a constant cost)");
  }
  return MH_OK;
}

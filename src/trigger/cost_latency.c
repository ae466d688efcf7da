/* cost_latency.c - DataIncorporationLatencyCostTrigger (cost.h): the
 * regret is the data incorporation latency, the seconds of stream time
 * that the samples since the last trigger have waited to be trained on
 * (each sample counts from its timestamp to the end of the checked batch;
 * samples of earlier batches count the whole batch period). It fires when
 * latency / incorporation_delay_per_training_second >= the forecast
 * training time of the waiting samples. */
#include "core/error.h"
#include "trigger/cost.h"

static int latency_regret(CostTrig *c, const BatchedCheck *bc, int64_t start, double duration,
                          int first, CheckLog *log, double *cumulative) {
  (void)first;
  (void)log;
  *cumulative =
      latency_add_samples(&c->latency, bc->batch.timestamps, NULL, bc->batch.n, start, duration);
  return MH_OK;
}

static const CostKind kind = {"DataIncorporationLatencyCostTrigger",
                              "incorporation_delay_per_training_second", latency_regret, NULL};

static int latency_create(const CfgRef *cfg, PluginEnv *env, Trigger **out) {
  static const char *const keys[] = {COST_KEYS, "incorporation_delay_per_training_second", NULL};
  CostTrig *c;
  return cost_trigger_create(cfg, env, &kind, keys, out, &c);
}

const TriggerType trigger_cost_latency = {"DataIncorporationLatencyCostTrigger", latency_create};

/* cost_misclass.c - AvoidableMisclassificationCostTrigger (cost.h): at each
 * check the current model is evaluated on the checked batch as the
 * PerformanceTrigger does (perf_eval.h), the batch's avoidable
 * misclassifications (misclassifications - (1 - expected_accuracy) x
 * samples, not below 0 unless allow_reduction) join the regret curve as
 * arriving uniformly over the batch period, and the trigger fires when the
 * area under it / avoidable_misclassification_latency_per_training_second
 * >= the forecast training time of the samples since the last trigger.
 * The first check fires without an evaluation (no model yet). A
 * warmup_policy is required, as in the original; expected_accuracy too (the
 * original's estimate without it comes from forecasts this port does not
 * make). */
#include <stdlib.h>

#include "core/error.h"
#include "trigger/cost.h"
#include "trigger/perf_eval.h"

typedef struct {
  PerfEval ev;
  double expected_accuracy;
  int allow_reduction;
} Misclass;

static int misclass_regret(CostTrig *c, const BatchedCheck *bc, int64_t start, double duration,
                           int first, CheckLog *log, double *cumulative) {
  (void)start;
  Misclass *m = c->impl;
  double avoidable = 0.0;
  if (!first) {
    int64_t n = 0, wrong = 0;
    double scores[PERF_EVAL_MAX];
    MH_TRY(perf_eval_run(&m->ev, &bc->batch, &n, &wrong, scores));
    avoidable =
        perf_avoidable_misclassifications(wrong, n, m->expected_accuracy, m->allow_reduction);
    check_log_printf(log, ",\"model\":%lld",
                     (long long)(c->env && c->env->models_done ? *c->env->models_done : 0));
    perf_eval_log(&m->ev, log, n, wrong, scores);
    check_log_printf(log, ",\"new_avoidable_misclassifications\":");
    check_log_num(log, avoidable);
  }
  *cumulative = latency_add_uniform(&c->latency, avoidable, duration);
  return MH_OK;
}

static void misclass_destroy(CostTrig *c) {
  Misclass *m = c->impl;
  if (!m) return;
  perf_eval_free(&m->ev);
  free(m);
  c->impl = NULL;
}

static const CostKind kind = {"AvoidableMisclassificationCostTrigger",
                              "avoidable_misclassification_latency_per_training_second",
                              misclass_regret, misclass_destroy};

static int misclass_create(const CfgRef *cfg, PluginEnv *env, Trigger **out) {
  static const char *const keys[] = {COST_KEYS,
                                     PERF_EVAL_KEYS,
                                     "avoidable_misclassification_latency_per_training_second",
                                     "expected_accuracy",
                                     "allow_reduction",
                                     "needs_calibration",
                                     NULL};
  CostTrig *c;
  MH_TRY(cost_trigger_create(cfg, env, &kind, keys, out, &c));
  Misclass *m = mh_calloc(1, sizeof *m);
  if (!m) return MH_ERR;
  c->impl = m;
  MH_TRY(perf_eval_parse(&m->ev, cfg, env));
  CfgRef ea;
  if (!cfg_child(cfg, "expected_accuracy", &ea) || cfg_is_null(&ea))
    return cfg_errorf(&ea,
                      "required: the original's estimate without it comes from forecasts "
                      "this port does not make; give the accuracy expected right after a "
                      "trigger");
  MH_TRY(cfg_as_double(&ea, 0.0, 1.0, &m->expected_accuracy));
  MH_TRY(cfg_get_bool(cfg, "allow_reduction", 0, &m->allow_reduction));
  int nc;
  MH_TRY(cfg_get_bool(cfg, "needs_calibration", 1, &nc));
  if (!c->b.warmup) {
    CfgRef wp;
    cfg_child(cfg, "warmup_policy", &wp);
    return cfg_errorf(&wp,
                      "a warmup_policy is required (as in the original: the "
                      "misclassification estimate needs calibration)");
  }
  return MH_OK;
}

const TriggerType trigger_cost_misclass = {"AvoidableMisclassificationCostTrigger",
                                           misclass_create};

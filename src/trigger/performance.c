/* performance.c - PerformanceTrigger (hindsight): every
 * evaluation_interval_data_points samples (batched.h) the current model is
 * evaluated on the checked batch (a model pass on all ranks: logits and
 * predictions), and the trigger fires when any decision criterion says so:
 *   StaticPerformanceThresholdCriterion, DynamicQuantilePerformanceThreshold-
 *   Criterion, DynamicRollingAveragePerformanceThresholdCriterion
 *     (criterion.h, on the named metric's score; low scores trigger);
 *   StaticNumberMisclassificationCriterion: avoidable misclassifications of
 *     a batch = its misclassifications - (1 - expected_accuracy) x its size
 *     (not below 0 unless allow_reduction), rounded half to even and summed
 *     since the last trigger; fires when the sum reaches
 *     avoidable_misclassification_threshold.
 * As in the original: the first check fires without an evaluation (no
 * model yet); during the warmup the warmup policy decides and the criteria
 * are not consulted (so a dynamic criterion's first value after the warmup
 * fires); all criteria see every post-warmup check; a fire resets the
 * misclassification sums. Metrics come from evaluation.dataset.metrics
 * (eval/metric.h; Accuracy is required) computed on rank 0 from the
 * gathered logits. The original's lookahead mode and forecasts are not
 * supported (its own schema refuses lookahead); expected_accuracy is
 * therefore required. Each check writes a "performance_check" line to
 * events.jsonl. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/timing.h"
#include "trigger/batched.h"
#include "trigger/check_log.h"
#include "trigger/criterion.h"
#include "trigger/perf_eval.h"

#define PERF_MAX PERF_EVAL_MAX

typedef struct {
  char name[64];
  int misclass;               /* StaticNumberMisclassificationCriterion */
  Criterion crit;             /* the others */
  int metric;                 /* index into the metrics */
  double expected_accuracy;
  int allow_reduction;
  int64_t budget;             /* avoidable_misclassification_threshold */
  int64_t cumulated;          /* avoidable misclassifications since the last trigger */
} PerfCriterion;

typedef struct {
  Batched b;
  PluginEnv *env;
  PerfEval ev;                     /* evaluation.dataset.metrics */
  PerfCriterion crit[PERF_MAX];
  int ncrit;
  int triggered_once;
  int64_t fired_models;
} PerfTrigger;

static int64_t models_done(const PerfTrigger *p) {
  return p->env && p->env->models_done ? *p->env->models_done : 0;
}

static int perf_check(void *owner, const BatchedCheck *c, int *fire) {
  PerfTrigger *p = owner;
  const double t0 = mh_now();
  const int64_t models = models_done(p);
  int64_t n = 0, wrong = 0;
  double scores[PERF_MAX];
  int evaluated = 0, triggered = 0, delegated = -1;
  int decision[PERF_MAX] = {0};
  double value[PERF_MAX], eval_s = 0.0;
  const char *phase;
  if (p->triggered_once) {
    MH_TRY(perf_eval_run(&p->ev, &c->batch, &n, &wrong, scores));
    evaluated = 1;
    eval_s = mh_now() - t0;
  }
  if (!p->triggered_once || !batched_warmup_completed(&p->b)) {
    phase = p->triggered_once ? "warmup" : "first";
    MH_TRY(batched_delegate(&p->b, &c->batch, &delegated));
    triggered = !p->triggered_once || delegated;
    p->triggered_once = 1;
  } else {
    phase = "detect";
    for (int i = 0; i < p->ncrit; i++) {
      PerfCriterion *k = &p->crit[i];
      if (k->misclass) {
        double avoidable =
            perf_avoidable_misclassifications(wrong, n, k->expected_accuracy, k->allow_reduction);
        k->cumulated += (int64_t)nearbyint(avoidable); /* Python's round: half to even */
        value[i] = (double)k->cumulated;
        decision[i] = k->cumulated >= k->budget;
      } else {
        value[i] = scores[k->metric];
        decision[i] = criterion_decide(&k->crit, value[i]);
      }
      triggered |= decision[i];
    }
  }
  if (triggered)
    for (int i = 0; i < p->ncrit; i++) p->crit[i].cumulated = 0;

  CheckLog l = {0};
  check_log_printf(&l, "{\"event\":\"performance_check\",\"check\":%lld,\"stream_index\":%lld,"
                   "\"batch_first_timestamp\":%lld,\"batch_last_timestamp\":%lld,\"phase\":\"%s\","
                   "\"model\":%lld,\"stale_model\":%s",
                   (long long)c->check, (long long)c->last_index, (long long)c->batch.timestamps[0],
                   (long long)c->batch.timestamps[c->batch.n - 1], phase, (long long)models,
                   evaluated && models <= p->fired_models ? "true" : "false");
  if (evaluated) perf_eval_log(&p->ev, &l, n, wrong, scores);
  if (!strcmp(phase, "detect")) {
    check_log_printf(&l, ",\"criteria\":{");
    for (int i = 0; i < p->ncrit; i++) {
      const PerfCriterion *k = &p->crit[i];
      check_log_printf(&l, "%s\"%s\":{\"value\":", i ? "," : "", k->name);
      check_log_num(&l, value[i]);
      check_log_printf(&l, ",\"threshold\":");
      check_log_num(&l, k->misclass ? (double)k->budget : k->crit.last_threshold);
      check_log_printf(&l, ",\"decision\":%s}", decision[i] ? "true" : "false");
    }
    check_log_printf(&l, "}");
  } else if (delegated >= 0 && p->b.warmup) {
    check_log_printf(&l, ",\"warmup_policy_fired\":%s", delegated ? "true" : "false");
  }
  check_log_printf(&l, ",\"triggered\":%s,\"eval_s\":%.6f,\"check_s\":%.6f}",
                   triggered ? "true" : "false", eval_s, mh_now() - t0);
  if (p->env && p->env->event && !l.failed) p->env->event(p->env, l.s);
  check_log_free(&l);
  if (triggered) p->fired_models = models;
  *fire = triggered;
  return MH_OK;
}

/* ---- configuration ------------------------------------------------------------------ */

static int parse_criterion(PerfTrigger *p, const char *name, const CfgRef *cfg, PerfCriterion *k) {
  static const char *const mkeys[] = {"id", "expected_accuracy", "allow_reduction",
                                      "avoidable_misclassification_threshold",
                                      "needs_calibration", NULL};
  snprintf(k->name, sizeof k->name, "%s", name);
  MH_TRY(cfg_expect_map(cfg));
  char id[96];
  MH_TRY(cfg_req_string(cfg, "id", id, sizeof id));
  if (!strcmp(id, "StaticNumberMisclassificationCriterion")) {
    k->misclass = 1;
    MH_TRY(cfg_check_keys(cfg, mkeys));
    CfgRef ea;
    if (!cfg_child(cfg, "expected_accuracy", &ea) || cfg_is_null(&ea))
      return cfg_errorf(&ea, "required: the original's estimate without it comes from "
                             "forecasts this port does not make; give the accuracy expected "
                             "right after a trigger");
    MH_TRY(cfg_as_double(&ea, 0.0, 1.0, &k->expected_accuracy));
    MH_TRY(cfg_get_bool(cfg, "allow_reduction", 0, &k->allow_reduction));
    return cfg_req_int(cfg, "avoidable_misclassification_threshold", 0, INT64_MAX / 2, &k->budget);
  }
  MH_TRY(criterion_create(cfg, 1, 1, &k->crit));
  k->metric = perf_eval_metric(&p->ev, k->crit.metric);
  if (k->metric < 0) {
    CfgRef at;
    cfg_child(cfg, "metric", &at);
    return cfg_errorf(&at, "metric \"%s\" is not among evaluation.dataset.metrics",
                      k->crit.metric);
  }
  return MH_OK;
}

static int perf_inform(Trigger *t, const StreamChunk *c, I64Vec *fired) {
  PerfTrigger *p = t->impl;
  return batched_inform(&p->b, c, fired);
}

static void perf_destroy(Trigger *t) {
  PerfTrigger *p = t->impl;
  if (!p) return;
  batched_free(&p->b);
  perf_eval_free(&p->ev);
  for (int i = 0; i < p->ncrit; i++) criterion_free(&p->crit[i].crit);
}

/* Chunks end at the next check: a fire's model is trained before it. */
static int64_t perf_max_chunk(Trigger *t) {
  PerfTrigger *x = t->impl;
  return batched_next_chunk_limit(&x->b);
}

static int perf_create(const CfgRef *cfg, PluginEnv *env, Trigger **out) {
  static const char *const keys[] = {"id", BATCHED_KEYS, PERF_EVAL_KEYS, "decision_criteria",
                                     NULL};
  MH_TRY(cfg_check_keys(cfg, keys));
  PerfTrigger *p = mh_calloc(1, sizeof *p);
  Trigger *t = mh_calloc(1, sizeof *t);
  if (!p || !t) {
    free(p);
    free(t);
    return MH_ERR;
  }
  t->impl = p;
  t->inform = perf_inform;
  t->max_chunk = perf_max_chunk;
  t->destroy = perf_destroy;
  *out = t;
  p->env = env;
  p->fired_models = -1;
  MH_TRY(batched_init(&p->b, cfg, env, p, perf_check));
  MH_TRY(perf_eval_parse(&p->ev, cfg, env));
  CfgRef dc;
  if (!cfg_child(cfg, "decision_criteria", &dc)) return cfg_errorf(&dc, "missing required field");
  MH_TRY(cfg_expect_map(&dc));
  if (cfg_len(&dc) < 1 || cfg_len(&dc) > PERF_MAX)
    return cfg_errorf(&dc, "needs 1 to %d criteria, got %d", PERF_MAX, cfg_len(&dc));
  int calib = 0;
  for (int i = 0; i < cfg_len(&dc); i++) {
    CfgRef k;
    cfg_child(&dc, dc.node->keys[i], &k);
    MH_TRY(parse_criterion(p, dc.node->keys[i], &k, &p->crit[i]));
    p->ncrit++;
    calib |= p->crit[i].misclass || p->crit[i].crit.needs_calibration;
  }
  if (calib && !p->b.warmup) {
    CfgRef wp;
    cfg_child(cfg, "warmup_policy", &wp);
    return cfg_errorf(&wp, "a warmup_policy is required: a decision criterion needs calibration "
                           "(the dynamic ones and StaticNumberMisclassificationCriterion)");
  }
  return MH_OK;
}

const TriggerType trigger_performance = {"PerformanceTrigger", perf_create};

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
#include "eval/metric.h"
#include "trigger/batched.h"
#include "trigger/check_log.h"
#include "trigger/criterion.h"

#define PERF_MAX 16

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
  char metric_text[PERF_MAX][512]; /* each metric map as YAML flow text */
  char metric_name[PERF_MAX][64];
  int nmetrics;
  Metric *metrics[PERF_MAX];       /* created at the first evaluation (needs the class count) */
  PerfCriterion crit[PERF_MAX];
  int ncrit;
  int triggered_once;
  int64_t fired_models;
} PerfTrigger;

static int64_t models_done(const PerfTrigger *p) {
  return p->env && p->env->models_done ? *p->env->models_done : 0;
}

static int make_metrics(PerfTrigger *p) {
  if (p->metrics[0]) return MH_OK;
  const int K = p->env->store->schema.num_classes;
  for (int i = 0; i < p->nmetrics; i++) {
    CfgDoc doc;
    MH_TRY(cfg_load_string("trigger.evaluation.dataset.metrics", p->metric_text[i], &doc));
    CfgRef root = cfg_root(&doc);
    int rc = metric_create(&root, K, &p->metrics[i]);
    cfg_doc_free(&doc);
    MH_TRY(rc);
  }
  return MH_OK;
}

/* Evaluate the current model on the batch: samples, misclassifications and
 * each metric's score. */
static int evaluate(PerfTrigger *p, const StreamChunk *batch, int64_t *n, int64_t *wrong,
                    double *scores) {
  PluginEnv *env = p->env;
  if (!env || !env->pass || !env->store)
    return mh_errorf("PerformanceTrigger: no pipeline to evaluate on");
  MH_TRY(make_metrics(p));
  PassResult r;
  MH_TRY(env->pass(env, batch->keys, batch->n, PASS_LOGITS | PASS_PRED, PASS_MODEL_CURRENT, &r));
  int rc = MH_OK;
  *n = r.n;
  *wrong = r.n - r.correct;
  for (int i = 0; !rc && i < p->nmetrics; i++)
    rc = metric_compute_local(p->metrics[i], r.logits, r.labels, r.n, r.K, &scores[i]);
  pass_result_free(&r);
  return rc;
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
    MH_TRY(evaluate(p, &c->batch, &n, &wrong, scores));
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
        double avoidable = (double)wrong - (1.0 - k->expected_accuracy) * (double)n;
        if (avoidable < 0.0 && !k->allow_reduction) avoidable = 0.0;
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
  if (evaluated) {
    check_log_printf(&l, ",\"num_samples\":%lld,\"num_misclassifications\":%lld,\"scores\":{",
                     (long long)n, (long long)wrong);
    for (int i = 0; i < p->nmetrics; i++) {
      check_log_printf(&l, "%s\"%s\":", i ? "," : "", p->metrics[i]->label);
      check_log_num(&l, scores[i]);
    }
    check_log_printf(&l, "}");
  }
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

static int metric_index(const PerfTrigger *p, const char *name) {
  for (int i = 0; i < p->nmetrics; i++)
    if (!strcmp(p->metric_name[i], name)) return i;
  return -1;
}

static int parse_evaluation(PerfTrigger *p, const CfgRef *cfg) {
  static const char *const keys[] = {"device", "dataset", "label_transformer_function", NULL};
  CfgRef ev, ds, ms;
  if (!cfg_child(cfg, "evaluation", &ev)) return cfg_errorf(&ev, "missing required field");
  MH_TRY(cfg_expect_map(&ev));
  MH_TRY(cfg_check_keys(&ev, keys));
  char ltf[256];
  MH_TRY(cfg_get_string(&ev, "label_transformer_function", "", ltf, sizeof ltf));
  if (ltf[0]) {
    CfgRef at;
    cfg_child(&ev, "label_transformer_function", &at);
    return cfg_errorf(&at, "label transformer functions (Python code) are not supported");
  }
  /* The dataset is the training stream's own samples (the checked batch);
   * its other fields (dataset_id, batch_size, ...) are accepted as the
   * original writes them and unused. */
  if (!cfg_child(&ev, "dataset", &ds)) return cfg_errorf(&ds, "missing required field");
  MH_TRY(cfg_expect_map(&ds));
  if (!cfg_child(&ds, "metrics", &ms)) return cfg_errorf(&ms, "missing required field");
  MH_TRY(cfg_expect_seq(&ms));
  if (cfg_len(&ms) > PERF_MAX) return cfg_errorf(&ms, "at most %d metrics", PERF_MAX);
  for (int i = 0; i < cfg_len(&ms); i++) {
    CfgRef m = cfg_item(&ms, i);
    MH_TRY(cfg_expect_map(&m));
    MH_TRY(cfg_req_string(&m, "name", p->metric_name[i], sizeof p->metric_name[i]));
    /* Check the entry now against a generous class count; it is created
     * again with the store's at the first evaluation. */
    Metric *probe = NULL;
    MH_TRY(metric_create(&m, 1 << 20, &probe));
    metric_free(probe);
    if (cfg_flow_text(m.node, p->metric_text[i], sizeof p->metric_text[i]))
      return cfg_errorf(&m, "metric entry too long");
    p->nmetrics++;
  }
  if (metric_index(p, "Accuracy") < 0)
    return cfg_errorf(&ms, "the performance trigger needs the Accuracy metric");
  return MH_OK;
}

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
  k->metric = metric_index(p, k->crit.metric);
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
  for (int i = 0; i < p->nmetrics; i++) metric_free(p->metrics[i]);
  for (int i = 0; i < p->ncrit; i++) criterion_free(&p->crit[i].crit);
}

/* Chunks end at the next check: a fire's model is trained before it. */
static int64_t perf_max_chunk(Trigger *t) {
  PerfTrigger *x = t->impl;
  return batched_next_chunk_limit(&x->b);
}

static int perf_create(const CfgRef *cfg, PluginEnv *env, Trigger **out) {
  static const char *const keys[] = {"id", BATCHED_KEYS, "data_density_window_size",
                                     "performance_triggers_window_size", "evaluation",
                                     "decision_criteria", "mode", "forecasting_method", NULL};
  static const char *const modes[] = {"hindsight", "lookahead", NULL};
  static const char *const methods[] = {"ridge_regression", "rolling_average", NULL};
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
  int mode, method;
  int64_t w;
  MH_TRY(cfg_get_enum(cfg, "mode", modes, 0, &mode));
  if (mode) {
    CfgRef at;
    cfg_child(cfg, "mode", &at);
    return cfg_errorf(&at, "only hindsight is supported (the original refuses lookahead too)");
  }
  MH_TRY(cfg_get_enum(cfg, "forecasting_method", methods, 0, &method));
  MH_TRY(cfg_get_int(cfg, "data_density_window_size", 20, 0, 1000000, &w));
  MH_TRY(cfg_get_int(cfg, "performance_triggers_window_size", 10, 0, 1000000, &w));
  MH_TRY(parse_evaluation(p, cfg));
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

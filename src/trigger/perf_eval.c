/* perf_eval.c - the evaluation shared by the performance-aware triggers
 * (see perf_eval.h). */
#include "trigger/perf_eval.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

int perf_eval_metric(const PerfEval *p, const char *name) {
  for (int i = 0; i < p->nmetrics; i++)
    if (!strcmp(p->metric_name[i], name)) return i;
  return -1;
}

static int parse_evaluation(PerfEval *p, const CfgRef *cfg) {
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
  if (cfg_len(&ms) > PERF_EVAL_MAX) return cfg_errorf(&ms, "at most %d metrics", PERF_EVAL_MAX);
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
  if (perf_eval_metric(p, "Accuracy") < 0)
    return cfg_errorf(&ms, "the performance trigger needs the Accuracy metric");
  return MH_OK;
}

int perf_eval_parse(PerfEval *p, const CfgRef *cfg, PluginEnv *env) {
  static const char *const modes[] = {"hindsight", "lookahead", NULL};
  static const char *const methods[] = {"ridge_regression", "rolling_average", NULL};
  memset(p, 0, sizeof *p);
  p->env = env;
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
  return parse_evaluation(p, cfg);
}

void perf_eval_free(PerfEval *p) {
  for (int i = 0; i < p->nmetrics; i++) metric_free(p->metrics[i]);
  memset(p->metrics, 0, sizeof p->metrics);
}

static int make_metrics(PerfEval *p) {
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

int perf_eval_run(PerfEval *p, const StreamChunk *batch, int64_t *n, int64_t *wrong,
                  double *scores) {
  PluginEnv *env = p->env;
  if (!env || !env->pass || !env->store)
    return mh_errorf("performance evaluation: no pipeline to evaluate on");
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

void perf_eval_log(const PerfEval *p, CheckLog *l, int64_t n, int64_t wrong, const double *scores) {
  check_log_printf(l, ",\"num_samples\":%lld,\"num_misclassifications\":%lld,\"scores\":{",
                   (long long)n, (long long)wrong);
  for (int i = 0; i < p->nmetrics; i++) {
    check_log_printf(l, "%s\"%s\":", i ? "," : "", p->metrics[i]->label);
    check_log_num(l, scores[i]);
  }
  check_log_printf(l, "}");
}

double perf_avoidable_misclassifications(int64_t wrong, int64_t n, double expected_accuracy,
                                         int allow_reduction) {
  double a = (double)wrong - (1.0 - expected_accuracy) * (double)n;
  return a < 0.0 && !allow_reduction ? 0.0 : a;
}

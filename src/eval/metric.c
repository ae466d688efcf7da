/* metric.c - registry lookup and shared metric operations. */
#include "eval/metric.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/plugin.h"

extern const MetricType *const metric_registry[];

int metric_create(const CfgRef *cfg, int num_classes, Metric **out) {
  char name[128];
  *out = NULL;
  MH_TRY(cfg_req_string(cfg, "name", name, sizeof name));
  /* The original's earlier metric schema nests the options under config:
   * ({name: F1Score, config: {num_classes: 2, average: macro}}), as its
   * SIGMOD pipelines write them: the plug-in then reads them there. */
  CfgRef opts = *cfg, nested;
  if (cfg_child(cfg, "config", &nested) && !cfg_is_null(&nested)) {
    static const char *const outer[] = {"name", "config", "evaluation_transformer_function", NULL};
    MH_TRY(cfg_check_keys(cfg, outer));
    MH_TRY(cfg_expect_map(&nested));
    opts = nested;
  }
  for (int i = 0; metric_registry[i]; i++) {
    if (!strcmp(metric_registry[i]->name, name)) {
      if (metric_registry[i]->create(&opts, num_classes, out)) {
        metric_free(*out);
        *out = NULL;
        return MH_ERR;
      }
      (*out)->type = metric_registry[i];
      return MH_OK;
    }
  }
  char list[512];
  plugin_names((const void *const *)metric_registry, list, sizeof list);
  CfgRef at;
  cfg_child(cfg, "name", &at);
  return cfg_errorf(&at, "unknown metric \"%s\"; available: %s", name, list);
}

void metric_free(Metric *m) {
  if (!m) return;
  if (m->destroy) m->destroy(m);
  free(m->impl);
  free(m);
}

int metric_compute_local(const Metric *m, const float *logits, const int32_t *labels, int64_t n,
                         int K, double *result) {
  size_t cap = (size_t)(n > 0 ? n : 1);
  if (m->uses_pairs) {
    ScorePair *p = mh_calloc(cap, sizeof *p);
    double *s = mh_malloc(cap * sizeof(double));
    if (!p || !s) {
      free(p);
      free(s);
      return MH_ERR;
    }
    m->score(m, logits, n, K, s);
    for (int64_t i = 0; i < n; i++) p[i].score = s[i], p[i].label = labels[i];
    *result = m->result_pairs(m, p, n);
    free(p);
    free(s);
    return MH_OK;
  }
  double *st = mh_calloc((size_t)(m->state_len > 0 ? m->state_len : 1), sizeof(double));
  if (!st) return MH_ERR;
  m->update(m, st, logits, labels, n, K);
  *result = m->result(m, st);
  free(st);
  return MH_OK;
}

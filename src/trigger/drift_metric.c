/* drift_metric.c - the drift metric table, the fields every metric shares,
 * and helpers of the per-dimension tests (see drift_metric.h). */
#include "trigger/drift_metric.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

extern const DriftMetricType drift_metric_mmd;
extern const DriftMetricType drift_metric_ks;
extern const DriftMetricType drift_metric_cvm;
extern const DriftMetricType drift_metric_hellinger;
extern const DriftMetricType drift_metric_distance;

static const DriftMetricType *const metrics[] = {
    &drift_metric_mmd,      &drift_metric_ks,       &drift_metric_cvm,
    &drift_metric_hellinger, &drift_metric_distance, NULL,
};

int drift_metric_create(const char *name, const CfgRef *cfg, DriftMetric *m) {
  memset(m, 0, sizeof *m);
  snprintf(m->name, sizeof m->name, "%s", name);
  MH_TRY(cfg_expect_map(cfg));
  char id[96];
  MH_TRY(cfg_req_string(cfg, "id", id, sizeof id));
  const DriftMetricType *type = NULL;
  for (int i = 0; metrics[i] && !type; i++)
    if (!strcmp(metrics[i]->id, id)) type = metrics[i];
  if (!type) {
    char list[512] = "";
    for (int i = 0; metrics[i]; i++) {
      if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
      strncat(list, metrics[i]->id, sizeof list - strlen(list) - 1);
    }
    CfgRef at;
    cfg_child(cfg, "id", &at);
    return cfg_errorf(&at, "unknown drift metric \"%s\"; available: %s", id, list);
  }
  m->type = type;
  const char *keys[32];
  int nk = 0;
  keys[nk++] = "id";
  keys[nk++] = "decision_criterion";
  for (int i = 0; type->keys[i] && nk < 31; i++) keys[nk++] = type->keys[i];
  keys[nk] = NULL;
  MH_TRY(cfg_check_keys(cfg, keys));
  CfgRef pre;
  if (cfg_child(cfg, "preprocessor", &pre) && !cfg_is_null(&pre))
    return cfg_errorf(&pre, "text preprocessing of drift windows is not supported; the metrics "
                            "run on the model's embeddings (remove this field)");
  MH_TRY(cfg_get_double(cfg, "p_val", 0.05, 0.0, 1.0, &m->p_val));
  m->has_criterion = 1;
  MH_TRY(type->create(cfg, m));
  CfgRef crit;
  if (cfg_child(cfg, "decision_criterion", &crit) && !cfg_is_null(&crit)) {
    if (m->criterion.type) {
      CfgRef thr;
      cfg_child(cfg, "threshold", &thr);
      return cfg_errorf(&thr, "give either threshold or decision_criterion, not both");
    }
    return criterion_create(&crit, 0, 0, &m->criterion);
  }
  if (m->criterion.type || !m->has_criterion) return MH_OK; /* threshold, or the test decides */
  return cfg_errorf(&crit, "missing required field");
}

void drift_metric_free(DriftMetric *m) { criterion_free(&m->criterion); }

void drift_column(const float *x, int64_t n, int64_t dim, int64_t j, double *out) {
  for (int64_t i = 0; i < n; i++) out[i] = (double)x[i * dim + j];
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int drift_correct(const double *p, int64_t nd, double level, int fdr) {
  if (nd <= 0) return 0;
  if (!fdr) {
    for (int64_t i = 0; i < nd; i++)
      if (p[i] < level / (double)nd) return 1;
    return 0;
  }
  /* Benjamini-Hochberg: drift when some sorted p_(i) < level * i / nd. */
  double *s = malloc((size_t)nd * sizeof *s);
  if (!s) return 0;
  memcpy(s, p, (size_t)nd * sizeof *s);
  qsort(s, (size_t)nd, sizeof *s, cmp_double);
  int drift = 0;
  for (int64_t i = 0; i < nd && !drift; i++)
    if (s[i] < level * (double)(i + 1) / (double)nd) drift = 1;
  free(s);
  return drift;
}

int drift_per_dimension(const DriftMetric *m, const float *x, int64_t nx, const float *y,
                        int64_t ny, int64_t dim, DriftTwoSample test, const char *name,
                        DriftMetricResult *out) {
  double *dist = mh_malloc((size_t)dim * 2 * sizeof *dist);
  if (!dist) return MH_ERR;
  double *pv = dist + dim;
  int err = 0;
#pragma omp parallel
  {
    double *a = malloc((size_t)(nx + ny) * sizeof *a);
    if (!a) {
#pragma omp atomic write
      err = 1;
    }
#pragma omp for schedule(dynamic)
    for (int64_t j = 0; j < dim; j++) {
      if (!a) continue;
      drift_column(x, nx, dim, j, a);
      drift_column(y, ny, dim, j, a + nx);
      dist[j] = test(m, a, nx, a + nx, ny, &pv[j]);
    }
    free(a);
  }
  if (err) {
    free(dist);
    return mh_errorf("drift %s: out of memory", name);
  }
  double sd = 0.0, sp = 0.0;
  for (int64_t j = 0; j < dim; j++) {
    sd += dist[j];
    sp += pv[j];
  }
  out->distance = dim ? sd / (double)dim : 0.0;
  out->p_val = dim ? sp / (double)dim : 1.0;
  out->test_drift = drift_correct(pv, dim, m->p_val, m->correction_fdr);
  free(dist);
  return MH_OK;
}

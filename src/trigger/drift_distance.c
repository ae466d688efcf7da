/* drift_distance.c - EvidentlySimpleDistanceDriftMetric: a distance between
 * the mean vectors of the two windows (Evidently's embedding drift method
 * "distance"): `distance_metric` euclidean (default), cosine (1 - cos),
 * cityblock or chebyshev. Evidently's PCA and bootstrap options are not
 * supported; its own threshold and quantile_probability are accepted and
 * unused, as in the original (the decision criterion decides). */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "trigger/drift_metric.h"

static int distance_compute(const DriftMetric *m, const float *x, int64_t nx, const float *y,
                            int64_t ny, int64_t dim, uint64_t seed, DriftMetricResult *out) {
  (void)seed;
  double *mu = mh_calloc((size_t)(2 * dim + 1), sizeof *mu);
  if (!mu) return MH_ERR;
  double *mv = mu + dim;
  for (int64_t i = 0; i < nx; i++)
    for (int64_t j = 0; j < dim; j++) mu[j] += (double)x[i * dim + j];
  for (int64_t i = 0; i < ny; i++)
    for (int64_t j = 0; j < dim; j++) mv[j] += (double)y[i * dim + j];
  double d = 0.0, uu = 0.0, vv = 0.0, uv = 0.0;
  for (int64_t j = 0; j < dim; j++) {
    mu[j] /= (double)(nx ? nx : 1);
    mv[j] /= (double)(ny ? ny : 1);
    double e = fabs(mu[j] - mv[j]);
    switch (m->distance_kind) {
      case 0: d += e * e; break;
      case 2: d += e; break;
      case 3: if (e > d) d = e; break;
      default: break;
    }
    uu += mu[j] * mu[j];
    vv += mv[j] * mv[j];
    uv += mu[j] * mv[j];
  }
  if (m->distance_kind == 0) d = sqrt(d);
  if (m->distance_kind == 1) d = uu > 0.0 && vv > 0.0 ? 1.0 - uv / sqrt(uu * vv) : 0.0;
  out->distance = d;
  free(mu);
  return MH_OK;
}

static int distance_create(const CfgRef *cfg, DriftMetric *m) {
  static const char *const kinds[] = {"euclidean", "cosine", "cityblock", "chebyshev", NULL};
  m->compute = distance_compute;
  MH_TRY(cfg_get_enum(cfg, "distance_metric", kinds, 0, &m->distance_kind));
  CfgRef r;
  if (cfg_child(cfg, "num_pca_component", &r) && !cfg_is_null(&r))
    return cfg_errorf(&r, "PCA before the distance is not supported (remove the field)");
  int boot;
  MH_TRY(cfg_get_bool(cfg, "bootstrap", 0, &boot));
  if (boot) {
    cfg_child(cfg, "bootstrap", &r);
    return cfg_errorf(&r, "bootstrap is not supported (the original refuses it too)");
  }
  return MH_OK;
}

static const char *const distance_keys[] = {"num_pca_component", "distance_metric", "bootstrap",
                                            "quantile_probability", "threshold", NULL};

const DriftMetricType drift_metric_distance = {"EvidentlySimpleDistanceDriftMetric",
                                               distance_create, distance_keys};

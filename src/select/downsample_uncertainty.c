/* downsample_uncertainty.c - `Uncertainty` downsampling (Coleman et al.,
 * "Selection via proxy", after DeepCore): keep the `target` samples the
 * model is least sure of, weights 1. Scores, smaller = more uncertain, as
 * the original computes them:
 *   LeastConfidence: the largest logit (|logit| for one-output BCE models);
 *   Margin:  top softmax probability minus the second;
 *   Entropy: sum_k p_k log(p_k + 1e-6), the negative entropy
 * (one-output models use p = (1 - sigmoid(z), sigmoid(z))). `balance`
 * chooses within each label (each keeping its own share); like the
 * original it needs sample_then_batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "select/downsampler.h"

enum { LEAST_CONFIDENCE, ENTROPY, MARGIN };

typedef struct {
  int metric;
} Uncertainty;

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

static float score_of(int metric, const float *z, int64_t K, double *p) {
  if (metric == LEAST_CONFIDENCE) {
    if (K == 1) return fabsf(z[0]);
    float mx = z[0];
    for (int64_t k = 1; k < K; k++)
      if (z[k] > mx) mx = z[k];
    return mx;
  }
  int64_t C = K;
  if (K == 1) {
    p[1] = sigmoid(z[0]);
    p[0] = 1.0 - p[1];
    C = 2;
  } else {
    double mx = z[0], den = 0.0;
    for (int64_t k = 1; k < K; k++)
      if (z[k] > mx) mx = z[k];
    for (int64_t k = 0; k < K; k++) den += (p[k] = exp((double)z[k] - mx));
    for (int64_t k = 0; k < K; k++) p[k] /= den;
  }
  if (metric == ENTROPY) {
    double s = 0.0;
    for (int64_t k = 0; k < C; k++) s += log(p[k] + 1e-6) * p[k];
    return (float)s;
  }
  int64_t best = 0;
  for (int64_t k = 1; k < C; k++)
    if (p[k] > p[best]) best = k;
  double second = -1.0;
  for (int64_t k = 0; k < C; k++)
    if (k != best && p[k] > second) second = p[k];
  return (float)(p[best] - second);
}

static int unc_choose(Downsampler *d, const PassBatch *g, int64_t target, Rng *rng, int64_t *keep,
                      float *weights, int64_t *nkeep) {
  (void)rng;
  const Uncertainty *u = d->impl;
  if (!g->logits) return mh_errorf("%s downsampling: the scores hold no logits", d->type->name);
  const int64_t n = g->n, K = g->K;
  float *score = mh_malloc((size_t)(n + 1) * sizeof(float));
  double *p = mh_malloc((size_t)(K + 2) * sizeof(double));
  int rc = score && p ? MH_OK : MH_ERR;
  for (int64_t i = 0; !rc && i < n; i++) score[i] = score_of(u->metric, g->logits + i * K, K, p);
  if (!rc) rc = downsample_smallest(score, n, target, keep, weights, nkeep);
  free(score);
  free(p);
  return rc;
}

static int unc_create(const CfgRef *cfg, const DownsampleCommon *c, Downsampler **out) {
  static const char *const own[] = {"score_metric", "balance", NULL};
  static const char *const metrics[] = {"LeastConfidence", "Entropy", "Margin", NULL};
  MH_TRY(downsampler_check_keys(cfg, own));
  Uncertainty *u = mh_calloc(1, sizeof *u);
  if (!u) return MH_ERR;
  *out = downsampler_alloc(c, PASS_LOGITS, unc_choose);
  if (!*out) {
    free(u);
    return MH_ERR;
  }
  (*out)->impl = u;
  MH_TRY(cfg_req_enum(cfg, "score_metric", metrics, &u->metric));
  MH_TRY(cfg_get_bool(cfg, "balance", 0, &(*out)->balance));
  if ((*out)->balance && !c->sample_then_batch) {
    CfgRef at;
    cfg_child(cfg, "balance", &at);
    return cfg_errorf(&at, "balance: true needs sample_then_batch: true (a batch is too small "
                           "to share among labels; the original refuses it too)");
  }
  return MH_OK;
}

const DownsamplerType downsampler_uncertainty = {"Uncertainty", unc_create};

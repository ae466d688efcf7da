/* downsample_gradnorm.c - `GradNorm` downsampling: importance sampling as
 * Loss, with the norm of the loss gradient with respect to the logits as
 * the score. For softmax cross-entropy that is ||softmax(z) - onehot(y)||,
 * for BCE-with-logits |sigmoid(z) - y|: closed forms, so scoring costs one
 * forward pass (the original computes the same closed form; it does not
 * multiply by the embedding norm). */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "select/downsampler.h"

static int gn_choose(Downsampler *d, const PassBatch *g, int64_t target, Rng *rng, int64_t *keep,
                     float *weights, int64_t *nkeep) {
  if (!g->logits || !g->labels)
    return mh_errorf("%s downsampling: the scores hold no logits", d->type->name);
  const int64_t n = g->n, K = g->K;
  float *score = mh_malloc((size_t)(n + 1) * sizeof(float));
  if (!score) return MH_ERR;
  for (int64_t i = 0; i < n; i++) {
    const float *z = g->logits + i * K;
    const int32_t y = g->labels[i];
    if (K == 1) {
      score[i] = (float)fabs(1.0 / (1.0 + exp(-(double)z[0])) - (double)y);
      continue;
    }
    double mx = z[0];
    for (int64_t k = 1; k < K; k++)
      if (z[k] > mx) mx = z[k];
    double den = 0.0;
    for (int64_t k = 0; k < K; k++) den += exp((double)z[k] - mx);
    double sq = 0.0;
    for (int64_t k = 0; k < K; k++) {
      const double diff = exp((double)z[k] - mx) / den - (k == y ? 1.0 : 0.0);
      sq += diff * diff;
    }
    score[i] = (float)sqrt(sq);
  }
  int rc = downsample_importance(score, n, target, rng, keep, weights, nkeep);
  free(score);
  return rc;
}

static int gn_create(const CfgRef *cfg, const DownsampleCommon *c, Downsampler **out) {
  MH_TRY(downsampler_check_keys(cfg, NULL));
  *out = downsampler_alloc(c, PASS_LOGITS, gn_choose);
  return *out ? MH_OK : MH_ERR;
}

const DownsamplerType downsampler_gradnorm = {"GradNorm", gn_create};

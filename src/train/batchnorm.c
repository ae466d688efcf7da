/* batchnorm.c - nn.BatchNorm2d / BatchNorm1d with PyTorch's semantics:
 * training normalises with the batch statistics over (n, h, w) (biased
 * variance) and updates running_mean/var with momentum 0.1, the variance
 * unbiased (times M / (M - 1), M = n*h*w); eval uses the running
 * statistics. eps 1e-5.
 *
 * Loops run over (sample, channel) planes in memory order, in parallel:
 * walking one channel across the batch would jump a page per plane and
 * defeat the prefetcher. The batch statistics take one pass: per plane,
 * sums of x - K and (x - K)^2 with K the channel's first value (the shift
 * keeps the E[x^2] - E[x]^2 form from cancelling when the mean is large
 * against the spread), vectorised in float, then reduced per channel in
 * double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/layers.h"
#include "train/parallel.h"

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

typedef struct {
  float *mean;    /* [c] batch mean of the last training forward */
  float *invstd;  /* [c] 1 / sqrt(batch var + eps) */
  float *coef;    /* [3c] per-channel coefficients of the current pass */
  double *part;   /* [n * c * 2] per-(sample, channel) partial sums */
  int64_t part_cap;
} BatchNorm;

static void bn_init(Layer *l, Rng *rng) {
  const int C = l->in.c;
  for (int c = 0; c < C; c++) {
    l->params[c] = 1.0f;        /* weight (gamma) */
    l->params[C + c] = 0.0f;    /* bias (beta) */
    l->buffers[c] = 0.0f;       /* running_mean */
    l->buffers[C + c] = 1.0f;   /* running_var */
  }
}

static int bn_reserve(BatchNorm *bn, int64_t n) {
  if (n <= bn->part_cap) return MH_OK;
  free(bn->part);
  bn->part_cap = 0;
  bn->part = mh_malloc((size_t)n * 2 * sizeof(double));
  if (!bn->part) return MH_ERR;
  bn->part_cap = n;
  return MH_OK;
}

/* y = x * scale[c] + shift[c] (then the fused ReLU), sample-major so that
 * memory is read in order (planes of one channel are n pages apart). */
static void bn_apply(const Layer *l, const float *x, float *y, int64_t n, const float *scale,
                     const float *shift) {
  const int C = l->in.c;
  const int64_t P = (int64_t)l->in.h * l->in.w;
#pragma omp parallel for schedule(static) if (n * C * P > 16384)
  for (int64_t q = 0; q < n * C; q++) {
    const int c = (int)(q % C);
    const float a = scale[c], b = shift[c];
    const float *xc = x + q * P;
    float *yc = y + q * P;
    if (l->relu) {
#pragma omp simd
      for (int64_t p = 0; p < P; p++) {
        float v = xc[p] * a + b;
        yc[p] = v > 0.0f ? v : 0.0f;
      }
    } else {
#pragma omp simd
      for (int64_t p = 0; p < P; p++) yc[p] = xc[p] * a + b;
    }
  }
}

static int bn_forward(Layer *l, const float *x, float *y, int64_t n, int train) {
  BatchNorm *bn = l->impl;
  const int C = l->in.c;
  const int64_t P = (int64_t)l->in.h * l->in.w, M = n * P;
  const float *gamma = l->params, *beta = l->params + C;
  float *rmean = l->buffers, *rvar = l->buffers + C;
  float *scale = bn->coef, *shift = bn->coef + C;
  if (!train) {
    for (int c = 0; c < C; c++) {
      const double invstd = 1.0 / sqrt((double)rvar[c] + BN_EPS);
      scale[c] = (float)(gamma[c] * invstd);
      shift[c] = (float)(beta[c] - rmean[c] * gamma[c] * invstd);
    }
    bn_apply(l, x, y, n, scale, shift);
    return MH_OK;
  }
  if (M < 2)
    return mh_errorf("batchnorm: training needs more than one value per channel (got a batch "
                     "of %lld with %dx%d maps)", (long long)n, l->in.h, l->in.w);
  MH_TRY(bn_reserve(bn, n * C));
  double *part = bn->part;
  /* per (sample, channel): sums of x - K and (x - K)^2, K = the channel's
   * first value */
#pragma omp parallel for schedule(static) if (n * C * P > 16384)
  for (int64_t q = 0; q < n * C; q++) {
    const float K = x[(q % C) * P];
    const float *xc = x + q * P;
    float a = 0.0f, b = 0.0f;
#pragma omp simd reduction(+ : a, b)
    for (int64_t p = 0; p < P; p++) {
      const float d = xc[p] - K;
      a += d;
      b += d * d;
    }
    part[2 * q] = a;
    part[2 * q + 1] = b;
  }
  for (int c = 0; c < C; c++) {
    double s = 0.0, ss = 0.0;
    for (int64_t i = 0; i < n; i++) {
      s += part[2 * (i * C + c)];
      ss += part[2 * (i * C + c) + 1];
    }
    const double dmean = s / (double)M, mean = (double)x[(int64_t)c * P] + dmean;
    double var = ss / (double)M - dmean * dmean;
    if (var < 0.0) var = 0.0;
    const double invstd = 1.0 / sqrt(var + BN_EPS);
    bn->mean[c] = (float)mean;
    bn->invstd[c] = (float)invstd;
    rmean[c] = (float)((1.0 - BN_MOMENTUM) * rmean[c] + BN_MOMENTUM * mean);
    rvar[c] = (float)((1.0 - BN_MOMENTUM) * rvar[c] +
                      BN_MOMENTUM * var * (double)M / (double)(M - 1));
    scale[c] = (float)(gamma[c] * invstd);
    shift[c] = (float)(beta[c] - mean * gamma[c] * invstd);
  }
  bn_apply(l, x, y, n, scale, shift);
  return MH_OK;
}

static int bn_backward(Layer *l, const float *x, const float *y, float *dy, float *dx,
                       int64_t n) {
  BatchNorm *bn = l->impl;
  const int C = l->in.c;
  const int64_t P = (int64_t)l->in.h * l->in.w, M = n * P;
  const float *gamma = l->params;
  float *dgamma = l->grads, *dbeta = l->grads + C;
  MH_TRY(bn_reserve(bn, n * C));
  double *part = bn->part;
  const float *mean = bn->mean, *invstd = bn->invstd;
  const int relu = l->relu;
  /* per (sample, channel): sum dy and sum dy * (x - mean); the fused ReLU's
   * backward is applied in place (dy is scratch) */
#pragma omp parallel for schedule(static) if (n * C * P > 16384)
  for (int64_t q = 0; q < n * C; q++) {
    const float m = mean[q % C];
    const float *xc = x + q * P;
    float *dyc = dy + q * P;
    if (relu) {
      const float *yc = y + q * P;
#pragma omp simd
      for (int64_t p = 0; p < P; p++) dyc[p] = yc[p] > 0.0f ? dyc[p] : 0.0f;
    }
    float a = 0.0f, b = 0.0f;
#pragma omp simd reduction(+ : a, b)
    for (int64_t p = 0; p < P; p++) {
      a += dyc[p];
      b += dyc[p] * (xc[p] - m);
    }
    part[2 * q] = a;
    part[2 * q + 1] = b;
  }
  float *k1 = bn->coef, *k2 = bn->coef + C, *k3 = bn->coef + 2 * C;
  for (int c = 0; c < C; c++) {
    double sdy = 0.0, sdyx = 0.0;
    for (int64_t i = 0; i < n; i++) {
      sdy += part[2 * (i * C + c)];
      sdyx += part[2 * (i * C + c) + 1];
    }
    sdyx *= invstd[c]; /* now sum dy * xhat */
    dgamma[c] += (float)sdyx;
    dbeta[c] += (float)sdy;
    /* dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
     *    = k1 * dy + k2 * (x - mean) + k3 */
    k1[c] = gamma[c] * invstd[c];
    k2[c] = (float)(-(double)k1[c] * invstd[c] * (sdyx / (double)M));
    k3[c] = (float)(-(double)k1[c] * (sdy / (double)M));
  }
  if (!dx) return MH_OK;
#pragma omp parallel for schedule(static) if (n * C * P > 16384)
  for (int64_t q = 0; q < n * C; q++) {
    const int c = (int)(q % C);
    const float a = k1[c], b = k2[c], d = k3[c], m = mean[c];
    const float *xc = x + q * P, *dyc = dy + q * P;
    float *dxc = dx + q * P;
#pragma omp simd
    for (int64_t p = 0; p < P; p++) dxc[p] = a * dyc[p] + b * (xc[p] - m) + d;
  }
  return MH_OK;
}

static void bn_destroy(Layer *l) {
  BatchNorm *bn = l->impl;
  if (bn) {
    free(bn->mean);
    free(bn->invstd);
    free(bn->coef);
    free(bn->part);
  }
  free(bn);
}

static const LayerOps bn_ops = {"batchnorm", bn_init, bn_forward, bn_backward, bn_destroy, 1};

Layer *layer_batchnorm(Dims in) {
  if (dims_elems(in) <= 0) {
    mh_errorf("batchnorm layer: bad input shape %dx%dx%d", in.c, in.h, in.w);
    return NULL;
  }
  par_init(0);
  Layer *l = mh_calloc(1, sizeof *l);
  BatchNorm *bn = mh_calloc(1, sizeof *bn);
  if (bn) {
    bn->mean = mh_calloc((size_t)in.c, sizeof(float));
    bn->invstd = mh_calloc((size_t)in.c, sizeof(float));
    bn->coef = mh_calloc((size_t)in.c * 3, sizeof(float));
  }
  if (!l || !bn || !bn->mean || !bn->invstd || !bn->coef) {
    if (bn) {
      free(bn->mean);
      free(bn->invstd);
      free(bn->coef);
    }
    free(bn);
    free(l);
    return NULL;
  }
  l->ops = &bn_ops;
  l->in = l->out = in;
  l->nparams = 2 * (int64_t)in.c;
  l->nbuffers = 2 * (int64_t)in.c;
  l->impl = bn;
  return l;
}

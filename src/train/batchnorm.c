/* batchnorm.c - nn.BatchNorm2d / BatchNorm1d with PyTorch's semantics:
 * training normalises with the batch statistics over (n, h, w) (biased
 * variance) and updates running_mean/var with momentum 0.1, the variance
 * unbiased (times M / (M - 1), M = n*h*w); eval uses the running
 * statistics. eps 1e-5.
 *
 * Across MPI ranks (Layer.dist of more than one rank) it is SyncBatchNorm:
 * in training the statistics are those of the global batch, every rank's
 * slice together, and backward sums the per-channel sums of dy and
 * dy * xhat over the ranks, so that 1, 2 or 3 ranks train the same model
 * and keep the same running statistics. Each rank reduces its slice to
 * per-channel (count, mean, M2) around its own shift; the ranks exchange
 * these records (one allgather of 1 + 2C doubles) and every rank merges
 * them in rank order (Chan et al.'s pairwise update, no cancellation), so
 * all ranks compute the same bits. Backward exchanges 2C sums per rank and
 * adds them in rank order too. A rank whose slice is empty still joins both
 * exchanges (its record counts 0), and so does a rank that could not
 * allocate (it counts -1, and every rank fails at that step). The
 * parameter gradients stay local sums: the trainer's gradient allreduce
 * adds them up. Eval mode talks to no one. Without a Dist, or with one rank, the code below is the plain
 * single-process one, unchanged.
 *
 * Loops run over (sample, channel) planes in memory order, in parallel:
 * walking one channel across the batch would jump a page per plane and
 * defeat the prefetcher. The batch statistics take one pass: per plane,
 * sums of x - K and (x - K)^2 with K the channel's first value (the shift
 * keeps the E[x^2] - E[x]^2 form from cancelling when the mean is large
 * against the spread), vectorised in float, then reduced per channel in
 * double, plane after plane in a fixed order (the same bits on any
 * number of threads). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/error.h"
#include "train/layers.h"
#include "train/parallel.h"
#ifdef MODYN_HAVE_CUDA
#include "train/gpu.h"
#include "train/layers_cuda.h"
#endif

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

typedef struct {
  float *mean;    /* [c] batch mean of the last training forward */
  float *invstd;  /* [c] 1 / sqrt(batch var + eps) */
  float *coef;    /* [3c] per-channel coefficients of the current pass */
  double *part;   /* [n * c * 2] per-(sample, channel) partial sums */
  int64_t part_cap;
  double *rec;    /* [(ranks + 1) * (1 + 2c)] sync mode: this rank's record,
                     then every rank's (bn_exchange) */
  int rec_ranks;  /* ranks rec is sized for */
  double count;   /* values per channel in the last training batch, all ranks */
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

/* 1: the statistics span several ranks. */
static int bn_sync(const Layer *l) { return l->dist && l->dist->size > 1; }

static int bn_reserve(BatchNorm *bn, int64_t n) {
  if (n <= bn->part_cap) return MH_OK;
  free(bn->part);
  bn->part_cap = 0;
  bn->part = mh_malloc((size_t)n * 2 * sizeof(double));
  if (!bn->part) return MH_ERR;
  bn->part_cap = n;
  return MH_OK;
}

/* The exchange buffer for ranks ranks (sync mode). */
static int bn_reserve_rec(BatchNorm *bn, int C, int ranks) {
  if (ranks <= bn->rec_ranks) return MH_OK;
  free(bn->rec);
  bn->rec_ranks = 0;
  bn->rec = mh_malloc((size_t)(ranks + 1) * (size_t)(1 + 2 * C) * sizeof(double));
  if (!bn->rec) return MH_ERR;
  bn->rec_ranks = ranks;
  return MH_OK;
}

/* Every rank's len doubles at bn->rec, in rank order, into bn->rec + len
 * on every rank. */
static int bn_exchange(const Layer *l, int len) {
  BatchNorm *bn = l->impl;
  return dist_allgather_f64(l->dist, bn->rec, len, bn->rec + len);
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

/* Channel c's sums over the samples' planes (bn_plane_sums' parts), in
 * sample order. */
static void bn_channel_sums(const double *part, int64_t n, int C, int c, double *s,
                            double *ss) {
  double a = 0.0, b = 0.0;
  for (int64_t i = 0; i < n; i++) {
    a += part[2 * (i * C + c)];
    b += part[2 * (i * C + c) + 1];
  }
  *s = a;
  *ss = b;
}

/* Per (sample, channel) plane: sums of x - K and (x - K)^2 into part, K =
 * the channel's first value in x. */
static void bn_plane_sums(const Layer *l, const float *x, int64_t n, double *part) {
  const int C = l->in.c;
  const int64_t P = (int64_t)l->in.h * l->in.w;
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
}

/* Channel c's batch statistics are mean and (biased) var over M values:
 * keep them for backward, update the running statistics, and set the
 * coefficients of y = x * scale + shift. */
static void bn_set_channel(Layer *l, int c, double mean, double var, double M) {
  BatchNorm *bn = l->impl;
  const int C = l->in.c;
  const float *gamma = l->params, *beta = l->params + C;
  float *rmean = l->buffers, *rvar = l->buffers + C;
  float *scale = bn->coef, *shift = bn->coef + C;
  const double invstd = 1.0 / sqrt(var + BN_EPS);
  bn->mean[c] = (float)mean;
  bn->invstd[c] = (float)invstd;
  rmean[c] = (float)((1.0 - BN_MOMENTUM) * rmean[c] + BN_MOMENTUM * mean);
  rvar[c] = (float)((1.0 - BN_MOMENTUM) * rvar[c] + BN_MOMENTUM * var * M / (M - 1.0));
  scale[c] = (float)(gamma[c] * invstd);
  shift[c] = (float)(beta[c] - mean * gamma[c] * invstd);
}

/* Training statistics of this process's batch alone. */
static int bn_stats_local(Layer *l, const float *x, int64_t n) {
  BatchNorm *bn = l->impl;
  const int C = l->in.c;
  const int64_t P = (int64_t)l->in.h * l->in.w, M = n * P;
  if (M < 2)
    return mh_errorf("batchnorm: training needs more than one value per channel (got a batch "
                     "of %lld with %dx%d maps)", (long long)n, l->in.h, l->in.w);
  MH_TRY(bn_reserve(bn, n * C));
  const double *part = bn->part;
  bn_plane_sums(l, x, n, bn->part);
  for (int c = 0; c < C; c++) {
    double s, ss;
    bn_channel_sums(part, n, C, c, &s, &ss);
    const double dmean = s / (double)M, mean = (double)x[(int64_t)c * P] + dmean;
    double var = ss / (double)M - dmean * dmean;
    if (var < 0.0) var = 0.0;
    bn_set_channel(l, c, mean, var, (double)M);
  }
  bn->count = (double)M;
  return MH_OK;
}

static int bn_merge(Layer *l, int rc);

/* Training statistics of the global batch: this rank's slice (possibly
 * empty) reduced to (count, mean[C], M2[C]), every rank's record merged in
 * rank order. Collective over l->dist. */
static int bn_stats_sync(Layer *l, const float *x, int64_t n) {
  BatchNorm *bn = l->impl;
  const Dist *d = l->dist;
  const int C = l->in.c;
  const int64_t P = (int64_t)l->in.h * l->in.w, M = n * P;
  /* The exchange buffer is allocated by the first training forward on d,
   * which every rank makes at the same step: agreeing then costs one
   * handshake per layer and run. */
  if (bn->rec_ranks < d->size) MH_TRY(dist_agree(d, bn_reserve_rec(bn, C, d->size)));
  /* A rank that cannot allocate its partial sums still joins the exchange,
   * with a count of -1: every rank then fails at the same step. */
  const int rc = bn_reserve(bn, n * C);
  double *mine = bn->rec;
  mine[0] = rc ? -1.0 : (double)M;
  for (int c = 0; c < 2 * C; c++) mine[1 + c] = 0.0;
  if (!rc && M > 0) {
    const double *part = bn->part;
    bn_plane_sums(l, x, n, bn->part);
    for (int c = 0; c < C; c++) {
      double s, ss;
      bn_channel_sums(part, n, C, c, &s, &ss);
      const double dmean = s / (double)M;
      const double m2 = ss - s * dmean; /* sum (x - mean)^2 */
      mine[1 + c] = (double)x[(int64_t)c * P] + dmean;
      mine[1 + C + c] = m2 > 0.0 ? m2 : 0.0;
    }
  }
  MH_TRY(bn_merge(l, rc));
  for (int c = 0; c < C; c++) bn_set_channel(l, c, mine[1 + c], mine[1 + C + c] / bn->count,
                                             bn->count);
  return MH_OK;
}

/* Exchange this rank's record (count, mean[C], M2[C]) at bn->rec with every
 * rank's and merge them in rank order into bn->rec; bn->count = the global
 * count. rc: this rank's own failure so far (its record counts -1). */
static int bn_merge(Layer *l, int rc) {
  BatchNorm *bn = l->impl;
  const Dist *d = l->dist;
  const int C = l->in.c, len = 1 + 2 * C;
  double *mine = bn->rec, *all = bn->rec + len;
  MH_TRY(bn_exchange(l, len));
  for (int r = 0; r < d->size; r++)
    if (all[(int64_t)r * len] < 0.0)
      return rc ? rc : mh_errorf("batchnorm: rank %d could not allocate its workspace", r);
  /* merge into mine: (na, mean_a, M2_a) + (nb, mean_b, M2_b) */
  double na = 0.0;
  for (int r = 0; r < d->size; r++) {
    const double *rec = all + (int64_t)r * len, nb = rec[0];
    if (nb <= 0.0) continue;
    for (int c = 0; c < C; c++) {
      if (na == 0.0) {
        mine[1 + c] = rec[1 + c];
        mine[1 + C + c] = rec[1 + C + c];
        continue;
      }
      const double delta = rec[1 + c] - mine[1 + c], tot = na + nb;
      mine[1 + c] += delta * (nb / tot);
      mine[1 + C + c] += rec[1 + C + c] + delta * delta * (na * nb / tot);
    }
    na += nb;
  }
  if (na < 2.0)
    return mh_errorf("batchnorm: training needs more than one value per channel (got a global "
                     "batch of %.0f values per channel over %d ranks, %dx%d maps)", na, d->size,
                     l->in.h, l->in.w);
  mine[0] = na;
  bn->count = na;
  return MH_OK;
}

static int bn_forward(Layer *l, const float *x, float *y, int64_t n, int train) {
  BatchNorm *bn = l->impl;
  const int C = l->in.c;
  if (!train) {
    const float *gamma = l->params, *beta = l->params + C;
    const float *rmean = l->buffers, *rvar = l->buffers + C;
    float *scale = bn->coef, *shift = bn->coef + C;
    for (int c = 0; c < C; c++) {
      const double invstd = 1.0 / sqrt((double)rvar[c] + BN_EPS);
      scale[c] = (float)(gamma[c] * invstd);
      shift[c] = (float)(beta[c] - rmean[c] * gamma[c] * invstd);
    }
  } else {
    MH_TRY(bn_sync(l) ? bn_stats_sync(l, x, n) : bn_stats_local(l, x, n));
  }
  bn_apply(l, x, y, n, bn->coef, bn->coef + C);
  return MH_OK;
}

static int bn_backward(Layer *l, const float *x, const float *y, float *dy, float *dx,
                       int64_t n) {
  BatchNorm *bn = l->impl;
  const int C = l->in.c, sync = bn_sync(l);
  const int64_t P = (int64_t)l->in.h * l->in.w;
  const float *gamma = l->params;
  float *dgamma = l->grads, *dbeta = l->grads + C;
  /* forward reserved both buffers for this n: nothing here can fail on one
   * rank alone */
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
  const double M = bn->count;
  double *mine = sync ? bn->rec : NULL;
  for (int c = 0; c < C; c++) {
    double sdy = 0.0, sdyx = 0.0;
    for (int64_t i = 0; i < n; i++) {
      sdy += part[2 * (i * C + c)];
      sdyx += part[2 * (i * C + c) + 1];
    }
    /* the parameter gradients are this rank's: the trainer sums them */
    dgamma[c] += (float)(sdyx * invstd[c]); /* sum dy * xhat */
    dbeta[c] += (float)sdy;
    if (sync) {
      mine[c] = sdy;
      mine[C + c] = sdyx;
      continue;
    }
    sdyx *= invstd[c];
    /* dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
     *    = k1 * dy + k2 * (x - mean) + k3 */
    k1[c] = gamma[c] * invstd[c];
    k2[c] = (float)(-(double)k1[c] * invstd[c] * (sdyx / M));
    k3[c] = (float)(-(double)k1[c] * (sdy / M));
  }
  if (sync) {
    /* dx needs the sums over the global batch: every rank's, added in rank
     * order (the same bits on every rank) */
    MH_TRY(bn_exchange(l, 2 * C));
    const double *all = bn->rec + 2 * C;
    for (int c = 0; c < C; c++) {
      double sdy = 0.0, sdyx = 0.0;
      for (int r = 0; r < l->dist->size; r++) {
        sdy += all[(int64_t)r * 2 * C + c];
        sdyx += all[(int64_t)r * 2 * C + C + c];
      }
      sdyx *= invstd[c];
      k1[c] = gamma[c] * invstd[c];
      k2[c] = (float)(-(double)k1[c] * invstd[c] * (sdyx / M));
      k3[c] = (float)(-(double)k1[c] * (sdy / M));
    }
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

#ifdef MODYN_HAVE_CUDA
/* The GPU twin: statistics, coefficients and sums on the device, in the
 * layer's workspace: rec [1 + 2C] and sums [2C] doubles, then mean, invstd,
 * scale, shift [C] floats. With several ranks, the records and sums travel
 * through the host for SyncBatchNorm's exchange (bn_merge), so the merge is
 * the CPU's, bit for bit. */
typedef struct {
  double *rec, *sums;
  float *mean, *invstd, *scale, *shift;
} BnDev;

static int bn_dev(Layer *l, BnDev *b) {
  const int C = l->in.c;
  MH_TRY(gpu_grow(&l->dws, &l->dws_bytes,
                  (int64_t)(1 + 4 * C) * (int64_t)sizeof(double) + 4 * (int64_t)C * 4));
  b->rec = l->dws;
  b->sums = b->rec + 1 + 2 * C;
  b->mean = (float *)(b->sums + 2 * C);
  b->invstd = b->mean + C;
  b->scale = b->invstd + C;
  b->shift = b->scale + C;
  return MH_OK;
}

static int bn_forward_gpu(Layer *l, const float *x, float *y, int64_t n, int train) {
  BatchNorm *bn = l->impl;
  const int C = l->in.c;
  const int64_t P = (int64_t)l->in.h * l->in.w, M = n * P;
  const float *gamma = l->params, *beta = l->params + C;
  float *rmean = l->buffers, *rvar = l->buffers + C;
  BnDev b;
  const int sync = train && bn_sync(l);
  if (sync && bn->rec_ranks < l->dist->size)
    MH_TRY(dist_agree(l->dist, bn_reserve_rec(bn, C, l->dist->size)));
  int rc = bn_dev(l, &b);
  if (rc && !sync) return rc;
  if (!train) {
    MH_TRY(bn_eval_coef_cuda(gamma, beta, rmean, rvar, b.scale, b.shift, C, BN_EPS));
  } else if (!sync) {
    if (M < 2)
      return mh_errorf("batchnorm: training needs more than one value per channel (got a batch "
                       "of %lld with %dx%d maps)", (long long)n, l->in.h, l->in.w);
    MH_TRY(bn_stats_cuda(x, n, C, P, b.rec));
    MH_TRY(bn_finalize_cuda(b.rec, gamma, beta, rmean, rvar, b.mean, b.invstd, b.scale, b.shift,
                            C, BN_MOMENTUM, BN_EPS, 1));
    bn->count = (double)M;
  } else {
    double *mine = bn->rec;
    memset(mine, 0, (size_t)(1 + 2 * C) * sizeof(double));
    if (!rc && M > 0) {
      rc = bn_stats_cuda(x, n, C, P, b.rec);
      if (!rc) rc = gpu_download(mine, b.rec, (size_t)(1 + 2 * C) * sizeof(double));
    }
    if (rc) mine[0] = -1.0;
    MH_TRY(bn_merge(l, rc));
    MH_TRY(gpu_upload(b.rec, mine, (size_t)(1 + 2 * C) * sizeof(double)));
    MH_TRY(bn_finalize_cuda(b.rec, gamma, beta, rmean, rvar, b.mean, b.invstd, b.scale, b.shift,
                            C, BN_MOMENTUM, BN_EPS, 1));
  }
  return bn_apply_cuda(x, y, n, C, P, b.scale, b.shift, l->relu);
}

static int bn_backward_gpu(Layer *l, const float *x, const float *y, float *dy, float *dx,
                           int64_t n) {
  BatchNorm *bn = l->impl;
  const int C = l->in.c;
  const int64_t P = (int64_t)l->in.h * l->in.w;
  BnDev b;
  MH_TRY(bn_dev(l, &b)); /* the forward sized it */
  MH_TRY(bn_backward_sums_cuda(x, y, dy, b.mean, n, C, P, l->relu, b.sums));
  MH_TRY(bn_param_grads_cuda(b.sums, b.invstd, l->grads, l->grads + C, C));
  if (bn_sync(l)) {
    /* dx needs the global sums: every rank's, added in rank order */
    double *mine = bn->rec, *all = bn->rec + 2 * C;
    MH_TRY(gpu_download(mine, b.sums, (size_t)(2 * C) * sizeof(double)));
    MH_TRY(bn_exchange(l, 2 * C));
    for (int c = 0; c < 2 * C; c++) {
      double s = 0.0;
      for (int r = 0; r < l->dist->size; r++) s += all[(int64_t)r * 2 * C + c];
      mine[c] = s;
    }
    MH_TRY(gpu_upload(b.sums, mine, (size_t)(2 * C) * sizeof(double)));
  }
  if (!dx) return MH_OK;
  return bn_dx_cuda(x, dy, b.mean, b.invstd, l->params, b.sums, bn->count, n, C, P, dx);
}
#endif

static void bn_destroy(Layer *l) {
  BatchNorm *bn = l->impl;
  if (bn) {
    free(bn->mean);
    free(bn->invstd);
    free(bn->coef);
    free(bn->part);
    free(bn->rec);
  }
  free(bn);
}

static const LayerOps bn_ops = {"batchnorm", bn_init, bn_forward, bn_backward, bn_destroy, 1, 1,
                                LAYER_CUDA(bn_forward_gpu, bn_backward_gpu), NULL};

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

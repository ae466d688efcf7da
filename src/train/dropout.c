/* dropout.c - nn.Dropout(p): in training each value is zeroed with
 * probability p and the rest scaled by 1/(1-p); eval is the identity. The
 * mask is drawn serially from the layer's own Rng (reseeded by init from the
 * model's init stream), so a run is reproducible for any thread count. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/layers.h"
#include "train/parallel.h"
#ifdef MODYN_HAVE_CUDA
#include "train/gpu.h"
#include "train/layers_cuda.h"
#endif

typedef struct {
  double p;
  Rng rng;
  float *mask;   /* [n * size]: 0 or 1/(1-p), from the last training forward */
  int64_t cap;
} Dropout;

static void dropout_init(Layer *l, Rng *rng) {
  Dropout *d = l->impl;
  rng_seed(&d->rng, rng_next(rng));
}

static int dropout_forward(Layer *l, const float *x, float *y, int64_t n, int train) {
  Dropout *d = l->impl;
  const int64_t len = n * dims_elems(l->in);
  if (len == 0) return MH_OK; /* an empty slice (x may be NULL) */
  if (!train || d->p <= 0.0) {
    memcpy(y, x, (size_t)len * sizeof(float));
    return MH_OK;
  }
  MH_TRY(par_reserve(&d->mask, &d->cap, len));
  const float keep = (float)(1.0 / (1.0 - d->p));
  for (int64_t i = 0; i < len; i++) d->mask[i] = rng_uniform(&d->rng) < d->p ? 0.0f : keep;
  for (int64_t i = 0; i < len; i++) y[i] = x[i] * d->mask[i];
  return MH_OK;
}

static int dropout_backward(Layer *l, const float *x, const float *y, float *dy, float *dx,
                            int64_t n) {
  const Dropout *d = l->impl;
  const int64_t len = n * dims_elems(l->in);
  if (!dx || len == 0) return MH_OK;
  if (d->p <= 0.0) {
    memcpy(dx, dy, (size_t)len * sizeof(float));
    return MH_OK;
  }
  for (int64_t i = 0; i < len; i++) dx[i] = dy[i] * d->mask[i];
  return MH_OK;
}

#ifdef MODYN_HAVE_CUDA
/* The mask is drawn on the host from the layer's Rng, as on the CPU (the
 * same mask for the same seed), and uploaded. */
static int dropout_forward_gpu(Layer *l, const float *x, float *y, int64_t n, int train) {
  Dropout *d = l->impl;
  const int64_t len = n * dims_elems(l->in);
  if (len == 0) return MH_OK;
  if (!train || d->p <= 0.0) return gpu_copy(y, x, (size_t)len * sizeof(float));
  MH_TRY(par_reserve(&d->mask, &d->cap, len));
  const float keep = (float)(1.0 / (1.0 - d->p));
  for (int64_t i = 0; i < len; i++) d->mask[i] = rng_uniform(&d->rng) < d->p ? 0.0f : keep;
  MH_TRY(gpu_grow(&l->dws, &l->dws_bytes, len * (int64_t)sizeof(float)));
  /* d->mask is pageable: the copy has taken the bytes when the call returns */
  MH_TRY(gpu_upload(l->dws, d->mask, (size_t)len * sizeof(float)));
  return mul_cuda(x, l->dws, y, len);
}

static int dropout_backward_gpu(Layer *l, const float *x, const float *y, float *dy, float *dx,
                                int64_t n) {
  const Dropout *d = l->impl;
  const int64_t len = n * dims_elems(l->in);
  if (!dx || len == 0) return MH_OK;
  if (d->p <= 0.0) return gpu_copy(dx, dy, (size_t)len * sizeof(float));
  return mul_cuda(dy, l->dws, dx, len);
}
#endif

static void dropout_destroy(Layer *l) {
  Dropout *d = l->impl;
  if (d) free(d->mask);
  free(d);
}

static const LayerOps dropout_ops = {"dropout", dropout_init, dropout_forward, dropout_backward,
                                     dropout_destroy, 0, 0,
                                     LAYER_CUDA(dropout_forward_gpu, dropout_backward_gpu), NULL};

Rng *layer_dropout_rng(Layer *l) {
  return l->ops == &dropout_ops ? &((Dropout *)l->impl)->rng : NULL;
}

Layer *layer_dropout(Dims in, double p) {
  if (!(p >= 0.0 && p < 1.0)) {
    mh_errorf("dropout layer: p must be in [0, 1), got %g", p);
    return NULL;
  }
  Layer *l = mh_calloc(1, sizeof *l);
  Dropout *d = mh_calloc(1, sizeof *d);
  if (!l || !d) {
    free(l);
    free(d);
    return NULL;
  }
  d->p = p;
  rng_seed(&d->rng, 0x5eed);
  l->ops = &dropout_ops;
  l->in = l->out = in;
  l->impl = d;
  return l;
}

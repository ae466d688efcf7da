/* relu.c - nn.ReLU (y = max(x, 0); the gradient at 0 is 0, as in PyTorch)
 * and nn.Flatten (a shape change: the container passes the input through). */
#include <stdlib.h>

#include "core/error.h"
#include "train/layers.h"
#include "train/parallel.h"
#ifdef MODYN_HAVE_CUDA
#include "train/gpu.h"
#include "train/layers_cuda.h"
#endif

void relu_inplace(float *y, int64_t len) {
#pragma omp parallel for schedule(static) if (len > 32768)
  for (int64_t i = 0; i < len; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
}

void relu_mask_grad(const float *y, float *dy, int64_t len) {
#pragma omp parallel for schedule(static) if (len > 32768)
  for (int64_t i = 0; i < len; i++) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

static int relu_forward(Layer *l, const float *x, float *y, int64_t n, int train) {
  const int64_t len = n * dims_elems(l->in);
#pragma omp parallel for schedule(static) if (len > 32768)
  for (int64_t i = 0; i < len; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  return MH_OK;
}

static int relu_backward(Layer *l, const float *x, const float *y, float *dy, float *dx,
                         int64_t n) {
  if (!dx) return MH_OK;
  const int64_t len = n * dims_elems(l->in);
#pragma omp parallel for schedule(static) if (len > 32768)
  for (int64_t i = 0; i < len; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
  return MH_OK;
}

#ifdef MODYN_HAVE_CUDA
static int relu_forward_gpu(Layer *l, const float *x, float *y, int64_t n, int train) {
  return relu_forward_cuda(x, y, n * dims_elems(l->in));
}

static int relu_backward_gpu(Layer *l, const float *x, const float *y, float *dy, float *dx,
                             int64_t n) {
  return dx ? relu_backward_cuda(y, dy, dx, n * dims_elems(l->in)) : MH_OK;
}
#endif

static const LayerOps relu_ops = {"relu", NULL, relu_forward, relu_backward, NULL, 0, 0,
                                  LAYER_CUDA(relu_forward_gpu, relu_backward_gpu), NULL};

Layer *layer_relu(Dims in) {
  par_init(0);
  Layer *l = mh_calloc(1, sizeof *l);
  if (!l) return NULL;
  l->ops = &relu_ops;
  l->in = l->out = in;
  return l;
}

/* Flatten never runs: the container passes the input through (alias). */
static int flatten_forward(Layer *l, const float *x, float *y, int64_t n, int train) {
  return mh_errorf("flatten layer: forward called on an alias layer");
}

static int flatten_backward(Layer *l, const float *x, const float *y, float *dy, float *dx,
                            int64_t n) {
  return mh_errorf("flatten layer: backward called on an alias layer");
}

static const LayerOps flatten_ops = {"flatten", NULL, flatten_forward, flatten_backward, NULL, 0,
                                     0, NULL, NULL, NULL};

Layer *layer_flatten(Dims in) {
  Layer *l = mh_calloc(1, sizeof *l);
  if (!l) return NULL;
  l->ops = &flatten_ops;
  l->in = in;
  l->out = (Dims){(int)dims_elems(in), 1, 1};
  l->alias = 1;
  return l;
}

/* linear.c - nn.Linear: y = x W^T + b, W [out, in], b [out]. Forward and
 * backward are one GEMM each (split over the threads by parallel.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/layers.h"
#include "train/parallel.h"
#ifdef MODYN_HAVE_CUDA
#include "train/gpu.h"
#include "train/layers_cuda.h"
#endif

static void linear_init(Layer *l, Rng *rng) {
  const int64_t in = dims_elems(l->in), out = l->out.c;
  /* kaiming_uniform(a = sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in));
   * the bias uses the same bound. */
  const double bound = 1.0 / sqrt((double)in);
  for (int64_t i = 0; i < out * in + out; i++)
    l->params[i] = (float)((2.0 * rng_uniform(rng) - 1.0) * bound);
}

static int linear_forward(Layer *l, const float *x, float *y, int64_t n, int train) {
  const int in = (int)dims_elems(l->in), out = l->out.c;
  const float *W = l->params, *b = W + (int64_t)out * in;
  for (int64_t i = 0; i < n; i++) memcpy(y + i * out, b, (size_t)out * sizeof(float));
  par_sgemm(0, 1, (int)n, out, in, 1.0f, x, in, W, in, 1.0f, y, out);
  if (l->relu) relu_inplace(y, n * out);
  return MH_OK;
}

static int linear_backward(Layer *l, const float *x, const float *y, float *dy, float *dx,
                           int64_t n) {
  const int in = (int)dims_elems(l->in), out = l->out.c;
  const float *W = l->params;
  float *dW = l->grads, *db = dW + (int64_t)out * in;
  if (l->relu) relu_mask_grad(y, dy, n * out);
  /* dW += dy^T x ; db += column sums of dy ; dx = dy W */
  par_sgemm(1, 0, out, in, (int)n, 1.0f, dy, out, x, in, 1.0f, dW, in);
  for (int64_t i = 0; i < n; i++)
    for (int k = 0; k < out; k++) db[k] += dy[i * out + k];
  if (dx) par_sgemm(0, 0, (int)n, in, out, 1.0f, dy, out, W, in, 0.0f, dx, in);
  return MH_OK;
}

#ifdef MODYN_HAVE_CUDA
static int linear_forward_gpu(Layer *l, const float *x, float *y, int64_t n, int train) {
  const int in = (int)dims_elems(l->in), out = l->out.c;
  return linear_forward_cuda(x, l->params, l->params + (int64_t)out * in, n, in, out, l->relu, y);
}

static int linear_backward_gpu(Layer *l, const float *x, const float *y, float *dy, float *dx,
                               int64_t n) {
  const int in = (int)dims_elems(l->in), out = l->out.c;
  return linear_backward_cuda(x, l->params, y, dy, l->grads, l->grads + (int64_t)out * in, dx, n,
                              in, out, l->relu);
}
#endif

static const LayerOps linear_ops = {"linear", linear_init, linear_forward, linear_backward, NULL,
                                    1, 0, LAYER_CUDA(linear_forward_gpu, linear_backward_gpu),
                                    NULL};

Layer *layer_linear(Dims in, int out) {
  if (dims_elems(in) <= 0 || out <= 0) {
    mh_errorf("linear layer: bad sizes %lld -> %d", (long long)dims_elems(in), out);
    return NULL;
  }
  par_init(0);
  Layer *l = mh_calloc(1, sizeof *l);
  if (!l) return NULL;
  l->ops = &linear_ops;
  l->in = in;
  l->out = (Dims){out, 1, 1};
  l->nparams = (int64_t)out * dims_elems(in) + out;
  return l;
}

// optim_cuda.cu - torch.optim's SGD and Adam/AdamW updates on the device
// (optim.c's rules, element by element; the gradient arrives summed over
// the global batch and is scaled here, clipping folded into the scale).
#include "train/gpu_internal.cuh"
#include "train/layers_cuda.h"

#define THREADS 256

__global__ void sgd_k(float *p, const float *g, float *m, int64_t lo, int64_t hi, float scale,
                      float lr, float mu, float wd, int nesterov, int first) {
  for (int64_t i = lo + blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < hi;
       i += (int64_t)gridDim.x * blockDim.x) {
    float d = g[i] * scale + wd * p[i];
    if (mu != 0.0f) {
      float buf = first ? d : mu * m[i] + d;
      m[i] = buf;
      d = nesterov ? d + mu * buf : buf;
    }
    p[i] -= lr * d;
  }
}

__global__ void adam_k(float *p, const float *g, float *m, float *v, int64_t lo, int64_t hi,
                       float scale, float lr, float b1, float b2, float eps, float wd,
                       int decoupled, float step_size, float sqrt_bc2, float c1, float c2) {
  for (int64_t i = lo + blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < hi;
       i += (int64_t)gridDim.x * blockDim.x) {
    float gi = g[i] * scale;
    if (decoupled) p[i] *= 1.0f - lr * wd;
    else gi += wd * p[i];
    m[i] = b1 * m[i] + c1 * gi;
    v[i] = b2 * v[i] + c2 * gi * gi;
    float denom = sqrtf(v[i]) / sqrt_bc2 + eps;
    p[i] -= step_size * m[i] / denom;
  }
}

extern "C" int sgd_update_cuda(float *p, const float *g, float *m, int64_t lo, int64_t hi,
                               float scale, float lr, float momentum, float wd, int nesterov,
                               int first) {
  if (hi <= lo) return MH_OK;
  sgd_k<<<gpu_blocks(hi - lo, THREADS), THREADS, 0, g_stream>>>(p, g, m, lo, hi, scale, lr,
                                                                momentum, wd, nesterov, first);
  CUDA_LAUNCHED();
  return MH_OK;
}

extern "C" int adam_update_cuda(float *p, const float *g, float *m, float *v, int64_t lo,
                                int64_t hi, float scale, float lr, double b1, double b2, float eps,
                                float wd, int decoupled, double bc1, double bc2) {
  if (hi <= lo) return MH_OK;
  adam_k<<<gpu_blocks(hi - lo, THREADS), THREADS, 0, g_stream>>>(
      p, g, m, v, lo, hi, scale, lr, (float)b1, (float)b2, eps, wd, decoupled, (float)(lr / bc1),
      (float)sqrt(bc2), (float)(1.0 - b1), (float)(1.0 - b2));
  CUDA_LAUNCHED();
  return MH_OK;
}

// batchnorm_cuda.cu - BatchNorm's kernels on the device (the bookkeeping,
// SyncBatchNorm's exchange included, stays in batchnorm.c). Per-channel
// statistics in two fixed-order stages: blocks over (channel, slice) sum in
// float around a shift (the channel's first value), one thread per channel
// adds the slices in double.
#include "train/gpu_internal.cuh"
#include "train/layers_cuda.h"

#define THREADS 256

// Slices per channel: enough blocks to fill the device, none nearly empty.
static int bn_slices(int64_t n, int C, int64_t P) {
  int64_t per = n * P;
  int64_t s = (4 * (int64_t)g_num_sms + C - 1) / C;
  int64_t cap = (per + 4095) / 4096;
  if (s > cap) s = cap;
  if (s < 1) s = 1;
  return (int)s;
}

// Block-wide sum of two floats (fixed tree); thread 0 gets the result.
__device__ void block_sum2(float *a, float *b) {
  __shared__ float sa[THREADS], sb[THREADS];
  sa[threadIdx.x] = *a;
  sb[threadIdx.x] = *b;
  __syncthreads();
  for (int s = THREADS / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) {
      sa[threadIdx.x] += sa[threadIdx.x + s];
      sb[threadIdx.x] += sb[threadIdx.x + s];
    }
    __syncthreads();
  }
  *a = sa[0];
  *b = sb[0];
}

// part[(c * S + s) * 2 + {0,1}] = sums of d and d^2, d = x - x[channel's first]
__global__ void bn_stats_part_k(const float *x, int64_t n, int C, int64_t P, int S,
                                double *part) {
  const int c = blockIdx.x, s = blockIdx.y;
  const int64_t total = n * P, chunk = (total + S - 1) / S;
  const int64_t lo = s * chunk, hi = lo + chunk < total ? lo + chunk : total;
  const float K = x[(int64_t)c * P];
  float a = 0.0f, b = 0.0f;
  for (int64_t j = lo + threadIdx.x; j < hi; j += THREADS) {
    int64_t i = j / P, p = j - i * P;
    float d = x[(i * C + c) * P + p] - K;
    a += d;
    b += d * d;
  }
  block_sum2(&a, &b);
  if (threadIdx.x == 0) {
    part[2 * ((int64_t)c * S + s)] = a;
    part[2 * ((int64_t)c * S + s) + 1] = b;
  }
}

// Channel c's two sums over its S slices, in slice order, in double.
__device__ void slice_sums(const double *part, int c, int S, double *a, double *b) {
  double sa = 0.0, sb = 0.0;
  for (int s = 0; s < S; s++) {
    sa += part[2 * ((int64_t)c * S + s)];
    sb += part[2 * ((int64_t)c * S + s) + 1];
  }
  *a = sa;
  *b = sb;
}

__global__ void bn_stats_final_k(const float *x, const double *part, int64_t n, int C, int64_t P,
                                 int S, double *rec) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double a, b;
  slice_sums(part, c, S, &a, &b);
  const double M = (double)(n * P);
  const double dmean = a / M;
  const double m2 = b - a * dmean;
  if (c == 0) rec[0] = M;
  rec[1 + c] = (double)x[(int64_t)c * P] + dmean;
  rec[1 + C + c] = m2 > 0.0 ? m2 : 0.0;
}

static double *g_part;
static int64_t g_part_cap;

extern "C" int bn_stats_cuda(const float *x, int64_t n, int C, int64_t P, double *rec) {
  const int S = bn_slices(n, C, P);
  MH_TRY(gpu_grow((void **)&g_part, &g_part_cap, (int64_t)C * S * 2 * (int64_t)sizeof(double)));
  bn_stats_part_k<<<dim3(C, S), THREADS, 0, g_stream>>>(x, n, C, P, S, g_part);
  CUDA_LAUNCHED();
  bn_stats_final_k<<<(C + 127) / 128, 128, 0, g_stream>>>(x, g_part, n, C, P, S, rec);
  CUDA_LAUNCHED();
  return MH_OK;
}

__global__ void bn_finalize_k(const double *rec, const float *gamma, const float *beta,
                              float *rmean, float *rvar, float *mean, float *invstd,
                              float *scale, float *shift, int C, double momentum, double eps,
                              int update) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const double M = rec[0], mu = rec[1 + c], var = rec[1 + C + c] / M;
  const double is = 1.0 / sqrt(var + eps);
  mean[c] = (float)mu;
  invstd[c] = (float)is;
  if (update) {
    rmean[c] = (float)((1.0 - momentum) * rmean[c] + momentum * mu);
    rvar[c] = (float)((1.0 - momentum) * rvar[c] + momentum * var * M / (M - 1.0));
  }
  scale[c] = (float)(gamma[c] * is);
  shift[c] = (float)(beta[c] - mu * gamma[c] * is);
}

extern "C" int bn_finalize_cuda(const double *rec, const float *gamma, const float *beta,
                                float *rmean, float *rvar, float *mean, float *invstd,
                                float *scale, float *shift, int C, double momentum, double eps,
                                int update) {
  bn_finalize_k<<<(C + 127) / 128, 128, 0, g_stream>>>(rec, gamma, beta, rmean, rvar, mean,
                                                       invstd, scale, shift, C, momentum, eps,
                                                       update);
  CUDA_LAUNCHED();
  return MH_OK;
}

__global__ void bn_eval_coef_k(const float *gamma, const float *beta, const float *rmean,
                               const float *rvar, float *scale, float *shift, int C, double eps) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const double is = 1.0 / sqrt((double)rvar[c] + eps);
  scale[c] = (float)(gamma[c] * is);
  shift[c] = (float)(beta[c] - rmean[c] * gamma[c] * is);
}

extern "C" int bn_eval_coef_cuda(const float *gamma, const float *beta, const float *rmean,
                                 const float *rvar, float *scale, float *shift, int C,
                                 double eps) {
  bn_eval_coef_k<<<(C + 127) / 128, 128, 0, g_stream>>>(gamma, beta, rmean, rvar, scale, shift,
                                                        C, eps);
  CUDA_LAUNCHED();
  return MH_OK;
}

__global__ void bn_apply_k(const float *x, float *y, int64_t len, int C, int64_t P,
                           const float *scale, const float *shift, int relu) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < len;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int c = (int)((i / P) % C);
    float v = x[i] * scale[c] + shift[c];
    y[i] = relu && v < 0.0f ? 0.0f : v;
  }
}

extern "C" int bn_apply_cuda(const float *x, float *y, int64_t n, int C, int64_t P,
                             const float *scale, const float *shift, int relu) {
  const int64_t len = n * C * P;
  if (len <= 0) return MH_OK;
  bn_apply_k<<<gpu_blocks(len, THREADS), THREADS, 0, g_stream>>>(x, y, len, C, P, scale, shift,
                                                                 relu);
  CUDA_LAUNCHED();
  return MH_OK;
}

__global__ void bn_bwd_part_k(const float *x, const float *y, float *dy, const float *mean,
                              int64_t n, int C, int64_t P, int S, int relu, double *part) {
  const int c = blockIdx.x, s = blockIdx.y;
  const int64_t total = n * P, chunk = (total + S - 1) / S;
  const int64_t lo = s * chunk, hi = lo + chunk < total ? lo + chunk : total;
  const float m = mean[c];
  float a = 0.0f, b = 0.0f;
  for (int64_t j = lo + threadIdx.x; j < hi; j += THREADS) {
    int64_t i = j / P, p = j - i * P;
    const int64_t q = (i * C + c) * P + p;
    float g = dy[q];
    if (relu && !(y[q] > 0.0f)) {
      g = 0.0f;
      dy[q] = 0.0f;
    }
    a += g;
    b += g * (x[q] - m);
  }
  block_sum2(&a, &b);
  if (threadIdx.x == 0) {
    part[2 * ((int64_t)c * S + s)] = a;
    part[2 * ((int64_t)c * S + s) + 1] = b;
  }
}

__global__ void bn_bwd_final_k(const double *part, int C, int S, double *sums) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double a, b;
  slice_sums(part, c, S, &a, &b);
  sums[c] = a;
  sums[C + c] = b;
}

extern "C" int bn_backward_sums_cuda(const float *x, const float *y, float *dy, const float *mean,
                                     int64_t n, int C, int64_t P, int relu, double *sums) {
  if (n <= 0) return gpu_zero(sums, (size_t)2 * C * sizeof(double));
  const int S = bn_slices(n, C, P);
  MH_TRY(gpu_grow((void **)&g_part, &g_part_cap, (int64_t)C * S * 2 * (int64_t)sizeof(double)));
  bn_bwd_part_k<<<dim3(C, S), THREADS, 0, g_stream>>>(x, y, dy, mean, n, C, P, S, relu, g_part);
  CUDA_LAUNCHED();
  bn_bwd_final_k<<<(C + 127) / 128, 128, 0, g_stream>>>(g_part, C, S, sums);
  CUDA_LAUNCHED();
  return MH_OK;
}

__global__ void bn_param_grads_k(const double *sums, const float *invstd, float *dgamma,
                                 float *dbeta, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  dgamma[c] += (float)(sums[C + c] * invstd[c]);
  dbeta[c] += (float)sums[c];
}

extern "C" int bn_param_grads_cuda(const double *sums, const float *invstd, float *dgamma,
                                   float *dbeta, int C) {
  bn_param_grads_k<<<(C + 127) / 128, 128, 0, g_stream>>>(sums, invstd, dgamma, dbeta, C);
  CUDA_LAUNCHED();
  return MH_OK;
}

__global__ void bn_dx_k(const float *x, const float *dy, const float *mean, const float *invstd,
                        const float *gamma, const double *sums, double M, int64_t len, int C,
                        int64_t P, float *dx) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < len;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int c = (int)((i / P) % C);
    const float is = invstd[c];
    const float k1 = gamma[c] * is;
    const float k2 = (float)(-(double)k1 * is * (sums[C + c] * is / M));
    const float k3 = (float)(-(double)k1 * (sums[c] / M));
    dx[i] = k1 * dy[i] + k2 * (x[i] - mean[c]) + k3;
  }
}

extern "C" int bn_dx_cuda(const float *x, const float *dy, const float *mean, const float *invstd,
                          const float *gamma, const double *sums, double count, int64_t n, int C,
                          int64_t P, float *dx) {
  const int64_t len = n * C * P;
  if (len <= 0) return MH_OK;
  bn_dx_k<<<gpu_blocks(len, THREADS), THREADS, 0, g_stream>>>(x, dy, mean, invstd, gamma, sums,
                                                              count, len, C, P, dx);
  CUDA_LAUNCHED();
  return MH_OK;
}

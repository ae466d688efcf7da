// loss_cuda.cu - the losses of loss.h on the device, one thread per sample
// in double (as the CPU), the batch sum in one fixed-order block; and the
// squared norm for gradient clipping.
#include "train/gpu_internal.cuh"
#include "train/layers_cuda.h"

#define THREADS 256

static double *g_wl;
static int64_t g_wl_cap;

__global__ void ce_k(const float *logits, const int32_t *labels, const float *weights, int64_t n,
                     int K, float *dlogits, float *per_sample, double *wl) {
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float *z = logits + i * K;
  const int y = labels[i];
  float zmax = z[0];
  for (int k = 1; k < K; k++) zmax = z[k] > zmax ? z[k] : zmax;
  double se = 0.0;
  for (int k = 0; k < K; k++) se += exp((double)(z[k] - zmax));
  const double lse = (double)zmax + log(se), li = lse - (double)z[y];
  const double w = weights ? (double)weights[i] : 1.0;
  wl[i] = w * li;
  if (per_sample) per_sample[i] = (float)li;
  if (dlogits)
    for (int k = 0; k < K; k++) {
      double p = exp((double)z[k] - lse);
      dlogits[i * K + k] = (float)(w * (p - (k == y ? 1.0 : 0.0)));
    }
}

__global__ void bce_k(const float *logits, const int32_t *labels, const float *weights, int64_t n,
                      float *dlogits, float *per_sample, double *wl) {
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= n) return;
  const double z = logits[i], y = (double)labels[i];
  const double li = (z > 0 ? z : 0.0) - y * z + log1p(exp(-fabs(z)));
  const double w = weights ? (double)weights[i] : 1.0;
  wl[i] = w * li;
  if (per_sample) per_sample[i] = (float)li;
  if (dlogits) {
    double s = z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
    dlogits[i] = (float)(w * (s - y));
  }
}

// One block: out = sum of v [n] (double), written as float or double.
__global__ void sum_k(const double *v, int64_t n, float *outf, double *outd) {
  __shared__ double part[THREADS];
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += THREADS) acc += v[i];
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int s = THREADS / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    if (outf) *outf = (float)part[0];
    if (outd) *outd = part[0];
  }
}

extern "C" int loss_softmax_ce_cuda(const float *logits, const int32_t *labels,
                                    const float *weights, int64_t n, int K, float *dlogits,
                                    float *per_sample, float *sum) {
  MH_TRY(gpu_grow((void **)&g_wl, &g_wl_cap, (n + 1) * (int64_t)sizeof(double)));
  if (n > 0) {
    ce_k<<<(unsigned)((n + THREADS - 1) / THREADS), THREADS, 0, g_stream>>>(
        logits, labels, weights, n, K, dlogits, per_sample, g_wl);
    CUDA_LAUNCHED();
  }
  if (sum) {
    sum_k<<<1, THREADS, 0, g_stream>>>(g_wl, n, sum, NULL);
    CUDA_LAUNCHED();
  }
  return MH_OK;
}

extern "C" int loss_bce_logits_cuda(const float *logits, const int32_t *labels,
                                    const float *weights, int64_t n, float *dlogits,
                                    float *per_sample, float *sum) {
  MH_TRY(gpu_grow((void **)&g_wl, &g_wl_cap, (n + 1) * (int64_t)sizeof(double)));
  if (n > 0) {
    bce_k<<<(unsigned)((n + THREADS - 1) / THREADS), THREADS, 0, g_stream>>>(
        logits, labels, weights, n, dlogits, per_sample, g_wl);
    CUDA_LAUNCHED();
  }
  if (sum) {
    sum_k<<<1, THREADS, 0, g_stream>>>(g_wl, n, sum, NULL);
    CUDA_LAUNCHED();
  }
  return MH_OK;
}

// Squares summed per block slice (fixed), then the slices in one block.
__global__ void sq_part_k(const float *x, int64_t n, int64_t chunk, double *part) {
  __shared__ double s[THREADS];
  const int64_t lo = blockIdx.x * chunk, hi = lo + chunk < n ? lo + chunk : n;
  double acc = 0.0;
  for (int64_t i = lo + threadIdx.x; i < hi; i += THREADS) acc += (double)x[i] * x[i];
  s[threadIdx.x] = acc;
  __syncthreads();
  for (int k = THREADS / 2; k > 0; k >>= 1) {
    if ((int)threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) part[blockIdx.x] = s[0];
}

extern "C" int sum_squares_cuda(const float *x, int64_t n, double *out) {
  const int blocks = 256;
  const int64_t chunk = (n + blocks - 1) / blocks;
  MH_TRY(gpu_grow((void **)&g_wl, &g_wl_cap, (blocks + 1) * (int64_t)sizeof(double)));
  sq_part_k<<<blocks, THREADS, 0, g_stream>>>(x, n, chunk > 0 ? chunk : 1, g_wl);
  CUDA_LAUNCHED();
  sum_k<<<1, THREADS, 0, g_stream>>>(g_wl, blocks, NULL, out);
  CUDA_LAUNCHED();
  return MH_OK;
}

// elementwise_cuda.cu - ReLU, bias, add, multiply and channel sums on the
// device (layers_cuda.h). Grid-stride loops; sums in a fixed order.
#include "train/gpu_internal.cuh"
#include "train/layers_cuda.h"

#define THREADS 256

__global__ void relu_fwd_k(const float *x, float *y, int64_t len) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < len;
       i += (int64_t)gridDim.x * blockDim.x)
    y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__global__ void relu_bwd_k(const float *y, const float *dy, float *dx, int64_t len) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < len;
       i += (int64_t)gridDim.x * blockDim.x)
    dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

__global__ void bias_act_k(float *y, const float *b, int64_t len, int C, int64_t P, int relu) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < len;
       i += (int64_t)gridDim.x * blockDim.x) {
    float v = y[i] + b[(i / P) % C];
    y[i] = relu && v < 0.0f ? 0.0f : v;
  }
}

__global__ void add_act_k(const float *a, const float *b, float *y, int64_t len, int relu) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < len;
       i += (int64_t)gridDim.x * blockDim.x) {
    float v = a[i] + b[i];
    y[i] = relu && v < 0.0f ? 0.0f : v;
  }
}

__global__ void mul_k(const float *x, const float *m, float *y, int64_t len) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < len;
       i += (int64_t)gridDim.x * blockDim.x)
    y[i] = x[i] * m[i];
}

// One block per channel: each thread sums a fixed stride of the channel's
// rows x P values, then a fixed tree.
__global__ void channel_sums_k(const float *x, int64_t rows, int C, int64_t P, float *out,
                               int accumulate) {
  __shared__ float part[THREADS];
  const int c = blockIdx.x;
  const int64_t total = rows * P;
  float acc = 0.0f;
  for (int64_t j = threadIdx.x; j < total; j += blockDim.x) {
    int64_t i = j / P, p = j - i * P;
    acc += x[(i * C + c) * P + p];
  }
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int s = THREADS / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[c] = accumulate ? out[c] + part[0] : part[0];
}

extern "C" int relu_forward_cuda(const float *x, float *y, int64_t len) {
  if (len <= 0) return MH_OK;
  relu_fwd_k<<<gpu_blocks(len, THREADS), THREADS, 0, g_stream>>>(x, y, len);
  CUDA_LAUNCHED();
  return MH_OK;
}

extern "C" int relu_backward_cuda(const float *y, const float *dy, float *dx, int64_t len) {
  if (len <= 0) return MH_OK;
  relu_bwd_k<<<gpu_blocks(len, THREADS), THREADS, 0, g_stream>>>(y, dy, dx, len);
  CUDA_LAUNCHED();
  return MH_OK;
}

extern "C" int bias_act_cuda(float *y, const float *b, int64_t rows, int C, int64_t P, int relu) {
  const int64_t len = rows * C * P;
  if (len <= 0) return MH_OK;
  bias_act_k<<<gpu_blocks(len, THREADS), THREADS, 0, g_stream>>>(y, b, len, C, P, relu);
  CUDA_LAUNCHED();
  return MH_OK;
}

extern "C" int add_act_cuda(const float *a, const float *b, float *y, int64_t len, int relu) {
  if (len <= 0) return MH_OK;
  add_act_k<<<gpu_blocks(len, THREADS), THREADS, 0, g_stream>>>(a, b, y, len, relu);
  CUDA_LAUNCHED();
  return MH_OK;
}

extern "C" int mul_cuda(const float *x, const float *m, float *y, int64_t len) {
  if (len <= 0) return MH_OK;
  mul_k<<<gpu_blocks(len, THREADS), THREADS, 0, g_stream>>>(x, m, y, len);
  CUDA_LAUNCHED();
  return MH_OK;
}

extern "C" int channel_sums_cuda(const float *x, int64_t rows, int C, int64_t P, float *out,
                                 int accumulate) {
  if (C <= 0) return MH_OK;
  if (P == 1) return gpu_col_sums(x, rows, C, out, accumulate);
  channel_sums_k<<<C, THREADS, 0, g_stream>>>(x, rows, C, P, out, accumulate);
  CUDA_LAUNCHED();
  return MH_OK;
}

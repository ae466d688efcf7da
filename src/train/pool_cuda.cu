// pool_cuda.cu - max pooling (no padding) and global average pooling on the
// device. Max pooling keeps the window offset of the first maximum (kh * k +
// kw, an int32 per output: the CPU's layout and tie rule), so backward
// gathers per input without atomics.
#include "train/gpu_internal.cuh"
#include "train/layers_cuda.h"

#define THREADS 256

__global__ void maxpool_fwd_k(const float *x, float *y, int32_t *argmax, int64_t len,
                              int H, int W, int Ho, int Wo, int k, int st) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < len;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t q = i / ((int64_t)Ho * Wo);
    const int r = (int)(i - q * Ho * Wo), oh = r / Wo, ow = r - oh * Wo;
    const float *xp = x + q * H * W + (int64_t)(oh * st) * W + ow * st;
    float v = xp[0];
    int best = 0;
    for (int kh = 0; kh < k; kh++)
      for (int kw = 0; kw < k; kw++) {
        float e = xp[kh * W + kw];
        if (e > v) {
          v = e;
          best = kh * k + kw;
        }
      }
    y[i] = v;
    if (argmax) argmax[i] = best;
  }
}

__global__ void maxpool_bwd_k(const float *dy, const int32_t *argmax, float *dx, int64_t len,
                              int H, int W, int Ho, int Wo, int k, int st) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < len;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t q = i / ((int64_t)H * W);
    const int r = (int)(i - q * H * W), ih = r / W, iw = r - ih * W;
    // windows (oh, ow) with oh*st <= ih < oh*st + k
    int oh0 = ih - k + 1 > 0 ? (ih - k + 1 + st - 1) / st : 0, oh1 = ih / st;
    int ow0 = iw - k + 1 > 0 ? (iw - k + 1 + st - 1) / st : 0, ow1 = iw / st;
    if (oh1 > Ho - 1) oh1 = Ho - 1;
    if (ow1 > Wo - 1) ow1 = Wo - 1;
    float g = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
      for (int ow = ow0; ow <= ow1; ow++) {
        const int64_t o = q * Ho * Wo + (int64_t)oh * Wo + ow;
        if (argmax[o] == (ih - oh * st) * k + (iw - ow * st)) g += dy[o];
      }
    dx[i] = g;
  }
}

extern "C" int maxpool_forward_cuda(const float *x, float *y, int32_t *argmax, int64_t n,
                                    int C, int H, int W, int Ho, int Wo, int k, int stride) {
  const int64_t len = n * C * Ho * Wo;
  if (len <= 0) return MH_OK;
  maxpool_fwd_k<<<gpu_blocks(len, THREADS), THREADS, 0, g_stream>>>(x, y, argmax, len, H, W, Ho,
                                                                    Wo, k, stride);
  CUDA_LAUNCHED();
  return MH_OK;
}

extern "C" int maxpool_backward_cuda(const float *dy, const int32_t *argmax, float *dx,
                                     int64_t n, int C, int H, int W, int Ho, int Wo, int k,
                                     int stride) {
  const int64_t len = n * C * H * W;
  if (len <= 0) return MH_OK;
  maxpool_bwd_k<<<gpu_blocks(len, THREADS), THREADS, 0, g_stream>>>(dy, argmax, dx, len, H, W, Ho,
                                                                    Wo, k, stride);
  CUDA_LAUNCHED();
  return MH_OK;
}

// One warp per plane.
__global__ void gap_fwd_k(const float *x, float *y, int64_t planes, int64_t P) {
  const int64_t q = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (q >= planes) return;
  float s = 0.0f;
  for (int64_t p = lane; p < P; p += 32) s += x[q * P + p];
  for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
  if (lane == 0) y[q] = s * (1.0f / (float)P);
}

__global__ void gap_bwd_k(const float *dy, float *dx, int64_t len, int64_t P) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < len;
       i += (int64_t)gridDim.x * blockDim.x)
    dx[i] = dy[i / P] * (1.0f / (float)P);
}

extern "C" int gap_forward_cuda(const float *x, float *y, int64_t planes, int64_t P) {
  if (planes <= 0) return MH_OK;
  const int64_t threads = planes * 32;
  gap_fwd_k<<<(unsigned)((threads + THREADS - 1) / THREADS), THREADS, 0, g_stream>>>(x, y, planes,
                                                                                      P);
  CUDA_LAUNCHED();
  return MH_OK;
}

extern "C" int gap_backward_cuda(const float *dy, float *dx, int64_t planes, int64_t P) {
  const int64_t len = planes * P;
  if (len <= 0) return MH_OK;
  gap_bwd_k<<<gpu_blocks(len, THREADS), THREADS, 0, g_stream>>>(dy, dx, len, P);
  CUDA_LAUNCHED();
  return MH_OK;
}

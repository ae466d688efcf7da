// linear_cuda.cu - nn.Linear on the device: one cuBLAS GEMM forward, two
// backward, the bias and the fused ReLU in one elementwise pass.
#include "train/gpu_internal.cuh"
#include "train/layers_cuda.h"

extern "C" int linear_forward_cuda(const float *x, const float *W, const float *b, int64_t n,
                                   int in, int out, int relu, float *y) {
  if (n <= 0) return MH_OK;
  MH_TRY(gpu_sgemm(0, 1, (int)n, out, in, 1.0f, x, in, W, in, 0.0f, y, out));
  return bias_act_cuda(y, b, n, out, 1, relu);
}

extern "C" int linear_backward_cuda(const float *x, const float *W, const float *y, float *dy,
                                    float *dW, float *db, float *dx, int64_t n, int in, int out,
                                    int relu) {
  if (n <= 0) return MH_OK;
  if (relu) MH_TRY(relu_backward_cuda(y, dy, dy, n * out));
  MH_TRY(gpu_sgemm(1, 0, out, in, (int)n, 1.0f, dy, out, x, in, 1.0f, dW, in));
  MH_TRY(gpu_col_sums(dy, n, out, db, 1));
  if (dx) MH_TRY(gpu_sgemm(0, 0, (int)n, in, out, 1.0f, dy, out, W, in, 0.0f, dx, in));
  return MH_OK;
}

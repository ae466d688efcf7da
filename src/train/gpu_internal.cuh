// gpu_internal.cuh - what the CUDA twins share (gpu_cuda.cu defines it):
// the process's stream and library handles, the entry points of cuBLAS,
// cuDNN and NCCL loaded at run time, and error macros that record a
// message with mh_errorf and return MH_ERR.
#ifndef MH_GPU_INTERNAL_CUH
#define MH_GPU_INTERNAL_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <stdint.h>

extern "C" {
#include "core/error.h"
#include "train/gpu.h"
}

// The run-time-loaded entry points: p_<name> has the type of <name>.
#define MH_CUBLAS_FNS(X) \
  X(cublasCreate_v2)     \
  X(cublasDestroy_v2)    \
  X(cublasSetStream_v2)  \
  X(cublasSetMathMode)   \
  X(cublasSgemm_v2)
#define MH_CUDNN_FNS(X)                           \
  X(cudnnCreate)                                  \
  X(cudnnDestroy)                                 \
  X(cudnnSetStream)                               \
  X(cudnnGetErrorString)                          \
  X(cudnnGetVersion)                              \
  X(cudnnCreateTensorDescriptor)                  \
  X(cudnnSetTensor4dDescriptor)                   \
  X(cudnnDestroyTensorDescriptor)                 \
  X(cudnnCreateFilterDescriptor)                  \
  X(cudnnSetFilter4dDescriptor)                   \
  X(cudnnDestroyFilterDescriptor)                 \
  X(cudnnCreateConvolutionDescriptor)             \
  X(cudnnSetConvolution2dDescriptor)              \
  X(cudnnSetConvolutionMathType)                  \
  X(cudnnDestroyConvolutionDescriptor)            \
  X(cudnnGetConvolutionForwardAlgorithm_v7)       \
  X(cudnnGetConvolutionBackwardDataAlgorithm_v7)  \
  X(cudnnGetConvolutionBackwardFilterAlgorithm_v7) \
  X(cudnnGetConvolutionForwardWorkspaceSize)      \
  X(cudnnGetConvolutionBackwardDataWorkspaceSize) \
  X(cudnnGetConvolutionBackwardFilterWorkspaceSize) \
  X(cudnnConvolutionForward)                      \
  X(cudnnConvolutionBackwardData)                 \
  X(cudnnConvolutionBackwardFilter)               \
  X(cudnnFindConvolutionForwardAlgorithm)         \
  X(cudnnFindConvolutionBackwardDataAlgorithm)    \
  X(cudnnFindConvolutionBackwardFilterAlgorithm)

#define MH_DECLARE_FN(f) extern decltype(&f) p_##f;
MH_CUBLAS_FNS(MH_DECLARE_FN)
MH_CUDNN_FNS(MH_DECLARE_FN)
#undef MH_DECLARE_FN

extern cudaStream_t g_stream;
extern cublasHandle_t g_cublas;
extern cudnnHandle_t g_cudnn;
extern int g_num_sms;
extern int g_amp;  // training.amp: bf16 tensor-core products (gpu_set_amp)

// Record a failed CUDA/cuBLAS/cuDNN call (file:line, the call, the error).
int gpu_fail_cuda(cudaError_t e, const char *call, const char *file, int line);
int gpu_fail_lib(const char *lib, int status, const char *what, const char *call,
                 const char *file, int line);

#define CUDA_TRY(call)                                                   \
  do {                                                                   \
    cudaError_t e_ = (call);                                             \
    if (e_ != cudaSuccess) return gpu_fail_cuda(e_, #call, __FILE__, __LINE__); \
  } while (0)
// After a kernel launch: a bad configuration shows up here.
#define CUDA_LAUNCHED() CUDA_TRY(cudaGetLastError())
#define CUBLAS_TRY(call)                                                           \
  do {                                                                             \
    cublasStatus_t s_ = (call);                                                    \
    if (s_ != CUBLAS_STATUS_SUCCESS)                                               \
      return gpu_fail_lib("cuBLAS", (int)s_, "", #call, __FILE__, __LINE__);        \
  } while (0)
#define CUDNN_TRY(call)                                                                   \
  do {                                                                                    \
    cudnnStatus_t s_ = (call);                                                            \
    if (s_ != CUDNN_STATUS_SUCCESS)                                                       \
      return gpu_fail_lib("cuDNN", (int)s_, p_cudnnGetErrorString(s_), #call, __FILE__, __LINE__); \
  } while (0)

// Blocks for n elements at t threads each, capped for grid-stride loops.
static inline int gpu_blocks(int64_t n, int t) {
  int64_t b = (n + t - 1) / t;
  int64_t cap = (int64_t)g_num_sms * 32;
  if (b > cap) b = cap;
  return b < 1 ? 1 : (int)b;
}

// Row-major GEMM on column-major cuBLAS: C[m, n] = alpha op(A)[m, k] op(B)[k, n]
// + beta C, with row-major leading dimensions (as the CPU's par_sgemm).
int gpu_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

// Deterministic sums of columns: out[j] (+)= sum_i in[i * cols + j], for
// i < rows, as float; accumulate: add to out instead of writing.
int gpu_col_sums(const float *in, int64_t rows, int64_t cols, float *out, int accumulate);

#endif

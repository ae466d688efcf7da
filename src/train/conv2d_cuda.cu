// conv2d_cuda.cu - nn.Conv2d on the device through cuDNN: descriptors and
// algorithms planned once per batch size (cuDNN's heuristics, first
// deterministic choice that fits the workspace limit), float32 FMA math (no
// TF32), bias and fused ReLU in one elementwise pass.
#include <stdlib.h>

#include "train/gpu_internal.cuh"
#include "train/layers_cuda.h"

#define CONV_WS_LIMIT ((size_t)512 << 20)

struct ConvPlan {
  int64_t n;
  cudnnTensorDescriptor_t xd, yd;
  cudnnFilterDescriptor_t wd;
  cudnnConvolutionDescriptor_t cd;
  cudnnConvolutionFwdAlgo_t fwd;
  cudnnConvolutionBwdDataAlgo_t bwd_data;
  cudnnConvolutionBwdFilterAlgo_t bwd_filter;
  size_t ws_need;
  void *ws;
  int64_t ws_cap;
};

extern "C" void conv2d_plan_free_cuda(void *plan) {
  ConvPlan *p = (ConvPlan *)plan;
  if (!p) return;
  if (p->xd) p_cudnnDestroyTensorDescriptor(p->xd);
  if (p->yd) p_cudnnDestroyTensorDescriptor(p->yd);
  if (p->wd) p_cudnnDestroyFilterDescriptor(p->wd);
  if (p->cd) p_cudnnDestroyConvolutionDescriptor(p->cd);
  gpu_free(p->ws);
  free(p);
}

template <typename Perf>
static int pick(const Perf *perf, int count, size_t *ws) {
  for (int i = 0; i < count; i++)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
        perf[i].memory <= CONV_WS_LIMIT) {
      *ws = perf[i].memory;
      return i;
    }
  return -1;
}

static int plan_for(void **slot, const ConvShape *s, int64_t n, ConvPlan **out) {
  ConvPlan *p = (ConvPlan *)*slot;
  if (p && p->n == n) {
    *out = p;
    return MH_OK;
  }
  if (!p) {
    p = (ConvPlan *)calloc(1, sizeof *p);
    if (!p) return mh_errorf("out of memory");
    *slot = p;
    CUDNN_TRY(p_cudnnCreateTensorDescriptor(&p->xd));
    CUDNN_TRY(p_cudnnCreateTensorDescriptor(&p->yd));
    CUDNN_TRY(p_cudnnCreateFilterDescriptor(&p->wd));
    CUDNN_TRY(p_cudnnCreateConvolutionDescriptor(&p->cd));
    CUDNN_TRY(p_cudnnSetFilter4dDescriptor(p->wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s->cout,
                                           s->cin, s->k, s->k));
    CUDNN_TRY(p_cudnnSetConvolution2dDescriptor(p->cd, s->pad, s->pad, s->stride, s->stride, 1,
                                                1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_TRY(p_cudnnSetConvolutionMathType(p->cd, CUDNN_FMA_MATH));
  }
  p->n = -1;
  CUDNN_TRY(p_cudnnSetTensor4dDescriptor(p->xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)n,
                                         s->cin, s->h, s->w));
  CUDNN_TRY(p_cudnnSetTensor4dDescriptor(p->yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)n,
                                         s->cout, s->ho, s->wo));
  int cnt = 0;
  size_t w1 = 0, w2 = 0, w3 = 0;
  cudnnConvolutionFwdAlgoPerf_t pf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  CUDNN_TRY(p_cudnnGetConvolutionForwardAlgorithm_v7(g_cudnn, p->xd, p->wd, p->cd, p->yd,
                                                     CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &cnt, pf));
  int i = pick(pf, cnt, &w1);
  p->fwd = i >= 0 ? pf[i].algo : CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  cudnnConvolutionBwdDataAlgoPerf_t pd[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  CUDNN_TRY(p_cudnnGetConvolutionBackwardDataAlgorithm_v7(
      g_cudnn, p->wd, p->yd, p->cd, p->xd, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &cnt, pd));
  i = pick(pd, cnt, &w2);
  p->bwd_data = i >= 0 ? pd[i].algo : CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  cudnnConvolutionBwdFilterAlgoPerf_t pw[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  CUDNN_TRY(p_cudnnGetConvolutionBackwardFilterAlgorithm_v7(
      g_cudnn, p->xd, p->yd, p->cd, p->wd, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &cnt, pw));
  i = pick(pw, cnt, &w3);
  p->bwd_filter = i >= 0 ? pw[i].algo : CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  CUDNN_TRY(p_cudnnGetConvolutionForwardWorkspaceSize(g_cudnn, p->xd, p->wd, p->cd, p->yd,
                                                      p->fwd, &w1));
  CUDNN_TRY(p_cudnnGetConvolutionBackwardDataWorkspaceSize(g_cudnn, p->wd, p->yd, p->cd, p->xd,
                                                           p->bwd_data, &w2));
  CUDNN_TRY(p_cudnnGetConvolutionBackwardFilterWorkspaceSize(g_cudnn, p->xd, p->yd, p->cd, p->wd,
                                                             p->bwd_filter, &w3));
  size_t need = w1 > w2 ? w1 : w2;
  if (w3 > need) need = w3;
  p->ws_need = need;
  if (need) MH_TRY(gpu_grow(&p->ws, &p->ws_cap, (int64_t)need));
  p->n = n;
  *out = p;
  return MH_OK;
}

extern "C" int conv2d_forward_cuda(void **plan, const ConvShape *s, const float *x,
                                   const float *W, const float *b, int64_t n, int relu, float *y) {
  if (n <= 0) return MH_OK;
  ConvPlan *p;
  MH_TRY(plan_for(plan, s, n, &p));
  const float one = 1.0f, zero = 0.0f;
  CUDNN_TRY(p_cudnnConvolutionForward(g_cudnn, &one, p->xd, x, p->wd, W, p->cd, p->fwd, p->ws,
                                      p->ws_need, &zero, p->yd, y));
  return bias_act_cuda(y, b, n, s->cout, (int64_t)s->ho * s->wo, relu);
}

extern "C" int conv2d_backward_cuda(void **plan, const ConvShape *s, const float *x,
                                    const float *W, const float *y, float *dy, float *dW,
                                    float *db, float *dx, int64_t n, int relu) {
  if (n <= 0) return MH_OK;
  ConvPlan *p;
  MH_TRY(plan_for(plan, s, n, &p));
  const int64_t P = (int64_t)s->ho * s->wo;
  if (relu) MH_TRY(relu_backward_cuda(y, dy, dy, n * s->cout * P));
  MH_TRY(channel_sums_cuda(dy, n, s->cout, P, db, 1));
  const float one = 1.0f, zero = 0.0f;
  CUDNN_TRY(p_cudnnConvolutionBackwardFilter(g_cudnn, &one, p->xd, x, p->yd, dy, p->cd,
                                             p->bwd_filter, p->ws, p->ws_need, &one, p->wd, dW));
  if (dx)
    CUDNN_TRY(p_cudnnConvolutionBackwardData(g_cudnn, &one, p->wd, W, p->yd, dy, p->cd,
                                             p->bwd_data, p->ws, p->ws_need, &zero, p->xd, dx));
  return MH_OK;
}

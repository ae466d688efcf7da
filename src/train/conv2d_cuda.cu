// conv2d_cuda.cu - nn.Conv2d on the device through cuDNN: descriptors made
// once, algorithms chosen per batch size and remembered for the last few
// batch sizes: by default the first deterministic algorithm within the
// workspace limit in cuDNN's heuristic order (the same choice every run, so
// the same bits every run); $MODYN_CUDNN_FIND=1 times them instead, as
// torch.backends.cudnn.benchmark does (often faster, but the choice, and
// with it the last bits, can change from run to run). float32 runs with
// FMA math (no TF32); under training.amp the convolution runs in bf16 on
// tensor cores (x and W rounded per step, float32 sums) and the results
// come back to float32 with the bias and the fused ReLU in the same pass.
#include <cuda_bf16.h>
#include <stdlib.h>

#include "train/gpu_internal.cuh"
#include "train/layers_cuda.h"

#define CONV_WS_LIMIT ((size_t)1 << 30)
#define CONV_CACHE 8
#define THREADS 256

typedef __nv_bfloat16 bf16;

struct ConvAlgo {
  int64_t n;
  int amp;
  cudnnConvolutionFwdAlgo_t fwd;
  cudnnConvolutionBwdDataAlgo_t bwd_data;
  cudnnConvolutionBwdFilterAlgo_t bwd_filter;
  size_t ws;
};

struct ConvDesc {  // one precision's descriptors
  cudnnTensorDescriptor_t x, y;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t c;
};

struct ConvPlan {
  int64_t n;  // batch the tensor descriptors describe
  ConvDesc f32, h16;
  ConvAlgo cache[CONV_CACHE];
  int ncache, next;
  const ConvAlgo *cur;
  void *ws;
  int64_t ws_cap;
  bf16 *x16, *w16, *dw16, *y16;  // amp: rounded copies (x16 holds dx in backward)
  int64_t x16_cap, w16_cap, dw16_cap, y16_cap;
};

static void desc_free(ConvDesc *d) {
  if (d->x) p_cudnnDestroyTensorDescriptor(d->x);
  if (d->y) p_cudnnDestroyTensorDescriptor(d->y);
  if (d->w) p_cudnnDestroyFilterDescriptor(d->w);
  if (d->c) p_cudnnDestroyConvolutionDescriptor(d->c);
}

extern "C" void conv2d_plan_free_cuda(void *plan) {
  ConvPlan *p = (ConvPlan *)plan;
  if (!p) return;
  desc_free(&p->f32);
  desc_free(&p->h16);
  gpu_free(p->ws);
  gpu_free(p->x16);
  gpu_free(p->w16);
  gpu_free(p->dw16);
  gpu_free(p->y16);
  free(p);
}

static int desc_make(ConvDesc *d, const ConvShape *s, cudnnDataType_t t) {
  CUDNN_TRY(p_cudnnCreateTensorDescriptor(&d->x));
  CUDNN_TRY(p_cudnnCreateTensorDescriptor(&d->y));
  CUDNN_TRY(p_cudnnCreateFilterDescriptor(&d->w));
  CUDNN_TRY(p_cudnnCreateConvolutionDescriptor(&d->c));
  CUDNN_TRY(p_cudnnSetFilter4dDescriptor(d->w, t, CUDNN_TENSOR_NCHW, s->cout, s->cin, s->k, s->k));
  CUDNN_TRY(p_cudnnSetConvolution2dDescriptor(d->c, s->pad, s->pad, s->stride, s->stride, 1, 1,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  CUDNN_TRY(p_cudnnSetConvolutionMathType(
      d->c, t == CUDNN_DATA_FLOAT ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
  return MH_OK;
}

template <typename Perf>
static int pick(const Perf *perf, int count) {
  for (int i = 0; i < count; i++)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
        perf[i].memory <= CONV_WS_LIMIT)
      return i;
  return -1;
}

// Algorithms for the descriptors d at the current batch size.
static int choose(const ConvDesc *d, ConvAlgo *a) {
  static int find = -1;
  if (find < 0) {
    const char *e = getenv("MODYN_CUDNN_FIND");
    find = e && !strcmp(e, "1");
  }
  int cnt = 0, i;
  cudnnConvolutionFwdAlgoPerf_t pf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  if (find)
    CUDNN_TRY(p_cudnnFindConvolutionForwardAlgorithm(g_cudnn, d->x, d->w, d->c, d->y,
                                                     CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &cnt, pf));
  else
    CUDNN_TRY(p_cudnnGetConvolutionForwardAlgorithm_v7(g_cudnn, d->x, d->w, d->c, d->y,
                                                       CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &cnt, pf));
  i = pick(pf, cnt);
  a->fwd = i >= 0 ? pf[i].algo : CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  cudnnConvolutionBwdDataAlgoPerf_t pd[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  if (find)
    CUDNN_TRY(p_cudnnFindConvolutionBackwardDataAlgorithm(
        g_cudnn, d->w, d->y, d->c, d->x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &cnt, pd));
  else
    CUDNN_TRY(p_cudnnGetConvolutionBackwardDataAlgorithm_v7(
        g_cudnn, d->w, d->y, d->c, d->x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &cnt, pd));
  i = pick(pd, cnt);
  a->bwd_data = i >= 0 ? pd[i].algo : CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  cudnnConvolutionBwdFilterAlgoPerf_t pw[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  if (find)
    CUDNN_TRY(p_cudnnFindConvolutionBackwardFilterAlgorithm(
        g_cudnn, d->x, d->y, d->c, d->w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &cnt, pw));
  else
    CUDNN_TRY(p_cudnnGetConvolutionBackwardFilterAlgorithm_v7(
        g_cudnn, d->x, d->y, d->c, d->w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &cnt, pw));
  i = pick(pw, cnt);
  a->bwd_filter = i >= 0 ? pw[i].algo : CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  size_t w1 = 0, w2 = 0, w3 = 0;
  CUDNN_TRY(p_cudnnGetConvolutionForwardWorkspaceSize(g_cudnn, d->x, d->w, d->c, d->y, a->fwd,
                                                      &w1));
  CUDNN_TRY(p_cudnnGetConvolutionBackwardDataWorkspaceSize(g_cudnn, d->w, d->y, d->c, d->x,
                                                           a->bwd_data, &w2));
  CUDNN_TRY(p_cudnnGetConvolutionBackwardFilterWorkspaceSize(g_cudnn, d->x, d->y, d->c, d->w,
                                                             a->bwd_filter, &w3));
  a->ws = w1 > w2 ? w1 : w2;
  if (w3 > a->ws) a->ws = w3;
  return MH_OK;
}

static int plan_for(void **slot, const ConvShape *s, int64_t n, ConvPlan **out) {
  ConvPlan *p = (ConvPlan *)*slot;
  if (!p) {
    p = (ConvPlan *)calloc(1, sizeof *p);
    if (!p) return mh_errorf("out of memory");
    *slot = p;
    MH_TRY(desc_make(&p->f32, s, CUDNN_DATA_FLOAT));
    MH_TRY(desc_make(&p->h16, s, CUDNN_DATA_BFLOAT16));
  }
  *out = p;
  if (p->n == n && p->cur && p->cur->amp == g_amp) return MH_OK;
  if (p->n != n) {
    p->n = -1;
    CUDNN_TRY(p_cudnnSetTensor4dDescriptor(p->f32.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)n,
                                           s->cin, s->h, s->w));
    CUDNN_TRY(p_cudnnSetTensor4dDescriptor(p->f32.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)n,
                                           s->cout, s->ho, s->wo));
    CUDNN_TRY(p_cudnnSetTensor4dDescriptor(p->h16.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_BFLOAT16,
                                           (int)n, s->cin, s->h, s->w));
    CUDNN_TRY(p_cudnnSetTensor4dDescriptor(p->h16.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_BFLOAT16,
                                           (int)n, s->cout, s->ho, s->wo));
    p->n = n;
  }
  p->cur = NULL;
  for (int i = 0; i < p->ncache; i++)
    if (p->cache[i].n == n && p->cache[i].amp == g_amp) p->cur = &p->cache[i];
  if (!p->cur) {
    ConvAlgo a;
    a.n = n;
    a.amp = g_amp;
    MH_TRY(choose(g_amp ? &p->h16 : &p->f32, &a));
    int at = p->ncache < CONV_CACHE ? p->ncache++ : p->next++ % CONV_CACHE;
    p->cache[at] = a;
    p->cur = &p->cache[at];
  }
  if (p->cur->ws) MH_TRY(gpu_grow(&p->ws, &p->ws_cap, (int64_t)p->cur->ws));
  return MH_OK;
}

__global__ void to_bf16_k(const float *x, bf16 *y, int64_t len) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < len;
       i += (int64_t)gridDim.x * blockDim.x)
    y[i] = __float2bfloat16(x[i]);
}

// y = act(float(h) + b[c]); b may be NULL
__global__ void from_bf16_bias_act_k(const bf16 *h, const float *b, float *y, int64_t len, int C,
                                     int64_t P, int relu) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < len;
       i += (int64_t)gridDim.x * blockDim.x) {
    float v = __bfloat162float(h[i]) + (b ? b[(i / P) % C] : 0.0f);
    y[i] = relu && v < 0.0f ? 0.0f : v;
  }
}

__global__ void add_bf16_k(const bf16 *h, float *y, int64_t len) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < len;
       i += (int64_t)gridDim.x * blockDim.x)
    y[i] += __bfloat162float(h[i]);
}

static int to_bf16(const float *x, bf16 **h, int64_t *cap, int64_t len) {
  MH_TRY(gpu_grow((void **)h, cap, len * (int64_t)sizeof(bf16)));
  to_bf16_k<<<gpu_blocks(len, THREADS), THREADS, 0, g_stream>>>(x, *h, len);
  CUDA_LAUNCHED();
  return MH_OK;
}

extern "C" int conv2d_forward_cuda(void **plan, const ConvShape *s, const float *x,
                                   const float *W, const float *b, int64_t n, int relu, float *y) {
  if (n <= 0) return MH_OK;
  ConvPlan *p;
  MH_TRY(plan_for(plan, s, n, &p));
  const ConvAlgo *a = p->cur;
  const float one = 1.0f, zero = 0.0f;
  const int64_t P = (int64_t)s->ho * s->wo, ylen = n * s->cout * P;
  if (!g_amp) {
    CUDNN_TRY(p_cudnnConvolutionForward(g_cudnn, &one, p->f32.x, x, p->f32.w, W, p->f32.c, a->fwd,
                                        p->ws, a->ws, &zero, p->f32.y, y));
    return bias_act_cuda(y, b, n, s->cout, P, relu);
  }
  MH_TRY(to_bf16(x, &p->x16, &p->x16_cap, n * s->cin * s->h * s->w));
  MH_TRY(to_bf16(W, &p->w16, &p->w16_cap, (int64_t)s->cout * s->cin * s->k * s->k));
  MH_TRY(gpu_grow((void **)&p->y16, &p->y16_cap, ylen * (int64_t)sizeof(bf16)));
  CUDNN_TRY(p_cudnnConvolutionForward(g_cudnn, &one, p->h16.x, p->x16, p->h16.w, p->w16, p->h16.c,
                                      a->fwd, p->ws, a->ws, &zero, p->h16.y, p->y16));
  from_bf16_bias_act_k<<<gpu_blocks(ylen, THREADS), THREADS, 0, g_stream>>>(p->y16, b, y, ylen,
                                                                          s->cout, P, relu);
  CUDA_LAUNCHED();
  return MH_OK;
}

extern "C" int conv2d_backward_cuda(void **plan, const ConvShape *s, const float *x,
                                    const float *W, const float *y, float *dy, float *dW,
                                    float *db, float *dx, int64_t n, int relu) {
  if (n <= 0) return MH_OK;
  ConvPlan *p;
  MH_TRY(plan_for(plan, s, n, &p));
  const ConvAlgo *a = p->cur;
  const int64_t P = (int64_t)s->ho * s->wo, ylen = n * s->cout * P;
  if (relu) MH_TRY(relu_backward_cuda(y, dy, dy, ylen));
  MH_TRY(channel_sums_cuda(dy, n, s->cout, P, db, 1));
  const float one = 1.0f, zero = 0.0f;
  if (!g_amp) {
    CUDNN_TRY(p_cudnnConvolutionBackwardFilter(g_cudnn, &one, p->f32.x, x, p->f32.y, dy,
                                               p->f32.c, a->bwd_filter, p->ws, a->ws, &one,
                                               p->f32.w, dW));
    if (dx)
      CUDNN_TRY(p_cudnnConvolutionBackwardData(g_cudnn, &one, p->f32.w, W, p->f32.y, dy, p->f32.c,
                                               a->bwd_data, p->ws, a->ws, &zero, p->f32.x, dx));
    return MH_OK;
  }
  // x16 and w16 are the training forward's; dy goes to bf16 in y16's place
  const int64_t wlen = (int64_t)s->cout * s->cin * s->k * s->k, xlen = n * s->cin * s->h * s->w;
  MH_TRY(to_bf16(dy, &p->y16, &p->y16_cap, ylen));
  MH_TRY(gpu_grow((void **)&p->dw16, &p->dw16_cap, wlen * (int64_t)sizeof(bf16)));
  CUDNN_TRY(p_cudnnConvolutionBackwardFilter(g_cudnn, &one, p->h16.x, p->x16, p->h16.y, p->y16,
                                             p->h16.c, a->bwd_filter, p->ws, a->ws, &zero,
                                             p->h16.w, p->dw16));
  add_bf16_k<<<gpu_blocks(wlen, THREADS), THREADS, 0, g_stream>>>(p->dw16, dW, wlen);
  CUDA_LAUNCHED();
  if (!dx) return MH_OK;
  // the input's rounded copy is spent: dx lands in its place
  CUDNN_TRY(p_cudnnConvolutionBackwardData(g_cudnn, &one, p->h16.w, p->w16, p->h16.y, p->y16,
                                           p->h16.c, a->bwd_data, p->ws, a->ws, &zero, p->h16.x,
                                           p->x16));
  from_bf16_bias_act_k<<<gpu_blocks(xlen, THREADS), THREADS, 0, g_stream>>>(p->x16, NULL, dx,
                                                                          xlen, 1, 1, 0);
  CUDA_LAUNCHED();
  return MH_OK;
}

/* pool.c - nn.MaxPool2d(k, stride) (no padding, floor mode) and global
 * average pooling ({c, h, w} -> {c, 1, 1}, i.e. x.mean(dim=(2, 3))).
 *
 * Max pooling: a training forward records, per output, the offset in its
 * window (kh * k + kw, an int32) of the first maximum in row-major order
 * (PyTorch's choice among ties), the layout the CUDA twin keeps too;
 * backward routes each output's gradient there. An eval forward is a plain
 * max. The 2x2 stride-2 case (every model here) has its own loops, written
 * without branches so that they vectorise: windows do not overlap, so
 * backward writes every input once (the gradient's bits, or +0) with no
 * zeroing pass. NaN inputs are not routed like PyTorch's (a NaN loss stops
 * training anyway). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/layers.h"
#include "train/parallel.h"
#ifdef MODYN_HAVE_CUDA
#include "train/gpu.h"
#include "train/layers_cuda.h"
#endif

typedef struct {
  int k, stride;
  int32_t *arg;    /* [n * out] window offsets of the last training forward's maxima */
  int64_t arg_cap; /* entries of arg */
  int64_t arg_len; /* outputs the last training forward recorded */
} MaxPool;

/* A float's bits, for the backward's branch-free select (g & mask). */
typedef uint32_t __attribute__((may_alias)) FloatBits;

static int maxpool_forward(Layer *l, const float *x, float *y, int64_t n, int train) {
  MaxPool *mp = l->impl;
  const int k = mp->k, st = mp->stride, H = l->in.h, W = l->in.w, Ho = l->out.h, Wo = l->out.w;
  const int64_t planes = n * l->in.c, len = planes * Ho * Wo;
  int32_t *arg = NULL;
  if (train) {
    if (len > mp->arg_cap) {
      free(mp->arg);
      mp->arg_cap = 0;
      mp->arg = mh_malloc((size_t)len * sizeof(int32_t));
      if (!mp->arg) return MH_ERR;
      mp->arg_cap = len;
    }
    arg = mp->arg;
    mp->arg_len = len;
  }
#pragma omp parallel for schedule(static) if (planes * Ho * Wo > 16384)
  for (int64_t q = 0; q < planes; q++) {
    const float *xp = x + q * H * W;
    float *yp = y + q * Ho * Wo;
    int32_t *ap = arg ? arg + q * Ho * Wo : NULL;
    for (int oh = 0; oh < Ho; oh++) {
      float *yo = yp + oh * Wo;
      if (k == 2 && st == 2) {
        const float *r0 = xp + 2 * oh * W, *r1 = r0 + W;
        if (ap) {
          int32_t *ao = ap + oh * Wo;
          /* the first maximum: a later value wins only when larger (the
           * offset in arithmetic, not selects: the loop stays vectorised) */
#pragma omp simd
          for (int ow = 0; ow < Wo; ow++) {
            float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
            float m1 = b > a ? b : a, m2 = d > c ? d : c;
            int32_t i1 = b > a, i2 = 2 + (d > c), later = m2 > m1;
            yo[ow] = m2 > m1 ? m2 : m1;
            ao[ow] = i1 + later * (i2 - i1);
          }
          continue;
        }
#pragma omp simd
        for (int ow = 0; ow < Wo; ow++) {
          float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
          float m1 = b > a ? b : a, m2 = d > c ? d : c;
          yo[ow] = m2 > m1 ? m2 : m1;
        }
        continue;
      }
      for (int ow = 0; ow < Wo; ow++) {
        float v = xp[oh * st * W + ow * st];
        int best = 0;
        for (int kh = 0; kh < k; kh++)
          for (int kw = 0; kw < k; kw++) {
            float e = xp[(oh * st + kh) * W + ow * st + kw];
            if (e > v) {
              v = e;
              best = kh * k + kw;
            }
          }
        yo[ow] = v;
        if (ap) ap[oh * Wo + ow] = best;
      }
    }
  }
  return MH_OK;
}

static int maxpool_backward(Layer *l, const float *x, const float *y, float *dy, float *dx,
                            int64_t n) {
  if (!dx) return MH_OK;
  const MaxPool *mp = l->impl;
  const int k = mp->k, st = mp->stride, H = l->in.h, W = l->in.w, Ho = l->out.h, Wo = l->out.w;
  const int64_t planes = n * l->in.c;
  if (planes * Ho * Wo > mp->arg_len)
    return mh_errorf("maxpool2d: backward on a batch of %lld without its training forward",
                     (long long)n);
  const int32_t *arg = mp->arg;
#pragma omp parallel for schedule(static) if (planes * H * W > 16384)
  for (int64_t q = 0; q < planes; q++) {
    const float *dyp = dy + q * Ho * Wo;
    const int32_t *ap = arg + q * Ho * Wo;
    float *dxp = dx + q * H * W;
    if (k == 2 && st == 2) {
      /* every input of a window is written: 0, or the gradient at the
       * window's first maximum; only an odd last row/column needs zeros */
      if (2 * Ho < H) memset(dxp + (int64_t)(H - 1) * W, 0, (size_t)W * sizeof(float));
      for (int oh = 0; oh < Ho; oh++) {
        const FloatBits *go = (const FloatBits *)(dyp + oh * Wo);
        const int32_t *ao = ap + oh * Wo;
        float *r0 = dxp + 2 * oh * W, *r1 = r0 + W;
        if (2 * Wo < W) r0[W - 1] = r1[W - 1] = 0.0f;
        FloatBits *d0 = (FloatBits *)r0, *d1 = (FloatBits *)r1;
#pragma omp simd
        for (int ow = 0; ow < Wo; ow++) {
          const uint32_t g = go[ow];
          const int32_t a = ao[ow];
          d0[2 * ow] = g & -(uint32_t)(a == 0);
          d0[2 * ow + 1] = g & -(uint32_t)(a == 1);
          d1[2 * ow] = g & -(uint32_t)(a == 2);
          d1[2 * ow + 1] = g & -(uint32_t)(a == 3);
        }
      }
      continue;
    }
    /* overlapping windows add up, in output order */
    memset(dxp, 0, (size_t)H * W * sizeof(float));
    for (int oh = 0; oh < Ho; oh++)
      for (int ow = 0; ow < Wo; ow++) {
        const int a = ap[oh * Wo + ow], kh = a / k, kw = a - kh * k;
        dxp[(oh * st + kh) * W + ow * st + kw] += dyp[oh * Wo + ow];
      }
  }
  return MH_OK;
}

#ifdef MODYN_HAVE_CUDA
/* The device workspace holds the window offsets of the last training
 * forward's maxima, which backward routes the gradient to. */
static int maxpool_forward_gpu(Layer *l, const float *x, float *y, int64_t n, int train) {
  const MaxPool *mp = l->impl;
  int32_t *argmax = NULL;
  if (train) {
    MH_TRY(gpu_grow(&l->dws, &l->dws_bytes, n * dims_elems(l->out) * (int64_t)sizeof(int32_t)));
    argmax = l->dws;
  }
  return maxpool_forward_cuda(x, y, argmax, n, l->in.c, l->in.h, l->in.w, l->out.h, l->out.w,
                              mp->k, mp->stride);
}

static int maxpool_backward_gpu(Layer *l, const float *x, const float *y, float *dy, float *dx,
                                int64_t n) {
  const MaxPool *mp = l->impl;
  if (!dx) return MH_OK;
  return maxpool_backward_cuda(dy, l->dws, dx, n, l->in.c, l->in.h, l->in.w, l->out.h, l->out.w,
                               mp->k, mp->stride);
}
#endif

static void maxpool_destroy(Layer *l) {
  MaxPool *mp = l->impl;
  if (mp) free(mp->arg);
  free(mp);
}

static const LayerOps maxpool_ops = {"maxpool2d", NULL, maxpool_forward, maxpool_backward,
                                     maxpool_destroy, 0, 0,
                                     LAYER_CUDA(maxpool_forward_gpu, maxpool_backward_gpu), NULL};

Layer *layer_maxpool2d(Dims in, int k, int stride) {
  int Ho = k > 0 && stride > 0 ? conv_out_size(in.h, k, stride, 0) : 0;
  int Wo = k > 0 && stride > 0 ? conv_out_size(in.w, k, stride, 0) : 0;
  if (in.c <= 0 || Ho <= 0 || Wo <= 0) {
    mh_errorf("maxpool2d layer: a %dx%d window with stride %d does not fit a %dx%d input", k, k,
              stride, in.h, in.w);
    return NULL;
  }
  par_init(0);
  Layer *l = mh_calloc(1, sizeof *l);
  MaxPool *mp = mh_calloc(1, sizeof *mp);
  if (!l || !mp) {
    free(l);
    free(mp);
    return NULL;
  }
  mp->k = k;
  mp->stride = stride;
  l->ops = &maxpool_ops;
  l->in = in;
  l->out = (Dims){in.c, Ho, Wo};
  l->impl = mp;
  return l;
}

/* ---- global average pooling ---------------------------------------------- */

static int gap_forward(Layer *l, const float *x, float *y, int64_t n, int train) {
  const int64_t P = (int64_t)l->in.h * l->in.w, planes = n * l->in.c;
  const float inv = 1.0f / (float)P;
  for (int64_t q = 0; q < planes; q++) {
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int64_t p = 0; p < P; p++) acc += x[q * P + p];
    y[q] = acc * inv;
  }
  return MH_OK;
}

static int gap_backward(Layer *l, const float *x, const float *y, float *dy, float *dx,
                        int64_t n) {
  if (!dx) return MH_OK;
  const int64_t P = (int64_t)l->in.h * l->in.w, planes = n * l->in.c;
  const float inv = 1.0f / (float)P;
  for (int64_t q = 0; q < planes; q++)
    for (int64_t p = 0; p < P; p++) dx[q * P + p] = dy[q] * inv;
  return MH_OK;
}

#ifdef MODYN_HAVE_CUDA
static int gap_forward_gpu(Layer *l, const float *x, float *y, int64_t n, int train) {
  return gap_forward_cuda(x, y, n * l->in.c, (int64_t)l->in.h * l->in.w);
}

static int gap_backward_gpu(Layer *l, const float *x, const float *y, float *dy, float *dx,
                            int64_t n) {
  return dx ? gap_backward_cuda(dy, dx, n * l->in.c, (int64_t)l->in.h * l->in.w) : MH_OK;
}
#endif

static const LayerOps gap_ops = {"global_avgpool", NULL, gap_forward, gap_backward, NULL, 0, 0,
                                 LAYER_CUDA(gap_forward_gpu, gap_backward_gpu), NULL};

Layer *layer_global_avgpool(Dims in) {
  if (dims_elems(in) <= 0) {
    mh_errorf("global average pool: bad input shape %dx%dx%d", in.c, in.h, in.w);
    return NULL;
  }
  Layer *l = mh_calloc(1, sizeof *l);
  if (!l) return NULL;
  l->ops = &gap_ops;
  l->in = in;
  l->out = (Dims){in.c, 1, 1};
  return l;
}

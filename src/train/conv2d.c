/* conv2d.c - nn.Conv2d (square kernel, stride, zero padding, bias) on the
 * CPU, and a plain reference convolution for the tests.
 *
 * Stride-1 layers with pad <= k - 1 run on the direct AVX2 + FMA kernels of
 * conv2d_direct.c where the CPU has them (the samples split into one
 * contiguous range per thread; see conv_forward_direct). Everything else,
 * and every layer under $MODYN_CONV=gemm, runs as im2col + GEMM:
 *
 * Samples are processed in chunks of S, one chunk per OpenMP iteration:
 * the chunk's im2col columns [cin*k*k, S*P] (P = output pixels) feed one
 * single-threaded sgemm, W [cout, cin*k*k] x cols. S grows as the image
 * shrinks so that every GEMM is at least ~256 columns wide (a 4x4 feature
 * map would otherwise give GEMMs too thin to run fast). Backward recomputes
 * the columns rather than keeping them from forward (cheap next to the
 * GEMMs, and the columns of a whole batch would not stay in cache anyway).
 *
 * Work is cut into par_threads() slots, slot t taking a fixed contiguous
 * range of chunks with its own workspace and weight-gradient partial sums;
 * the slots' partials are then added in slot order. Which thread runs a
 * slot, and when it finishes, cannot change a bit: the same batch on the
 * same thread count gives the same gradients run after run (dynamic
 * scheduling of chunks into per-thread sums did not, 1e-2 apart after an
 * epoch of YearbookNet). Chunks are equal in size, so a static split
 * balances as well as a dynamic one did. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/conv2d_direct.h"
#include "train/layers.h"
#include "train/parallel.h"
#ifdef MODYN_HAVE_CUDA
#include "train/gpu.h"
#include "train/layers_cuda.h"
#endif

typedef struct {
  int k, stride, pad;
  int64_t P;        /* output pixels per sample */
  int64_t R;        /* rows of the column matrix: cin * k * k */
  int S;            /* samples per GEMM (at most) */
  float *ws;        /* per slot: cols [R*S*P], tmp [cout*S*P], dW [cout*R + cout] */
  int64_t ws_cap;
  void *cuda_plan;  /* the CUDA twin's cuDNN plan (conv2d_cuda.cu) */
  ConvDirect *dir;  /* the direct kernels' plan (conv2d_direct.h), NULL: im2col + GEMM */
  float *pack;      /* the weights packed for them */
  int64_t pack_cap;
} Conv;

/* Floats of one slot's workspace, rounded up to a cache line so that two
 * slots' gradient sums never share one. */
static int64_t conv_ws_per_slot(const Layer *l, const Conv *c) {
  const int64_t n =
      c->R * c->S * c->P + (int64_t)l->out.c * c->S * c->P + (int64_t)l->out.c * (c->R + 1);
  return (n + 15) / 16 * 16;
}

static void conv_init(Layer *l, Rng *rng) {
  const Conv *c = l->impl;
  const int64_t nw = (int64_t)l->out.c * c->R;
  const double bound = 1.0 / sqrt((double)c->R); /* fan_in = cin * k * k */
  for (int64_t i = 0; i < nw + l->out.c; i++)
    l->params[i] = (float)((2.0 * rng_uniform(rng) - 1.0) * bound);
}

/* One sample [cin, H, W] to columns: row (ci, kh, kw), column p = oh * Wo + ow
 * at col[row * ld + p]. */
static void im2col(const float *x, Dims in, const Conv *c, int Ho, int Wo, float *col, int64_t ld) {
  const int k = c->k, st = c->stride, pad = c->pad;
  for (int ci = 0; ci < in.c; ci++) {
    const float *xc = x + (int64_t)ci * in.h * in.w;
    for (int kh = 0; kh < k; kh++) {
      for (int kw = 0; kw < k; kw++) {
        float *dst = col + ((int64_t)(ci * k + kh) * k + kw) * ld;
        /* valid ow: 0 <= ow*st - pad + kw < in.w */
        int ow_lo = pad - kw > 0 ? (pad - kw + st - 1) / st : 0;
        int ow_hi = in.w - 1 + pad - kw < 0 ? 0 : (in.w - 1 + pad - kw) / st + 1;
        if (ow_hi > Wo) ow_hi = Wo;
        if (ow_lo > ow_hi) ow_lo = ow_hi;
        for (int oh = 0; oh < Ho; oh++) {
          float *d = dst + (int64_t)oh * Wo;
          int ih = oh * st - pad + kh;
          if (ih < 0 || ih >= in.h) {
            memset(d, 0, (size_t)Wo * sizeof(float));
            continue;
          }
          const float *row = xc + (int64_t)ih * in.w;
          for (int ow = 0; ow < ow_lo; ow++) d[ow] = 0.0f;
          if (st == 1)
            memcpy(d + ow_lo, row + ow_lo - pad + kw, (size_t)(ow_hi - ow_lo) * sizeof(float));
          else
            for (int ow = ow_lo; ow < ow_hi; ow++) d[ow] = row[ow * st - pad + kw];
          for (int ow = ow_hi; ow < Wo; ow++) d[ow] = 0.0f;
        }
      }
    }
  }
}

/* The adjoint of im2col: dx[cin, H, W] += columns (dx zeroed by the caller). */
static void col2im(const float *col, int64_t ld, Dims in, const Conv *c, int Ho, int Wo,
                   float *dx) {
  const int k = c->k, st = c->stride, pad = c->pad;
  for (int ci = 0; ci < in.c; ci++) {
    float *xc = dx + (int64_t)ci * in.h * in.w;
    for (int kh = 0; kh < k; kh++) {
      for (int kw = 0; kw < k; kw++) {
        const float *src = col + ((int64_t)(ci * k + kh) * k + kw) * ld;
        int ow_lo = pad - kw > 0 ? (pad - kw + st - 1) / st : 0;
        int ow_hi = in.w - 1 + pad - kw < 0 ? 0 : (in.w - 1 + pad - kw) / st + 1;
        if (ow_hi > Wo) ow_hi = Wo;
        for (int oh = 0; oh < Ho; oh++) {
          int ih = oh * st - pad + kh;
          if (ih < 0 || ih >= in.h) continue;
          float *row = xc + (int64_t)ih * in.w;
          const float *s = src + (int64_t)oh * Wo;
          if (st == 1) {
            const int off = kw - pad; /* row[ow + off] is inside the row for ow in [lo, hi) */
#pragma omp simd
            for (int ow = ow_lo; ow < ow_hi; ow++) row[ow + off] += s[ow];
          } else {
            for (int ow = ow_lo; ow < ow_hi; ow++) row[ow * st - pad + kw] += s[ow];
          }
        }
      }
    }
  }
}

/* Samples per GEMM for a batch of n: at most c->S, but enough chunks to
 * keep every thread busy. Depends on n and the thread count only. */
static int conv_chunk(const Conv *c, int64_t n) {
  int S = c->S;
  const int T = par_threads();
  if (S > 1 && (n + S - 1) / S < T) S = (int)((n + T - 1) / T);
  return S < 1 ? 1 : S;
}

/* The chunks [lo, hi) that slot t of nslots takes out of nchunks: contiguous,
 * sizes differing by at most one, fixed by (nchunks, nslots) alone. */
static void conv_slot_range(int64_t t, int64_t nslots, int64_t nchunks, int64_t *lo, int64_t *hi) {
  *lo = t * nchunks / nslots;
  *hi = (t + 1) * nchunks / nslots;
}

/* Forward of samples [s0, s0 + sc) with one GEMM; col and tmp are the
 * slot's workspace. */
static void conv_forward_chunk(const Layer *l, const Conv *c, const float *x, float *y, int64_t s0,
                               int64_t sc, float *col, float *tmp) {
  const int cout = l->out.c, Ho = l->out.h, Wo = l->out.w;
  const int64_t P = c->P, R = c->R, in_sz = dims_elems(l->in), out_sz = (int64_t)cout * P;
  const float *W = l->params, *b = W + (int64_t)cout * R;
  const int64_t ld = sc * P;
  for (int64_t s = 0; s < sc; s++)
    im2col(x + (s0 + s) * in_sz, l->in, c, Ho, Wo, col + s * P, ld);
  if (sc == 1) {
    float *ys = y + s0 * out_sz;
    for (int o = 0; o < cout; o++)
      for (int64_t p = 0; p < P; p++) ys[o * P + p] = b[o];
    par_sgemm1(0, 0, cout, (int)P, (int)R, 1.0f, W, (int)R, col, (int)P, 1.0f, ys, (int)P);
    if (l->relu)
      for (int64_t p = 0; p < out_sz; p++) ys[p] = ys[p] > 0.0f ? ys[p] : 0.0f;
    return;
  }
  par_sgemm1(0, 0, cout, (int)ld, (int)R, 1.0f, W, (int)R, col, (int)ld, 0.0f, tmp, (int)ld);
  for (int64_t s = 0; s < sc; s++) {
    float *ys = y + (s0 + s) * out_sz;
    for (int o = 0; o < cout; o++) {
      const float *t = tmp + o * ld + s * P;
      if (l->relu)
        for (int64_t p = 0; p < P; p++) {
          float v = t[p] + b[o];
          ys[o * P + p] = v > 0.0f ? v : 0.0f;
        }
      else
        for (int64_t p = 0; p < P; p++) ys[o * P + p] = t[p] + b[o];
    }
  }
}

/* The direct kernels: samples split into par_threads() contiguous ranges,
 * one per slot, each with its own workspace (and gradient partial sums in
 * backward, added in slot order as below). */
static int conv_forward_direct(Layer *l, Conv *c, const float *x, float *y, int64_t n) {
  const int T = par_threads();
  const int64_t per_slot = convd_ws_floats(c->dir);
  const int64_t in_sz = dims_elems(l->in), out_sz = dims_elems(l->out);
  MH_TRY(par_reserve(&c->ws, &c->ws_cap, per_slot * T));
  MH_TRY(par_reserve(&c->pack, &c->pack_cap, convd_pack_floats(c->dir)));
  convd_pack(c->dir, l->params, c->pack, 0);
  const float *b = l->params + (int64_t)l->out.c * c->R;
  const int64_t nslots = n < T ? n : T;
#pragma omp parallel for num_threads(T) schedule(static, 1)
  for (int64_t t = 0; t < nslots; t++) {
    int64_t lo, hi;
    conv_slot_range(t, nslots, n, &lo, &hi);
    convd_forward(c->dir, c->pack, b, l->relu, x + lo * in_sz, y + lo * out_sz, hi - lo,
                  c->ws + t * per_slot);
  }
  return MH_OK;
}

static int conv_backward_direct(Layer *l, Conv *c, const float *x, const float *y, float *dy,
                                float *dx, int64_t n) {
  const int T = par_threads(), cout = l->out.c;
  const int64_t nw = (int64_t)cout * c->R, gw_off = convd_ws_floats(c->dir);
  const int64_t per_slot = gw_off + (nw + cout + 15) / 16 * 16;
  const int64_t in_sz = dims_elems(l->in), out_sz = dims_elems(l->out);
  MH_TRY(par_reserve(&c->ws, &c->ws_cap, per_slot * T));
  MH_TRY(par_reserve(&c->pack, &c->pack_cap, convd_pack_floats(c->dir)));
  convd_pack(c->dir, l->params, c->pack, 1);
  const int64_t nslots = n < T ? n : T;
#pragma omp parallel for num_threads(T) schedule(static, 1)
  for (int64_t t = 0; t < nslots; t++) {
    float *ws = c->ws + t * per_slot, *gW = ws + gw_off;
    memset(gW, 0, (size_t)(nw + cout) * sizeof(float));
    int64_t lo, hi;
    conv_slot_range(t, nslots, n, &lo, &hi);
    convd_backward(c->dir, c->pack, l->relu, x + lo * in_sz, y + lo * out_sz, dy + lo * out_sz,
                   dx ? dx + lo * in_sz : NULL, hi - lo, ws, gW, gW + nw);
  }
  for (int64_t t = 0; t < nslots; t++) {
    const float *g = c->ws + t * per_slot + gw_off;
    for (int64_t i = 0; i < nw + cout; i++) l->grads[i] += g[i];
  }
  return MH_OK;
}

static int conv_forward(Layer *l, const float *x, float *y, int64_t n, int train) {
  Conv *c = l->impl;
  if (c->dir) return conv_forward_direct(l, c, x, y, n);
  const int T = par_threads();
  const int64_t per_slot = conv_ws_per_slot(l, c);
  MH_TRY(par_reserve(&c->ws, &c->ws_cap, per_slot * T));
  const int S = conv_chunk(c, n);
  const int64_t nchunks = (n + S - 1) / S, nslots = nchunks < T ? nchunks : T;
#pragma omp parallel for num_threads(T) schedule(static, 1)
  for (int64_t t = 0; t < nslots; t++) {
    float *col = c->ws + t * per_slot, *tmp = col + c->R * c->S * c->P;
    int64_t lo, hi;
    conv_slot_range(t, nslots, nchunks, &lo, &hi);
    for (int64_t ch = lo; ch < hi; ch++) {
      const int64_t s0 = ch * S;
      conv_forward_chunk(l, c, x, y, s0, s0 + S <= n ? S : n - s0, col, tmp);
    }
  }
  return MH_OK;
}

/* Backward of samples [s0, s0 + sc): adds the chunk's weight and bias
 * gradients to the slot's gW and gb, writes its dx when dx is not NULL. */
static void conv_backward_chunk(const Layer *l, const Conv *c, const float *x, const float *y,
                                float *dy, float *dx, int64_t s0, int64_t sc, float *col,
                                float *tmp, float *gW, float *gb) {
  const int cout = l->out.c, Ho = l->out.h, Wo = l->out.w;
  const int64_t P = c->P, R = c->R, in_sz = dims_elems(l->in), out_sz = (int64_t)cout * P;
  const float *W = l->params;
  const int64_t ld = sc * P;
  for (int64_t s = 0; s < sc; s++)
    im2col(x + (s0 + s) * in_sz, l->in, c, Ho, Wo, col + s * P, ld);
  if (l->relu) { /* the fused ReLU's backward, on the chunk while it is in cache */
    const float *ys = y + s0 * out_sz;
    float *dys = dy + s0 * out_sz;
    for (int64_t p = 0; p < sc * out_sz; p++) dys[p] = ys[p] > 0.0f ? dys[p] : 0.0f;
  }
  const float *d = dy + s0 * out_sz;
  if (sc > 1) { /* gather the chunk's dy as [cout, sc * P] */
    for (int64_t s = 0; s < sc; s++)
      for (int o = 0; o < cout; o++)
        memcpy(tmp + o * ld + s * P, dy + (s0 + s) * out_sz + o * P, (size_t)P * sizeof(float));
    d = tmp;
  }
  for (int o = 0; o < cout; o++) {
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int64_t p = 0; p < ld; p++) acc += d[o * ld + p];
    gb[o] += acc;
  }
  /* dW += dy_chunk [cout, ld] x cols^T [ld, R] */
  par_sgemm1(0, 1, cout, (int)R, (int)ld, 1.0f, d, (int)ld, col, (int)ld, 1.0f, gW, (int)R);
  if (!dx) return;
  /* dcols [R, ld] = W^T [R, cout] x dy_chunk [cout, ld], into the columns' buffer */
  par_sgemm1(1, 0, (int)R, (int)ld, cout, 1.0f, W, (int)R, d, (int)ld, 0.0f, col, (int)ld);
  for (int64_t s = 0; s < sc; s++) {
    float *dxs = dx + (s0 + s) * in_sz;
    memset(dxs, 0, (size_t)in_sz * sizeof(float));
    col2im(col + s * P, ld, l->in, c, Ho, Wo, dxs);
  }
}

static int conv_backward(Layer *l, const float *x, const float *y, float *dy, float *dx,
                         int64_t n) {
  Conv *c = l->impl;
  if (c->dir) return conv_backward_direct(l, c, x, y, dy, dx, n);
  const int T = par_threads();
  const int64_t per_slot = conv_ws_per_slot(l, c);
  MH_TRY(par_reserve(&c->ws, &c->ws_cap, per_slot * T));
  const int cout = l->out.c;
  const int64_t nw = (int64_t)cout * c->R;
  const int64_t tmp_off = c->R * c->S * c->P, gw_off = tmp_off + (int64_t)cout * c->S * c->P;
  const int S = conv_chunk(c, n);
  const int64_t nchunks = (n + S - 1) / S, nslots = nchunks < T ? nchunks : T;
#pragma omp parallel for num_threads(T) schedule(static, 1)
  for (int64_t t = 0; t < nslots; t++) {
    float *col = c->ws + t * per_slot, *gW = col + gw_off;
    memset(gW, 0, (size_t)(nw + cout) * sizeof(float));
    int64_t lo, hi;
    conv_slot_range(t, nslots, nchunks, &lo, &hi);
    for (int64_t ch = lo; ch < hi; ch++) {
      const int64_t s0 = ch * S;
      conv_backward_chunk(l, c, x, y, dy, dx, s0, s0 + S <= n ? S : n - s0, col, col + tmp_off,
                          gW, gW + nw);
    }
  }
  /* slot order, not completion order: the sum is the same every run */
  for (int64_t t = 0; t < nslots; t++) {
    const float *g = c->ws + t * per_slot + gw_off;
    for (int64_t i = 0; i < nw + cout; i++) l->grads[i] += g[i];
  }
  return MH_OK;
}

#ifdef MODYN_HAVE_CUDA
static ConvShape conv_shape(const Layer *l) {
  const Conv *c = l->impl;
  return (ConvShape){l->in.c, l->in.h, l->in.w, l->out.c, c->k, c->stride, c->pad, l->out.h,
                     l->out.w};
}

static int conv_forward_gpu(Layer *l, const float *x, float *y, int64_t n, int train) {
  Conv *c = l->impl;
  const ConvShape s = conv_shape(l);
  return conv2d_forward_cuda(&c->cuda_plan, &s, x, l->params,
                             l->params + (int64_t)l->out.c * c->R, n, l->relu, y);
}

static int conv_backward_gpu(Layer *l, const float *x, const float *y, float *dy, float *dx,
                             int64_t n) {
  Conv *c = l->impl;
  const ConvShape s = conv_shape(l);
  return conv2d_backward_cuda(&c->cuda_plan, &s, x, l->params, y, dy, l->grads,
                              l->grads + (int64_t)l->out.c * c->R, dx, n, l->relu);
}
#endif

static void conv_destroy(Layer *l) {
  Conv *c = l->impl;
  if (c) {
    free(c->ws);
    free(c->pack);
    convd_free(c->dir);
#ifdef MODYN_HAVE_CUDA
    conv2d_plan_free_cuda(c->cuda_plan);
#endif
  }
  free(c);
}

static const LayerOps conv_ops = {"conv2d", conv_init, conv_forward, conv_backward, conv_destroy,
                                  1, 0, LAYER_CUDA(conv_forward_gpu, conv_backward_gpu), NULL};

Layer *layer_conv2d(Dims in, int cout, int k, int stride, int pad) {
  int Ho = k > 0 && stride > 0 ? conv_out_size(in.h, k, stride, pad) : 0;
  int Wo = k > 0 && stride > 0 ? conv_out_size(in.w, k, stride, pad) : 0;
  if (in.c <= 0 || cout <= 0 || pad < 0 || Ho <= 0 || Wo <= 0) {
    mh_errorf("conv2d layer: bad sizes (input %dx%dx%d, %d channels out, kernel %d, stride %d, "
              "padding %d)", in.c, in.h, in.w, cout, k, stride, pad);
    return NULL;
  }
  par_init(0);
  Layer *l = mh_calloc(1, sizeof *l);
  Conv *c = mh_calloc(1, sizeof *c);
  if (!l || !c) {
    free(l);
    free(c);
    return NULL;
  }
  c->k = k;
  c->stride = stride;
  c->pad = pad;
  c->P = (int64_t)Ho * Wo;
  c->R = (int64_t)in.c * k * k;
  c->S = (int)((256 + c->P - 1) / c->P);
  c->dir = convd_create(in.c, in.h, in.w, cout, k, stride, pad);
  l->ops = &conv_ops;
  l->in = in;
  l->out = (Dims){cout, Ho, Wo};
  l->nparams = (int64_t)cout * c->R + cout;
  l->impl = c;
  return l;
}

/* ---- reference ---------------------------------------------------------- */

void conv2d_forward_ref(const float *x, const float *W, const float *b, int64_t n, Dims in,
                        int cout, int k, int stride, int pad, float *y) {
  const int Ho = conv_out_size(in.h, k, stride, pad), Wo = conv_out_size(in.w, k, stride, pad);
  for (int64_t i = 0; i < n; i++)
    for (int o = 0; o < cout; o++)
      for (int oh = 0; oh < Ho; oh++)
        for (int ow = 0; ow < Wo; ow++) {
          double acc = b ? b[o] : 0.0;
          for (int ci = 0; ci < in.c; ci++)
            for (int kh = 0; kh < k; kh++)
              for (int kw = 0; kw < k; kw++) {
                int ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
                if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) continue;
                acc += (double)W[((o * in.c + ci) * k + kh) * k + kw] *
                       x[((i * in.c + ci) * in.h + ih) * in.w + iw];
              }
          y[((i * cout + o) * Ho + oh) * Wo + ow] = (float)acc;
        }
}

void conv2d_backward_ref(const float *x, const float *W, const float *dy, int64_t n, Dims in,
                         int cout, int k, int stride, int pad, float *dW, float *db, float *dx) {
  const int Ho = conv_out_size(in.h, k, stride, pad), Wo = conv_out_size(in.w, k, stride, pad);
  if (dx) memset(dx, 0, (size_t)(n * dims_elems(in)) * sizeof(float));
  for (int64_t i = 0; i < n; i++)
    for (int o = 0; o < cout; o++)
      for (int oh = 0; oh < Ho; oh++)
        for (int ow = 0; ow < Wo; ow++) {
          float g = dy[((i * cout + o) * Ho + oh) * Wo + ow];
          if (db) db[o] += g;
          for (int ci = 0; ci < in.c; ci++)
            for (int kh = 0; kh < k; kh++)
              for (int kw = 0; kw < k; kw++) {
                int ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
                if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) continue;
                int64_t xi = ((i * in.c + ci) * in.h + ih) * in.w + iw;
                int64_t wi = ((o * in.c + ci) * k + kh) * k + kw;
                dW[wi] += g * x[xi];
                if (dx) dx[xi] += g * W[wi];
              }
        }
}

/* conv2d_direct.c - see conv2d_direct.h. */
#include "train/conv2d_direct.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CONVD_X86 1
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))
#endif

enum {
  MR = 4,       /* output channels per register tile */
  NV = 3,       /* 8-float vectors per forward tile */
  NR = 8 * NV,  /* grid points per forward tile */
  DJ = 3        /* taps per weight-gradient tile */
};

struct ConvDirect {
  int cin, H, W, cout, k, pad, Ho, Wo;
  int cout_p, cin_p;         /* rounded up to MR */
  int R, Rb;                 /* taps: cin * k * k (forward), cout * k * k (input gradient) */
  /* forward and weight-gradient grid over the input padded by pad */
  int Wpx;
  int64_t Qx, Qxt, Qx8, Lx;  /* grid points, rounded up to NR and to 8, plane length */
  /* input-gradient grid over dy padded by pd = k - 1 - pad */
  int pd, Wpd;
  int64_t Qd, Qdt, Ld;
  int SB;                    /* samples per weight-gradient block */
  int32_t *offx, *offd;      /* tap offsets in the padded planes */
};

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

#ifdef CONVD_X86
static int convd_cpu_ok(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

ConvDirect *convd_create(int cin, int H, int W, int cout, int k, int stride, int pad) {
#ifndef CONVD_X86
  (void)cin, (void)H, (void)W, (void)cout, (void)k, (void)stride, (void)pad;
  return NULL;
#else
  const char *env = getenv("MODYN_CONV");
  if (env && !strcmp(env, "gemm")) return NULL;
  if (stride != 1 || pad > k - 1 || k < 1 || !convd_cpu_ok()) return NULL;
  ConvDirect *d = mh_calloc(1, sizeof *d);
  if (!d) return NULL;
  d->cin = cin, d->H = H, d->W = W, d->cout = cout, d->k = k, d->pad = pad;
  d->Ho = H + 2 * pad - k + 1;
  d->Wo = W + 2 * pad - k + 1;
  d->cout_p = (int)round_up(cout, MR);
  d->cin_p = (int)round_up(cin, MR);
  d->R = cin * k * k;
  d->Rb = cout * k * k;
  d->Wpx = W + 2 * pad;
  d->Qx = (int64_t)d->Ho * d->Wpx;
  d->Qxt = round_up(d->Qx, NR);
  d->Qx8 = round_up(d->Qx, 8);
  d->Lx = round_up(d->Qxt + (int64_t)(k - 1) * (d->Wpx + 1), 8);
  d->pd = k - 1 - pad;
  d->Wpd = d->Wo + 2 * d->pd;
  d->Qd = (int64_t)H * d->Wpd;
  d->Qdt = round_up(d->Qd, NR);
  d->Ld = round_up(d->Qdt + (int64_t)(k - 1) * (d->Wpd + 1), 8);
  /* a block of samples' padded inputs and gathered dy within ~256 KB (L2) */
  const int64_t per = (int64_t)cin * d->Lx + (int64_t)d->cout_p * d->Qx8;
  int64_t sb = 65536 / per;
  d->SB = (int)(sb < 1 ? 1 : sb > 16 ? 16 : sb);
  d->offx = mh_malloc((size_t)d->R * sizeof(int32_t));
  d->offd = mh_malloc((size_t)d->Rb * sizeof(int32_t));
  if (!d->offx || !d->offd) {
    convd_free(d);
    return NULL;
  }
  for (int c = 0; c < cin; c++)
    for (int a = 0; a < k; a++)
      for (int b = 0; b < k; b++)
        d->offx[(c * k + a) * k + b] = (int32_t)(c * d->Lx + (int64_t)a * d->Wpx + b);
  for (int o = 0; o < cout; o++)
    for (int a = 0; a < k; a++)
      for (int b = 0; b < k; b++)
        d->offd[(o * k + a) * k + b] = (int32_t)(o * d->Ld + (int64_t)a * d->Wpd + b);
  return d;
#endif
}

void convd_free(ConvDirect *d) {
  if (!d) return;
  free(d->offx);
  free(d->offd);
  free(d);
}

/* workspace layout of one thread (floats):
 *   forward:  xp [cin * Lx], yg [MR * Qxt]
 *   backward: xp [SB * cin * Lx], dyg [SB * cout_p * Qx8], dyp [cout * Ld],
 *             dxg [MR * Qdt], dwv [cout_p * R * 8], dbv [cout_p * 8] */
static int64_t ws_fwd(const ConvDirect *d) {
  return (int64_t)d->cin * d->Lx + (int64_t)MR * d->Qxt;
}
static int64_t ws_bwd(const ConvDirect *d) {
  return (int64_t)d->SB * ((int64_t)d->cin * d->Lx + (int64_t)d->cout_p * d->Qx8) +
         (int64_t)d->cout * d->Ld + (int64_t)MR * d->Qdt + (int64_t)d->cout_p * (d->R + 1) * 8;
}

int64_t convd_ws_floats(const ConvDirect *d) {
  const int64_t f = ws_fwd(d), b = ws_bwd(d);
  return round_up(f > b ? f : b, 16);
}

int64_t convd_pack_floats(const ConvDirect *d) {
  return (int64_t)d->cout_p * d->R + (int64_t)d->cin_p * d->Rb;
}

void convd_pack(const ConvDirect *d, const float *W, float *pack, int for_backward) {
  const int k = d->k, kk = k * k;
  if (!for_backward) {
    /* [cout_p / MR][R][MR]: pack[(ob * R + r) * MR + m] = W[ob * MR + m][r] */
    for (int ob = 0; ob < d->cout_p / MR; ob++)
      for (int r = 0; r < d->R; r++)
        for (int m = 0; m < MR; m++) {
          const int o = ob * MR + m;
          pack[((int64_t)ob * d->R + r) * MR + m] = o < d->cout ? W[(int64_t)o * d->R + r] : 0.0f;
        }
    return;
  }
  /* [cin_p / MR][Rb][MR], tap (o, a, b) of input channel c = W[o][c][k-1-a][k-1-b] */
  float *p = pack + (int64_t)d->cout_p * d->R;
  for (int cb = 0; cb < d->cin_p / MR; cb++)
    for (int o = 0; o < d->cout; o++)
      for (int t = 0; t < kk; t++)
        for (int m = 0; m < MR; m++) {
          const int c = cb * MR + m;
          p[((int64_t)cb * d->Rb + o * kk + t) * MR + m] =
              c < d->cin ? W[((int64_t)o * d->cin + c) * kk + (kk - 1 - t)] : 0.0f;
        }
}

#ifdef CONVD_X86
/* The same as kern_fwd below for the 8 grid points from q. */
AVX2 static void kern_fwd8(const float *xp, const int32_t *off, int R, const float *w,
                           const float *bias, float *out, int64_t ld, int64_t q) {
  __m256 a0 = _mm256_set1_ps(bias ? bias[0] : 0.0f), a1 = _mm256_set1_ps(bias ? bias[1] : 0.0f),
         a2 = _mm256_set1_ps(bias ? bias[2] : 0.0f), a3 = _mm256_set1_ps(bias ? bias[3] : 0.0f);
  const float *xq = xp + q;
  for (int r = 0; r < R; r++) {
    const __m256 xv = _mm256_loadu_ps(xq + off[r]);
    const float *wr = w + (int64_t)r * MR;
    a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(wr), xv, a0);
    a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(wr + 1), xv, a1);
    a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(wr + 2), xv, a2);
    a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(wr + 3), xv, a3);
  }
  _mm256_storeu_ps(out + q, a0);
  _mm256_storeu_ps(out + ld + q, a1);
  _mm256_storeu_ps(out + 2 * ld + q, a2);
  _mm256_storeu_ps(out + 3 * ld + q, a3);
}

/* out[m * ld + q] = bias[m] + sum_r w[r * MR + m] * xp[off[r] + q] for
 * m < MR, q < Q8 (a multiple of 8): tiles of NR points, then 8 at a time
 * (a grid of 80 points is not rounded up to 96). */
AVX2 static void kern_fwd(const float *xp, const int32_t *off, int R, const float *w,
                          const float *bias, float *out, int64_t ld, int64_t Q8) {
  int64_t q = 0;
  for (; q + NR <= Q8; q += NR) {
    __m256 a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32;
    a00 = a01 = a02 = _mm256_set1_ps(bias ? bias[0] : 0.0f);
    a10 = a11 = a12 = _mm256_set1_ps(bias ? bias[1] : 0.0f);
    a20 = a21 = a22 = _mm256_set1_ps(bias ? bias[2] : 0.0f);
    a30 = a31 = a32 = _mm256_set1_ps(bias ? bias[3] : 0.0f);
    const float *xq = xp + q;
    for (int r = 0; r < R; r++) {
      const float *xr = xq + off[r], *wr = w + (int64_t)r * MR;
      const __m256 x0 = _mm256_loadu_ps(xr), x1 = _mm256_loadu_ps(xr + 8),
                   x2 = _mm256_loadu_ps(xr + 16);
      __m256 b = _mm256_broadcast_ss(wr);
      a00 = _mm256_fmadd_ps(b, x0, a00);
      a01 = _mm256_fmadd_ps(b, x1, a01);
      a02 = _mm256_fmadd_ps(b, x2, a02);
      b = _mm256_broadcast_ss(wr + 1);
      a10 = _mm256_fmadd_ps(b, x0, a10);
      a11 = _mm256_fmadd_ps(b, x1, a11);
      a12 = _mm256_fmadd_ps(b, x2, a12);
      b = _mm256_broadcast_ss(wr + 2);
      a20 = _mm256_fmadd_ps(b, x0, a20);
      a21 = _mm256_fmadd_ps(b, x1, a21);
      a22 = _mm256_fmadd_ps(b, x2, a22);
      b = _mm256_broadcast_ss(wr + 3);
      a30 = _mm256_fmadd_ps(b, x0, a30);
      a31 = _mm256_fmadd_ps(b, x1, a31);
      a32 = _mm256_fmadd_ps(b, x2, a32);
    }
    float *o = out + q;
    _mm256_storeu_ps(o, a00);
    _mm256_storeu_ps(o + 8, a01);
    _mm256_storeu_ps(o + 16, a02);
    o += ld;
    _mm256_storeu_ps(o, a10);
    _mm256_storeu_ps(o + 8, a11);
    _mm256_storeu_ps(o + 16, a12);
    o += ld;
    _mm256_storeu_ps(o, a20);
    _mm256_storeu_ps(o + 8, a21);
    _mm256_storeu_ps(o + 16, a22);
    o += ld;
    _mm256_storeu_ps(o, a30);
    _mm256_storeu_ps(o + 8, a31);
    _mm256_storeu_ps(o + 16, a32);
  }
  for (; q < Q8; q += 8) kern_fwd8(xp, off, R, w, bias, out, ld, q);
}

/* Weight-gradient tile: for m < MR and j < nj (DJ or 1),
 * dwv[(m * R + j) * 8 + lane] += sum over the ns samples and q < Q8
 * (step 8) of dy_s[m * ldy + q + lane] * x_s[off[j] + q + lane], with
 * sample s at dy + s * sdy, x + s * sx. */
AVX2 static void kern_dw3(const float *x, int64_t sx, const float *dy, int64_t sdy, int64_t ldy,
                          int ns, const int32_t *off, int64_t Q8, float *dwv, int64_t R) {
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00,
         a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
  for (int s = 0; s < ns; s++) {
    const float *x0p = x + s * sx + off[0], *x1p = x + s * sx + off[1], *x2p = x + s * sx + off[2];
    const float *d0 = dy + s * sdy, *d1 = d0 + ldy, *d2 = d1 + ldy, *d3 = d2 + ldy;
    for (int64_t q = 0; q < Q8; q += 8) {
      const __m256 x0 = _mm256_loadu_ps(x0p + q), x1 = _mm256_loadu_ps(x1p + q),
                   x2 = _mm256_loadu_ps(x2p + q);
      __m256 g = _mm256_loadu_ps(d0 + q);
      a00 = _mm256_fmadd_ps(g, x0, a00);
      a01 = _mm256_fmadd_ps(g, x1, a01);
      a02 = _mm256_fmadd_ps(g, x2, a02);
      g = _mm256_loadu_ps(d1 + q);
      a10 = _mm256_fmadd_ps(g, x0, a10);
      a11 = _mm256_fmadd_ps(g, x1, a11);
      a12 = _mm256_fmadd_ps(g, x2, a12);
      g = _mm256_loadu_ps(d2 + q);
      a20 = _mm256_fmadd_ps(g, x0, a20);
      a21 = _mm256_fmadd_ps(g, x1, a21);
      a22 = _mm256_fmadd_ps(g, x2, a22);
      g = _mm256_loadu_ps(d3 + q);
      a30 = _mm256_fmadd_ps(g, x0, a30);
      a31 = _mm256_fmadd_ps(g, x1, a31);
      a32 = _mm256_fmadd_ps(g, x2, a32);
    }
  }
#define ACC(m, j, a)                                            \
  do {                                                          \
    float *p_ = dwv + ((int64_t)(m) * R + (j)) * 8;             \
    _mm256_storeu_ps(p_, _mm256_add_ps(_mm256_loadu_ps(p_), a)); \
  } while (0)
  ACC(0, 0, a00); ACC(0, 1, a01); ACC(0, 2, a02);
  ACC(1, 0, a10); ACC(1, 1, a11); ACC(1, 2, a12);
  ACC(2, 0, a20); ACC(2, 1, a21); ACC(2, 2, a22);
  ACC(3, 0, a30); ACC(3, 1, a31); ACC(3, 2, a32);
}

AVX2 static void kern_dw1(const float *x, int64_t sx, const float *dy, int64_t sdy, int64_t ldy,
                          int ns, const int32_t *off, int64_t Q8, float *dwv, int64_t R) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int s = 0; s < ns; s++) {
    const float *xp = x + s * sx + off[0];
    const float *d0 = dy + s * sdy, *d1 = d0 + ldy, *d2 = d1 + ldy, *d3 = d2 + ldy;
    for (int64_t q = 0; q < Q8; q += 8) {
      const __m256 xv = _mm256_loadu_ps(xp + q);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(d0 + q), xv, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(d1 + q), xv, a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(d2 + q), xv, a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(d3 + q), xv, a3);
    }
  }
  ACC(0, 0, a0); ACC(1, 0, a1); ACC(2, 0, a2); ACC(3, 0, a3);
#undef ACC
}

/* dst[0..n) = src[0..n), for rows too short for a memcpy call to pay */
AVX2 static inline void copy_row(float *dst, const float *src, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_loadu_ps(src + i));
  for (; i < n; i++) dst[i] = src[i];
}

/* Copy C planes of h x w into zero-bordered planes of length L, width wp,
 * at row and column offset p (the borders stay as they were: zero). */
AVX2 static void pad_planes(const float *x, int C, int h, int w, int p, int wp, int64_t L,
                            float *xp) {
  for (int c = 0; c < C; c++) {
    const float *src = x + (int64_t)c * h * w;
    float *dst = xp + c * L + (int64_t)p * wp + p;
    for (int r = 0; r < h; r++) copy_row(dst + (int64_t)r * wp, src + (int64_t)r * w, w);
  }
}

/* dst[i] = max(src[i], 0) (0 for NaN, +0 for -0: the scalar ReLU's results) */
AVX2 static void relu_copy(float *dst, const float *src, int64_t n) {
  const __m256 z = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_max_ps(_mm256_loadu_ps(src + i), z));
  for (; i < n; i++) dst[i] = src[i] > 0.0f ? src[i] : 0.0f;
}

/* dy[i] = y[i] > 0 ? dy[i] : 0 */
AVX2 static void relu_mask(float *dy, const float *y, int64_t n) {
  const __m256 z = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 m = _mm256_cmp_ps(_mm256_loadu_ps(y + i), z, _CMP_GT_OQ);
    _mm256_storeu_ps(dy + i, _mm256_and_ps(_mm256_loadu_ps(dy + i), m));
  }
  for (; i < n; i++) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* acc[lane] += sum over q < Q8 (step 8) of v[q + lane] */
AVX2 static void lane_sum(float *acc, const float *v, int64_t Q8) {
  __m256 a = _mm256_loadu_ps(acc), b = _mm256_setzero_ps();
  int64_t q = 0;
  for (; q + 16 <= Q8; q += 16) {
    a = _mm256_add_ps(a, _mm256_loadu_ps(v + q));
    b = _mm256_add_ps(b, _mm256_loadu_ps(v + q + 8));
  }
  if (q < Q8) a = _mm256_add_ps(a, _mm256_loadu_ps(v + q));
  _mm256_storeu_ps(acc, _mm256_add_ps(a, b));
}
#endif /* CONVD_X86 */

#ifdef CONVD_X86
AVX2 static void forward_x86(const ConvDirect *d, const float *pack, const float *b, int relu,
                             const float *x, float *y, int64_t n, float *ws) {
  const int64_t in_sz = (int64_t)d->cin * d->H * d->W, P = (int64_t)d->Ho * d->Wo;
  float *xp = ws, *yg = ws + (int64_t)d->cin * d->Lx;
  memset(xp, 0, (size_t)d->cin * d->Lx * sizeof(float));
  float bias[MR];
  for (int64_t s = 0; s < n; s++) {
    pad_planes(x + s * in_sz, d->cin, d->H, d->W, d->pad, d->Wpx, d->Lx, xp);
    float *ys = y + s * d->cout * P;
    for (int ob = 0; ob < d->cout_p / MR; ob++) {
      for (int m = 0; m < MR; m++) bias[m] = ob * MR + m < d->cout ? b[ob * MR + m] : 0.0f;
      kern_fwd(xp, d->offx, d->R, pack + (int64_t)ob * d->R * MR, bias, yg, d->Qxt, d->Qx8);
      for (int m = 0; m < MR && ob * MR + m < d->cout; m++) {
        const float *g = yg + (int64_t)m * d->Qxt;
        float *yo = ys + (int64_t)(ob * MR + m) * P;
        for (int oh = 0; oh < d->Ho; oh++) {
          const float *gr = g + (int64_t)oh * d->Wpx;
          float *yr = yo + (int64_t)oh * d->Wo;
          if (relu)
            relu_copy(yr, gr, d->Wo);
          else
            copy_row(yr, gr, d->Wo);
        }
      }
    }
  }
}
#endif

void convd_forward(const ConvDirect *d, const float *pack, const float *b, int relu,
                   const float *x, float *y, int64_t n, float *ws) {
#ifdef CONVD_X86
  forward_x86(d, pack, b, relu, x, y, n, ws);
#else
  (void)d, (void)pack, (void)b, (void)relu, (void)x, (void)y, (void)n, (void)ws;
#endif
}

#ifdef CONVD_X86
AVX2 static void backward_x86(const ConvDirect *d, const float *pack, int relu, const float *x,
                              const float *y, float *dy, float *dx, int64_t n, float *ws,
                              float *gW, float *gb) {
  const int cin = d->cin, cout = d->cout, R = d->R;
  const int64_t in_sz = (int64_t)cin * d->H * d->W, P = (int64_t)d->Ho * d->Wo;
  const int64_t out_sz = cout * P, sx = (int64_t)cin * d->Lx, sdy = (int64_t)d->cout_p * d->Qx8;
  float *xp = ws, *dyg = xp + d->SB * sx, *dyp = dyg + d->SB * sdy;
  float *dxg = dyp + (int64_t)cout * d->Ld, *dwv = dxg + (int64_t)MR * d->Qdt;
  float *dbv = dwv + (int64_t)d->cout_p * R * 8;
  memset(xp, 0, (size_t)(d->SB * (sx + sdy) + (int64_t)cout * d->Ld) * sizeof(float));
  memset(dwv, 0, (size_t)d->cout_p * (R + 1) * 8 * sizeof(float));
  const float *packb = pack + (int64_t)d->cout_p * R;
  for (int64_t s0 = 0; s0 < n; s0 += d->SB) {
    const int ns = (int)(n - s0 < d->SB ? n - s0 : d->SB);
    for (int s = 0; s < ns; s++) {
      float *dys = dy + (s0 + s) * out_sz;
      if (relu) relu_mask(dys, y + (s0 + s) * out_sz, out_sz);
      pad_planes(x + (s0 + s) * in_sz, cin, d->H, d->W, d->pad, d->Wpx, d->Lx, xp + s * sx);
      /* dy on the forward grid (zero at ow >= Wo), and the bias gradient's lanes */
      float *g = dyg + s * sdy;
      for (int o = 0; o < cout; o++) {
        float *go = g + (int64_t)o * d->Qx8;
        for (int oh = 0; oh < d->Ho; oh++)
          copy_row(go + (int64_t)oh * d->Wpx, dys + o * P + (int64_t)oh * d->Wo, d->Wo);
        lane_sum(dbv + (int64_t)o * 8, go, d->Qx8);
      }
    }
    for (int ob = 0; ob < d->cout_p / MR; ob++) {
      const float *dyo = dyg + (int64_t)ob * MR * d->Qx8;
      float *dw = dwv + (int64_t)ob * MR * R * 8;
      int r = 0;
      for (; r + DJ <= R; r += DJ)
        kern_dw3(xp, sx, dyo, sdy, d->Qx8, ns, d->offx + r, d->Qx8, dw + (int64_t)r * 8, R);
      for (; r < R; r++)
        kern_dw1(xp, sx, dyo, sdy, d->Qx8, ns, d->offx + r, d->Qx8, dw + (int64_t)r * 8, R);
    }
    if (!dx) continue;
    for (int s = 0; s < ns; s++) {
      pad_planes(dy + (s0 + s) * out_sz, cout, d->Ho, d->Wo, d->pd, d->Wpd, d->Ld, dyp);
      float *dxs = dx + (s0 + s) * in_sz;
      for (int cb = 0; cb < d->cin_p / MR; cb++) {
        kern_fwd(dyp, d->offd, d->Rb, packb + (int64_t)cb * d->Rb * MR, NULL, dxg, d->Qdt,
                 round_up(d->Qd, 8));
        for (int m = 0; m < MR && cb * MR + m < cin; m++) {
          const float *gm = dxg + (int64_t)m * d->Qdt;
          float *xo = dxs + (int64_t)(cb * MR + m) * d->H * d->W;
          for (int ih = 0; ih < d->H; ih++)
            copy_row(xo + (int64_t)ih * d->W, gm + (int64_t)ih * d->Wpd, d->W);
        }
      }
    }
  }
  /* the lanes' partial sums, in lane order */
  for (int o = 0; o < cout; o++)
    for (int r = 0; r < R; r++) {
      const float *v = dwv + ((int64_t)o * R + r) * 8;
      gW[(int64_t)o * R + r] += ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
    }
  for (int o = 0; o < cout; o++) {
    const float *v = dbv + (int64_t)o * 8;
    gb[o] += ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
  }
}
#endif

void convd_backward(const ConvDirect *d, const float *pack, int relu, const float *x,
                    const float *y, float *dy, float *dx, int64_t n, float *ws, float *gW,
                    float *gb) {
#ifdef CONVD_X86
  backward_x86(d, pack, relu, x, y, dy, dx, n, ws, gW, gb);
#else
  (void)d, (void)pack, (void)relu, (void)x, (void)y, (void)dy, (void)dx, (void)n, (void)ws;
  (void)gW, (void)gb;
#endif
}

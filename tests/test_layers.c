/* test_layers.c - the layers and losses of the CPU training engine:
 *  - finite-difference gradient checks of every layer (parameters and
 *    input), the losses, the embedding lookups and the DLRM interaction:
 *    central differences with step h on a float32 forward, the loss
 *    L = sum(r * y) for a fixed random r accumulated in double; a gradient
 *    passes when |numeric - analytic| <= atol + rtol * |numeric| with the
 *    tolerances stated at each call (the worst scaled error is printed);
 *  - both CPU convolutions (the direct stride-1 kernels and im2col + GEMM)
 *    against the plain reference convolution (forward and backward, several
 *    shapes, 1e-4 abs + 1e-4 rel); the direct kernels' determinism (same
 *    bits on the same thread count; 1 vs 2 threads: forward and dx the same
 *    bits, weight gradient within 1e-4);
 *  - a ReLU fused into linear, conv2d and batchnorm (Layer.relu) against the
 *    same layer followed by a separate ReLU layer (1e-6);
 *  - known answers computed by hand: a 3x3 convolution, max pooling,
 *    batchnorm in train and eval mode, embedding bag mean/sum, the DLRM
 *    interaction, BCE with logits;
 *  - an empty batch (n = 0, a rank's empty slice, NULL tensors): every
 *    layer's forward and backward succeed and leave the gradients at 0
 *    (batchnorm without ranks refuses to train on it). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "testutil.h"
#include "train/conv2d_direct.h"
#include "train/layers.h"
#include "train/loss.h"
#include "train/parallel.h"

/* ---- a layer with its own parameter storage ----------------------------- */

typedef struct {
  Layer *l;
  float *params, *grads, *buffers;
} Owned;

static Owned own(Layer *l, uint64_t seed) {
  Owned o = {l, NULL, NULL, NULL};
  if (!l) {
    fprintf(stderr, "layer constructor failed: %s\n", mh_error());
    return o;
  }
  o.params = calloc((size_t)l->nparams + 1, sizeof(float));
  o.grads = calloc((size_t)l->nparams + 1, sizeof(float));
  o.buffers = calloc((size_t)l->nbuffers + 1, sizeof(float));
  l->params = o.params;
  l->grads = o.grads;
  l->buffers = o.buffers;
  Rng rng;
  rng_seed(&rng, seed);
  if (l->ops->init) l->ops->init(l, &rng);
  return o;
}

static void disown(Owned *o) {
  layer_free(o->l);
  free(o->params);
  free(o->grads);
  free(o->buffers);
}

static double dot_d(const float *a, const float *b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* L = sum(r * forward(x)); dropout layers are reseeded first so that every
 * evaluation draws the same mask. */
static double layer_loss(Layer *l, const float *x, int64_t n, const float *r, float *y) {
  if (!strcmp(l->ops->name, "dropout")) {
    Rng rng;
    rng_seed(&rng, 99);
    l->ops->init(l, &rng);
  }
  l->ops->forward(l, x, y, n, 1);
  return dot_d(r, y, n * dims_elems(l->out));
}

static double scaled_err(double num, double ana, double atol, double rtol) {
  return fabs(num - ana) / (atol + rtol * fabs(num));
}

/* Check the parameter gradients (up to max_checks of them, spread evenly)
 * and, when check_dx, the input gradient. Returns the worst scaled error. */
static double gradcheck_layer(const char *what, Layer *l, float *x, int64_t n, int check_dx,
                              double h, double atol, double rtol) {
  const int64_t in = n * dims_elems(l->in), out = n * dims_elems(l->out);
  float *y = malloc((size_t)out * sizeof(float)), *r = malloc((size_t)out * sizeof(float));
  float *dy = malloc((size_t)out * sizeof(float)), *dx = malloc((size_t)in * sizeof(float));
  Rng rng;
  rng_seed(&rng, 7);
  for (int64_t i = 0; i < out; i++) r[i] = (float)rng_normal(&rng);
  memset(l->grads, 0, (size_t)l->nparams * sizeof(float));
  layer_loss(l, x, n, r, y);
  memcpy(dy, r, (size_t)out * sizeof(float));
  CHECK_OK(l->ops->backward(l, x, y, dy, check_dx ? dx : NULL, n));
  double worst = 0;
  const int64_t max_checks = 300;
  int64_t step = l->nparams > max_checks ? l->nparams / max_checks : 1;
  for (int64_t p = 0; p < l->nparams; p += step) {
    float keep = l->params[p];
    l->params[p] = keep + (float)h;
    double up = layer_loss(l, x, n, r, y);
    l->params[p] = keep - (float)h;
    double down = layer_loss(l, x, n, r, y);
    l->params[p] = keep;
    double e = scaled_err((up - down) / (2 * h), l->grads[p], atol, rtol);
    if (e > worst) worst = e;
  }
  if (check_dx) {
    step = in > max_checks ? in / max_checks : 1;
    for (int64_t i = 0; i < in; i += step) {
      float keep = x[i];
      x[i] = keep + (float)h;
      double up = layer_loss(l, x, n, r, y);
      x[i] = keep - (float)h;
      double down = layer_loss(l, x, n, r, y);
      x[i] = keep;
      double e = scaled_err((up - down) / (2 * h), dx[i], atol, rtol);
      if (e > worst) worst = e;
    }
  }
  printf("gradcheck %-28s worst scaled error %.3g (must be <= 1)\n", what, worst);
  CHECK(worst <= 1.0);
  free(y);
  free(r);
  free(dy);
  free(dx);
  return worst;
}

/* Random inputs kept at least `gap` away from zero (ReLU kinks). */
static float *rand_input(int64_t len, uint64_t seed, double gap) {
  float *x = malloc((size_t)len * sizeof(float));
  Rng rng;
  rng_seed(&rng, seed);
  for (int64_t i = 0; i < len; i++) {
    double v = rng_normal(&rng);
    if (fabs(v) < gap) v = v < 0 ? v - gap : v + gap;
    x[i] = (float)v;
  }
  return x;
}

static void gc(const char *what, Layer *layer, int64_t n, int check_dx, double gap, double h,
               double atol, double rtol) {
  Owned o = own(layer, 3);
  CHECK(o.l != NULL);
  if (!o.l) return;
  float *x = rand_input(n * dims_elems(layer->in), 11, gap);
  gradcheck_layer(what, o.l, x, n, check_dx, h, atol, rtol);
  free(x);
  disown(&o);
}

static void test_gradchecks(void) {
  /* Tolerances: h = 1e-2 on O(1) values; float32 forward sums of ~100
   * terms are good to ~1e-5, so 2e-3 abs + 1e-2 rel leaves a wide margin
   * and still catches any wrong term (errors of O(0.1..1)). */
  const double h = 1e-2, atol = 2e-3, rtol = 1e-2;
  gc("linear 7->5", layer_linear((Dims){7, 1, 1}, 5), 4, 1, 0, h, atol, rtol);
  gc("linear on 2x3x3 input", layer_linear((Dims){2, 3, 3}, 3), 3, 1, 0, h, atol, rtol);
  gc("conv2d 2->3 k3 s1 p1 5x5", layer_conv2d((Dims){2, 5, 5}, 3, 3, 1, 1), 2, 1, 0, h, atol, rtol);
  gc("conv2d 3->2 k3 s2 p0 7x6", layer_conv2d((Dims){3, 7, 6}, 2, 3, 2, 0), 3, 1, 0, h, atol, rtol);
  gc("conv2d 1->4 k2 s1 p0 3x3 (chunked)", layer_conv2d((Dims){1, 3, 3}, 4, 2, 1, 0), 5, 1, 0, h,
     atol, rtol);
  /* BN: the normalised output is scale-free, so its gradients are small
   * differences; a smaller step keeps the curvature error down. */
  gc("batchnorm2d 3ch 4x4", layer_batchnorm((Dims){3, 4, 4}), 3, 1, 0, 2e-3, 2e-3, 2e-2);
  gc("batchnorm1d 5", layer_batchnorm((Dims){5, 1, 1}), 6, 1, 0, 2e-3, 2e-3, 2e-2);
  gc("relu (|x| >= 0.1)", layer_relu((Dims){3, 2, 2}), 3, 1, 0.1, h, atol, rtol);
  gc("global avgpool 3x4x5", layer_global_avgpool((Dims){3, 4, 5}), 2, 1, 0, h, atol, rtol);
  gc("dropout p=0.3 (fixed mask)", layer_dropout((Dims){4, 3, 3}, 0.3), 3, 1, 0, h, atol, rtol);

  /* Max pooling: distinct values at least 0.1 apart, so a step of 1e-2
   * never changes which value is the maximum. */
  {
    Owned o = own(layer_maxpool2d((Dims){2, 5, 4}, 2, 2), 1);
    const int64_t len = 3 * 2 * 5 * 4;
    float *x = malloc((size_t)len * sizeof(float));
    Rng rng;
    rng_seed(&rng, 5);
    int64_t *perm = malloc((size_t)len * sizeof(int64_t));
    for (int64_t i = 0; i < len; i++) perm[i] = i;
    rng_shuffle_i64(&rng, perm, len);
    for (int64_t i = 0; i < len; i++) x[i] = 0.1f * (float)perm[i] - 5.0f;
    gradcheck_layer("maxpool2d k2 s2 5x4", o.l, x, 3, 1, h, atol, rtol);
    Owned o3 = own(layer_maxpool2d((Dims){2, 5, 4}, 3, 1), 1); /* overlapping windows */
    gradcheck_layer("maxpool2d k3 s1 5x4", o3.l, x, 3, 1, h, atol, rtol);
    disown(&o3);
    free(perm);
    free(x);
    disown(&o);
  }

  /* Embedding bag: gradient w.r.t. the table only (ids are not
   * differentiable; dx must be 0). */
  for (int mode = 0; mode < 2; mode++) {
    Owned o = own(layer_embedding_bag((Dims){4, 1, 1}, 6, 3, (EmbBagMode)mode), 2);
    float x[12] = {0, 2, 2, -1, 5, 7, -1, -1, 1, 3, 4, 11}; /* 7 -> 1, 11 -> 5 */
    gradcheck_layer(mode ? "embedding bag (mean)" : "embedding bag (sum)", o.l, x, 3, 0, h, atol,
                    rtol);
    float y[9], dy[9], dx[12];
    for (int i = 0; i < 9; i++) dy[i] = 1.0f;
    o.l->ops->forward(o.l, x, y, 3, 1);
    o.l->ops->backward(o.l, x, y, dy, dx, 3);
    double s = 0;
    for (int i = 0; i < 12; i++) s += fabs(dx[i]);
    CHECK(s == 0.0);
    disown(&o);
  }
}

/* ---- losses ---------------------------------------------------------------- */

static void test_loss_gradcheck(void) {
  enum { N = 5, K = 4 };
  float z[N * K], d[N * K], w[N] = {1.0f, 0.5f, 2.0f, 0.0f, 1.5f};
  int32_t y[N] = {0, 3, 1, 2, 3}, yb[N] = {0, 1, 1, 0, 1};
  Rng rng;
  rng_seed(&rng, 3);
  for (int i = 0; i < N * K; i++) z[i] = (float)(2 * rng_normal(&rng));
  double sum, up, down, worst = 0;
  const double h = 1e-2;
  CHECK_OK(loss_softmax_ce(z, y, w, N, K, d, &sum, NULL));
  for (int i = 0; i < N * K; i++) {
    float keep = z[i];
    z[i] = keep + (float)h;
    loss_softmax_ce(z, y, w, N, K, NULL, &up, NULL);
    z[i] = keep - (float)h;
    loss_softmax_ce(z, y, w, N, K, NULL, &down, NULL);
    z[i] = keep;
    double e = scaled_err((up - down) / (2 * h), d[i], 1e-3, 1e-2);
    if (e > worst) worst = e;
  }
  printf("gradcheck %-28s worst scaled error %.3g (must be <= 1)\n", "softmax CE (weighted)", worst);
  CHECK(worst <= 1.0);
  worst = 0;
  CHECK_OK(loss_bce_logits(z, yb, w, N, d, &sum, NULL));
  for (int i = 0; i < N; i++) {
    float keep = z[i];
    z[i] = keep + (float)h;
    loss_bce_logits(z, yb, w, N, NULL, &up, NULL);
    z[i] = keep - (float)h;
    loss_bce_logits(z, yb, w, N, NULL, &down, NULL);
    z[i] = keep;
    double e = scaled_err((up - down) / (2 * h), d[i], 1e-3, 1e-2);
    if (e > worst) worst = e;
  }
  printf("gradcheck %-28s worst scaled error %.3g (must be <= 1)\n", "BCE with logits (weighted)",
         worst);
  CHECK(worst <= 1.0);
}

static void test_bce_known(void) {
  const float z[4] = {0.0f, 2.0f, -30.0f, 40.0f};
  const int32_t y[4] = {1, 0, 1, 0};
  const float w[4] = {1.0f, 2.0f, 1.0f, 1.0f};
  float d[4], per[4];
  double sum = 0;
  CHECK_OK(loss_bce_logits(z, y, w, 4, d, &sum, per));
  CHECK_NEAR(per[0], 0.69314718056, 1e-6);  /* log 2 */
  CHECK_NEAR(per[1], 2.12692801104, 1e-6);  /* log(1 + e^2) */
  CHECK_NEAR(per[2], 30.0, 1e-5);           /* stable far from 0 */
  CHECK_NEAR(per[3], 40.0, 1e-5);
  CHECK_NEAR(sum, 0.69314718056 + 2 * 2.12692801104 + 70.0, 1e-4);
  CHECK_NEAR(d[0], -0.5, 1e-7);
  CHECK_NEAR(d[1], 2 * 0.88079707798, 1e-6); /* w * sigmoid(2) */
  CHECK_NEAR(d[2], -1.0, 1e-7);
  CHECK_NEAR(d[3], 1.0, 1e-7);
  const int32_t bad[1] = {2};
  CHECK(loss_bce_logits(z, bad, NULL, 1, d, &sum, NULL) == MH_ERR);
  CHECK_STR(mh_error(), "label 2 is not 0 or 1 (BCEWithLogitsLoss needs binary labels)");
}

/* ---- the im2col/GEMM convolution against the direct one ------------------- */

static void conv_vs_ref(Dims in, int cout, int k, int stride, int pad, int64_t n) {
  Owned o = own(layer_conv2d(in, cout, k, stride, pad), 17);
  if (!o.l) {
    CHECK(0);
    return;
  }
  Layer *l = o.l;
  const int64_t lin = n * dims_elems(in), lout = n * dims_elems(l->out);
  float *x = rand_input(lin, 21, 0), *y = malloc((size_t)lout * sizeof(float));
  float *yr = malloc((size_t)lout * sizeof(float)), *dy = rand_input(lout, 22, 0);
  float *dyc = malloc((size_t)lout * sizeof(float));
  float *dx = malloc((size_t)lin * sizeof(float)), *dxr = malloc((size_t)lin * sizeof(float));
  float *dWr = calloc((size_t)l->nparams, sizeof(float));
  CHECK_OK(l->ops->forward(l, x, y, n, 1));
  conv2d_forward_ref(x, l->params, l->params + l->nparams - cout, n, in, cout, k, stride, pad, yr);
  memcpy(dyc, dy, (size_t)lout * sizeof(float));
  memset(l->grads, 0, (size_t)l->nparams * sizeof(float));
  CHECK_OK(l->ops->backward(l, x, y, dyc, dx, n));
  conv2d_backward_ref(x, l->params, dy, n, in, cout, k, stride, pad, dWr,
                      dWr + l->nparams - cout, dxr);
  double worst = 0;
  for (int64_t i = 0; i < lout; i++) worst = fmax(worst, scaled_err(yr[i], y[i], 1e-4, 1e-4));
  for (int64_t i = 0; i < lin; i++) worst = fmax(worst, scaled_err(dxr[i], dx[i], 1e-4, 1e-4));
  for (int64_t i = 0; i < l->nparams; i++)
    worst = fmax(worst, scaled_err(dWr[i], l->grads[i], 1e-4, 1e-4));
  printf("conv2d %dx%dx%d -> %d k%d s%d p%d n%lld vs reference: worst scaled error %.3g\n", in.c,
         in.h, in.w, cout, k, stride, pad, (long long)n, worst);
  CHECK(worst <= 1.0);
  free(x);
  free(y);
  free(yr);
  free(dy);
  free(dyc);
  free(dx);
  free(dxr);
  free(dWr);
  disown(&o);
}

/* Both CPU paths: the direct stride-1 kernels (conv2d_direct.c, where the
 * CPU has AVX2 and FMA) and im2col + GEMM ($MODYN_CONV=gemm, and every
 * stride > 1). */
static void test_conv_vs_ref(void) {
  for (int path = 0; path < 2; path++) {
    if (path) setenv("MODYN_CONV", "gemm", 1);
    printf("conv2d path: %s\n", path ? "im2col + GEMM" : "direct where it applies");
    conv_vs_ref((Dims){1, 28, 28}, 8, 3, 1, 0, 3);   /* SmallCNN's first layer shape */
    conv_vs_ref((Dims){8, 12, 12}, 16, 3, 1, 1, 5);  /* padded */
    conv_vs_ref((Dims){3, 4, 4}, 5, 3, 1, 1, 33);    /* tiny maps: many samples per GEMM */
    conv_vs_ref((Dims){4, 9, 10}, 6, 3, 2, 1, 4);    /* stride 2, odd sizes */
    conv_vs_ref((Dims){2, 8, 8}, 3, 5, 3, 2, 2);     /* 5x5 kernel, stride 3 */
    conv_vs_ref((Dims){32, 8, 8}, 32, 3, 1, 1, 7);   /* YearbookNet's conv3 */
    conv_vs_ref((Dims){32, 4, 4}, 32, 3, 1, 1, 19);  /* YearbookNet's conv4, several blocks */
    conv_vs_ref((Dims){3, 16, 17}, 7, 3, 1, 1, 3);   /* cin, cout not multiples of 4 */
    conv_vs_ref((Dims){5, 6, 7}, 9, 2, 1, 1, 4);     /* even kernel, pad = k - 1 */
    conv_vs_ref((Dims){6, 5, 5}, 10, 1, 1, 0, 6);    /* 1x1 */
    conv_vs_ref((Dims){3, 9, 9}, 4, 5, 1, 2, 2);     /* 5x5, pad 2 */
    unsetenv("MODYN_CONV");
  }
}

/* The direct kernels are taken where they apply (so that the tests above
 * test them), and give the same bits run after run on the same thread
 * count, and the same values within float rounding on 1 and 2 threads. */
static void test_conv_direct_determinism(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    ConvDirect *d = convd_create(32, 8, 8, 32, 3, 1, 1);
    CHECK(d != NULL);
    convd_free(d);
  }
#endif
  CHECK(convd_create(32, 8, 8, 32, 3, 2, 1) == NULL); /* stride 2: im2col + GEMM */
  CHECK(convd_create(32, 8, 8, 32, 3, 1, 3) == NULL); /* pad > k - 1 */
  const Dims in = {32, 8, 8};
  const int64_t n = 37, lin = n * dims_elems(in);
  const int saved = par_threads();
  float *res[3][3]; /* run: y, dx, grads */
  int64_t lout = 0, np = 0;
  for (int run = 0; run < 3; run++) {
    par_init(run < 2 ? 2 : 1);
    Owned o = own(layer_conv2d(in, 32, 3, 1, 1), 5);
    if (!o.l) {
      CHECK(0);
      return;
    }
    o.l->relu = 1;
    lout = n * dims_elems(o.l->out), np = o.l->nparams;
    float *x = rand_input(lin, 6, 0), *dy = rand_input(lout, 7, 0);
    res[run][0] = malloc((size_t)lout * sizeof(float));
    res[run][1] = malloc((size_t)lin * sizeof(float));
    res[run][2] = malloc((size_t)np * sizeof(float));
    CHECK_OK(o.l->ops->forward(o.l, x, res[run][0], n, 1));
    CHECK_OK(o.l->ops->backward(o.l, x, res[run][0], dy, res[run][1], n));
    memcpy(res[run][2], o.grads, (size_t)np * sizeof(float));
    free(x);
    free(dy);
    disown(&o);
  }
  par_init(saved);
  CHECK(!memcmp(res[0][0], res[1][0], (size_t)lout * sizeof(float)));
  CHECK(!memcmp(res[0][1], res[1][1], (size_t)lin * sizeof(float)));
  CHECK(!memcmp(res[0][2], res[1][2], (size_t)np * sizeof(float)));
  /* forward and dx are per sample: 1 and 2 threads agree bit for bit; the
   * weight gradient sums in another order */
  CHECK(!memcmp(res[0][0], res[2][0], (size_t)lout * sizeof(float)));
  CHECK(!memcmp(res[0][1], res[2][1], (size_t)lin * sizeof(float)));
  double worst = 0;
  for (int64_t i = 0; i < np; i++)
    worst = fmax(worst, scaled_err(res[2][2][i], res[0][2][i], 1e-4, 1e-4));
  printf("conv2d direct, 2 threads vs 1: weight gradient worst scaled error %.3g\n", worst);
  CHECK(worst <= 1.0);
  for (int run = 0; run < 3; run++)
    for (int i = 0; i < 3; i++) free(res[run][i]);
}

/* ---- fused ReLU ------------------------------------------------------------------ */

static void fused_vs_separate(const char *what, Layer *fused, Layer *plain, int64_t n) {
  Owned a = own(fused, 4), b = own(plain, 4);
  Layer *relu = layer_relu(plain->out);
  if (!a.l || !b.l || !relu) {
    CHECK(0);
    return;
  }
  a.l->relu = 1;
  const int64_t in = n * dims_elems(a.l->in), out = n * dims_elems(a.l->out);
  float *x = rand_input(in, 31, 0), *dy = rand_input(out, 32, 0);
  float *ya = malloc((size_t)out * sizeof(float)), *yb = malloc((size_t)out * sizeof(float));
  float *yr = malloc((size_t)out * sizeof(float)), *da = malloc((size_t)out * sizeof(float));
  float *db = malloc((size_t)out * sizeof(float)), *dxa = malloc((size_t)in * sizeof(float));
  float *dxb = malloc((size_t)in * sizeof(float));
  memcpy(da, dy, (size_t)out * sizeof(float));
  CHECK_OK(a.l->ops->forward(a.l, x, ya, n, 1));
  CHECK_OK(a.l->ops->backward(a.l, x, ya, da, dxa, n));
  CHECK_OK(b.l->ops->forward(b.l, x, yb, n, 1));
  CHECK_OK(relu->ops->forward(relu, yb, yr, n, 1));
  CHECK_OK(relu->ops->backward(relu, yb, yr, dy, db, n));
  CHECK_OK(b.l->ops->backward(b.l, x, yb, db, dxb, n));
  double worst = 0;
  for (int64_t i = 0; i < out; i++) worst = fmax(worst, fabs(ya[i] - yr[i]));
  for (int64_t i = 0; i < in; i++) worst = fmax(worst, fabs(dxa[i] - dxb[i]));
  for (int64_t i = 0; i < a.l->nparams; i++) worst = fmax(worst, fabs(a.grads[i] - b.grads[i]));
  printf("fused relu %-24s vs separate: max abs diff %.3g (must be <= 1e-6)\n", what, worst);
  CHECK(worst <= 1e-6);
  free(x);
  free(dy);
  free(ya);
  free(yb);
  free(yr);
  free(da);
  free(db);
  free(dxa);
  free(dxb);
  layer_free(relu);
  disown(&a);
  disown(&b);
}

static void test_fused_relu(void) {
  fused_vs_separate("linear 9->7", layer_linear((Dims){9, 1, 1}, 7),
                    layer_linear((Dims){9, 1, 1}, 7), 5);
  fused_vs_separate("conv2d 2->3 6x6", layer_conv2d((Dims){2, 6, 6}, 3, 3, 1, 1),
                    layer_conv2d((Dims){2, 6, 6}, 3, 3, 1, 1), 4);
  fused_vs_separate("conv2d 2->3 3x3 (chunked)", layer_conv2d((Dims){2, 3, 3}, 3, 3, 1, 1),
                    layer_conv2d((Dims){2, 3, 3}, 3, 3, 1, 1), 9);
  fused_vs_separate("batchnorm 3ch 4x4", layer_batchnorm((Dims){3, 4, 4}),
                    layer_batchnorm((Dims){3, 4, 4}), 3);
}

/* ---- known answers ----------------------------------------------------------- */

static void test_conv_known(void) {
  /* x = 1..9 on a 3x3 grid, a Laplacian kernel, bias 0.5, padding 1:
   * y = (sum of the 4 neighbours) - 4 x + 0.5, zero outside. */
  const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const float k[9] = {0, 1, 0, 1, -4, 1, 0, 1, 0};
  const float want[9] = {2.5f, 1.5f, -3.5f, -2.5f, 0.5f, -6.5f, -15.5f, -10.5f, -21.5f};
  Owned o = own(layer_conv2d((Dims){1, 3, 3}, 1, 3, 1, 1), 1);
  memcpy(o.params, k, sizeof k);
  o.params[9] = 0.5f;
  float y[9];
  CHECK_OK(o.l->ops->forward(o.l, x, y, 1, 1));
  for (int i = 0; i < 9; i++) CHECK_NEAR(y[i], want[i], 1e-6);
  /* dy = 1 everywhere: dW[kh][kw] = sum of x over the positions the tap
   * sees; db = 9; dx[i] = sum of the kernel taps that reach pixel i. */
  float dy[9], dx[9];
  for (int i = 0; i < 9; i++) dy[i] = 1.0f;
  CHECK_OK(o.l->ops->backward(o.l, x, y, dy, dx, 1));
  CHECK_NEAR(o.grads[4], 45, 1e-5);       /* centre tap sees every pixel */
  CHECK_NEAR(o.grads[1], 1 + 2 + 3 + 4 + 5 + 6, 1e-5); /* top tap: rows 0-1 */
  CHECK_NEAR(o.grads[9], 9, 1e-6);
  CHECK_NEAR(dx[4], 0, 1e-6);             /* centre pixel: 4 neighbours - 4 */
  CHECK_NEAR(dx[0], -2, 1e-6);            /* corner: 2 neighbours - 4 */
  CHECK_NEAR(dx[1], -1, 1e-6);            /* edge: 3 neighbours - 4 */
  disown(&o);
  /* Stride 2 with padding 1 keeps the corners. */
  o = own(layer_conv2d((Dims){1, 3, 3}, 1, 3, 2, 1), 1);
  memcpy(o.params, k, sizeof k);
  o.params[9] = 0.5f;
  CHECK_EQ_INT(o.l->out.h, 2);
  CHECK_OK(o.l->ops->forward(o.l, x, y, 1, 1));
  CHECK_NEAR(y[0], 2.5, 1e-6);
  CHECK_NEAR(y[1], -3.5, 1e-6);
  CHECK_NEAR(y[2], -15.5, 1e-6);
  CHECK_NEAR(y[3], -21.5, 1e-6);
  disown(&o);
}

static void test_maxpool_known(void) {
  const float x[16] = {1, 5, 2, 0,   /* windows: {1,5,3,4} {2,0,8,7} */
                       3, 4, 8, 7,   /*          {9,2,6,6} {1,0,2,3} */
                       9, 2, 1, 0,
                       6, 6, 2, 3};
  Owned o = own(layer_maxpool2d((Dims){1, 4, 4}, 2, 2), 1);
  float y[4], dy[4] = {10, 20, 30, 40}, dx[16];
  CHECK_OK(o.l->ops->forward(o.l, x, y, 1, 1));
  CHECK_NEAR(y[0], 5, 0);
  CHECK_NEAR(y[1], 8, 0);
  CHECK_NEAR(y[2], 9, 0);
  CHECK_NEAR(y[3], 3, 0);
  CHECK_OK(o.l->ops->backward(o.l, x, y, dy, dx, 1));
  const float want[16] = {0, 10, 0, 0, 0, 0, 20, 0, 30, 0, 0, 0, 0, 0, 0, 40};
  for (int i = 0; i < 16; i++) CHECK_NEAR(dx[i], want[i], 0);
  disown(&o);
  /* ties: the gradient goes to the first maximum in row-major order */
  const float t[4] = {2, 2, 2, 2};
  float ty[1], tdy[1] = {1}, tdx[4];
  Owned ot = own(layer_maxpool2d((Dims){1, 2, 2}, 2, 2), 1);
  CHECK_OK(ot.l->ops->forward(ot.l, t, ty, 1, 1));
  CHECK_OK(ot.l->ops->backward(ot.l, t, ty, tdy, tdx, 1));
  CHECK(tdx[0] == 1 && tdx[1] == 0 && tdx[2] == 0 && tdx[3] == 0);
  disown(&ot);
  /* 5x5 in floor mode gives 2x2; the last row and column are dropped. */
  Layer *l = layer_maxpool2d((Dims){1, 5, 5}, 2, 2);
  CHECK(l && l->out.h == 2 && l->out.w == 2);
  layer_free(l);
}

/* Max pooling against an independent reference: each window's gradient
 * goes to its first input equal to the output in row-major order (the
 * search the layer did before it recorded argmax offsets), overlapping
 * windows add up in output order, every other input gets +0. Inputs from
 * {-1, -0, 0, 1, 2} make ties common; dy holds negative values, so a
 * select by multiplication (-g * 0 = -0) would show. Bit equality. */
static void test_maxpool_vs_search(void) {
  const struct {
    int c, h, w, k, st;
  } cs[] = {{3, 8, 8, 2, 2}, {2, 5, 7, 2, 2}, {2, 7, 6, 3, 2}, {2, 5, 5, 3, 1}, {1, 6, 6, 2, 1}};
  Rng rng;
  rng_seed(&rng, 11);
  for (size_t t = 0; t < sizeof cs / sizeof cs[0]; t++) {
    const int n = 3, C = cs[t].c, H = cs[t].h, W = cs[t].w, k = cs[t].k, st = cs[t].st;
    Owned o = own(layer_maxpool2d((Dims){C, H, W}, k, st), 1);
    const int Ho = o.l->out.h, Wo = o.l->out.w;
    const int64_t in = (int64_t)n * C * H * W, out = (int64_t)n * C * Ho * Wo;
    float *x = malloc((size_t)in * sizeof(float)), *dx = malloc((size_t)in * sizeof(float));
    float *want = malloc((size_t)in * sizeof(float)), *y = malloc((size_t)out * sizeof(float));
    float *dy = malloc((size_t)out * sizeof(float)), *ye = malloc((size_t)out * sizeof(float));
    static const float vals[5] = {-1.0f, -0.0f, 0.0f, 1.0f, 2.0f};
    for (int64_t i = 0; i < in; i++) x[i] = vals[rng_below(&rng, 5)];
    for (int64_t i = 0; i < out; i++) dy[i] = (float)((int)rng_below(&rng, 9) - 4) * 0.37f;
    for (int64_t i = 0; i < in; i++) dx[i] = 123.0f; /* backward must write every input */
    CHECK_OK(o.l->ops->forward(o.l, x, ye, n, 0));
    CHECK_OK(o.l->ops->forward(o.l, x, y, n, 1));
    CHECK(!memcmp(y, ye, (size_t)out * sizeof(float)));
    CHECK_OK(o.l->ops->backward(o.l, x, y, dy, dx, n));
    memset(want, 0, (size_t)in * sizeof(float));
    for (int64_t q = 0; q < (int64_t)n * C; q++)
      for (int oh = 0; oh < Ho; oh++)
        for (int ow = 0; ow < Wo; ow++) {
          const float v = y[q * Ho * Wo + oh * Wo + ow];
          float m = x[q * H * W + (int64_t)oh * st * W + ow * st];
          for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++) {
              const float e = x[q * H * W + (int64_t)(oh * st + kh) * W + ow * st + kw];
              if (e > m) m = e;
            }
          CHECK(!memcmp(&m, &v, sizeof m)); /* the output is the window's max */
          int found = 0;
          for (int kh = 0; kh < k && !found; kh++)
            for (int kw = 0; kw < k && !found; kw++) {
              const int64_t i = q * H * W + (int64_t)(oh * st + kh) * W + ow * st + kw;
              if (x[i] == v) {
                want[i] += dy[q * Ho * Wo + oh * Wo + ow];
                found = 1;
              }
            }
          CHECK(found);
        }
    if (memcmp(dx, want, (size_t)in * sizeof(float))) {
      fprintf(stderr, "maxpool %dx%d k%d s%d: backward differs from the search\n", H, W, k, st);
      CHECK(0);
    }
    free(x);
    free(dx);
    free(want);
    free(y);
    free(dy);
    free(ye);
    disown(&o);
  }
  /* backward without a training forward is an error, not a read of stale
   * offsets */
  Owned o = own(layer_maxpool2d((Dims){1, 4, 4}, 2, 2), 1);
  float x[16] = {0}, y[4], dy[4] = {0}, dx[16];
  CHECK_OK(o.l->ops->forward(o.l, x, y, 1, 0));
  CHECK(o.l->ops->backward(o.l, x, y, dy, dx, 1) == MH_ERR);
  disown(&o);
}

static void test_batchnorm_known(void) {
  /* n = 2, one channel of 1x2: values 1, 2 | 3, 4. mean 2.5, biased var
   * 1.25, unbiased 5/3. */
  const float x[4] = {1, 2, 3, 4};
  Owned o = own(layer_batchnorm((Dims){1, 1, 2}), 1);
  o.params[0] = 2.0f; /* gamma */
  o.params[1] = 0.5f; /* beta */
  float y[4];
  CHECK_OK(o.l->ops->forward(o.l, x, y, 2, 1));
  const double inv = 1.0 / sqrt(1.25 + 1e-5);
  for (int i = 0; i < 4; i++) CHECK_NEAR(y[i], 2.0 * (x[i] - 2.5) * inv + 0.5, 1e-6);
  CHECK_NEAR(o.buffers[0], 0.25, 1e-7);                    /* 0.9 * 0 + 0.1 * 2.5 */
  CHECK_NEAR(o.buffers[1], 0.9 + 0.1 * 5.0 / 3.0, 1e-6);  /* unbiased */
  /* eval: the running statistics */
  CHECK_OK(o.l->ops->forward(o.l, x, y, 2, 0));
  const double inv_r = 1.0 / sqrt(0.9 + 0.1 * 5.0 / 3.0 + 1e-5);
  for (int i = 0; i < 4; i++) CHECK_NEAR(y[i], 2.0 * (x[i] - 0.25) * inv_r + 0.5, 1e-6);
  CHECK_NEAR(o.buffers[0], 0.25, 1e-7); /* eval leaves the statistics alone */
  /* training on a single value per channel is refused, as in PyTorch */
  CHECK(o.l->ops->forward(o.l, x, y, 1, 1) == MH_OK); /* 1 sample of 1x2: 2 values */
  Owned o1 = own(layer_batchnorm((Dims){3, 1, 1}), 1);
  CHECK(o1.l->ops->forward(o1.l, x, y, 1, 1) == MH_ERR);
  disown(&o1);
  disown(&o);
}

static void test_embedding_known(void) {
  /* V = 5 rows of D = 2: row r = (r, 10 r). Bag {1, 3, pad, 8 = 3 mod 5}. */
  const float ids[8] = {1, 3, -1, 8, /* second sample: all padding */ -1, -1, -1, -1};
  for (int mode = 0; mode < 2; mode++) {
    Owned o = own(layer_embedding_bag((Dims){4, 1, 1}, 5, 2, (EmbBagMode)mode), 1);
    for (int r = 0; r < 5; r++) {
      o.params[2 * r] = (float)r;
      o.params[2 * r + 1] = 10.0f * r;
    }
    float y[4];
    CHECK_OK(o.l->ops->forward(o.l, ids, y, 2, 1));
    const double s0 = 1 + 3 + 3, s1 = 10 + 30 + 30;
    CHECK_NEAR(y[0], mode ? s0 / 3 : s0, 1e-6);
    CHECK_NEAR(y[1], mode ? s1 / 3 : s1, 1e-5);
    CHECK_NEAR(y[2], 0, 0); /* empty bag */
    CHECK_NEAR(y[3], 0, 0);
    float dy[4] = {1, 2, 5, 5};
    CHECK_OK(o.l->ops->backward(o.l, ids, y, dy, NULL, 2));
    const double sc = mode ? 1.0 / 3 : 1.0;
    CHECK_NEAR(o.grads[2], sc * 1, 1e-6);     /* row 1 once */
    CHECK_NEAR(o.grads[6], sc * 2, 1e-6);     /* row 3 twice */
    CHECK_NEAR(o.grads[7], sc * 4, 1e-6);
    CHECK_NEAR(o.grads[0], 0, 0);             /* row 0 untouched */
    disown(&o);
  }
  /* gather / scatter with strides (DLRM's layout) */
  const float W[6] = {1, 2, 3, 4, 5, 6}; /* V = 3, D = 2 */
  const float xs[6] = {0.5f, 2, 9.0f, 4, -1.0f, 1}; /* ids at stride 2, offset 1: 2, 4 (= 1 mod 3), 1 */
  float out[6] = {0};
  embedding_gather(W, 3, 2, xs + 1, 2, 3, out, 2);
  CHECK_NEAR(out[0], 5, 0);
  CHECK_NEAR(out[2], 3, 0);
  CHECK_NEAR(out[5], 4, 0);
  float dW[6] = {0};
  embedding_scatter_add(dW, 3, 2, xs + 1, 2, 3, out, 2);
  CHECK_NEAR(dW[2], 3 + 3, 0); /* row 1 gets samples 1 and 2 */
  CHECK_NEAR(dW[4], 5, 0);
}

static void test_interaction(void) {
  /* F = 2, D = 2: dense (1, 2), embeddings (3, 4) and (5, 6):
   * out = [1, 2, 1*3 + 2*4, 1*5 + 2*6, 3*5 + 4*6] */
  const float dense[2] = {1, 2}, emb[4] = {3, 4, 5, 6};
  float out[5];
  CHECK_EQ_INT(interaction_out_dim(2, 2), 5);
  CHECK_EQ_INT(interaction_out_dim(26, 16), 16 + 351);
  interaction_forward(dense, emb, 1, 2, 2, out);
  const float want[5] = {1, 2, 11, 17, 39};
  for (int i = 0; i < 5; i++) CHECK_NEAR(out[i], want[i], 0);
  /* gradient check on a random case: n = 3, F = 3, D = 4 */
  enum { N = 3, F = 3, D = 4, OD = D + F * (F + 1) / 2 };
  float *de = rand_input(N * D, 1, 0), *em = rand_input(N * F * D, 2, 0);
  float *r = rand_input(N * OD, 3, 0), o[N * OD], gd[N * D], ge[N * F * D];
  interaction_backward(de, em, r, N, F, D, gd, ge);
  const double h = 1e-2;
  double worst = 0;
  for (int which = 0; which < 2; which++) {
    float *v = which ? em : de, *g = which ? ge : gd;
    int len = which ? N * F * D : N * D;
    for (int i = 0; i < len; i++) {
      float keep = v[i];
      v[i] = keep + (float)h;
      interaction_forward(de, em, N, F, D, o);
      double up = dot_d(r, o, N * OD);
      v[i] = keep - (float)h;
      interaction_forward(de, em, N, F, D, o);
      double down = dot_d(r, o, N * OD);
      v[i] = keep;
      worst = fmax(worst, scaled_err((up - down) / (2 * h), g[i], 2e-3, 1e-2));
    }
  }
  printf("gradcheck %-28s worst scaled error %.3g (must be <= 1)\n", "dlrm interaction", worst);
  CHECK(worst <= 1.0);
  free(de);
  free(em);
  free(r);
}

static void test_bad_sizes(void) {
  CHECK(layer_conv2d((Dims){1, 2, 2}, 4, 3, 1, 0) == NULL);
  CHECK(strstr(mh_error(), "conv2d layer: bad sizes") != NULL);
  CHECK(layer_maxpool2d((Dims){1, 1, 1}, 2, 2) == NULL);
  CHECK(layer_dropout((Dims){1, 1, 1}, 1.0) == NULL);
  CHECK_STR(mh_error(), "dropout layer: p must be in [0, 1), got 1");
}

/* n = 0 with NULL tensors: nothing is read or written, gradients stay 0. */
static void test_empty_batch(void) {
  const Dims img = {2, 6, 6};
  struct {
    Layer *l;
    int trains; /* 0: training on an empty batch is an error (batchnorm alone) */
  } cases[] = {
      {layer_linear((Dims){5, 1, 1}, 3), 1},
      {layer_conv2d(img, 4, 3, 1, 1), 1},
      {layer_maxpool2d(img, 2, 2), 1},
      {layer_global_avgpool(img), 1},
      {layer_relu(img), 1},
      {layer_dropout(img, 0.5), 1},
      {layer_embedding_bag((Dims){4, 1, 1}, 10, 3, EMBBAG_MEAN), 1},
      {layer_batchnorm(img), 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    Owned o = own(cases[i].l, 1);
    if (!o.l) {
      CHECK(o.l != NULL);
      continue;
    }
    CHECK_OK(o.l->ops->forward(o.l, NULL, NULL, 0, 0));
    const int rc = o.l->ops->forward(o.l, NULL, NULL, 0, 1);
    CHECK_EQ_INT(rc, cases[i].trains ? MH_OK : MH_ERR);
    if (rc == MH_OK) {
      CHECK_OK(o.l->ops->backward(o.l, NULL, NULL, NULL, NULL, 0));
      int zero = 1;
      for (int64_t k = 0; k < o.l->nparams; k++) zero &= o.grads[k] == 0.0f;
      if (!zero) fprintf(stderr, "%s: an empty batch changed the gradients\n", o.l->ops->name);
      CHECK(zero);
    }
    disown(&o);
  }
}

int main(void) {
  test_gradchecks();
  test_loss_gradcheck();
  test_bce_known();
  test_conv_vs_ref();
  test_conv_direct_determinism();
  test_fused_relu();
  setenv("MODYN_CONV", "gemm", 1);
  test_fused_relu(); /* again on the im2col + GEMM path */
  unsetenv("MODYN_CONV");
  test_conv_known();
  test_maxpool_known();
  test_maxpool_vs_search();
  test_batchnorm_known();
  test_embedding_known();
  test_interaction();
  test_bad_sizes();
  test_empty_batch();
  return test_finish("test_layers");
}

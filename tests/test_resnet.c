/* test_resnet.c - the residual block (residual.h) and ResNet18:
 *  - a block with an identity shortcut and a linear body on two samples
 *    against a hand computation (y, the parameter gradients, dx), and the
 *    constructor's shape errors;
 *  - central differences of two conv/BN blocks (identity and projection
 *    shortcut, training-mode batchnorm on a batch of 3): every parameter
 *    gradient and a sample of input gradients, each tried with h = 1e-3
 *    (3e-3 abs + 3e-2 rel) and h = 1e-4 (5e-3 abs + 3e-2 rel) and passing
 *    when either agrees (a ReLU kink inside one step spoils only that step,
 *    as in test_models);
 *  - ResNet18 at width 4 on a 2x3x32x32 batch against PyTorch
 *    (tests/data/resnet18_w4.txt, written by tests/gen_resnet_fixture.py in
 *    float64): parameter and buffer counts, logits, the summed
 *    cross-entropy, selected parameter gradients and batchnorm running
 *    statistics after the step, within 1e-4 abs + 5e-4 rel (float32 sums in
 *    another order, e.g. an unvectorised debug build, reach 1.3e-4); the worst pair
 *    is printed;
 *  - empty batches: the block passes n = 0 through, ResNet18 in eval gives
 *    nothing and changes nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "core/rng.h"
#include "testutil.h"
#include "train/layers.h"
#include "train/loss.h"
#include "train/model.h"
#include "train/net.h"
#include "train/residual.h"

#ifndef MODYN_TEST_DATA_DIR
#define MODYN_TEST_DATA_DIR "data"
#endif

/* ---- a hand-computed identity block ------------------------------------- */

static void test_identity_by_hand(void) {
  const Dims d2 = {2, 1, 1};
  Net body, outer;
  net_init(&body, d2);
  CHECK_OK(net_add(&body, layer_linear(d2, 2)));
  net_init(&outer, d2);
  CHECK_OK(net_add(&outer, layer_residual(&body, NULL)));
  CHECK_EQ_INT(body.nlayers, 0); /* moved */
  CHECK_EQ_INT(outer.nparams, 6);
  CHECK_EQ_INT(outer.nbuffers, 0);
  /* W = [[1, 2], [-1, 0.5]], b = [0.1, -0.2] */
  float params[6] = {1.0f, 2.0f, -1.0f, 0.5f, 0.1f, -0.2f}, grads[6] = {0};
  net_bind(&outer, params, grads, NULL);
  const float x[4] = {1.0f, -1.0f, 0.5f, 2.0f};
  const float *y = NULL;
  CHECK_OK(net_forward(&outer, x, 2, 1, &y));
  /* sample 0: Wx + b = [-0.9, -1.7], + x = [0.1, -2.7] -> relu [0.1, 0]
   * sample 1: Wx + b = [4.6, 0.3],  + x = [5.1, 2.3] */
  static const float want_y[4] = {0.1f, 0.0f, 5.1f, 2.3f};
  for (int i = 0; i < 4; i++) CHECK_NEAR(y[i], want_y[i], 1e-6);
  /* dy = [[1, 2], [3, -1]], masked by y > 0: [[1, 0], [3, -1]]
   * dW = sum_i dy_i x_i^T = [[1, -1], [0, 0]] + [[1.5, 6], [-0.5, -2]]
   * db = [4, -1]; dx_i = W^T dy_i + dy_i: [2, 2] and [7, 4.5] */
  const float dy[4] = {1.0f, 2.0f, 3.0f, -1.0f};
  float dx[4];
  CHECK_OK(net_backward(&outer, x, dy, 2, dx));
  static const float want_g[6] = {2.5f, 5.0f, -0.5f, -2.0f, 4.0f, -1.0f};
  static const float want_dx[4] = {2.0f, 2.0f, 7.0f, 4.5f};
  for (int i = 0; i < 6; i++) CHECK_NEAR(grads[i], want_g[i], 1e-6);
  for (int i = 0; i < 4; i++) CHECK_NEAR(dx[i], want_dx[i], 1e-6);
  /* backward without dx still adds the parameter gradients */
  memset(grads, 0, sizeof grads);
  CHECK_OK(net_backward(&outer, x, dy, 2, NULL));
  for (int i = 0; i < 6; i++) CHECK_NEAR(grads[i], want_g[i], 1e-6);
  /* an empty batch: nothing to do, nothing changes */
  memset(grads, 0, sizeof grads);
  CHECK_OK(net_forward(&outer, NULL, 0, 0, &y));
  CHECK_OK(net_forward(&outer, NULL, 0, 1, &y));
  CHECK_OK(net_backward(&outer, NULL, NULL, 0, NULL));
  for (int i = 0; i < 6; i++) CHECK_NEAR(grads[i], 0.0, 0);
  net_free(&outer);

  /* shape errors name both maps; the nets are consumed either way */
  net_init(&body, d2);
  CHECK_OK(net_add(&body, layer_linear(d2, 3)));
  CHECK(layer_residual(&body, NULL) == NULL);
  CHECK_STR(mh_error(), "residual block: an identity shortcut needs the body to keep the shape, "
                        "but it maps 2x1x1 to 3x1x1 (give a projection shortcut)");
  CHECK_EQ_INT(body.nlayers, 0);
  Net sc;
  net_init(&body, d2);
  CHECK_OK(net_add(&body, layer_linear(d2, 3)));
  net_init(&sc, d2);
  CHECK_OK(net_add(&sc, layer_linear(d2, 4)));
  CHECK(layer_residual(&body, &sc) == NULL);
  CHECK_STR(mh_error(), "residual block: the shortcut maps 2x1x1 to 4x1x1, but the body maps "
                        "2x1x1 to 3x1x1");
  CHECK_EQ_INT(sc.nlayers, 0);
  net_init(&body, d2);
  CHECK(layer_residual(&body, NULL) == NULL);
  CHECK_STR(mh_error(), "residual block: the body has no layers");
}

/* ---- finite differences of conv/BN blocks --------------------------------- */

/* conv kxk + batchnorm (+ ReLU) onto net */
static void add_conv_bn(Net *net, int cout, int k, int stride, int pad, int relu) {
  CHECK_OK(net_add(net, layer_conv2d(net_out(net), cout, k, stride, pad)));
  CHECK_OK(net_add(net, layer_batchnorm(net_out(net))));
  if (relu) CHECK_OK(net_add(net, layer_relu(net_out(net))));
}

/* L = sum_j c_j y_j (c_j = cos(0.7 j)) in double, after a training forward */
static double block_loss(Net *net, const float *x, int64_t n, const float *c) {
  const float *y = NULL;
  if (net_forward(net, x, n, 1, &y)) return NAN;
  const int64_t len = n * dims_elems(net_out(net));
  double s = 0.0;
  for (int64_t j = 0; j < len; j++) s += (double)c[j] * y[j];
  return s;
}

/* max over the checked values of |num - ana| / tol, the better of two steps */
static double fd_error(Net *net, float *v, float ana, const float *x, int64_t n, const float *c) {
  static const double hs[2] = {1e-3, 1e-4}, atols[2] = {3e-3, 5e-3};
  double e = INFINITY;
  for (int k = 0; k < 2; k++) {
    const float keep = *v;
    *v = keep + (float)hs[k];
    const double up = block_loss(net, x, n, c);
    *v = keep - (float)hs[k];
    const double down = block_loss(net, x, n, c);
    *v = keep;
    const double num = (up - down) / (2 * hs[k]);
    e = fmin(e, fabs(num - ana) / (atols[k] + 3e-2 * fabs(num)));
  }
  return e;
}

static void block_gradcheck(const char *what, Dims in, int cout, int stride) {
  enum { N = 3 };
  Net body, sc, net;
  net_init(&body, in);
  add_conv_bn(&body, cout, 3, stride, 1, 1);
  add_conv_bn(&body, cout, 3, 1, 1, 0);
  net_init(&sc, in);
  if (stride != 1 || in.c != cout) add_conv_bn(&sc, cout, 1, stride, 0, 0);
  net_init(&net, in);
  CHECK_OK(net_add(&net, layer_residual(&body, &sc)));
  if (net.nlayers != 1) return;
  const int64_t P = net.nparams, B = net.nbuffers, D = dims_elems(in);
  const int64_t O = dims_elems(net_out(&net));
  float *params = malloc((size_t)P * sizeof(float)), *grads = calloc((size_t)P, sizeof(float));
  float *bufs = calloc((size_t)B, sizeof(float)), *x = malloc((size_t)(N * D) * sizeof(float));
  float *c = malloc((size_t)(N * O) * sizeof(float)), *dy = malloc((size_t)(N * O) * sizeof(float));
  float *dx = malloc((size_t)(N * D) * sizeof(float));
  net_bind(&net, params, grads, bufs);
  Rng rng;
  rng_seed(&rng, 11);
  net_init_params(&net, &rng);
  /* gamma and beta away from 1 and 0, so that every term shows */
  for (int64_t i = 0; i < P; i++) params[i] += (float)(0.3 * sin(0.37 * (double)i + 1.0));
  for (int64_t i = 0; i < N * D; i++) x[i] = (float)rng_normal(&rng);
  for (int64_t j = 0; j < N * O; j++) c[j] = (float)cos(0.7 * (double)j);
  const float *y = NULL;
  CHECK_OK(net_forward(&net, x, N, 1, &y));
  memcpy(dy, c, (size_t)(N * O) * sizeof(float));
  CHECK_OK(net_backward(&net, x, dy, N, dx));
  double worst_p = 0.0, worst_x = 0.0;
  for (int64_t p = 0; p < P; p++) worst_p = fmax(worst_p, fd_error(&net, &params[p], grads[p], x, N, c));
  const int64_t xstep = N * D > 60 ? N * D / 60 : 1;
  for (int64_t i = 0; i < N * D; i += xstep)
    worst_x = fmax(worst_x, fd_error(&net, &x[i], dx[i], x, N, c));
  printf("gradcheck block %-11s %dx%dx%d -> %dx%dx%d: %lld params worst %.3g, input worst %.3g "
         "(must be <= 1)\n", what, in.c, in.h, in.w, net.layers[0]->out.c, net.layers[0]->out.h,
         net.layers[0]->out.w, (long long)P, worst_p, worst_x);
  CHECK(worst_p <= 1.0);
  CHECK(worst_x <= 1.0);
  net_free(&net);
  free(params);
  free(grads);
  free(bufs);
  free(x);
  free(c);
  free(dy);
  free(dx);
}

/* ---- ResNet18 against PyTorch ------------------------------------------------ */

static Model *make_resnet(const char *yaml, ModelShape shape) {
  return model_from_yaml("ResNet18", yaml, &shape, 1);
}

typedef struct {
  double worst, got, want; /* worst scaled error and its pair */
  char where[96];
} Worst;

static void compare(Worst *w, const char *kind, const char *name, int64_t i, double got,
                    double want) {
  const double e = fabs(got - want) / (1e-4 + 5e-4 * fabs(want));
  if (e > w->worst || !(e == e)) {
    w->worst = e == e ? e : INFINITY;
    w->got = got;
    w->want = want;
    snprintf(w->where, sizeof w->where, "%s %s[%lld]", kind, name, (long long)i);
  }
}

static void test_against_torch(void) {
  char path[1024];
  const char *src = getenv("MODYN_SOURCE_DIR");
  if (src && src[0]) snprintf(path, sizeof path, "%s/tests/data/resnet18_w4.txt", src);
  else snprintf(path, sizeof path, "%s/resnet18_w4.txt", MODYN_TEST_DATA_DIR);
  char *text = test_slurp(path);
  CHECK(text[0] != '\0');
  if (!text[0]) {
    fprintf(stderr, "test_resnet: cannot read the fixture %s\n", path);
    free(text);
    return;
  }
  enum { N = 2, C = 3, H = 32, W = 32, K = 10 };
  const ModelShape shape = {3, {C, H, W, 0}, C * H * W, K};
  Model *m = make_resnet("{width: 4}", shape);
  CHECK(m != NULL);
  if (!m) {
    fprintf(stderr, "ResNet18: %s\n", mh_error());
    free(text);
    return;
  }
  /* the fixture's parameters and input (gen_resnet_fixture.py) */
  for (int64_t i = 0; i < m->nparams; i++) m->params[i] = (float)(0.25 * sin(0.37 * (double)i));
  float *x = malloc((size_t)N * C * H * W * sizeof(float));
  for (int64_t j = 0; j < (int64_t)N * C * H * W; j++) x[j] = (float)cos(0.11 * (double)j);
  const int32_t labels[N] = {3, 7};
  float logits[N * K], dl[N * K];
  double loss = 0.0;
  model_zero_grad(m);
  CHECK_OK(m->forward(m, x, N, logits, 1));
  CHECK_OK(loss_softmax_ce(logits, labels, NULL, N, K, dl, &loss, NULL));
  CHECK_OK(m->backward(m, x, dl, N));

  Worst w = {0};
  int lines = 0, values = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    if (line[0] == '#') continue;
    char kind[16], name[64];
    long long off, count;
    int used = 0;
    if (sscanf(line, "%15s %63s %lld %lld%n", kind, name, &off, &count, &used) != 4) {
      fprintf(stderr, "test_resnet: %s: bad line: %.60s\n", path, line);
      CHECK(0);
      continue;
    }
    lines++;
    const char *p = line + used;
    for (long long i = 0; i < count; i++) {
      char *end;
      const double want = strtod(p, &end);
      if (end == p) {
        fprintf(stderr, "test_resnet: %s: %s %s: %lld values expected\n", path, kind, name, count);
        CHECK(0);
        break;
      }
      p = end;
      values++;
      if (!strcmp(kind, "count")) {
        CHECK_EQ_INT(!strcmp(name, "nparams") ? m->nparams : m->nbuffers, (int64_t)want);
      } else if (!strcmp(kind, "logits")) {
        compare(&w, kind, name, i, logits[off + i], want);
      } else if (!strcmp(kind, "loss")) {
        compare(&w, kind, name, i, loss, want);
      } else if (!strcmp(kind, "grad") && off + i < m->nparams) {
        compare(&w, kind, name, i, m->grads[off + i], want);
      } else if (!strcmp(kind, "buffer") && off + i < m->nbuffers) {
        compare(&w, kind, name, i, m->buffers[off + i], want);
      } else {
        fprintf(stderr, "test_resnet: %s: %s %s at %lld is out of range\n", path, kind, name,
                off + i);
        CHECK(0);
      }
    }
  }
  printf("ResNet18 width 4 vs PyTorch (%d entries, %d values): loss %.6f, worst scaled error "
         "%.3g at %s: %.9g vs %.9g (must be <= 1)\n", lines, values, loss, w.worst, w.where,
         w.got, w.want);
  CHECK(lines >= 10);
  CHECK(w.worst <= 1.0);

  /* eval on an empty batch: nothing in, nothing out, state untouched */
  float *buf0 = malloc((size_t)m->nbuffers * sizeof(float));
  memcpy(buf0, m->buffers, (size_t)m->nbuffers * sizeof(float));
  CHECK_OK(m->forward(m, NULL, 0, NULL, 0));
  CHECK(!memcmp(buf0, m->buffers, (size_t)m->nbuffers * sizeof(float)));
  /* and a batch in eval matches itself sample by sample */
  float a[N * K], b[K];
  CHECK_OK(m->forward(m, x, N, a, 0));
  CHECK_OK(m->forward(m, x + C * H * W, 1, b, 0));
  for (int k = 0; k < K; k++) CHECK_NEAR(b[k], a[K + k], 1e-5);
  free(buf0);
  free(x);
  free(text);
  model_free(m);
}

int main(void) {
  test_identity_by_hand();
  block_gradcheck("identity", (Dims){3, 5, 5}, 3, 1);
  block_gradcheck("projection", (Dims){3, 6, 6}, 4, 2);
  test_against_torch();
  return test_finish("test_resnet");
}

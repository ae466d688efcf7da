/* test_gpu.c - the CUDA twins against the CPU reference (label gpu; exit 77
 * without a device).
 *  - every layer kind alone (and with its fused ReLU): training forward,
 *    backward (input and parameter gradients), the running statistics, and
 *    the eval forward after it;
 *  - whole models (LogisticRegression, MLP, SmallCNN, YearbookNet, ResNet18): logits and
 *    gradients of one step, then the weights after three SGD-with-momentum
 *    and three Adam steps;
 *    and the same under training.amp (bf16 products) within bf16's rounding;
 *  - the NCCL allreduce on one rank (the sum of one rank is itself).
 * Each comparison passes when |gpu - cpu| <= atol + rtol * |cpu| for every
 * value, and prints its worst pair. */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "core/dist.h"
#include "core/rng.h"
#include "testutil.h"
#include "train/gpu.h"
#include "train/layers.h"
#ifdef MODYN_HAVE_CUDA
#include "train/layers_cuda.h"
#endif
#include "train/loss.h"
#include "train/model.h"
#include "train/net.h"
#include "train/optim.h"

#ifdef MODYN_HAVE_CUDA
/* Compare n values; print the worst pair. */
static void compare(const char *what, const float *gpu, const float *cpu, int64_t n, double atol,
                    double rtol) {
  double worst = -1.0;
  int64_t at = 0;
  int bad = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)gpu[i] - cpu[i]), lim = atol + rtol * fabs((double)cpu[i]);
    double r = isnan(d) ? INFINITY : lim > 0 ? d / lim : d > 0 ? INFINITY : 0.0;
    if (r > 1.0) bad++;
    if (r > worst) {
      worst = r;
      at = i;
    }
  }
  test_checks++;
  if (bad) test_failures++;
  printf("%-44s %8lld values  worst [%lld] gpu %.7g cpu %.7g (%.2f of tolerance)%s\n", what,
         (long long)n, (long long)at, n ? gpu[at] : 0.0, n ? cpu[at] : 0.0, worst,
         bad ? "  FAILED" : "");
}

static float *download(const float *d, int64_t n) {
  float *h = malloc((size_t)(n + 1) * sizeof(float));
  if (gpu_download(h, d, (size_t)n * sizeof(float))) fprintf(stderr, "%s\n", mh_error());
  return h;
}

static float *upload(const float *h, int64_t n) {
  float *d = gpu_malloc((size_t)(n + 1) * sizeof(float));
  gpu_upload(d, h, (size_t)n * sizeof(float));
  return d;
}

static void fill(float *x, int64_t n, uint64_t seed) {
  Rng r;
  rng_seed(&r, seed);
  for (int64_t i = 0; i < n; i++) x[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
}

/* ---- layers ---------------------------------------------------------------- */

typedef struct {
  const char *name;
  Dims in;
  int64_t n;
} LayerCase;

static const LayerCase layer_cases[] = {
    {"linear", {40, 1, 1}, 33},
    {"linear+relu", {40, 1, 1}, 33},
    {"conv2d 3x3 s1 p1 +relu", {3, 12, 12}, 5},
    {"conv2d 3x3 s2 p1", {4, 11, 11}, 5},
    {"conv2d 1x1 s2 p0", {8, 10, 10}, 5},
    {"batchnorm2d", {6, 7, 7}, 9},
    {"batchnorm2d+relu", {6, 7, 7}, 9},
    {"batchnorm1d", {16, 1, 1}, 20},
    {"relu", {5, 6, 6}, 4},
    {"maxpool2d k2 s2", {3, 9, 9}, 4},
    {"maxpool2d k3 s2", {3, 9, 9}, 4},
    {"global_avgpool", {7, 5, 6}, 4},
    {"dropout p=0.3", {50, 1, 1}, 16},
};

static int build(int kase, Net *net) {
  const LayerCase *c = &layer_cases[kase];
  net_init(net, c->in);
  switch (kase) {
    case 0: return net_add(net, layer_linear(c->in, 17));
    case 1:
      MH_TRY(net_add(net, layer_linear(c->in, 17)));
      return net_add(net, layer_relu(net_out(net)));
    case 2:
      MH_TRY(net_add(net, layer_conv2d(c->in, 8, 3, 1, 1)));
      return net_add(net, layer_relu(net_out(net)));
    case 3: return net_add(net, layer_conv2d(c->in, 6, 3, 2, 1));
    case 4: return net_add(net, layer_conv2d(c->in, 5, 1, 2, 0));
    case 5: case 7: return net_add(net, layer_batchnorm(c->in));
    case 6:
      MH_TRY(net_add(net, layer_batchnorm(c->in)));
      return net_add(net, layer_relu(net_out(net)));
    case 8: return net_add(net, layer_relu(c->in));
    case 9: return net_add(net, layer_maxpool2d(c->in, 2, 2));
    case 10: return net_add(net, layer_maxpool2d(c->in, 3, 2));
    case 11: return net_add(net, layer_global_avgpool(c->in));
    case 12: return net_add(net, layer_dropout(c->in, 0.3));
  }
  return MH_ERR;
}

static void check_layer(int kase) {
  const LayerCase *c = &layer_cases[kase];
  Net a, b;
  if (build(kase, &a) || build(kase, &b)) {
    fprintf(stderr, "%s: %s\n", c->name, mh_error());
    test_failures++;
    return;
  }
  const int64_t P = a.nparams, B = a.nbuffers, n = c->n, I = dims_elems(c->in),
                O = dims_elems(net_out(&a));
  float *pa = calloc((size_t)P + 1, 4), *ga = calloc((size_t)P + 1, 4),
        *ba = calloc((size_t)B + 1, 4), *pb = calloc((size_t)P + 1, 4),
        *gb = calloc((size_t)P + 1, 4), *bb = calloc((size_t)B + 1, 4);
  net_bind(&a, pa, ga, ba);
  net_bind(&b, pb, gb, bb);
  Rng r1, r2;
  rng_seed(&r1, 7);
  rng_seed(&r2, 7);
  net_init_params(&a, &r1);
  net_init_params(&b, &r2); /* the same weights, and the same dropout seed */
  /* running statistics away from their initial values (a variance must stay positive) */
  if (B) {
    fill(ba, B, 3);
    for (int64_t i = 0; i < B; i++) ba[i] = 0.25f + fabsf(ba[i]);
    memcpy(bb, ba, (size_t)B * 4);
  }
  float *dp = upload(pb, P), *dg = upload(gb, P), *db = upload(bb, B);
  CHECK_OK(net_to_device(&b, dp, dg, db));
  float *x = malloc((size_t)(n * I) * 4), *dout = malloc((size_t)(n * O) * 4),
        *dxa = malloc((size_t)(n * I) * 4);
  fill(x, n * I, 11);
  fill(dout, n * O, 12);
  float *dx = upload(x, n * I), *ddout = upload(dout, n * O), *ddx = gpu_malloc((size_t)(n * I) * 4);
  char what[96];
  const float *ya, *yb;
  /* training forward and backward */
  CHECK_OK(net_forward(&a, x, n, 1, &ya));
  CHECK_OK(net_forward(&b, dx, n, 1, &yb));
  float *h = download(yb, n * O);
  snprintf(what, sizeof what, "%s: train forward", c->name);
  compare(what, h, ya, n * O, 1e-5, 1e-4);
  free(h);
  CHECK_OK(net_backward(&a, x, dout, n, dxa));
  CHECK_OK(net_backward(&b, dx, ddout, n, ddx));
  h = download(ddx, n * I);
  snprintf(what, sizeof what, "%s: input gradient", c->name);
  compare(what, h, dxa, n * I, 1e-5, 1e-4);
  free(h);
  if (P) {
    h = download(dg, P);
    snprintf(what, sizeof what, "%s: parameter gradients", c->name);
    compare(what, h, ga, P, 1e-4, 1e-4);
    free(h);
  }
  if (B) {
    h = download(db, B);
    snprintf(what, sizeof what, "%s: running statistics", c->name);
    compare(what, h, ba, B, 1e-6, 1e-5);
    free(h);
  }
  /* eval forward (running statistics, no dropout) */
  CHECK_OK(net_forward(&a, x, n, 0, &ya));
  CHECK_OK(net_forward(&b, dx, n, 0, &yb));
  h = download(yb, n * O);
  snprintf(what, sizeof what, "%s: eval forward", c->name);
  compare(what, h, ya, n * O, 1e-5, 1e-4);
  free(h);
  net_free(&a);
  net_free(&b);
  gpu_free(dp), gpu_free(dg), gpu_free(db), gpu_free(dx), gpu_free(ddout), gpu_free(ddx);
  free(pa), free(ga), free(ba), free(pb), free(gb), free(bb), free(x), free(dout), free(dxa);
}

/* ---- whole models, three optimizer steps ------------------------------------ */

static void check_model(const char *id, const char *yaml, ModelShape shape, int64_t n,
                        const char *algorithm, double tol, int amp) {
  if (!model_find(id)) {
    printf("%s: not registered; skipped\n", id);
    return;
  }
  Model *mc = model_from_yaml(id, yaml, &shape, 42), *mg = model_from_yaml(id, yaml, &shape, 42);
  if (!mc || !mg) {
    fprintf(stderr, "%s: %s\n", id, mh_error());
    test_failures++;
    return;
  }
  CHECK_OK(model_to_device(mg));
  gpu_set_amp(amp);
  OptimizerConfig oc;
  memset(&oc, 0, sizeof oc);
  snprintf(oc.algorithm, sizeof oc.algorithm, "%s", algorithm);
  oc.num_groups = 1;
  snprintf(oc.groups[0].module, sizeof oc.groups[0].module, "model");
  oc.groups[0].lr = strcmp(algorithm, "SGD") ? 1e-3 : 0.05;
  oc.groups[0].momentum = 0.9;
  oc.groups[0].weight_decay = 1e-4;
  oc.groups[0].beta1 = 0.9;
  oc.groups[0].beta2 = 0.999;
  oc.groups[0].eps = 1e-8;
  Optimizer oa, ob;
  CHECK_OK(optim_init(&oa, &oc, mc, mc->nparams));
  CHECK_OK(optim_init(&ob, &oc, mg, mg->nparams));
  const int64_t E = shape.in_elems, K = mc->num_outputs, P = mc->nparams;
  float *x = malloc((size_t)(n * E) * 4), *lg = malloc((size_t)(n * K) * 4),
        *dl = malloc((size_t)(n * K) * 4);
  int32_t *y = malloc((size_t)n * 4);
  float *dm = gpu_malloc((size_t)P * 4), *dv = gpu_malloc((size_t)P * 4);
  gpu_zero(dm, (size_t)P * 4);
  gpu_zero(dv, (size_t)P * 4);
  float *dx = gpu_malloc((size_t)(n * E) * 4), *dlg = gpu_malloc((size_t)(n * K) * 4),
        *ddl = gpu_malloc((size_t)(n * K) * 4), *dsum = gpu_malloc(4);
  int32_t *dy = gpu_malloc((size_t)n * 4);
  char what[96];
  for (int step = 0; step < 3; step++) {
    fill(x, n * E, 100 + step);
    for (int64_t i = 0; i < n; i++) y[i] = (int32_t)((i * 7 + step) % K);
    gpu_upload(dx, x, (size_t)(n * E) * 4);
    gpu_upload(dy, y, (size_t)n * 4);
    double lsum;
    model_zero_grad(mc);
    CHECK_OK(mc->forward(mc, x, n, lg, 1));
    CHECK_OK(loss_softmax_ce(lg, y, NULL, n, (int)K, dl, &lsum, NULL));
    CHECK_OK(mc->backward(mc, x, dl, n));
    model_zero_grad(mg);
    CHECK_OK(mg->forward(mg, dx, n, dlg, 1));
    CHECK_OK(loss_softmax_ce_cuda(dlg, dy, NULL, n, (int)K, ddl, NULL, dsum));
    CHECK_OK(mg->backward(mg, dx, ddl, n));
    if (step == 0) {
      float *h = download(dlg, n * K);
      snprintf(what, sizeof what, "%s%s: logits", id, amp ? " amp" : "");
      compare(what, h, lg, n * K, tol, tol);
      free(h);
      float s;
      gpu_download(&s, dsum, 4);
      snprintf(what, sizeof what, "%s%s: loss sum", id, amp ? " amp" : "");
      float ls = (float)lsum;
      compare(what, &s, &ls, 1, tol, tol);
      h = download(mg->dgrads, P);
      snprintf(what, sizeof what, "%s%s: gradients", id, amp ? " amp" : "");
      compare(what, h, mc->grads, P, tol, 10 * tol);
      free(h);
    }
    for (int64_t i = 0; i < P; i++) mc->grads[i] /= (float)n;
    optim_step(&oa, mc->params, mc->grads);
    CHECK_OK(optim_step_cuda(&ob, mg->dparams, mg->dgrads, dm, dv, 1.0f / (float)n));
  }
  CHECK_OK(model_pull(mg));
  gpu_set_amp(0);
  snprintf(what, sizeof what, "%s: weights after 3 %s steps", id, algorithm);
  compare(what, mg->params, mc->params, P, tol, 10 * tol);
  if (mc->nbuffers) {
    snprintf(what, sizeof what, "%s: running statistics", id);
    compare(what, mg->buffers, mc->buffers, mc->nbuffers, tol, 10 * tol);
  }
  optim_free(&oa);
  optim_free(&ob);
  model_free(mc);
  model_free(mg);
  gpu_free(dm), gpu_free(dv), gpu_free(dx), gpu_free(dlg), gpu_free(ddl), gpu_free(dsum);
  gpu_free(dy);
  free(x), free(lg), free(dl), free(y);
}

int main(int argc, char **argv) {
  int n = gpu_device_count();
  printf("CUDA backend: %s, %d device(s)\n", gpu_backend(), n);
  if (n == 0) {
    printf("test_gpu: no CUDA device; skipped\n");
    return 77;
  }
  int provided;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return 1;
  const char *vis = getenv("CUDA_VISIBLE_DEVICES");
  if (vis && *vis && !strchr(vis, ',')) CHECK_EQ_INT(n, 1);
  if (gpu_open(0)) {
    fprintf(stderr, "gpu_open: %s\n", mh_error());
    return 1;
  }
  printf("device: %s\n", gpu_describe());
  for (size_t k = 0; k < sizeof layer_cases / sizeof layer_cases[0]; k++) check_layer((int)k);
  const ModelShape mnist = {3, {1, 28, 28, 0}, 784, 10, 0}, cifar = {3, {3, 32, 32, 0}, 3072, 10, 0};
  check_model("LogisticRegression", "{}", mnist, 64, "SGD", 1e-4, 0);
  check_model("MLP", "{}", mnist, 64, "SGD", 1e-4, 0);
  check_model("SmallCNN", "{}", mnist, 32, "SGD", 1e-4, 0);
  check_model("YearbookNet", "{}", cifar, 32, "SGD", 1e-4, 0);
  check_model("YearbookNet", "{}", cifar, 32, "Adam", 1e-4, 0);
  check_model("ResNet18", "{width: 8}", cifar, 16, "SGD", 3e-4, 0);
  /* training.amp: bf16 products against the float32 CPU, within bf16's
   * rounding (8 significant bits, float32 sums) */
  check_model("SmallCNN", "{}", mnist, 32, "SGD", 3e-2, 1);
  check_model("ResNet18", "{width: 8}", cifar, 16, "SGD", 3e-2, 1);
  /* NCCL on one rank: the sum over one rank is the buffer itself */
  Dist self = dist_self();
  float v[1000], *dv = NULL;
  fill(v, 1000, 5);
  dv = upload(v, 1000);
  int rc = gpu_allreduce_sum(&self, dv, 1000, 1);
  if (rc) fprintf(stderr, "allreduce: %s\n", mh_error());
  CHECK_OK(rc);
  float *h = download(dv, 1000);
  printf("allreduce over one rank: %s\n", gpu_allreduce_backend());
  compare("allreduce over one rank", h, v, 1000, 0.0, 0.0);
  free(h);
  gpu_free(dv);
  gpu_close();
  MPI_Finalize();
  return test_finish("test_gpu");
}
#else
int main(void) {
  printf("test_gpu: built without the CUDA backend; skipped\n");
  return 77;
}
#endif

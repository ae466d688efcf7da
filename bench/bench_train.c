/* bench_train.c - throughput of the CPU training engine, the C side of
 * bench/run_train_bench.sh (bench/torch_train.py is the PyTorch peer).
 *
 *   bench_train [--seconds S] [--cases mlp64,mlp256,smallcnn64,yearbook64]
 *               [--layers [--peak GFLOPS]] [--fmnist DIR]
 *
 * Default: for each case, training samples/s (forward, summed softmax
 * cross-entropy, dlogits / batch, backward, SGD lr 0.01 momentum 0.9 step)
 * on uniform [0, 1) inputs with uniform labels, and inference samples/s at
 * batch 256 (forward in eval mode), in the same table as the peer.
 * --layers: forward and forward + backward GFLOP/s of the biggest conv
 * and linear layers of those models alone (FLOPs counted as 2 per
 * multiply-add of the GEMMs; the best call, and [slowest-best] over the
 * calls of seconds / 2 per pass), and with --peak G their fraction of G GFLOP/s
 * (the sgemm peak bench_sgemm measured in the same run).
 * --fmnist DIR: train MLP and SmallCNN on Fashion-MNIST (IDX files, .gz
 * read through gzip -dc) for 3 epochs, batch 64, SGD lr 0.01 momentum 0.9,
 * mean loss per batch, and print the test accuracy.
 * The thread count is $MODYN_THREADS (else OpenMP's default). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/timing.h"
#include "train/layers.h"
#include "train/loss.h"
#include "train/model.h"
#include "train/optim.h"
#include "train/parallel.h"

/* The GEMM peak the single-layer fractions are of: --peak (run_train_bench.sh
 * passes the one bench_sgemm measured in the same run), else 0 (no
 * fractions printed: a fixed figure from another day would mislead). */
static double peak_gflops = 0.0;

typedef struct {
  const char *name, *model, *yaml;
  ModelShape shape;
  int batch;
} Case;

static const Case cases[] = {
    {"mlp64", "MLP", "{}", {3, {1, 28, 28, 0}, 784, 10, 0}, 64},
    {"mlp256", "MLP", "{}", {3, {1, 28, 28, 0}, 784, 10, 0}, 256},
    {"smallcnn64", "SmallCNN", "{}", {3, {1, 28, 28, 0}, 784, 10, 0}, 64},
    {"yearbook64", "YearbookNet", "{}", {3, {3, 32, 32, 0}, 3072, 2, 0}, 64},
};

static Model *make_model(const char *id, const char *yaml, ModelShape shape) {
  Model *m = model_from_yaml(id, yaml, &shape, 0);
  if (!m) mh_fatal_last();
  return m;
}

static void sgd(Optimizer *o, int64_t n, double lr) {
  OptimizerConfig oc;
  memset(&oc, 0, sizeof oc);
  strcpy(oc.algorithm, "SGD");
  oc.num_groups = 1;
  oc.groups[0] = (ParamGroupConfig){"model", lr, 0.9, 0.0, 0, 0.9, 0.999, 1e-8};
  if (optim_init(o, &oc, NULL, n)) mh_fatal_last();
}

/* One training step on a batch: mean loss. */
static double train_step(Model *m, Optimizer *o, const float *x, const int32_t *y, int n,
                         float *logits, float *dl) {
  double s;
  model_zero_grad(m);
  if (m->forward(m, x, n, logits, 1)) mh_fatal_last();
  if (loss_softmax_ce(logits, y, NULL, n, m->num_outputs, dl, &s, NULL)) mh_fatal_last();
  const float inv = 1.0f / (float)n;
  for (int64_t i = 0; i < (int64_t)n * m->num_outputs; i++) dl[i] *= inv;
  if (m->backward(m, x, dl, n)) mh_fatal_last();
  optim_step(o, m->params, m->grads);
  return s / n;
}

static void bench_case(const Case *c, double seconds) {
  Model *m = make_model(c->model, c->yaml, c->shape);
  Optimizer o;
  sgd(&o, m->nparams, 0.01);
  enum { NB = 8, INFER = 256 };
  const int64_t D = c->shape.in_elems;
  const int B = c->batch, K = m->num_outputs;
  float *x = malloc((size_t)(NB * B * D) * sizeof(float));
  float *xi = malloc((size_t)(INFER * D) * sizeof(float));
  int32_t *y = malloc((size_t)(NB * B) * sizeof(int32_t));
  float *logits = malloc((size_t)INFER * K * sizeof(float)), *dl = malloc((size_t)B * K * sizeof(float));
  Rng rng;
  rng_seed(&rng, 1);
  for (int64_t i = 0; i < NB * B * D; i++) x[i] = (float)rng_uniform(&rng);
  for (int64_t i = 0; i < INFER * D; i++) xi[i] = (float)rng_uniform(&rng);
  for (int i = 0; i < NB * B; i++) y[i] = (int32_t)rng_below(&rng, (uint64_t)c->shape.num_classes);
  for (int i = 0; i < 3; i++) train_step(m, &o, x + (i % NB) * B * D, y + (i % NB) * B, B, logits, dl);
  int64_t iters = 0;
  double t0 = mh_now(), el;
  do {
    int b = (int)(iters % NB);
    train_step(m, &o, x + b * B * D, y + b * B, B, logits, dl);
    iters++;
    el = mh_now() - t0;
  } while (iters < 5 || el < seconds);
  const double train = (double)iters * B / el;
  for (int i = 0; i < 2; i++) m->forward(m, xi, INFER, logits, 0);
  iters = 0;
  t0 = mh_now();
  do {
    if (m->forward(m, xi, INFER, logits, 0)) mh_fatal_last();
    iters++;
    el = mh_now() - t0;
  } while (iters < 5 || el < seconds / 2);
  const double infer = (double)iters * INFER / el;
  printf("%-8s%-13s%6d%17.0f%20.0f\n", "modyn", c->name, B, train, infer);
  fflush(stdout);
  optim_free(&o);
  free(x);
  free(xi);
  free(y);
  free(logits);
  free(dl);
  model_free(m);
}

/* ---- single layers ----------------------------------------------------------- */

static void bench_layer(const char *what, Layer *l, int64_t n, double macs_per_sample,
                        double seconds) {
  if (!l) mh_fatal_last();
  const int64_t in = n * dims_elems(l->in), out = n * dims_elems(l->out);
  float *p = calloc((size_t)l->nparams, sizeof(float)), *g = calloc((size_t)l->nparams, sizeof(float));
  float *x = malloc((size_t)in * sizeof(float)), *y = malloc((size_t)out * sizeof(float));
  float *dy = malloc((size_t)out * sizeof(float)), *dx = malloc((size_t)in * sizeof(float));
  l->params = p;
  l->grads = g;
  Rng rng;
  rng_seed(&rng, 2);
  l->ops->init(l, &rng);
  for (int64_t i = 0; i < in; i++) x[i] = (float)rng_uniform(&rng);
  for (int64_t i = 0; i < out; i++) dy[i] = (float)rng_normal(&rng);
  /* best and slowest call, calls timed one by one for seconds / 2 per pass */
  double best[2] = {1e30, 1e30}, worst[2] = {0, 0};
  for (int pass = 0; pass < 2; pass++) {
    int64_t iters = 0;
    double start = mh_now();
    do {
      const double t0 = mh_now();
      l->ops->forward(l, x, y, n, 1);
      if (pass) l->ops->backward(l, x, y, dy, dx, n);
      const double t = mh_now() - t0;
      if (t < best[pass]) best[pass] = t;
      if (t > worst[pass]) worst[pass] = t;
      iters++;
    } while (iters < 3 || mh_now() - start < seconds / 2);
  }
  /* backward with dx is two GEMMs of the forward's size */
  const double ff = 2.0 * macs_per_sample * (double)n / 1e9, fb = 3.0 * ff;
  const double fw = ff / best[0], bw = fb / best[1];
  const double pk = peak_gflops > 0 ? peak_gflops : NAN;
  char rf[32], rb[32];
  snprintf(rf, sizeof rf, "[%.0f-%.0f]", ff / worst[0], fw);
  snprintf(rb, sizeof rb, "[%.0f-%.0f]", fb / worst[1], bw);
  printf("%-34s%6lld%10.1f%11s%6.2f%10.1f%11s%6.2f\n", what, (long long)n, fw, rf, fw / pk, bw, rb,
         bw / pk);
  fflush(stdout);
  free(p);
  free(g);
  free(x);
  free(y);
  free(dy);
  free(dx);
  layer_free(l);
}

static void bench_layers(double seconds) {
  if (peak_gflops > 0)
    printf("# single layers, %d thread(s): GFLOP/s (2 per multiply-add) and fraction of the "
           "sgemm peak, %.1f GFLOP/s\n", par_threads(), peak_gflops);
  else
    printf("# single layers, %d thread(s): GFLOP/s (2 per multiply-add); no --peak, no fractions\n",
           par_threads());
  printf("#%-33s%6s%10s%11s%6s%10s%11s%6s\n", "layer", "batch", "fwd_GF/s", "[min-max]", "frac",
         "f+b_GF/s", "[min-max]", "frac");
  bench_layer("smallcnn conv2 32->64 3x3 26x26", layer_conv2d((Dims){32, 26, 26}, 64, 3, 1, 0),
              64, 64.0 * 288 * 576, seconds);
  bench_layer("smallcnn conv1 1->32 3x3 28x28", layer_conv2d((Dims){1, 28, 28}, 32, 3, 1, 0), 64,
              32.0 * 9 * 676, seconds);
  bench_layer("yearbook conv1 3->32 3x3 32x32 p1", layer_conv2d((Dims){3, 32, 32}, 32, 3, 1, 1),
              64, 32.0 * 27 * 1024, seconds);
  bench_layer("yearbook conv2 32->32 3x3 16x16 p1",
              layer_conv2d((Dims){32, 16, 16}, 32, 3, 1, 1), 64, 32.0 * 288 * 256, seconds);
  bench_layer("yearbook conv3 32->32 3x3 8x8 p1", layer_conv2d((Dims){32, 8, 8}, 32, 3, 1, 1), 64,
              32.0 * 288 * 64, seconds);
  bench_layer("smallcnn fc1 9216->128", layer_linear((Dims){9216, 1, 1}, 128), 64, 9216.0 * 128,
              seconds);
  bench_layer("mlp fc1 784->256", layer_linear((Dims){784, 1, 1}, 256), 64, 784.0 * 256, seconds);
  bench_layer("mlp fc1 784->256", layer_linear((Dims){784, 1, 1}, 256), 256, 784.0 * 256, seconds);
}

/* ---- Fashion-MNIST -------------------------------------------------------------- */

/* Read an IDX file of unsigned bytes (gzip'ed when the name ends in .gz):
 * *count items of item_size bytes. */
static unsigned char *read_idx(const char *path, int64_t *count, int64_t *item_size) {
  char cmd[2048];
  size_t len = strlen(path);
  FILE *f;
  int piped = len > 3 && !strcmp(path + len - 3, ".gz");
  if (piped) {
    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
    f = popen(cmd, "r");
  } else {
    f = fopen(path, "rb");
  }
  if (!f) mh_fatal("cannot open %s", path);
  unsigned char hdr[4];
  if (fread(hdr, 1, 4, f) != 4 || hdr[0] || hdr[1] || hdr[2] != 8)
    mh_fatal("%s: not an IDX file of unsigned bytes", path);
  int64_t dims[4] = {0}, items = 1;
  for (int i = 0; i < hdr[3]; i++) {
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4) mh_fatal("%s: truncated header", path);
    dims[i] = ((int64_t)b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    if (i) items *= dims[i];
  }
  unsigned char *data = malloc((size_t)(dims[0] * items));
  if (!data || fread(data, 1, (size_t)(dims[0] * items), f) != (size_t)(dims[0] * items))
    mh_fatal("%s: truncated data", path);
  if (piped) pclose(f);
  else fclose(f);
  *count = dims[0];
  *item_size = items;
  return data;
}

static void fmnist(const char *dir) {
  char p[4][1100];
  const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                          "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  unsigned char *raw[4];
  int64_t cnt[4], sz[4];
  for (int i = 0; i < 4; i++) {
    snprintf(p[i], sizeof p[i], "%s/%s.gz", dir, names[i]);
    FILE *t = fopen(p[i], "rb");
    if (t) fclose(t);
    else snprintf(p[i], sizeof p[i], "%s/%s", dir, names[i]);
    raw[i] = read_idx(p[i], &cnt[i], &sz[i]);
  }
  const int64_t ntr = cnt[0], nte = cnt[2], D = sz[0];
  float *xtr = malloc((size_t)(ntr * D) * sizeof(float)), *xte = malloc((size_t)(nte * D) * sizeof(float));
  int32_t *ytr = malloc((size_t)ntr * sizeof(int32_t)), *yte = malloc((size_t)nte * sizeof(int32_t));
  for (int64_t i = 0; i < ntr * D; i++) xtr[i] = raw[0][i] / 255.0f;
  for (int64_t i = 0; i < nte * D; i++) xte[i] = raw[2][i] / 255.0f;
  for (int64_t i = 0; i < ntr; i++) ytr[i] = raw[1][i];
  for (int64_t i = 0; i < nte; i++) yte[i] = raw[3][i];
  printf("#%-7s%-12s%8s%10s%10s\n", "engine", "model", "epochs", "test_acc", "wall_s");
  const char *models[2] = {"MLP", "SmallCNN"};
  enum { B = 64, EPOCHS = 3 };
  float *xb = malloc((size_t)(B * D) * sizeof(float)), *logits = malloc(1000 * 10 * sizeof(float));
  float *dl = malloc(B * 10 * sizeof(float));
  int32_t yb[B];
  int64_t *order = malloc((size_t)ntr * sizeof(int64_t));
  for (int mi = 0; mi < 2; mi++) {
    ModelShape shape = {3, {1, 28, 28, 0}, D, 10, 0};
    Model *m = make_model(models[mi], "{}", shape);
    Optimizer o;
    sgd(&o, m->nparams, 0.01);
    Rng rng;
    rng_seed(&rng, 0);
    double t0 = mh_now();
    for (int e = 0; e < EPOCHS; e++) {
      for (int64_t i = 0; i < ntr; i++) order[i] = i;
      rng_shuffle_i64(&rng, order, ntr);
      for (int64_t b0 = 0; b0 < ntr; b0 += B) {
        int n = (int)(ntr - b0 < B ? ntr - b0 : B);
        for (int i = 0; i < n; i++) {
          memcpy(xb + i * D, xtr + order[b0 + i] * D, (size_t)D * sizeof(float));
          yb[i] = ytr[order[b0 + i]];
        }
        train_step(m, &o, xb, yb, n, logits, dl);
      }
    }
    int64_t correct = 0;
    for (int64_t b0 = 0; b0 < nte; b0 += 1000) {
      int n = (int)(nte - b0 < 1000 ? nte - b0 : 1000);
      if (m->forward(m, xte + b0 * D, n, logits, 0)) mh_fatal_last();
      for (int i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < 10; k++)
          if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
        correct += best == yte[b0 + i];
      }
    }
    printf("%-8s%-12s%8d%10.4f%10.1f\n", "modyn", models[mi], EPOCHS, (double)correct / nte,
           mh_now() - t0);
    fflush(stdout);
    optim_free(&o);
    model_free(m);
  }
  for (int i = 0; i < 4; i++) free(raw[i]);
  free(xtr);
  free(xte);
  free(ytr);
  free(yte);
  free(xb);
  free(logits);
  free(dl);
  free(order);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"seconds", required_argument, NULL, 's'},
                                       {"cases", required_argument, NULL, 'c'},
                                       {"layers", no_argument, NULL, 'l'},
                                       {"fmnist", required_argument, NULL, 'f'},
                                       {"peak", required_argument, NULL, 'p'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  double seconds = 3.0;
  const char *want = "mlp64,mlp256,smallcnn64,yearbook64", *fm = NULL;
  int layers = 0, ch;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
      case 's': seconds = atof(optarg); break;
      case 'c': want = optarg; break;
      case 'l': layers = 1; break;
      case 'f': fm = optarg; break;
      case 'p': peak_gflops = atof(optarg); break;
      default:
        printf("usage: bench_train [--seconds S] [--cases a,b] [--layers [--peak GFLOPS]] "
               "[--fmnist DIR]\n");
        return ch == 'h' ? 0 : 2;
    }
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  par_init(0);
  if (fm) {
    fmnist(fm);
    return 0;
  }
  if (layers) {
    bench_layers(seconds);
    return 0;
  }
  printf("# modyn-hpc CPU training engine, %d threads\n", par_threads());
  printf("#%-7s%-13s%6s%17s%20s\n", "engine", "case", "batch", "train_samples/s",
         "infer256_samples/s");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char pat[64];
    snprintf(pat, sizeof pat, ",%s,", cases[i].name);
    char list[512];
    snprintf(list, sizeof list, ",%s,", want);
    if (strstr(list, pat)) bench_case(&cases[i], seconds);
  }
  return 0;
}

/* bench_gpu.c - throughput of the GPU training engine, the C side of
 * bench/run_gpu_bench.sh (bench/torch_gpu.py is the PyTorch peer).
 *
 *   bench_gpu [--seconds S] [--cases yearbook64,...] [--layers]
 *
 * Training samples/s per case: forward, summed softmax cross-entropy,
 * backward, SGD (lr 0.01, momentum 0.9) with the gradients scaled by
 * 1/batch, on uniform [0, 1) inputs and uniform labels already on the
 * device, with the one small download per step that the trainer makes (the
 * loss and the failure count); float32 without TF32, then training.amp
 * (bf16 products). Lines read
 *   case=<name> precision=fp32|bf16 batch=<B> samples_per_s=<x>
 * --layers: forward + backward TFLOP/s of the GEMM-heavy layers alone
 * (2 FLOPs per multiply-add of forward, 4 of backward) and their fraction
 * of the H200's float32 peak (67 TFLOP/s, without tensor cores).
 * Exits 77 when there is no CUDA device (or no CUDA backend). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/timing.h"
#include "train/gpu.h"
#include "train/layers.h"
#include "train/model.h"
#include "train/net.h"
#include "train/optim.h"
#ifdef MODYN_HAVE_CUDA
#include "train/layers_cuda.h"

#define PEAK_TFLOPS 67.0

typedef struct {
  const char *name, *model, *yaml;
  ModelShape shape;
  int batch;
} Case;

static const Case cases[] = {
    {"yearbook64", "YearbookNet", "{}", {3, {3, 32, 32, 0}, 3072, 2, 0}, 64},
    {"yearbook256", "YearbookNet", "{}", {3, {3, 32, 32, 0}, 3072, 2, 0}, 256},
    {"smallcnn64", "SmallCNN", "{}", {3, {1, 28, 28, 0}, 784, 10, 0}, 64},
    {"smallcnn256", "SmallCNN", "{}", {3, {1, 28, 28, 0}, 784, 10, 0}, 256},
    {"resnet18_128", "ResNet18", "{}", {3, {3, 32, 32, 0}, 3072, 10, 0}, 128},
    {"resnet18_256", "ResNet18", "{}", {3, {3, 32, 32, 0}, 3072, 10, 0}, 256},
};

static Model *make_model(const char *id, const char *yaml, ModelShape shape) {
  Model *m = model_from_yaml(id, yaml, &shape, 0);
  if (!m || model_to_device(m)) mh_fatal_last();
  return m;
}

static void bench_case(const Case *c, double seconds, int amp) {
  if (!model_find(c->model)) {
    printf("# %s: model %s not registered\n", c->name, c->model);
    return;
  }
  Model *m = make_model(c->model, c->yaml, c->shape);
  gpu_set_amp(amp);
  OptimizerConfig oc;
  memset(&oc, 0, sizeof oc);
  strcpy(oc.algorithm, "SGD");
  oc.num_groups = 1;
  oc.groups[0] = (ParamGroupConfig){"model", 0.01, 0.9, 0.0, 0, 0.9, 0.999, 1e-8};
  Optimizer o;
  if (optim_init(&o, &oc, NULL, m->nparams)) mh_fatal_last();
  enum { NB = 4 };
  const int64_t D = c->shape.in_elems, P = m->nparams;
  const int B = c->batch, K = m->num_outputs;
  float *x = malloc((size_t)(NB * B * D) * sizeof(float));
  int32_t *y = malloc((size_t)(NB * B) * sizeof(int32_t));
  Rng rng;
  rng_seed(&rng, 1);
  for (int64_t i = 0; i < NB * B * D; i++) x[i] = (float)rng_uniform(&rng);
  for (int i = 0; i < NB * B; i++) y[i] = (int32_t)rng_below(&rng, (uint64_t)c->shape.num_classes);
  float *dx = gpu_malloc((size_t)(NB * B * D) * sizeof(float));
  int32_t *dy = gpu_malloc((size_t)(NB * B) * sizeof(int32_t));
  float *lg = gpu_malloc((size_t)(B * K) * sizeof(float)), *dl = gpu_malloc((size_t)(B * K) * 4);
  float *dm = gpu_malloc((size_t)P * sizeof(float));
  if (!dx || !dy || !lg || !dl || !dm) mh_fatal_last();
  gpu_upload(dx, x, (size_t)(NB * B * D) * sizeof(float));
  gpu_upload(dy, y, (size_t)(NB * B) * sizeof(int32_t));
  gpu_zero(dm, (size_t)P * sizeof(float));
  int64_t iters = 0;
  double t0 = 0, el = 0;
  float tail[2];
  for (int64_t it = 0;; it++) {
    if (it == 3) { /* warm-up done (cuDNN plans, allocations) */
      gpu_sync();
      t0 = mh_now();
    }
    const int b = (int)(it % NB);
    gpu_zero(m->dgrads, (size_t)(P + 2) * sizeof(float));
    if (m->forward(m, dx + (int64_t)b * B * D, B, lg, 1)) mh_fatal_last();
    if (loss_softmax_ce_cuda(lg, dy + (int64_t)b * B, NULL, B, K, dl, NULL, m->dgrads + P))
      mh_fatal_last();
    if (m->backward(m, dx + (int64_t)b * B * D, dl, B)) mh_fatal_last();
    if (gpu_download(tail, m->dgrads + P, sizeof tail)) mh_fatal_last();
    if (optim_step_cuda(&o, m->dparams, m->dgrads, dm, NULL, 1.0f / (float)B)) mh_fatal_last();
    if (it >= 3) {
      iters++;
      el = mh_now() - t0;
      if (iters >= 10 && el >= seconds) break;
    }
  }
  gpu_sync();
  el = mh_now() - t0;
  printf("case=%s precision=%s batch=%d samples_per_s=%.0f loss=%.4f\n", c->name,
         amp ? "bf16" : "fp32", B, (double)iters * B / el, tail[0] / B);
  gpu_set_amp(0);
  fflush(stdout);
  optim_free(&o);
  gpu_free(dx), gpu_free(dy), gpu_free(lg), gpu_free(dl), gpu_free(dm);
  free(x);
  free(y);
  model_free(m);
}

/* Forward + backward of one layer on the device, TFLOP/s. */
static void bench_layer(const char *what, Layer *l, int64_t n, double macs_per_sample,
                        double seconds) {
  Net net;
  net_init(&net, l->in);
  if (net_add(&net, l)) mh_fatal_last();
  const int64_t in = n * dims_elems(net.in), out = n * dims_elems(net_out(&net));
  float *p = gpu_malloc((size_t)(net.nparams + 1) * 4), *g = gpu_malloc((size_t)(net.nparams + 1) * 4);
  float *x = gpu_malloc((size_t)in * 4), *dy = gpu_malloc((size_t)out * 4),
        *dx = gpu_malloc((size_t)in * 4);
  if (!p || !g || !x || !dy || !dx) mh_fatal_last();
  gpu_zero(p, (size_t)net.nparams * 4);
  gpu_zero(x, (size_t)in * 4);
  gpu_zero(dy, (size_t)out * 4);
  if (net_to_device(&net, p, g, NULL)) mh_fatal_last();
  const float *y;
  int64_t iters = 0;
  double t0 = 0, el = 0;
  for (int64_t it = 0;; it++) {
    if (it == 2) {
      gpu_sync();
      t0 = mh_now();
    }
    if (net_forward(&net, x, n, 1, &y) || net_backward(&net, x, dy, n, dx)) mh_fatal_last();
    if (it >= 2 && ++iters % 10 == 0) {
      gpu_sync();
      el = mh_now() - t0;
      if (el >= seconds) break;
    }
  }
  const double tflops = 6.0 * macs_per_sample * (double)n * (double)iters / el / 1e12;
  printf("layer=%s batch=%lld tflops=%.2f peak_fraction=%.3f\n", what, (long long)n, tflops,
         tflops / PEAK_TFLOPS);
  fflush(stdout);
  net_free(&net);
  gpu_free(p), gpu_free(g), gpu_free(x), gpu_free(dy), gpu_free(dx);
}

int main(int argc, char **argv) {
  double seconds = 2.0;
  const char *only = NULL;
  int layers = 0;
  static const struct option opts[] = {{"seconds", required_argument, 0, 's'},
                                       {"cases", required_argument, 0, 'c'},
                                       {"layers", no_argument, 0, 'l'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  for (int ch; (ch = getopt_long(argc, argv, "s:c:lh", opts, NULL)) != -1;) {
    if (ch == 's') seconds = atof(optarg);
    else if (ch == 'c') only = optarg;
    else if (ch == 'l') layers = 1;
    else {
      printf("usage: bench_gpu [--seconds S] [--cases a,b,...] [--layers]\n");
      return ch == 'h' ? 0 : 2;
    }
  }
  if (gpu_device_count() == 0) {
    printf("bench_gpu: no CUDA device; skipped\n");
    return 77;
  }
  if (gpu_open(0)) mh_fatal_last();
  printf("# device %s\n", gpu_describe());
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (only) {
      const char *p = strstr(only, cases[i].name);
      size_t len = strlen(cases[i].name);
      if (!p || (p[len] != '\0' && p[len] != ',')) continue;
    }
    bench_case(&cases[i], seconds, 0);
    bench_case(&cases[i], seconds, 1);
  }
  if (layers) {
    /* ResNet-18's widest 3x3 convolution at full resolution, its last
     * stage's, and SmallCNN's big linear layer */
    bench_layer("conv3x3_64x32x32", layer_conv2d((Dims){64, 32, 32}, 64, 3, 1, 1), 256,
                64.0 * 32 * 32 * 64 * 9, seconds);
    bench_layer("conv3x3_512x4x4", layer_conv2d((Dims){512, 4, 4}, 512, 3, 1, 1), 256,
                512.0 * 4 * 4 * 512 * 9, seconds);
    bench_layer("linear_9216x128", layer_linear((Dims){9216, 1, 1}, 128), 4096, 9216.0 * 128,
                seconds);
  }
  gpu_close();
  return 0;
}
#else
int main(void) {
  printf("bench_gpu: built without the CUDA backend; skipped\n");
  return 77;
}
#endif

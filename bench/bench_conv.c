/* bench_conv.c - the conv2d layer of the bench models against the sgemm
 * peak measured in the same run, per pass and thread count.
 *
 *   bench_conv [--threads 1,2] [--reps N] [--batch B] [--peak-size S]
 *              [--clock wall|cpu]
 *
 * For each thread count: the float32 GEMM peak (par_sgemm, S x S x S, the
 * best of max(N, 5) calls, timed call by call like the layers), then for each layer of SmallCNN and YearbookNet at batch B: the
 * forward (fused ReLU off), the weight gradient alone (backward without
 * dx) and the whole backward (weights and input; the input gradient's time
 * is the difference), each timed call by call N times. GFLOP/s count the
 * useful multiply-adds (cout * cin * k * k * Ho * Wo per sample and pass,
 * 2 FLOPs each; none for padding or dropped grid points). Printed: the best
 * call's GFLOP/s and its fraction of the peak, and the spread (the slowest
 * call's GFLOP/s - the best's; for fwd + bwd, from the slowest forward and
 * whole backward). bwd_x is derived from the best calls, without a spread. On a shared machine the best call is the
 * one least disturbed; the spread says how disturbed the others were.
 * $MODYN_CONV=gemm times the im2col + GEMM path instead of the direct one.
 * --clock cpu times everything (the peak too) in process CPU time divided
 * by the thread count (see cpu_clock). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/timing.h"
#include "train/layers.h"
#include "train/parallel.h"

/* --clock cpu: the process's CPU time divided by the thread count instead
 * of wall time. Time the threads spend descheduled by other work does not
 * count, time they spin at a barrier does (a conservative figure); used to
 * read fractions of the peak on a machine busier than its cores. */
static int cpu_clock = 0;

static double now(void) {
  if (!cpu_clock) return mh_now();
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ((double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec) / par_threads();
}

typedef struct {
  const char *name;
  Dims in;
  int cout, k, pad;
} ConvCase;

static const ConvCase conv_cases[] = {
    {"smallcnn.conv1 1->32 28x28", {1, 28, 28}, 32, 3, 0},
    {"smallcnn.conv2 32->64 26x26", {32, 26, 26}, 64, 3, 0},
    {"yearbook.conv1 3->32 32x32 p1", {3, 32, 32}, 32, 3, 1},
    {"yearbook.conv2 32->32 16x16 p1", {32, 16, 16}, 32, 3, 1},
    {"yearbook.conv3 32->32 8x8 p1", {32, 8, 8}, 32, 3, 1},
    {"yearbook.conv4 32->32 4x4 p1", {32, 4, 4}, 32, 3, 1},
};

static double peak_gflops(int size, int reps, double *lo) {
  const int64_t nn = (int64_t)size * size;
  float *A = malloc((size_t)nn * sizeof(float)), *B = malloc((size_t)nn * sizeof(float));
  float *C = malloc((size_t)nn * sizeof(float));
  if (!A || !B || !C) mh_fatal("bench_conv: out of memory");
  Rng rng;
  rng_seed(&rng, 3);
  for (int64_t i = 0; i < nn; i++) A[i] = (float)rng_uniform(&rng), B[i] = (float)rng_uniform(&rng);
  par_sgemm(0, 0, size, size, size, 1.0f, A, size, B, size, 0.0f, C, size);
  double best = 0, worst = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    par_sgemm(0, 0, size, size, size, 1.0f, A, size, B, size, 0.0f, C, size);
    const double g = 2.0 * size * (double)nn / (now() - t0) / 1e9;
    if (g > best) best = g;
    if (g < worst) worst = g;
  }
  free(A);
  free(B);
  free(C);
  *lo = worst;
  return best;
}

/* times[0..2][rep]: forward, weight gradient, whole backward */
static void bench_one(const ConvCase *c, int batch, int reps, double peak) {
  Layer *l = layer_conv2d(c->in, c->cout, c->k, 1, c->pad);
  if (!l) mh_fatal_last();
  const int64_t in = batch * dims_elems(l->in), out = batch * dims_elems(l->out);
  float *p = calloc((size_t)l->nparams, sizeof(float)), *g = calloc((size_t)l->nparams, sizeof(float));
  float *x = malloc((size_t)in * sizeof(float)), *y = malloc((size_t)out * sizeof(float));
  float *dy = malloc((size_t)out * sizeof(float)), *dx = malloc((size_t)in * sizeof(float));
  if (!p || !g || !x || !y || !dy || !dx) mh_fatal("bench_conv: out of memory");
  l->params = p;
  l->grads = g;
  Rng rng;
  rng_seed(&rng, 2);
  l->ops->init(l, &rng);
  for (int64_t i = 0; i < in; i++) x[i] = (float)rng_uniform(&rng);
  for (int64_t i = 0; i < out; i++) dy[i] = (float)rng_normal(&rng);
  const double flops = 2.0 * c->cout * c->in.c * c->k * c->k * (double)l->out.h * l->out.w * batch;
  double best[3] = {1e30, 1e30, 1e30}, worst[3] = {0, 0, 0};
  for (int r = -2; r < reps; r++) { /* two warm-up rounds */
    double t[3];
    double t0 = now();
    if (l->ops->forward(l, x, y, batch, 1)) mh_fatal_last();
    t[0] = now() - t0;
    t0 = now();
    if (l->ops->backward(l, x, y, dy, NULL, batch)) mh_fatal_last();
    t[1] = now() - t0;
    t0 = now();
    if (l->ops->backward(l, x, y, dy, dx, batch)) mh_fatal_last();
    t[2] = now() - t0;
    if (r < 0) continue;
    for (int i = 0; i < 3; i++) {
      if (t[i] < best[i]) best[i] = t[i];
      if (t[i] > worst[i]) worst[i] = t[i];
    }
  }
  /* the input gradient: whole backward - weight gradient (best of each) */
  const double bd = best[2] - best[1] > 1e-9 ? best[2] - best[1] : 1e-9;
  const double gf = flops / best[0] / 1e9, gw = flops / best[1] / 1e9, gd = flops / bd / 1e9;
  const double gt = 3.0 * flops / (best[0] + best[2]) / 1e9;
  char sf[32], sw[32], st[32];
  snprintf(sf, sizeof sf, "%.0f-%.0f", flops / worst[0] / 1e9, gf);
  snprintf(sw, sizeof sw, "%.0f-%.0f", flops / worst[1] / 1e9, gw);
  snprintf(st, sizeof st, "%.0f-%.0f", 3.0 * flops / (worst[0] + worst[2]) / 1e9, gt);
  printf("%-31s%4d%8.1f%6.2f%10s%8.1f%6.2f%10s%8.1f%6.2f%8.1f%6.2f%10s\n", c->name, par_threads(),
         gf, gf / peak, sf, gw, gw / peak, sw, gd, gd / peak, gt, gt / peak, st);
  free(p);
  free(g);
  free(x);
  free(y);
  free(dy);
  free(dx);
  layer_free(l);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"threads", required_argument, NULL, 't'},
                                       {"reps", required_argument, NULL, 'r'},
                                       {"batch", required_argument, NULL, 'b'},
                                       {"peak-size", required_argument, NULL, 'p'},
                                       {"clock", required_argument, NULL, 'c'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *threads = "1,2";
  int reps = 20, batch = 64, psize = 2048, ch;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
      case 't': threads = optarg; break;
      case 'r': reps = atoi(optarg); break;
      case 'b': batch = atoi(optarg); break;
      case 'p': psize = atoi(optarg); break;
      case 'c': cpu_clock = !strcmp(optarg, "cpu"); break;
      default:
        printf("usage: bench_conv [--threads 1,2] [--reps N] [--batch B] [--peak-size S] "
               "[--clock wall|cpu]\n");
        return ch == 'h' ? 0 : 2;
    }
  }
  const int preps = reps < 5 ? 5 : reps;
  if (reps < 1 || batch < 1 || psize < 64) mh_fatal("bench_conv: bad --reps, --batch or --peak-size");
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *impl = getenv("MODYN_CONV");
  printf("# conv2d layers, batch %d, %s path; best of %d calls, GFLOP/s and fraction of the "
         "sgemm peak measured just before; %s\n", batch,
         impl && !strcmp(impl, "gemm") ? "im2col+GEMM" : "direct (where it applies)", reps,
         cpu_clock ? "clock: process CPU time / threads" : "clock: wall");
  char list[256];
  snprintf(list, sizeof list, "%s", threads);
  for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
    par_init(atoi(tok));
    double lo, peak = peak_gflops(psize, preps, &lo);
    printf("# %d thread(s): sgemm %d^3 peak %.1f GFLOP/s (best of %d calls; slowest %.1f)\n",
           par_threads(), psize, peak, preps, lo);
    printf("#%-30s%4s%8s%6s%10s%8s%6s%10s%8s%6s%8s%6s%10s\n", "layer", "thr", "fwd", "frac",
           "spread", "bwd_w", "frac", "spread", "bwd_x", "frac", "f+b", "frac", "spread");
    for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++)
      bench_one(&conv_cases[i], batch, reps, peak);
  }
  return 0;
}

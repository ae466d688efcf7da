/* bench_pass.c - throughput of the model pass (train/model_pass), the C
 * side of bench/run_pass_bench.sh (bench/torch_pass.py is the PyTorch
 * peer).
 *
 *   bench_pass [--seconds S] [--rounds R] [--cases mlp256,smallcnn64,...]
 *
 * For each case: samples/s of model_pass_batch asking for penultimate
 * embeddings and per-sample loss (PASS_EMBED | PASS_LOSS; eval mode) on
 * uniform [0, 1) inputs with uniform labels, 8 batches cycled, after 2
 * warm-up batches; the best of R rounds of S seconds. In memory: no store,
 * no reader, no ranks (what the pass adds around this is one prefetching
 * read and a gather).
 *
 * The case yearbook_train64 times YearbookNet's training step instead
 * (forward, summed cross-entropy / batch, backward, SGD lr 0.01 momentum
 * 0.9; the same step as bench_train), so that the cost of an embedding
 * pass over a trigger's new data can be put next to that trigger's
 * training: the script divides 1 pass by 5 epochs (the paper's Yearbook
 * pipeline trains 5 epochs per trigger) over the same samples.
 *
 * The thread count is $MODYN_THREADS (else OpenMP's default).
 * $MODYN_NET_PROFILE=1 prints the time per layer when each model is freed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/timing.h"
#include "train/loss.h"
#include "train/model.h"
#include "train/model_pass.h"
#include "train/optim.h"
#include "train/parallel.h"

typedef struct {
  const char *name, *model, *yaml;
  ModelShape shape;
  int batch;
  int train; /* 1: time training steps, not the pass */
} Case;

/* The models and inputs of bench_train / torch_train.py. */
static const Case cases[] = {
    {"mlp256", "MLP", "{}", {3, {1, 28, 28, 0}, 784, 10, 0}, 256, 0},
    {"smallcnn64", "SmallCNN", "{}", {3, {1, 28, 28, 0}, 784, 10, 0}, 64, 0},
    {"smallcnn256", "SmallCNN", "{}", {3, {1, 28, 28, 0}, 784, 10, 0}, 256, 0},
    {"yearbook64", "YearbookNet", "{}", {3, {3, 32, 32, 0}, 3072, 2, 0}, 64, 0},
    {"yearbook256", "YearbookNet", "{}", {3, {3, 32, 32, 0}, 3072, 2, 0}, 256, 0},
    {"yearbook_train64", "YearbookNet", "{}", {3, {3, 32, 32, 0}, 3072, 2, 0}, 64, 1},
};

static Model *make_model(const Case *c) {
  Model *m = model_from_yaml(c->model, c->yaml, &c->shape, 0);
  if (!m) mh_fatal_last();
  return m;
}

/* Per-case state: the model, the inputs, and what one step needs. */
typedef struct {
  const Case *c;
  Model *m;
  float *x;        /* [NB * B * in_elems] */
  int32_t *y;      /* [NB * B] */
  PassBuffers pb;  /* pass */
  Optimizer opt;   /* training */
  float *logits, *dl;
  double sink;     /* keeps the outputs alive */
} Bench;

enum { NB = 8 };

static void step(Bench *b, int64_t i) {
  const Case *c = b->c;
  const int B = c->batch;
  const int64_t k = i % NB, D = c->shape.in_elems;
  const float *x = b->x + k * B * D;
  const int32_t *y = b->y + k * B;
  if (!c->train) {
    PassBatch out;
    if (model_pass_batch(b->m, x, y, B, PASS_EMBED | PASS_LOSS, 0, &b->pb, &out)) mh_fatal_last();
    b->sink += out.loss[0] + out.embed[0];
    return;
  }
  Model *m = b->m;
  double s;
  model_zero_grad(m);
  if (m->forward(m, x, B, b->logits, 1)) mh_fatal_last();
  if (loss_softmax_ce(b->logits, y, NULL, B, m->num_outputs, b->dl, &s, NULL)) mh_fatal_last();
  const float inv = 1.0f / (float)B;
  for (int64_t j = 0; j < (int64_t)B * m->num_outputs; j++) b->dl[j] *= inv;
  if (m->backward(m, x, b->dl, B)) mh_fatal_last();
  optim_step(&b->opt, m->params, m->grads);
  b->sink += s;
}

static void bench_case(const Case *c, double seconds, int rounds) {
  Bench b;
  memset(&b, 0, sizeof b);
  b.c = c;
  b.m = make_model(c);
  const int B = c->batch;
  const int64_t D = c->shape.in_elems;
  b.x = malloc((size_t)(NB * B * D) * sizeof(float));
  b.y = malloc((size_t)(NB * B) * sizeof(int32_t));
  b.logits = malloc((size_t)B * b.m->num_outputs * sizeof(float));
  b.dl = malloc((size_t)B * b.m->num_outputs * sizeof(float));
  if (!b.x || !b.y || !b.logits || !b.dl) mh_fatal("out of memory");
  Rng rng;
  rng_seed(&rng, 1);
  for (int64_t i = 0; i < NB * B * D; i++) b.x[i] = (float)rng_uniform(&rng);
  for (int i = 0; i < NB * B; i++) b.y[i] = (int32_t)rng_below(&rng, (uint64_t)c->shape.num_classes);
  if (c->train) {
    OptimizerConfig oc;
    memset(&oc, 0, sizeof oc);
    strcpy(oc.algorithm, "SGD");
    oc.num_groups = 1;
    oc.groups[0] = (ParamGroupConfig){"model", 0.01, 0.9, 0.0, 0, 0.9, 0.999, 1e-8};
    if (optim_init(&b.opt, &oc, NULL, b.m->nparams)) mh_fatal_last();
  }
  for (int i = 0; i < (c->train ? 3 : 2); i++) step(&b, i);
  double best = 0.0;
  for (int r = 0; r < rounds; r++) {
    int64_t iters = 0;
    double t0 = mh_now(), el;
    do {
      step(&b, iters);
      iters++;
      el = mh_now() - t0;
    } while (iters < 5 || el < seconds);
    const double rate = (double)iters * B / el;
    if (rate > best) best = rate;
  }
  printf("%-8s%-18s%6d%14.0f\n", "modyn", c->name, B, best);
  fflush(stdout);
  if (c->train) optim_free(&b.opt);
  pass_buffers_free(&b.pb);
  free(b.x);
  free(b.y);
  free(b.logits);
  free(b.dl);
  model_free(b.m);
  if (b.sink != b.sink) fprintf(stderr, "bench_pass: %s: NaN outputs\n", c->name);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"seconds", required_argument, NULL, 's'},
                                       {"rounds", required_argument, NULL, 'r'},
                                       {"cases", required_argument, NULL, 'c'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  double seconds = 3.0;
  int rounds = 1, ch;
  char all[512] = "";
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", i ? "," : "", cases[i].name);
  const char *want = all;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
      case 's': seconds = atof(optarg); break;
      case 'r': rounds = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
      case 'c': want = optarg; break;
      default:
        printf("usage: bench_pass [--seconds S] [--rounds R] [--cases a,b]\n  cases: %s\n", all);
        return ch == 'h' ? 0 : 2;
    }
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  par_init(0);
  printf("# modyn-hpc model pass (embeddings + per-sample loss), %d threads\n", par_threads());
  printf("#%-7s%-18s%6s%14s\n", "engine", "case", "batch", "samples/s");
  char list[600];
  snprintf(list, sizeof list, ",%s,", want);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char pat[64];
    snprintf(pat, sizeof pat, ",%s,", cases[i].name);
    if (strstr(list, pat)) bench_case(&cases[i], seconds, rounds);
  }
  return 0;
}

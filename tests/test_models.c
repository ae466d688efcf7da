/* test_models.c - every registered model:
 *  - parameter and buffer counts equal PyTorch's for the same configuration
 *    (numbers from torch: sum(p.numel() for p in model.parameters()); DLRM's
 *    computed by hand from torchrec's layout), output and embedding sizes;
 *  - config errors name the field;
 *  - a finite-difference check of the whole model's gradient on a tiny
 *    input (central differences, loss summed in double, up to 150
 *    parameters per model): each parameter is tried with h = 1e-3
 *    (tolerance 3e-3 abs + 3e-2 rel) and h = 1e-4 (5e-3 abs + 3e-2 rel, the
 *    float32 forward's rounding matters more) and passes when either
 *    agrees: a ReLU or max-pool kink inside one step (YearbookNet's four BN
 *    + max-pool blocks hit some) spoils only that step, a wrong gradient
 *    fails both;
 *  - model_last_layer_grads against the last linear layer's gradient from
 *    backward on a batch of one sample (1e-5 abs + 1e-4 rel);
 *  - eval mode: deterministic, no dropout, BN running statistics untouched;
 *  - an empty batch (a rank's empty slice: n = 0, NULL tensors) in
 *    training and eval leaves the gradients at 0; YearbookNet's batchnorm
 *    refuses to train on it alone (test_syncbn covers it across ranks);
 *  - run-to-run determinism on 2 threads: YearbookNet's forward and
 *    backward on a batch of 64, repeated, give bit-identical logits,
 *    gradients and running statistics (memcmp);
 *  - a tiny training run with SGD that reaches a stated loss. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "core/rng.h"
#include "testutil.h"
#include "train/loss.h"
#include "train/model.h"
#include "train/optim.h"
#include "train/parallel.h"

static ModelShape flat_shape(int d, int k) { return (ModelShape){1, {d, 0, 0, 0}, d, k, 0}; }
/* A store of int32 token ids (TextBag's input). */
static ModelShape token_shape(int d, int k) { return (ModelShape){1, {d, 0, 0, 0}, d, k, 1}; }
static ModelShape image_shape(int c, int h, int w, int k) {
  return (ModelShape){3, {c, h, w, 0}, (int64_t)c * h * w, k};
}

/* Create a model from a YAML model.config text; NULL (and the error) on failure. */
static Model *make(const char *id, const char *yaml, ModelShape shape, uint64_t seed) {
  return model_from_yaml(id, yaml, &shape, seed);
}

/* The error model_create gives for a config ("" when it succeeds). */
static const char *create_error(const char *id, const char *yaml, ModelShape shape) {
  Model *m = make(id, yaml, shape, 1);
  if (m) {
    model_free(m);
    return "";
  }
  return mh_error();
}

/* ---- counts (full-size models) ------------------------------------------- */

static void test_counts(void) {
  struct {
    const char *id, *yaml;
    ModelShape shape;
    int64_t nparams, nbuffers;
    int outputs, embed;
  } cases[] = {
      {"LogisticRegression", "{}", flat_shape(784, 10), 7850, 0, 10, 784},
      {"MLP", "{}", image_shape(1, 28, 28, 10), 203530, 0, 10, 256},
      {"MLP", "{hidden_sizes: [16, 8], dropout: 0.5}", flat_shape(20, 3), 499, 0, 3, 8},
      {"SmallCNN", "{}", image_shape(1, 28, 28, 10), 1199882, 0, 10, 128},
      {"YearbookNet", "{num_input_channels: 3}", image_shape(3, 32, 32, 2), 28962, 256, 2, 32},
      /* torch's CIFAR ResNet-18 (11,173,962) with bias=True convolutions */
      {"ResNet18", "{}", image_shape(3, 32, 32, 10), 11178762, 9600, 10, 512},
      {"ResNet18", "{width: 4}", image_shape(3, 32, 32, 10), 44922, 600, 10, 32},
      {"TextBag", "{num_embeddings: 100, embedding_dim: 8}", token_shape(6, 3), 827, 0, 3, 8},
      {"DLRM", "{}", flat_shape(39, 2), 443601, 0, 1, 32},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    Model *m = make(cases[i].id, cases[i].yaml, cases[i].shape, 1);
    CHECK(m != NULL);
    if (!m) {
      fprintf(stderr, "%s: %s\n", cases[i].id, mh_error());
      continue;
    }
    printf("%-20s %-42s nparams %8lld (torch %8lld)\n", cases[i].id, cases[i].yaml,
           (long long)m->nparams, (long long)cases[i].nparams);
    CHECK_EQ_INT(m->nparams, cases[i].nparams);
    CHECK_EQ_INT(m->nbuffers, cases[i].nbuffers);
    CHECK_EQ_INT(m->num_outputs, cases[i].outputs);
    CHECK_EQ_INT(m->embed_dim, cases[i].embed);
    model_free(m);
  }
  /* PyTorch's init: YearbookNet's BN weights 1, biases 0, running var 1;
   * linear weights within 1/sqrt(fan_in). */
  Model *m = make("YearbookNet", "{}", image_shape(3, 32, 32, 2), 1);
  CHECK(m != NULL);
  if (m) {
    const int64_t bn0 = 32 * 27 + 32; /* after the first conv */
    CHECK_NEAR(m->params[bn0], 1.0, 0);
    CHECK_NEAR(m->params[bn0 + 32], 0.0, 0);
    CHECK_NEAR(m->buffers[0], 0.0, 0);
    CHECK_NEAR(m->buffers[32], 1.0, 0);
    double wmax = 0;
    for (int i = 0; i < 32 * 27; i++) wmax = fmax(wmax, fabs(m->params[i]));
    CHECK(wmax <= 1.0 / sqrt(27.0) && wmax > 0.8 / sqrt(27.0));
    model_free(m);
  }
}

static void test_config_errors(void) {
  ModelShape img = image_shape(1, 28, 28, 10);
  CHECK_STR(create_error("MLP", "{hidden: [3]}", img),
            "model.yaml:1: hidden: unknown field; expected one of: hidden_sizes, dropout, "
            "num_classes, input_dim");
  CHECK_STR(create_error("MLP", "{num_classes: 5}", img),
            "model.yaml:1: num_classes: is 5 but the training store has 10 classes");
  CHECK_STR(create_error("SmallCNN", "{num_input_channels: 3}", img),
            "model.yaml:1: num_input_channels: is 3 but the training store's samples have shape "
            "[1, 28, 28] (1 channels)");
  CHECK_STR(create_error("YearbookNet", "{}", image_shape(3, 8, 8, 2)),
            "model.yaml:1: num_input_channels: the model needs images of at least 16x16, but the "
            "training store's samples have shape [3, 8, 8]");
  CHECK_STR(create_error("ResNet18", "{}", image_shape(3, 7, 7, 2)),
            "model.yaml:1: num_input_channels: the model needs images of at least 8x8, but the "
            "training store's samples have shape [3, 7, 7]");
  CHECK_STR(create_error("ResNet18", "{width: 0}", image_shape(3, 32, 32, 2)),
            "model.yaml:1: width: must be in [1, 4096], got 0");
  CHECK_STR(create_error("SmallCNN", "{}", flat_shape(784, 10)),
            "model.yaml:1: num_input_channels: the model needs images [channels, height, width], "
            "but the training store's samples have shape [784]");
  CHECK_STR(create_error("TextBag", "{}", flat_shape(6, 3)),
            "TextBag reads token ids, but the store's features are numbers (float32 or uint8); "
            "store the text as int32 token ids (modyn ingest, a store with feature type int32), "
            "or choose a model for numeric features");
  CHECK_STR(create_error("TextBag", "{mode: max}", token_shape(6, 3)),
            "model.yaml:1: mode: expected one of sum, mean, got \"max\"");
  CHECK_STR(create_error("DLRM", "{}", flat_shape(40, 2)),
            "model.yaml:1: num_sparse_features: num_dense_features (13) + num_sparse_features "
            "(26) = 39, but the training store has 40 features per sample");
  CHECK_STR(create_error("DLRM", "{embedding_dim: 8}", flat_shape(39, 2)),
            "model.yaml:1: embedding_dim: is 8 but must equal the last size of bottom_mlp (16): "
            "the interaction takes dot products of the bottom output with the embeddings");
  CHECK_STR(create_error("DLRM", "{num_embeddings_per_feature: [10, 20]}", flat_shape(39, 2)),
            "model.yaml:1: num_embeddings_per_feature: has 2 entries but num_sparse_features is "
            "26 (give one size per sparse feature, or one integer for all)");
  CHECK_STR(create_error("MLP", "{dropout: 1.5}", img),
            "model.yaml:1: dropout: must be in [0, 0.999999], got 1.5");
}

/* ---- tiny models ------------------------------------------------------------ */

typedef struct {
  const char *id, *yaml;
  ModelShape shape;
  int bce;       /* 1: BCE on one logit (DLRM with 2 classes) */
  int tokens;    /* 1: features are token ids in [-1, tokens) (TextBag) */
  int dlrm_dense;/* > 0: DLRM input with this many dense features then ids */
} Tiny;

static const Tiny tiny[] = {
    {"LogisticRegression", "{}", {1, {6, 0, 0, 0}, 6, 3, 0}, 0, 0, 0},
    {"MLP", "{hidden_sizes: [5, 4]}", {1, {6, 0, 0, 0}, 6, 3, 0}, 0, 0, 0},
    {"SmallCNN", "{channels: [2, 3], hidden: 4}", {3, {1, 8, 8, 0}, 64, 3, 0}, 0, 0, 0},
    {"YearbookNet", "{}", {3, {2, 16, 16, 0}, 512, 3, 0}, 0, 0, 0},
    {"ResNet18", "{width: 2}", {3, {2, 16, 16, 0}, 512, 3, 0}, 0, 0, 0}, /* 2x2 maps at the end */
    {"TextBag", "{num_embeddings: 7, embedding_dim: 3, mode: mean}", {1, {5, 0, 0, 0}, 5, 3, 1}, 0, 7,
     0},
    {"TextBag", "{num_embeddings: 7, embedding_dim: 3, mode: sum}", {1, {5, 0, 0, 0}, 5, 3, 1}, 0, 7,
     0},
    {"DLRM",
     "{num_dense_features: 3, num_sparse_features: 2, bottom_mlp: [4, 3], top_mlp: [6], "
     "num_embeddings_per_feature: [5, 4]}",
     {1, {5, 0, 0, 0}, 5, 2, 0}, 1, 0, 3},
};
#define NTINY ((int)(sizeof tiny / sizeof tiny[0]))

static void tiny_inputs(const Tiny *t, int n, uint64_t seed, float *x, int32_t *y) {
  Rng rng;
  rng_seed(&rng, seed);
  const int64_t D = t->shape.in_elems;
  for (int i = 0; i < n; i++) {
    for (int64_t j = 0; j < D; j++) {
      if (t->tokens) x[i * D + j] = (float)((int)rng_below(&rng, (uint64_t)t->tokens + 1) - 1);
      else if (t->dlrm_dense && j >= t->dlrm_dense) x[i * D + j] = (float)rng_below(&rng, 9);
      else x[i * D + j] = (float)rng_normal(&rng);
    }
    y[i] = (int32_t)rng_below(&rng, t->bce ? 2 : (uint64_t)t->shape.num_classes);
  }
}

static int loss_of(const Tiny *t, const Model *m, const float *logits, const int32_t *y, int n,
                   float *dlogits, double *sum) {
  if (t->bce) return loss_bce_logits(logits, y, NULL, n, dlogits, sum, NULL);
  return loss_softmax_ce(logits, y, NULL, n, m->num_outputs, dlogits, sum, NULL);
}

static double model_loss(const Tiny *t, Model *m, const float *x, const int32_t *y, int n,
                         float *logits) {
  double s = 0;
  m->forward(m, x, n, logits, 1);
  loss_of(t, m, logits, y, n, NULL, &s);
  return s;
}

static void test_gradcheck(void) {
  enum { N = 4 };
  for (int c = 0; c < NTINY; c++) {
    const Tiny *t = &tiny[c];
    Model *m = make(t->id, t->yaml, t->shape, 5);
    CHECK(m != NULL);
    if (!m) {
      fprintf(stderr, "%s: %s\n", t->id, mh_error());
      continue;
    }
    const int64_t D = t->shape.in_elems;
    float *x = malloc((size_t)(N * D) * sizeof(float));
    float *logits = malloc((size_t)(N * m->num_outputs) * sizeof(float));
    float *dl = malloc((size_t)(N * m->num_outputs) * sizeof(float));
    int32_t y[N];
    tiny_inputs(t, N, 9, x, y);
    double s;
    model_zero_grad(m);
    CHECK_OK(m->forward(m, x, N, logits, 1));
    CHECK_OK(loss_of(t, m, logits, y, N, dl, &s));
    CHECK_OK(m->backward(m, x, dl, N));
    static const double hs[2] = {1e-3, 1e-4}, atols[2] = {3e-3, 5e-3};
    double worst = 0;
    int checked = 0;
    int64_t step = m->nparams > 150 ? m->nparams / 150 : 1;
    for (int64_t p = 0; p < m->nparams; p += step, checked++) {
      double e = INFINITY;
      for (int k = 0; k < 2; k++) {
        const double h = hs[k];
        float keep = m->params[p];
        m->params[p] = keep + (float)h;
        double up = model_loss(t, m, x, y, N, logits);
        m->params[p] = keep - (float)h;
        double down = model_loss(t, m, x, y, N, logits);
        m->params[p] = keep;
        double num = (up - down) / (2 * h);
        e = fmin(e, fabs(num - m->grads[p]) / (atols[k] + 3e-2 * fabs(num)));
      }
      if (e > worst) worst = e;
    }
    printf("gradcheck %-18s %-60.60s %3d params: worst scaled error %.3g (must be <= 1)\n", t->id,
           t->yaml, checked, worst);
    CHECK(worst <= 1.0);
    free(x);
    free(logits);
    free(dl);
    model_free(m);
  }
}

/* Closed-form last-layer gradients against backward, one sample at a time. */
static void test_last_layer_grads(void) {
  enum { N = 3 };
  for (int c = 0; c < NTINY; c++) {
    const Tiny *t = &tiny[c];
    Model *m = make(t->id, t->yaml, t->shape, 6);
    if (!m) {
      CHECK(0);
      continue;
    }
    const int K = m->num_outputs, E = m->embed_dim;
    const int64_t D = t->shape.in_elems, last = (int64_t)K * E + K;
    float *x = malloc((size_t)(N * D) * sizeof(float));
    float *closed = malloc((size_t)last * sizeof(float));
    float logits[16], dl[16];
    int32_t y[N];
    tiny_inputs(t, N, 10, x, y);
    double worst = 0;
    for (int i = 0; i < N; i++) {
      double s;
      model_zero_grad(m);
      CHECK_OK(m->forward(m, x + i * D, 1, logits, 1));
      CHECK_OK(loss_of(t, m, logits, y + i, 1, dl, &s));
      CHECK_OK(model_last_layer_grads(m, dl, 1, closed));
      CHECK_OK(m->backward(m, x + i * D, dl, 1));
      const float *g = m->grads + m->nparams - last; /* W [K, E] then b [K] */
      for (int k = 0; k < K; k++) {
        for (int e = 0; e < E; e++)
          worst = fmax(worst, fabs(closed[k * (E + 1) + e] - g[k * E + e]) /
                                  (1e-5 + 1e-4 * fabs(g[k * E + e])));
        worst = fmax(worst, fabs(closed[k * (E + 1) + E] - g[K * E + k]) /
                                (1e-5 + 1e-4 * fabs(g[K * E + k])));
      }
    }
    printf("last-layer grads %-18s (embed %3d): worst scaled error %.3g (must be <= 1)\n", t->id,
           E, worst);
    CHECK(worst <= 1.0);
    free(x);
    free(closed);
    model_free(m);
  }
}

static void test_eval_mode(void) {
  /* Dropout is off in eval and on in training. */
  Model *m = make("MLP", "{hidden_sizes: [32], dropout: 0.5}", flat_shape(6, 3), 1);
  CHECK(m != NULL);
  if (!m) return;
  float x[12], a[8], b[8], c[8], d[8]; /* up to 4 samples x 2 logits (YearbookNet below) */
  for (int i = 0; i < 12; i++) x[i] = (float)(i % 5) - 2.0f;
  m->forward(m, x, 2, a, 0);
  m->forward(m, x, 2, b, 0);
  m->forward(m, x, 2, c, 1);
  m->forward(m, x, 2, d, 1);
  CHECK(!memcmp(a, b, 6 * sizeof(float)));
  CHECK(memcmp(c, d, 6 * sizeof(float)) != 0);
  model_free(m);
  /* BN: eval uses the running statistics and leaves them alone; training
   * updates them. */
  m = make("YearbookNet", "{}", image_shape(1, 16, 16, 2), 1);
  CHECK(m != NULL);
  if (!m) return;
  float *xi = malloc(4 * 256 * sizeof(float)), *buf0 = malloc((size_t)m->nbuffers * sizeof(float));
  for (int i = 0; i < 4 * 256; i++) xi[i] = (float)((i * 37) % 11) * 0.3f;
  memcpy(buf0, m->buffers, (size_t)m->nbuffers * sizeof(float));
  m->forward(m, xi, 4, a, 0);
  CHECK(!memcmp(buf0, m->buffers, (size_t)m->nbuffers * sizeof(float)));
  m->forward(m, xi, 4, b, 1);
  CHECK(memcmp(buf0, m->buffers, (size_t)m->nbuffers * sizeof(float)) != 0);
  CHECK(memcmp(a, b, 8 * sizeof(float)) != 0);
  /* a batch of one in eval gives the same logits as within a batch */
  m->forward(m, xi, 4, a, 0);
  m->forward(m, xi + 256, 1, c, 0);
  CHECK_NEAR(c[0], a[2], 1e-5);
  CHECK_NEAR(c[1], a[3], 1e-5);
  free(xi);
  free(buf0);
  model_free(m);
}

/* ---- empty batches ---------------------------------------------------------------- */

static void test_empty_batch(void) {
  struct {
    const char *id, *yaml;
    ModelShape shape;
  } cases[] = {
      {"LogisticRegression", "{}", flat_shape(6, 3)},
      {"MLP", "{hidden_sizes: [8], dropout: 0.5}", flat_shape(6, 3)},
      {"SmallCNN", "{channels: [4, 8], hidden: 16}", image_shape(1, 8, 8, 2)},
      {"TextBag", "{num_embeddings: 64, embedding_dim: 8}", token_shape(6, 3)},
      {"DLRM",
       "{num_dense_features: 4, num_sparse_features: 3, bottom_mlp: [16, 4], top_mlp: [16], "
       "num_embeddings_per_feature: 10}",
       flat_shape(7, 2)},
      {"YearbookNet", "{}", image_shape(1, 16, 16, 2)},
      {"ResNet18", "{width: 2}", image_shape(1, 8, 8, 2)},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    Model *m = make(cases[i].id, cases[i].yaml, cases[i].shape, 1);
    CHECK(m != NULL);
    if (!m) continue;
    model_zero_grad(m);
    CHECK_OK(m->forward(m, NULL, 0, NULL, 0));
    if (m->nbuffers > 0) { /* batchnorm: no statistics of nothing without other ranks */
      CHECK(m->forward(m, NULL, 0, NULL, 1) == MH_ERR);
      model_free(m);
      continue;
    }
    CHECK_OK(m->forward(m, NULL, 0, NULL, 1));
    CHECK_OK(m->backward(m, NULL, NULL, 0));
    int zero = 1;
    for (int64_t k = 0; k < m->nparams; k++) zero &= m->grads[k] == 0.0f;
    if (!zero) fprintf(stderr, "%s: an empty batch changed the gradients\n", cases[i].id);
    CHECK(zero);
    model_free(m);
  }
}

/* ---- run-to-run determinism ---------------------------------------------------- */

/* The same batch on the same thread count must give the same bits: partial
 * sums may only be combined in a fixed order (conv2d's per-slot weight
 * gradients once were added in whichever order threads took chunks, 1e-2
 * apart after an epoch). Several repetitions, because a race shows only
 * when the threads happen to interleave differently. */
static void test_thread_determinism(void) {
  enum { N = 64, REPS = 6 };
  const int saved = par_threads();
  par_init(2);
  Model *m = make("YearbookNet", "{num_input_channels: 3}", image_shape(3, 16, 16, 4), 5);
  CHECK(m != NULL);
  if (!m) {
    par_init(saved);
    return;
  }
  const int64_t D = m->shape.in_elems, P = m->nparams, B = m->nbuffers;
  const int K = m->num_outputs;
  float *x = malloc((size_t)(N * D) * sizeof(float));
  float *logits = malloc((size_t)N * K * sizeof(float));
  float *dl = malloc((size_t)N * K * sizeof(float));
  float *buf0 = malloc((size_t)B * sizeof(float));
  float *first = malloc((size_t)(N * K + P + B) * sizeof(float));
  int32_t y[N];
  Rng rng;
  rng_seed(&rng, 9);
  for (int64_t i = 0; i < N * D; i++) x[i] = (float)rng_normal(&rng);
  for (int i = 0; i < N; i++) y[i] = i % K;
  memcpy(buf0, m->buffers, (size_t)B * sizeof(float));
  int same = 1;
  for (int r = 0; r < REPS; r++) {
    double s;
    memcpy(m->buffers, buf0, (size_t)B * sizeof(float));
    model_zero_grad(m);
    CHECK_OK(m->forward(m, x, N, logits, 1));
    CHECK_OK(loss_softmax_ce(logits, y, NULL, N, K, dl, &s, NULL));
    CHECK_OK(m->backward(m, x, dl, N));
    if (r == 0) {
      memcpy(first, logits, (size_t)N * K * sizeof(float));
      memcpy(first + N * K, m->grads, (size_t)P * sizeof(float));
      memcpy(first + N * K + P, m->buffers, (size_t)B * sizeof(float));
      continue;
    }
    same &= !memcmp(first, logits, (size_t)N * K * sizeof(float));
    same &= !memcmp(first + N * K, m->grads, (size_t)P * sizeof(float));
    same &= !memcmp(first + N * K + P, m->buffers, (size_t)B * sizeof(float));
  }
  int64_t nz = 0;
  for (int64_t i = 0; i < P; i++) nz += first[N * K + i] != 0.0f;
  printf("determinism: YearbookNet forward+backward on %d samples, 2 threads, %d runs: %s "
         "(%lld of %lld gradients nonzero)\n", N, REPS, same ? "bit-identical" : "DIFFERENT",
         (long long)nz, (long long)P);
  CHECK(same);
  CHECK(nz > P / 2);
  free(x);
  free(logits);
  free(dl);
  free(buf0);
  free(first);
  model_free(m);
  par_init(saved);
}

/* ---- tiny training runs ------------------------------------------------------- */

/* Train with SGD (mean loss over each batch) and return the mean loss over
 * the whole set in eval mode. */
static double train_tiny(Model *m, int bce, const float *x, const int32_t *y, int n, int batch,
                         int epochs, double lr) {
  OptimizerConfig oc;
  memset(&oc, 0, sizeof oc);
  strcpy(oc.algorithm, "SGD");
  oc.num_groups = 1;
  oc.groups[0] = (ParamGroupConfig){"model", lr, 0.9, 0.0, 0, 0.9, 0.999, 1e-8};
  Optimizer o;
  if (optim_init(&o, &oc, m, m->nparams)) return INFINITY;
  const int K = m->num_outputs;
  const int64_t D = m->shape.in_elems;
  float *logits = malloc((size_t)n * K * sizeof(float)), *dl = malloc((size_t)n * K * sizeof(float));
  double s;
  for (int e = 0; e < epochs; e++)
    for (int b0 = 0; b0 + batch <= n; b0 += batch) {
      model_zero_grad(m);
      m->forward(m, x + b0 * D, batch, logits, 1);
      if (bce) loss_bce_logits(logits, y + b0, NULL, batch, dl, &s, NULL);
      else loss_softmax_ce(logits, y + b0, NULL, batch, K, dl, &s, NULL);
      for (int i = 0; i < batch * K; i++) dl[i] /= (float)batch;
      m->backward(m, x + b0 * D, dl, batch);
      optim_step(&o, m->params, m->grads);
    }
  m->forward(m, x, n, logits, 0);
  if (bce) loss_bce_logits(logits, y, NULL, n, NULL, &s, NULL);
  else loss_softmax_ce(logits, y, NULL, n, K, NULL, &s, NULL);
  optim_free(&o);
  free(logits);
  free(dl);
  return s / n;
}

static void test_training(void) {
  enum { N = 256 };
  Rng rng;
  rng_seed(&rng, 77);
  int32_t y[N];
  struct {
    const char *id, *yaml;
    ModelShape shape;
    int bce, epochs, batch;
    double lr, target;
  } runs[] = {
      {"MLP", "{hidden_sizes: [32]}", flat_shape(10, 4), 0, 40, 32, 0.05, 0.05},
      {"SmallCNN", "{channels: [4, 8], hidden: 16}", image_shape(1, 8, 8, 2), 0, 30, 32, 0.05, 0.05},
      {"YearbookNet", "{}", image_shape(1, 16, 16, 2), 0, 15, 32, 0.05, 0.1},
      {"ResNet18", "{width: 4}", image_shape(1, 8, 8, 2), 0, 8, 32, 0.05, 0.1},
      {"TextBag", "{num_embeddings: 64, embedding_dim: 8}", token_shape(6, 3), 0, 40, 32, 0.5, 0.05},
      {"DLRM",
       "{num_dense_features: 4, num_sparse_features: 3, bottom_mlp: [16, 4], top_mlp: [16], "
       "num_embeddings_per_feature: 10}",
       flat_shape(7, 2), 1, 40, 32, 0.05, 0.1},
  };
  for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
    const int64_t D = runs[r].shape.in_elems;
    const int K = runs[r].shape.num_classes;
    float *x = malloc((size_t)(N * D) * sizeof(float));
    float centers[4][10];
    for (int k = 0; k < 4; k++)
      for (int j = 0; j < 10; j++) centers[k][j] = (float)(2 * rng_normal(&rng));
    for (int i = 0; i < N; i++) {
      int c = (int)rng_below(&rng, (uint64_t)K);
      y[i] = c;
      for (int64_t j = 0; j < D; j++) {
        float noise = (float)(0.3 * rng_normal(&rng));
        if (!strcmp(runs[r].id, "MLP")) {
          x[i * D + j] = centers[c][j] + noise; /* blobs */
        } else if (!strcmp(runs[r].id, "TextBag")) {
          /* 3 class tokens among shared ones and padding */
          int64_t u = (int64_t)rng_below(&rng, 4);
          x[i * D + j] = u == 0 ? (float)(c * 10 + (int)rng_below(&rng, 10))
                         : u == 3 ? -1.0f : (float)(30 + rng_below(&rng, 20));
          if (j == 0) x[i * D + j] = (float)(c * 10 + (int)rng_below(&rng, 10));
        } else if (!strcmp(runs[r].id, "DLRM")) {
          /* the label is the sign of the first dense feature; ids are noise */
          x[i * D + j] = j < 4 ? (float)rng_normal(&rng) : (float)rng_below(&rng, 50);
          if (j == 0) x[i * D] = (c ? 1.0f : -1.0f) * (0.3f + (float)fabs(rng_normal(&rng)));
        } else {
          /* images: class 0 bright top half, class 1 bright bottom half */
          int64_t hw = runs[r].shape.dims[1] * runs[r].shape.dims[2];
          int64_t row = (j % hw) / runs[r].shape.dims[2];
          int top = row < runs[r].shape.dims[1] / 2;
          x[i * D + j] = ((top ^ c) ? 1.0f : 0.0f) + noise;
        }
      }
    }
    Model *m = make(runs[r].id, runs[r].yaml, runs[r].shape, 3);
    CHECK(m != NULL);
    if (!m) {
      free(x);
      continue;
    }
    double loss = train_tiny(m, runs[r].bce, x, y, N, runs[r].batch, runs[r].epochs, runs[r].lr);
    printf("train %-12s %3d epochs of %d samples, batch %d, SGD lr %.2g m 0.9: eval loss %.4f "
           "(must be < %.2g)\n", runs[r].id, runs[r].epochs, N, runs[r].batch, runs[r].lr, loss,
           runs[r].target);
    CHECK(loss < runs[r].target);
    model_free(m);
    free(x);
  }
}

int main(void) {
  test_counts();
  test_config_errors();
  test_gradcheck();
  test_last_layer_grads();
  test_eval_mode();
  test_empty_batch();
  test_thread_determinism();
  test_training();
  return test_finish("test_models");
}

/* test_syncbn.c - batchnorm across MPI ranks (SyncBatchNorm), run on 3
 * ranks. The ranks form groups of 1, 2 and 3 (MPI_Comm_split); each group
 * trains one batchnorm layer on a global batch split into per-rank slices
 * (len * r / size .. len * (r + 1) / size, so 7 samples give slices of 2, 2
 * and 3, and 2 samples leave a rank with an empty slice), and is checked
 * against one process running the same layer, without a Dist, on the whole
 * batch:
 *  - y and dx of each rank's slice, dgamma and dbeta summed over the group,
 *    the running statistics: within 1e-5 abs + 1e-5 rel of the reference;
 *  - the running statistics are bit-identical on every rank of a group;
 *  - a group of one rank is bit-identical to the reference (the
 *    single-process code path);
 *  - eval mode does not communicate (only the group's rank 0 runs it);
 *  - a global batch of one value per channel fails on every rank, and a
 *    rank that cannot allocate makes every rank fail (no rank hangs);
 *  - YearbookNet with model_set_dist: logits, the summed gradients and the
 *    running statistics of a 7-sample step on 1, 2, 3 ranks against one
 *    process (1e-5 abs + 1e-4 rel: four conv/BN blocks in float32);
 *  - a model whose forward fails on one rank only (an allocation) fails on
 *    every rank; a backward that fails on one rank fails there alone, and
 *    neither leaves a rank waiting; the next step works everywhere.
 * The worst differences are printed. */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/dist.h"
#include "core/error.h"
#include "core/rng.h"
#include "testutil.h"
#include "train/layers.h"
#include "train/loss.h"
#include "train/model.h"

static int g_rank; /* rank in MPI_COMM_WORLD, for messages */

/* max over i of |a - b| / (atol + rtol * |b|): <= 1 passes */
static double worst(const float *a, const float *b, int64_t n, double atol, double rtol,
                    double *maxdiff) {
  double w = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const double d = fabs((double)a[i] - (double)b[i]);
    const double s = d / (atol + rtol * fabs((double)b[i]));
    if (s > w) w = s;
    if (maxdiff && d > *maxdiff) *maxdiff = d;
  }
  return w;
}

static void fill(float *v, int64_t n, uint64_t seed, double scale, double offset) {
  Rng rng;
  rng_seed(&rng, seed);
  for (int64_t i = 0; i < n; i++) v[i] = (float)(offset + scale * rng_normal(&rng));
}

/* A batchnorm layer with its own parameters: gamma, beta and running
 * statistics away from their defaults so that every term shows. */
typedef struct {
  Layer *l;
  float *params, *grads, *buffers;
} Bn;

static Bn bn_make(Dims in, int relu) {
  Bn b;
  b.l = layer_batchnorm(in);
  const int C = in.c;
  b.params = calloc(2 * (size_t)C, sizeof(float));
  b.grads = calloc(2 * (size_t)C, sizeof(float));
  b.buffers = calloc(2 * (size_t)C, sizeof(float));
  b.l->params = b.params;
  b.l->grads = b.grads;
  b.l->buffers = b.buffers;
  b.l->relu = relu;
  for (int c = 0; c < C; c++) {
    b.params[c] = 0.5f + 0.25f * (float)c;      /* gamma */
    b.params[C + c] = -0.1f * (float)c;         /* beta */
    b.buffers[c] = 0.2f * (float)c;             /* running mean */
    b.buffers[C + c] = 1.0f + 0.5f * (float)c;  /* running var */
  }
  return b;
}

static void bn_free(Bn *b) {
  layer_free(b->l);
  free(b->params);
  free(b->grads);
  free(b->buffers);
}

/* One training step of a batchnorm layer on N samples of shape in, in the
 * group described by d (NULL: the reference, one process, whole batch). */
typedef struct {
  float *y, *dx;       /* [N * elems], this rank's slice filled (all of it for the reference) */
  float grads[64];     /* dgamma, dbeta (summed over the group) */
  float buffers[64];   /* running mean, var after the step */
  int rc;              /* forward's status */
} BnStep;

static BnStep bn_step(const Dist *d, Dims in, int relu, int64_t N, uint64_t seed) {
  BnStep s;
  memset(&s, 0, sizeof s);
  const int64_t E = dims_elems(in);
  float *x = malloc((size_t)(N * E + 1) * sizeof(float));
  float *dy = malloc((size_t)(N * E + 1) * sizeof(float));
  s.y = calloc((size_t)(N * E + 1), sizeof(float));
  s.dx = calloc((size_t)(N * E + 1), sizeof(float));
  /* a large mean against the spread: the shifted sums must not cancel */
  fill(x, N * E, seed, 2.0, 30.0);
  fill(dy, N * E, seed + 1, 1.0, 0.3);
  const int size = d ? d->size : 1, r = d ? d->rank : 0;
  const int64_t lo = N * r / size, hi = N * (r + 1) / size;
  Bn b = bn_make(in, relu);
  b.l->dist = d;
  s.rc = b.l->ops->forward(b.l, x + lo * E, s.y + lo * E, hi - lo, 1);
  if (s.rc == MH_OK) {
    float *dyl = malloc((size_t)((hi - lo) * E + 1) * sizeof(float));
    memcpy(dyl, dy + lo * E, (size_t)((hi - lo) * E) * sizeof(float));
    CHECK_OK(b.l->ops->backward(b.l, x + lo * E, s.y + lo * E, dyl, s.dx + lo * E, hi - lo));
    free(dyl);
    if (d) CHECK_OK(dist_allreduce_sum_f32(d, b.grads, 2 * in.c));
  }
  memcpy(s.grads, b.grads, 2 * (size_t)in.c * sizeof(float));
  memcpy(s.buffers, b.buffers, 2 * (size_t)in.c * sizeof(float));
  bn_free(&b);
  free(x);
  free(dy);
  return s;
}

static void bn_step_free(BnStep *s) {
  free(s->y);
  free(s->dx);
}

/* Every rank of d holds the same n floats, bit for bit. */
static int same_on_all(const Dist *d, const float *v, int n) {
  float *all = malloc((size_t)n * d->size * sizeof(float));
  MPI_Allgather(v, n, MPI_FLOAT, all, n, MPI_FLOAT, d->comm);
  int same = 1;
  for (int r = 0; r < d->size; r++)
    same &= !memcmp(all + (int64_t)r * n, v, (size_t)n * sizeof(float));
  free(all);
  return same;
}

static void test_layer(const Dist *d, Dims in, int relu, int64_t N) {
  const int64_t E = dims_elems(in);
  const int C = in.c;
  const int64_t lo = N * d->rank / d->size, hi = N * (d->rank + 1) / d->size;
  BnStep ref = bn_step(NULL, in, relu, N, 11);
  BnStep got = bn_step(d, in, relu, N, 11);
  CHECK_OK(ref.rc);
  CHECK_OK(got.rc);
  double md = 0.0, w = 0.0, v;
  v = worst(got.y + lo * E, ref.y + lo * E, (hi - lo) * E, 1e-5, 1e-5, &md);
  w = v > w ? v : w;
  v = worst(got.dx + lo * E, ref.dx + lo * E, (hi - lo) * E, 1e-5, 1e-5, &md);
  w = v > w ? v : w;
  v = worst(got.grads, ref.grads, 2 * C, 1e-5, 1e-5, &md);
  w = v > w ? v : w;
  v = worst(got.buffers, ref.buffers, 2 * C, 1e-5, 1e-5, &md);
  w = v > w ? v : w;
  if (d->rank == 0)
    printf("batchnorm %dx%dx%d%s, %lld samples on %d rank(s): max |diff| %.3g, worst scaled %.3g\n",
           in.c, in.h, in.w, relu ? "+relu" : "", (long long)N, d->size, md, w);
  if (!(w <= 1.0))
    fprintf(stderr, "rank %d: batchnorm on %d ranks, %lld samples: worst scaled %.3g\n", g_rank,
            d->size, (long long)N, w);
  CHECK(w <= 1.0);
  CHECK(same_on_all(d, got.buffers, 2 * C));
  if (d->size == 1) { /* the single-process code path, bit for bit */
    CHECK(!memcmp(got.y, ref.y, (size_t)(N * E) * sizeof(float)));
    CHECK(!memcmp(got.dx, ref.dx, (size_t)(N * E) * sizeof(float)));
    CHECK(!memcmp(got.grads, ref.grads, 2 * (size_t)C * sizeof(float)));
    CHECK(!memcmp(got.buffers, ref.buffers, 2 * (size_t)C * sizeof(float)));
  }
  bn_step_free(&ref);
  bn_step_free(&got);
}

/* Eval mode uses the running statistics and no collective: only the
 * group's rank 0 calls it (it would hang otherwise). */
static void test_eval_local(const Dist *d) {
  if (d->rank != 0) return;
  Dims in = {2, 1, 3};
  Bn b = bn_make(in, 0);
  b.l->dist = d;
  const float x[6] = {1, 2, 3, 4, 5, 6};
  float y[6];
  CHECK_OK(b.l->ops->forward(b.l, x, y, 1, 0));
  for (int c = 0; c < 2; c++)
    for (int p = 0; p < 3; p++) {
      const double g = b.params[c], be = b.params[2 + c], m = b.buffers[c], var = b.buffers[2 + c];
      CHECK_NEAR(y[c * 3 + p], g * (x[c * 3 + p] - m) / sqrt(var + 1e-5) + be, 1e-5);
    }
  bn_free(&b);
}

/* Failures reach every rank: one value per channel in the global batch, and
 * a failed allocation on the last rank. */
static void test_errors(const Dist *d) {
  BnStep s = bn_step(d, (Dims){2, 1, 1}, 0, 1, 5); /* one sample of 1x1: one value */
  CHECK(s.rc == MH_ERR);
  CHECK(strstr(mh_error(), "more than one value per channel") != NULL);
  bn_step_free(&s);
  if (d->size < 2) return;
  /* the last rank's slice is too large to allocate its partial sums for:
   * every rank must return an error instead of waiting in the exchange */
  Dims in = {2, 1, 1};
  Bn b = bn_make(in, 0);
  b.l->dist = d;
  float x[4] = {1, 2, 3, 4}, y[4];
  const int64_t huge = (int64_t)1 << 50; /* never read: the allocation fails first */
  int rc = b.l->ops->forward(b.l, x, y, d->rank == d->size - 1 ? huge : 2, 1);
  CHECK(rc == MH_ERR);
  bn_free(&b);
}

/* ---- YearbookNet across ranks -------------------------------------------- */

static Model *yearbook(void) {
  ModelShape shape = {3, {1, 16, 16, 0}, 256, 2, 0};
  return model_from_yaml("YearbookNet", "{num_input_channels: 1}", &shape, 3);
}

/* One step on N samples; grads summed over the group; logits of this
 * rank's slice at their global place. */
static int yearbook_step(const Dist *d, int64_t N, Model **out, float *logits) {
  Model *m = yearbook();
  if (!m) return MH_ERR;
  model_set_dist(m, d);
  const int64_t D = 256;
  const int size = d ? d->size : 1, r = d ? d->rank : 0;
  const int64_t lo = N * r / size, hi = N * (r + 1) / size;
  float *x = malloc((size_t)(N * D) * sizeof(float)), dl[64];
  int32_t y[32];
  fill(x, N * D, 21, 1.0, 0.5);
  for (int64_t i = 0; i < N; i++) y[i] = (int32_t)(i % 2);
  double ls = 0.0;
  model_zero_grad(m);
  int rc = m->forward(m, x + lo * D, hi - lo, logits + lo * 2, 1);
  if (!rc) rc = loss_softmax_ce(logits + lo * 2, y + lo, NULL, hi - lo, 2, dl, &ls, NULL);
  if (!rc) rc = m->backward(m, x + lo * D, dl, hi - lo);
  if (!rc && d) rc = dist_allreduce_sum_f32(d, m->grads, m->nparams);
  free(x);
  *out = m;
  return rc;
}

static void test_yearbook(const Dist *d, int64_t N) {
  float lref[64] = {0}, lgot[64] = {0};
  Model *ref = NULL, *got = NULL;
  CHECK_OK(yearbook_step(NULL, N, &ref, lref));
  CHECK_OK(yearbook_step(d, N, &got, lgot));
  if (!ref || !got) {
    model_free(ref);
    model_free(got);
    return;
  }
  const int64_t lo = N * d->rank / d->size, hi = N * (d->rank + 1) / d->size;
  double md = 0.0, w = 0.0, v;
  v = worst(lgot + lo * 2, lref + lo * 2, (hi - lo) * 2, 1e-5, 1e-4, &md);
  w = v > w ? v : w;
  v = worst(got->grads, ref->grads, ref->nparams, 1e-5, 1e-4, &md);
  w = v > w ? v : w;
  v = worst(got->buffers, ref->buffers, ref->nbuffers, 1e-5, 1e-4, &md);
  w = v > w ? v : w;
  if (d->rank == 0)
    printf("YearbookNet step, %lld samples on %d rank(s): max |diff| %.3g, worst scaled %.3g\n",
           (long long)N, d->size, md, w);
  CHECK(w <= 1.0);
  CHECK(same_on_all(d, got->buffers, (int)got->nbuffers));
  if (d->size == 1) CHECK(!memcmp(got->grads, ref->grads, (size_t)ref->nparams * sizeof(float)));
  model_free(ref);
  model_free(got);
}

/* Local failures inside a collective model: nobody hangs. */
static void test_model_failures(const Dist *d) {
  if (d->size < 2) return;
  Model *m = yearbook();
  CHECK(m != NULL);
  if (!m) return;
  model_set_dist(m, d);
  enum { N = 4 };
  float x[N * 256], logits[N * 2], dl[N * 2];
  fill(x, N * 256, 4, 1.0, 0.0);
  for (int i = 0; i < N * 2; i++) dl[i] = i % 2 ? 0.25f : -0.25f;
  const int last = d->rank == d->size - 1;
  /* the last rank's activations cannot be allocated: every rank fails, the
   * others with the last rank's message */
  const int64_t huge = (int64_t)1 << 40; /* never read: the allocation fails first */
  int rc = m->forward(m, x, last ? huge : N, logits, 1);
  CHECK(rc == MH_ERR);
  char msg[256];
  snprintf(msg, sizeof msg, "%s", mh_error());
  MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, d->size - 1, d->comm);
  CHECK(strstr(mh_error(), msg) != NULL); /* the last rank's own message, everywhere */
  /* backward on more samples than the last forward: that rank fails, the
   * others finish (the trainer's allreduce then tells them) */
  CHECK_OK(m->forward(m, x, N, logits, 1));
  rc = m->backward(m, x, dl, last ? N + 1 : N);
  CHECK_EQ_INT(rc, last ? MH_ERR : MH_OK);
  /* and the ranks are still in step */
  model_zero_grad(m);
  CHECK_OK(m->forward(m, x, N, logits, 1));
  CHECK_OK(m->backward(m, x, dl, N));
  CHECK(same_on_all(d, m->buffers, (int)m->nbuffers));
  model_free(m);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int size;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  for (int g = 1; g <= size && g <= 3; g++) {
    MPI_Comm comm;
    MPI_Comm_split(MPI_COMM_WORLD, g_rank < g ? 0 : MPI_UNDEFINED, g_rank, &comm);
    if (comm == MPI_COMM_NULL) continue;
    Dist d;
    CHECK_OK(dist_init(&d, comm));
    test_layer(&d, (Dims){3, 2, 3}, 0, 7);   /* slices 7, (3, 4), (2, 2, 3) */
    test_layer(&d, (Dims){3, 2, 3}, 1, 7);   /* with the fused ReLU */
    test_layer(&d, (Dims){5, 1, 1}, 0, 2);   /* BatchNorm1d; 3 ranks: an empty slice */
    test_layer(&d, (Dims){4, 8, 8}, 1, 64);  /* big enough for the threaded loops */
    test_eval_local(&d);
    test_errors(&d);
    test_yearbook(&d, 7);
    test_yearbook(&d, 2);                    /* 3 ranks: an empty slice */
    test_model_failures(&d);
    MPI_Comm_free(&comm);
  }
  if (size < 3 && g_rank == 0) printf("test_syncbn: run on 3 ranks to test 2 and 3\n");
  int fails = test_failures, all = 0;
  MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  int rc = 0;
  if (g_rank == 0) {
    test_failures = all;
    rc = test_finish("test_syncbn");
  }
  MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Finalize();
  return rc;
}

/* test_model_pass.c - the distributed model pass (train/model_pass) for
 * any rank count (registered for np 1, 2 and 3 in tests/pass.cmake).
 *
 * Rank 0 writes two synthetic stores (flat features for an MLP with
 * dropout, 3x16x16 images for YearbookNet with running statistics set by
 * hand, so that eval-mode BatchNorm matters); every rank opens them and
 * builds the same seeded model. Each pass asks for every output and
 * gathers to rank 0, which checks it three ways:
 *   1. bitwise against model_pass_batch run by rank 0 alone over the same
 *      batches: whichever rank ran a batch, its bytes are the same, so the
 *      result does not depend on the rank count;
 *   2. bitwise against a direct computation from the model and the
 *      library's own pieces (store_read_features_f32, forward(train = 0),
 *      embedding, loss_softmax_ce, model_last_layer_grads);
 *   3. within 1e-5 (absolute, relative above 1) against a hand-written
 *      reference in double: log-sum-exp loss, softmax - onehot gradient
 *      (x) [emb, 1], its L2 norm, and logits = W emb + b from the last
 *      layer's weights (which ties the embedding to the logits).
 * Batches: 157 rows of batch 20 (a partial last batch, an uneven split
 * over 3 ranks), 25 rows (fewer batches than ranks), caller-laid uneven
 * batches with an empty one, and no rows at all. Also: loss_sum and
 * correct against the per-sample outputs, the pass leaves BN running
 * statistics alone and differs from a training-mode forward, the visitor
 * path (two runs per batch over two weight sets, one batch skipped), the
 * gather + several runs error, BCE outputs of model_pass_batch (DLRM), and
 * model_pass_split. */
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/dist.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/store.h"
#include "data/synth.h"
#include "testutil.h"
#include "train/loss.h"
#include "train/model.h"
#include "train/model_pass.h"
#include "train/parallel.h"

#define ALL_OUTPUTS (PASS_LOGITS | PASS_PRED | PASS_LOSS | PASS_EMBED | PASS_GRAD | PASS_GRADNORM)
#define TOL 1e-5

static Model *make_model(const char *id, const char *yaml, const ModelShape *shape, uint64_t seed) {
  Model *m = model_from_yaml(id, yaml, shape, seed);
  if (!m) mh_fatal_last();
  return m;
}

static ModelShape store_shape(const Store *s) {
  ModelShape sh;
  memset(&sh, 0, sizeof sh);
  sh.ndims = s->schema.ndims;
  for (int i = 0; i < sh.ndims; i++) sh.dims[i] = s->schema.dims[i];
  sh.in_elems = s->feat_elems;
  sh.num_classes = s->schema.num_classes;
  return sh;
}

/* FNV-1a over bytes, continuing from h: a fingerprint of the gathered
 * arrays, printed so that runs at different rank counts can be compared
 * by eye (the checks below already imply they agree). */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 1099511628211ull;
  }
  return h;
}

/* ---- comparisons ------------------------------------------------------------ */

/* Bytes equal; on a mismatch name the first differing value. */
static void check_same(const char *what, const void *got, const void *want, int64_t n,
                       size_t elem) {
  test_checks++;
  if (n == 0 || memcmp(got, want, (size_t)n * elem) == 0) return;
  test_failures++;
  int64_t i = 0;
  while (memcmp((const char *)got + i * elem, (const char *)want + i * elem, elem) == 0) i++;
  fprintf(stderr, "%s: not bitwise equal; first difference at [%lld]\n", what, (long long)i);
}

static void same_f32(const char *what, const float *got, const float *want, int64_t n) {
  const int before = test_failures;
  check_same(what, got, want, n, sizeof(float));
  if (test_failures == before) return;
  for (int64_t i = 0; i < n; i++)
    if (memcmp(got + i, want + i, sizeof(float))) {
      fprintf(stderr, "  [%lld]: %.9g vs %.9g\n", (long long)i, got[i], want[i]);
      break;
    }
}

static void same_i32(const char *what, const int32_t *got, const int32_t *want, int64_t n) {
  const int before = test_failures;
  check_same(what, got, want, n, sizeof(int32_t));
  if (test_failures == before) return;
  for (int64_t i = 0; i < n; i++)
    if (got[i] != want[i]) {
      fprintf(stderr, "  [%lld]: %d vs %d\n", (long long)i, got[i], want[i]);
      break;
    }
}

/* |got - want| <= TOL * max(1, |want|) everywhere; prints the worst. */
static void check_close(const char *what, const float *got, const double *want, int64_t n) {
  double worst = 0.0;
  int64_t at = -1;
  for (int64_t i = 0; i < n; i++) {
    double err = fabs((double)got[i] - want[i]) / fmax(1.0, fabs(want[i]));
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  printf("  %-30s %7lld values, worst rel diff %.3g", what, (long long)n, worst);
  if (at >= 0) printf(" at [%lld]: %.9g vs %.9g", (long long)at, (double)got[at], want[at]);
  printf("\n");
  CHECK(worst <= TOL);
}

/* ---- the direct computation ------------------------------------------------- */

/* Everything rank 0 computes by itself for one list of batches. */
typedef struct {
  int64_t n;
  int K, D;
  int32_t *labels, *pred;
  float *logits, *loss, *embed, *grad;          /* from the library's pieces */
  double *loss_h, *grad_h, *gradnorm_h, *logits_h; /* by hand, in double */
  PassResult batch;                             /* model_pass_batch, concatenated */
  double *batch_loss;                           /* [nb]: sum of float losses, in order */
  int64_t correct;
} Direct;

static void direct_free(Direct *r) {
  free(r->labels);
  free(r->pred);
  free(r->logits);
  free(r->loss);
  free(r->embed);
  free(r->grad);
  free(r->loss_h);
  free(r->grad_h);
  free(r->gradnorm_h);
  free(r->logits_h);
  free(r->batch_loss);
  pass_result_free(&r->batch);
  memset(r, 0, sizeof *r);
}

static void *xcalloc(int64_t n, size_t elem) {
  void *p = calloc((size_t)n + 1, elem);
  if (!p) mh_fatal("out of memory");
  return p;
}

/* Append n values of one model_pass_batch output to dst at offset o. */
static void append(void *dst, const void *src, int64_t o, int64_t n, size_t elem) {
  if (src && n > 0) memcpy((char *)dst + o * elem, src, (size_t)n * elem);
}

/* The hand reference of one sample from its logits z [K] and embedding
 * e [D], with last-layer weights W [K, D] and bias b [K] at the end of
 * params. */
static void hand_sample(const float *params_tail, const float *z, const float *e, int K, int D,
                        int32_t y, double *loss, double *grad, double *norm, double *logits) {
  double mx = z[0];
  for (int k = 1; k < K; k++) mx = fmax(mx, z[k]);
  double se = 0.0;
  for (int k = 0; k < K; k++) se += exp((double)z[k] - mx);
  const double lse = mx + log(se);
  *loss = lse - z[y];
  double sq = 0.0;
  for (int k = 0; k < K; k++) {
    const double d = exp((double)z[k] - lse) - (k == y);
    for (int j = 0; j < D; j++) grad[k * (D + 1) + j] = d * e[j];
    grad[k * (D + 1) + D] = d;
    for (int j = 0; j <= D; j++) sq += grad[k * (D + 1) + j] * grad[k * (D + 1) + j];
    const float *W = params_tail, *b = params_tail + (int64_t)K * D;
    double acc = b[k];
    for (int j = 0; j < D; j++) acc += (double)W[k * D + j] * e[j];
    logits[k] = acc;
  }
  *norm = sqrt(sq);
}

static void direct_run(Model *m, Store *s, const int64_t *rows, const int64_t *start,
                       const int64_t *len, int64_t nb, Direct *r) {
  memset(r, 0, sizeof *r);
  const int K = m->num_outputs, D = m->embed_dim;
  const int64_t G = (int64_t)K * (D + 1);
  int64_t n = 0, maxlen = 0;
  for (int64_t b = 0; b < nb; b++) {
    n += len[b];
    if (len[b] > maxlen) maxlen = len[b];
  }
  r->n = n;
  r->K = K;
  r->D = D;
  r->labels = xcalloc(n, sizeof(int32_t));
  r->pred = xcalloc(n, sizeof(int32_t));
  r->logits = xcalloc(n * K, sizeof(float));
  r->loss = xcalloc(n, sizeof(float));
  r->embed = xcalloc(n * D, sizeof(float));
  r->grad = xcalloc(n * G, sizeof(float));
  r->loss_h = xcalloc(n, sizeof(double));
  r->grad_h = xcalloc(n * G, sizeof(double));
  r->gradnorm_h = xcalloc(n, sizeof(double));
  r->logits_h = xcalloc(n * K, sizeof(double));
  r->batch_loss = xcalloc(nb, sizeof(double));
  PassResult *q = &r->batch;
  q->labels = xcalloc(n, sizeof(int32_t));
  q->pred = xcalloc(n, sizeof(int32_t));
  q->logits = xcalloc(n * K, sizeof(float));
  q->loss = xcalloc(n, sizeof(float));
  q->embed = xcalloc(n * D, sizeof(float));
  q->grad = xcalloc(n * G, sizeof(float));
  q->gradnorm = xcalloc(n, sizeof(float));
  float *x = xcalloc(maxlen * s->feat_elems, sizeof(float));
  float *dl = xcalloc(maxlen * K, sizeof(float));
  const float *tail = m->params + m->nparams - ((int64_t)K * D + K);
  PassBuffers pb;
  memset(&pb, 0, sizeof pb);
  int64_t o = 0;
  for (int64_t b = 0; b < nb; b++) {
    const int64_t L = len[b];
    const int64_t *br = rows + start[b];
    for (int64_t i = 0; i < L; i++) r->labels[o + i] = s->labels[br[i]];
    CHECK_OK(store_read_features_f32(s, br, L, x));
    /* 1: the pass's own single-batch function on the same batch. */
    PassBatch pbo;
    CHECK_OK(model_pass_batch(m, x, r->labels + o, L, ALL_OUTPUTS, 0, &pb, &pbo));
    append(q->labels, pbo.labels, o, L, sizeof(int32_t));
    append(q->pred, pbo.pred, o, L, sizeof(int32_t));
    append(q->logits, pbo.logits, o * K, L * K, sizeof(float));
    append(q->loss, pbo.loss, o, L, sizeof(float));
    append(q->embed, pbo.embed, o * D, L * D, sizeof(float));
    append(q->grad, pbo.grad, o * G, L * G, sizeof(float));
    append(q->gradnorm, pbo.gradnorm, o, L, sizeof(float));
    /* 2: the model and the library's loss and gradients. */
    if (L > 0) {
      double sum = 0.0;
      CHECK_OK(m->forward(m, x, L, r->logits + o * K, 0));
      memcpy(r->embed + o * D, m->embedding(m), (size_t)(L * D) * sizeof(float));
      CHECK_OK(loss_softmax_ce(r->logits + o * K, r->labels + o, NULL, L, K, dl, &sum,
                               r->loss + o));
      CHECK_OK(model_last_layer_grads(m, dl, L, r->grad + o * G));
    }
    for (int64_t i = o; i < o + L; i++) {
      const float *z = r->logits + i * K;
      int best = 0;
      for (int k = 1; k < K; k++)
        if (z[k] > z[best]) best = k;
      r->pred[i] = best;
      r->correct += best == r->labels[i];
      r->batch_loss[b] += r->loss[i]; /* per batch, in order, like the pass */
      /* 3: by hand. */
      hand_sample(tail, z, r->embed + i * D, K, D, r->labels[i], &r->loss_h[i],
                  r->grad_h + i * G, &r->gradnorm_h[i], r->logits_h + i * K);
    }
    o += L;
  }
  pass_buffers_free(&pb);
  free(x);
  free(dl);
}

/* ---- one gathered pass -------------------------------------------------------- */

/* Run the pass over rows (fixed batches of B when start is NULL, else the
 * caller's nb batches) and check it on rank 0. */
static void check_pass(const Dist *d, const char *name, Model *m, Store *s, const int64_t *rows,
                       int64_t n, int64_t B, const int64_t *start, const int64_t *len,
                       int64_t nb) {
  PassRequest req;
  memset(&req, 0, sizeof req);
  req.rows = rows;
  req.n = n;
  req.batch_size = B;
  req.start = start;
  req.len = len;
  req.nbatches = nb;
  req.outputs = ALL_OUTPUTS;
  req.gather = 1;
  float *bufs_before = m->nbuffers ? xcalloc(m->nbuffers, sizeof(float)) : NULL;
  if (bufs_before) memcpy(bufs_before, m->buffers, (size_t)m->nbuffers * sizeof(float));
  PassResult res;
  CHECK_OK(model_pass_run(d, m, s, &req, &res));
  if (bufs_before)
    same_f32("BN running statistics after the pass", m->buffers, bufs_before, m->nbuffers);
  free(bufs_before);
  /* The sums are on every rank and the same everywhere. */
  double sums[2] = {res.loss_sum, (double)res.correct}, lo[2], hi[2];
  CHECK(MPI_Allreduce(sums, lo, 2, MPI_DOUBLE, MPI_MIN, d->comm) == MPI_SUCCESS);
  CHECK(MPI_Allreduce(sums, hi, 2, MPI_DOUBLE, MPI_MAX, d->comm) == MPI_SUCCESS);
  CHECK(lo[0] == hi[0] && lo[1] == hi[1]);
  if (d->rank != 0) {
    CHECK(res.logits == NULL && res.embed == NULL); /* gathered to rank 0 only */
    pass_result_free(&res);
    return;
  }
  /* The batches, laid out the way the header says. */
  int64_t fixed_nb = start ? nb : (n + B - 1) / B;
  int64_t *st = xcalloc(fixed_nb, sizeof(int64_t)), *ln = xcalloc(fixed_nb, sizeof(int64_t));
  for (int64_t b = 0; b < fixed_nb; b++) {
    st[b] = start ? start[b] : b * B;
    ln[b] = start ? len[b] : (n - b * B < B ? n - b * B : B);
  }
  Direct r;
  direct_run(m, s, rows, st, ln, fixed_nb, &r);
  const int K = r.K, D = r.D;
  const int64_t N = r.n, G = (int64_t)K * (D + 1);
  printf("%s: %s, %lld rows in %lld batches on %d ranks\n", name, m->type->id, (long long)N,
         (long long)fixed_nb, d->size);
  CHECK_EQ_INT(res.n, N);
  CHECK_EQ_INT(res.K, K);
  CHECK_EQ_INT(res.D, D);
  if (res.n == N) {
    const PassResult *q = &r.batch;
    /* 1: rank count does not matter. */
    same_i32("labels vs model_pass_batch", res.labels, q->labels, N);
    same_i32("pred vs model_pass_batch", res.pred, q->pred, N);
    same_f32("logits vs model_pass_batch", res.logits, q->logits, N * K);
    same_f32("loss vs model_pass_batch", res.loss, q->loss, N);
    same_f32("embed vs model_pass_batch", res.embed, q->embed, N * D);
    same_f32("grad vs model_pass_batch", res.grad, q->grad, N * G);
    same_f32("gradnorm vs model_pass_batch", res.gradnorm, q->gradnorm, N);
    /* 2: the model's and library's own outputs. */
    same_i32("labels vs the store", res.labels, r.labels, N);
    same_i32("pred vs argmax of forward", res.pred, r.pred, N);
    same_f32("logits vs forward(train=0)", res.logits, r.logits, N * K);
    same_f32("embed vs m->embedding", res.embed, r.embed, N * D);
    same_f32("loss vs loss_softmax_ce", res.loss, r.loss, N);
    same_f32("grad vs model_last_layer_grads", res.grad, r.grad, N * G);
    /* 3: by hand. */
    check_close("loss vs log-sum-exp", res.loss, r.loss_h, N);
    check_close("grad vs (p - onehot) x [e, 1]", res.grad, r.grad_h, N * G);
    check_close("gradnorm vs ||grad||", res.gradnorm, r.gradnorm_h, N);
    check_close("logits vs W emb + b", res.logits, r.logits_h, N * K);
    /* The sums: bitwise the batch-by-batch order, close to a plain sum. */
    double by_batch = 0.0, plain = 0.0;
    for (int64_t b = 0; b < fixed_nb; b++) by_batch += r.batch_loss[b];
    for (int64_t i = 0; i < N; i++) plain += r.loss_h[i];
    int64_t correct = 0;
    for (int64_t i = 0; i < N; i++) correct += res.pred[i] == res.labels[i];
    CHECK(res.loss_sum == by_batch);
    CHECK_NEAR(res.loss_sum, plain, 1e-6 * fmax(1.0, fabs(plain)));
    CHECK_EQ_INT(res.correct, correct);
    CHECK_EQ_INT(res.correct, r.correct);
    uint64_t h = 14695981039346656037ull;
    h = fnv1a(h, res.labels, (size_t)N * sizeof(int32_t));
    h = fnv1a(h, res.pred, (size_t)N * sizeof(int32_t));
    h = fnv1a(h, res.logits, (size_t)(N * K) * sizeof(float));
    h = fnv1a(h, res.loss, (size_t)N * sizeof(float));
    h = fnv1a(h, res.embed, (size_t)(N * D) * sizeof(float));
    h = fnv1a(h, res.grad, (size_t)(N * G) * sizeof(float));
    h = fnv1a(h, res.gradnorm, (size_t)N * sizeof(float));
    h = fnv1a(h, &res.loss_sum, sizeof res.loss_sum);
    printf("  loss_sum %.17g correct %lld fnv1a %016llx\n", res.loss_sum, (long long)res.correct,
           (unsigned long long)h);
  }
  direct_free(&r);
  free(st);
  free(ln);
  pass_result_free(&res);
}

/* ---- the visitor path ------------------------------------------------------------ */

enum { VIS_RUNS = 2 };

typedef struct {
  const float *w[VIS_RUNS]; /* params of run r */
  int64_t skip;             /* the batch with 0 runs */
  int bad;                  /* a call out of order */
  /* per batch and run, [b * VIS_RUNS + r]: */
  double *loss, *embed, *calls, *rows, *correct;
} Visit;

static int vis_runs(void *ctx, int64_t b) {
  const Visit *v = ctx;
  return b == v->skip ? 0 : VIS_RUNS;
}

static int vis_prepare(void *ctx, int64_t b, int r, Model *m) {
  Visit *v = ctx;
  if (b == v->skip || r < 0 || r >= VIS_RUNS) v->bad = 1;
  else memcpy(m->params, v->w[r], (size_t)m->nparams * sizeof(float));
  return MH_OK;
}

static int vis_consume(void *ctx, int64_t b, int r, const PassBatch *out) {
  Visit *v = ctx;
  if (b == v->skip || r < 0 || r >= VIS_RUNS || !out->loss || !out->embed || !out->pred) {
    v->bad = 1;
    return MH_OK;
  }
  const int64_t j = b * VIS_RUNS + r;
  v->calls[j] += 1;
  v->rows[j] += (double)out->n;
  for (int64_t i = 0; i < out->n; i++) {
    v->loss[j] += out->loss[i];
    v->correct[j] += out->pred[i] == out->labels[i];
  }
  for (int64_t i = 0; i < out->n * out->D; i++) v->embed[j] += out->embed[i];
  return MH_OK;
}

static void test_visitor(const Dist *d, Model *m, Store *s, const int64_t *rows, int64_t n,
                         int64_t B) {
  const int64_t nb = (n + B - 1) / B, np = m->nparams;
  float *w0 = xcalloc(np, sizeof(float)), *w1 = xcalloc(np, sizeof(float));
  memcpy(w0, m->params, (size_t)np * sizeof(float));
  Rng rng;
  rng_seed(&rng, 99);
  m->init(m, &rng); /* the second weight set */
  memcpy(w1, m->params, (size_t)np * sizeof(float));
  memcpy(m->params, w0, (size_t)np * sizeof(float));
  Visit v = {{w0, w1}, 2, 0, NULL, NULL, NULL, NULL, NULL};
  double *acc = xcalloc(5 * nb * VIS_RUNS, sizeof(double));
  v.loss = acc;
  v.embed = acc + nb * VIS_RUNS;
  v.calls = acc + 2 * nb * VIS_RUNS;
  v.rows = acc + 3 * nb * VIS_RUNS;
  v.correct = acc + 4 * nb * VIS_RUNS;
  PassVisitor pv = {&v, vis_runs, vis_prepare, vis_consume};
  PassRequest req;
  memset(&req, 0, sizeof req);
  req.rows = rows;
  req.n = n;
  req.batch_size = B;
  req.outputs = PASS_LOSS | PASS_PRED | PASS_EMBED;
  req.visit = &pv;
  PassResult res;
  CHECK_OK(model_pass_run(d, m, s, &req, &res));
  CHECK_EQ_INT(v.bad, 0);
  /* Each (batch, run) was consumed on exactly one rank: add them up. */
  CHECK_OK(dist_allreduce_sum_f64(d, acc, 5 * nb * VIS_RUNS));
  /* The direct computation, run by run, on every rank. */
  float *x = xcalloc(B * s->feat_elems, sizeof(float)), *logits = xcalloc(B * m->num_outputs, sizeof(float));
  float *loss = xcalloc(B, sizeof(float));
  int32_t *y = xcalloc(B, sizeof(int32_t));
  double want_sum = 0.0;
  int64_t want_correct = 0;
  int ok = 1;
  for (int64_t b = 0; b < nb; b++) {
    const int64_t L = n - b * B < B ? n - b * B : B;
    CHECK_OK(store_read_features_f32(s, rows + b * B, L, x));
    for (int64_t i = 0; i < L; i++) y[i] = s->labels[rows[b * B + i]];
    for (int r = 0; r < VIS_RUNS; r++) {
      const int64_t j = b * VIS_RUNS + r;
      if (b == v.skip) {
        ok &= v.calls[j] == 0 && v.rows[j] == 0;
        continue;
      }
      memcpy(m->params, v.w[r], (size_t)np * sizeof(float));
      double sum = 0.0, lsum = 0.0, esum = 0.0, corr = 0.0;
      CHECK_OK(m->forward(m, x, L, logits, 0));
      CHECK_OK(loss_softmax_ce(logits, y, NULL, L, m->num_outputs, NULL, &sum, loss));
      const float *e = m->embedding(m);
      for (int64_t i = 0; i < L; i++) {
        lsum += loss[i];
        int best = 0;
        for (int k = 1; k < m->num_outputs; k++)
          if (logits[i * m->num_outputs + k] > logits[i * m->num_outputs + best]) best = k;
        corr += best == y[i];
      }
      for (int64_t i = 0; i < L * m->embed_dim; i++) esum += e[i];
      if (!(v.calls[j] == 1 && v.rows[j] == (double)L && v.loss[j] == lsum &&
            v.embed[j] == esum && v.correct[j] == corr)) {
        ok = 0;
        fprintf(stderr,
                "visitor batch %lld run %d: calls %g rows %g loss %.17g embed %.17g correct %g; "
                "want 1 %lld %.17g %.17g %g\n",
                (long long)b, r, v.calls[j], v.rows[j], v.loss[j], v.embed[j], v.correct[j],
                (long long)L, lsum, esum, corr);
      }
      if (r == 0) { /* the pass's sums are of the first run */
        want_sum += lsum;
        want_correct += (int64_t)corr;
      }
    }
  }
  CHECK(ok);
  CHECK(res.loss_sum == want_sum);
  CHECK_EQ_INT(res.correct, want_correct);
  if (d->rank == 0)
    printf("visitor: %lld batches x %d runs (batch %lld skipped), loss_sum %.17g correct %lld\n",
           (long long)nb, VIS_RUNS, (long long)v.skip, res.loss_sum, (long long)res.correct);
  pass_result_free(&res);
  /* Gathering needs one run per batch: an error on every rank, not a hang. */
  req.gather = 1;
  CHECK(model_pass_run(d, m, s, &req, &res) == MH_ERR);
  CHECK(strstr(mh_error(), "one run per batch") != NULL);
  mh_error_clear();
  memcpy(m->params, w0, (size_t)np * sizeof(float));
  free(w0);
  free(w1);
  free(acc);
  free(x);
  free(logits);
  free(loss);
  free(y);
}

/* ---- BCE on one logit (model_pass_batch, no store) ---------------------------------- */

static void test_bce_batch(void) {
  const ModelShape shape = {1, {5, 0, 0, 0}, 5, 2, 0};
  Model *m = make_model("DLRM",
                        "{num_dense_features: 3, num_sparse_features: 2, bottom_mlp: [4, 3], "
                        "top_mlp: [6], num_embeddings_per_feature: [5, 4]}",
                        &shape, 11);
  CHECK_EQ_INT(m->num_outputs, 1);
  enum { N = 37 };
  float x[N * 5];
  int32_t y[N];
  Rng rng;
  rng_seed(&rng, 12);
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < 5; j++)
      x[i * 5 + j] = j < 3 ? (float)(3.0 * rng_normal(&rng)) : (float)rng_below(&rng, 4);
    y[i] = (int32_t)rng_below(&rng, 2);
  }
  PassBuffers pb;
  memset(&pb, 0, sizeof pb);
  PassBatch out;
  CHECK_OK(model_pass_batch(m, x, y, N, ALL_OUTPUTS, 1, &pb, &out));
  const int D = m->embed_dim;
  CHECK(D > 0 && out.D == D && out.K == 1 && out.n == N);
  double loss_h[N], norm_h[N], *grad_h = xcalloc((int64_t)N * (D + 1), sizeof(double));
  double logit_h[N];
  int pred_ok = 1;
  const float *tail = m->params + m->nparams - (D + 1);
  for (int i = 0; i < N; i++) {
    const double z = out.logits[i];
    loss_h[i] = fmax(z, 0.0) - y[i] * z + log1p(exp(-fabs(z)));
    const double dz = 1.0 / (1.0 + exp(-z)) - y[i];
    double sq = dz * dz, acc = tail[D];
    for (int j = 0; j < D; j++) {
      grad_h[i * (D + 1) + j] = dz * out.embed[i * D + j];
      sq += grad_h[i * (D + 1) + j] * grad_h[i * (D + 1) + j];
      acc += (double)tail[j] * out.embed[i * D + j];
    }
    grad_h[i * (D + 1) + D] = dz;
    norm_h[i] = sqrt(sq);
    logit_h[i] = acc;
    pred_ok &= out.pred[i] == (out.logits[i] > 0.0f);
  }
  printf("BCE (DLRM, model_pass_batch), %d samples:\n", N);
  check_close("loss vs log(1 + e^z) - y z", out.loss, loss_h, N);
  check_close("grad vs (sigmoid - y) x [e, 1]", out.grad, grad_h, (int64_t)N * (D + 1));
  check_close("gradnorm vs ||grad||", out.gradnorm, norm_h, N);
  check_close("logit vs w emb + b", out.logits, logit_h, N);
  CHECK(pred_ok);
  /* An empty batch is fine and yields nothing. */
  CHECK_OK(model_pass_batch(m, x, y, 0, ALL_OUTPUTS, 1, &pb, &out));
  CHECK_EQ_INT(out.n, 0);
  free(grad_h);
  pass_buffers_free(&pb);
  model_free(m);
}

/* ---- the split ---------------------------------------------------------------------- */

static void check_split(const int64_t *cost, int64_t nb, int nranks) {
  int *owner = xcalloc(nb, sizeof(int));
  model_pass_split(cost, nb, nranks, owner);
  int64_t total = 0, maxc = 0, *per = xcalloc(nranks, sizeof(int64_t));
  int ok = 1;
  for (int64_t b = 0; b < nb; b++) {
    ok &= owner[b] >= 0 && owner[b] < nranks;
    if (b > 0) ok &= owner[b] >= owner[b - 1]; /* contiguous, nondecreasing */
    if (owner[b] >= 0 && owner[b] < nranks) per[owner[b]] += cost[b];
    total += cost[b];
    if (cost[b] > maxc) maxc = cost[b];
  }
  /* Each rank's share is within one batch of an equal share. */
  for (int r = 0; r < nranks; r++)
    ok &= fabs((double)per[r] - (double)total / nranks) <= (double)maxc;
  if (!ok) {
    fprintf(stderr, "split of %lld batches over %d ranks:", (long long)nb, nranks);
    for (int64_t b = 0; b < nb; b++) fprintf(stderr, " %lld:%d", (long long)cost[b], owner[b]);
    fprintf(stderr, "\n");
  }
  CHECK(ok);
  free(owner);
  free(per);
}

static void test_split(void) {
  const int64_t four[4] = {5, 5, 5, 5};
  int owner[4];
  model_pass_split(four, 4, 2, owner);
  CHECK(owner[0] == 0 && owner[1] == 0 && owner[2] == 1 && owner[3] == 1);
  model_pass_split(four, 4, 4, owner);
  CHECK(owner[0] == 0 && owner[1] == 1 && owner[2] == 2 && owner[3] == 3);
  const int64_t zero[3] = {0, 0, 0};
  model_pass_split(zero, 3, 3, owner); /* nothing to share: all on rank 0 */
  CHECK(owner[0] == 0 && owner[1] == 0 && owner[2] == 0);
  Rng rng;
  rng_seed(&rng, 7);
  int64_t cost[300];
  for (int t = 0; t < 200; t++) {
    const int64_t nb = 1 + (int64_t)rng_below(&rng, 300);
    const int nranks = 1 + (int)rng_below(&rng, 16);
    for (int64_t b = 0; b < nb; b++)
      cost[b] = rng_below(&rng, 5) == 0 ? 0 : 1 + (int64_t)rng_below(&rng, 1000);
    check_split(cost, nb, nranks);
  }
}

/* ---- stores and main ---------------------------------------------------------------- */

/* Rank 0 writes DIR/flat and DIR/image (2 shards each), everyone opens
 * their training splits. */
static void open_stores(const Dist *d, Store *flat, Store *image) {
  char dir[64], sub[2][128];
  snprintf(dir, sizeof dir, "model_pass_np%d", d->size); /* np tests may run at once */
  int rc = MH_OK;
  if (d->rank == 0) {
    const char *root = test_tmpdir(dir);
    snprintf(dir, sizeof dir, "%s", root);
    SynthParams p;
    synth_defaults(&p);
    p.years = 2;
    p.years_per_shard = 1;
    p.train_per_year = 100;
    p.test_per_year = 5;
    snprintf(sub[0], sizeof sub[0], "%s/flat", dir);
    rc = synth_generate(&p, sub[0], NULL);
    p.features = 3 * 16 * 16;
    p.image[0] = 3;
    p.image[1] = p.image[2] = 16;
    snprintf(sub[1], sizeof sub[1], "%s/image", dir);
    if (!rc) rc = synth_generate(&p, sub[1], NULL);
  }
  if (dist_agree(d, rc)) mh_fatal_last();
  snprintf(sub[0], sizeof sub[0], "tmp_model_pass_np%d/flat/train", d->size);
  snprintf(sub[1], sizeof sub[1], "tmp_model_pass_np%d/image/train", d->size);
  rc = store_open(sub[0], flat);
  if (!rc) rc = store_open(sub[1], image);
  if (dist_agree(d, rc)) mh_fatal_last();
}

/* n rows drawn with repeats, in no particular order. */
static int64_t *pick_rows(const Store *s, int64_t n, uint64_t seed) {
  int64_t *rows = xcalloc(n, sizeof(int64_t));
  Rng rng;
  rng_seed(&rng, seed);
  for (int64_t i = 0; i < n; i++) rows[i] = (int64_t)rng_below(&rng, (uint64_t)s->n);
  return rows;
}

int main(int argc, char **argv) {
  int provided = 0; /* as main.c: only the main thread calls MPI */
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return 1;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  mh_hdf5_quiet();
  Dist d;
  if (dist_init(&d, MPI_COMM_WORLD)) mh_fatal_last();
  /* One thread: bit-for-bit agreement holds at a fixed thread count, and
   * 3 ranks share 2 cores. */
  par_init(1);
  if (d.rank == 0) test_split();

  Store flat, image;
  open_stores(&d, &flat, &image);
  const int64_t B = 20;

  /* MLP with dropout: eval mode must switch it off. */
  ModelShape fs = store_shape(&flat);
  Model *mlp = make_model("MLP", "{hidden_sizes: [32, 16], dropout: 0.5}", &fs, 3);
  int64_t *rows = pick_rows(&flat, 157, 5);
  check_pass(&d, "mlp 157/20", mlp, &flat, rows, 157, B, NULL, NULL, 0);
  check_pass(&d, "mlp 25/20", mlp, &flat, rows, 25, B, NULL, NULL, 0);
  check_pass(&d, "mlp 0 rows", mlp, &flat, rows, 0, B, NULL, NULL, 0);
  {
    /* Caller-laid batches of uneven sizes, one of them empty. */
    const int64_t start[6] = {0, 13, 13, 53, 54, 100};
    const int64_t len[6] = {13, 0, 40, 1, 46, 57};
    check_pass(&d, "mlp laid out", mlp, &flat, rows, 157, 0, start, len, 6);
  }
  test_visitor(&d, mlp, &flat, rows, 157, B);

  /* YearbookNet with running statistics and affine parameters set by hand. */
  ModelShape is = store_shape(&image);
  Model *ybn = make_model("YearbookNet", "{}", &is, 4);
  Rng rng;
  rng_seed(&rng, 6);
  for (int bn = 0; bn < 4; bn++) {
    float *mean = ybn->buffers + bn * 64, *var = mean + 32;
    for (int c = 0; c < 32; c++) {
      mean[c] = (float)(0.3 * rng_normal(&rng));
      var[c] = (float)(0.2 + 2.0 * rng_uniform(&rng));
    }
  }
  int64_t *irows = pick_rows(&image, 157, 8);
  check_pass(&d, "yearbook 157/20", ybn, &image, irows, 157, B, NULL, NULL, 0);
  check_pass(&d, "yearbook 25/20", ybn, &image, irows, 25, B, NULL, NULL, 0);
  if (d.rank == 0) {
    /* Training mode (batch statistics) gives other logits: the pass did
     * use the running ones. Its statistics update is undone. */
    float *saved = xcalloc(ybn->nbuffers, sizeof(float));
    memcpy(saved, ybn->buffers, (size_t)ybn->nbuffers * sizeof(float));
    float *x = xcalloc(B * image.feat_elems, sizeof(float));
    float lt[20 * 4], le[20 * 4];
    CHECK_OK(store_read_features_f32(&image, irows, B, x));
    CHECK_OK(ybn->forward(ybn, x, B, le, 0));
    CHECK_OK(ybn->forward(ybn, x, B, lt, 1));
    double diff = 0.0;
    for (int i = 0; i < B * ybn->num_outputs; i++) diff = fmax(diff, fabs(lt[i] - le[i]));
    printf("yearbook: max |train-mode - eval-mode logits| = %.3g\n", diff);
    CHECK(diff > 1e-3);
    memcpy(ybn->buffers, saved, (size_t)ybn->nbuffers * sizeof(float));
    free(saved);
    free(x);
  }
  if (d.rank == 0) test_bce_batch();

  free(rows);
  free(irows);
  model_free(mlp);
  model_free(ybn);
  store_close(&flat);
  store_close(&image);
  /* The verdict of every rank decides the exit code. */
  int mine = test_failures, all = 0;
  if (MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS) all = 1;
  int rc = d.rank == 0 ? test_finish("test_model_pass") : 0;
  if (all && !rc) rc = 1;
  MPI_Finalize();
  return rc;
}

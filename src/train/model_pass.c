/* model_pass.c - see model_pass.h. */
#include "train/model_pass.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/progress.h"
#include "core/timing.h"
#include "data/reader.h"
#include "train/gpu.h"
#include "train/loss.h"

/* ---- one batch, no communication ---------------------------------------- */

void pass_buffers_free(PassBuffers *b) {
  free(b->logits);
  free(b->loss);
  free(b->embed);
  free(b->grad);
  free(b->gradnorm);
  free(b->dlogits);
  free(b->pred);
  free(b->hemb);
  gpu_free(b->dx);
  gpu_free(b->dlog);
  memset(b, 0, sizeof *b);
}

static int pass_buffers_reserve(PassBuffers *b, const Model *m, int64_t n, unsigned outputs) {
  if (n <= b->cap && (outputs & ~b->outputs) == 0 && m->num_outputs == b->K &&
      m->embed_dim == b->D)
    return MH_OK;
  /* A wider model (another one through the same buffers) needs them anew. */
  int64_t cap = n > b->cap ? n : b->cap;
  pass_buffers_free(b);
  const int64_t K = m->num_outputs, D = m->embed_dim;
  b->logits = mh_malloc((size_t)(cap * K + 1) * sizeof(float));
  b->dlogits = mh_malloc((size_t)(cap * K + 1) * sizeof(float));
  b->pred = mh_malloc((size_t)(cap + 1) * sizeof(int32_t));
  b->loss = mh_malloc((size_t)(cap + 1) * sizeof(float));
  b->gradnorm = mh_malloc((size_t)(cap + 1) * sizeof(float));
  if (outputs & PASS_EMBED) b->embed = mh_malloc((size_t)(cap * D + 1) * sizeof(float));
  if (outputs & PASS_GRAD) b->grad = mh_malloc((size_t)(cap * K * (D + 1) + 1) * sizeof(float));
  if (m->gpu && D > 0 && !(b->hemb = mh_malloc((size_t)(cap * D + 1) * sizeof(float)))) {
    pass_buffers_free(b);
    return MH_ERR;
  }
  if (!b->logits || !b->dlogits || !b->pred || !b->loss || !b->gradnorm ||
      ((outputs & PASS_EMBED) && !b->embed) || ((outputs & PASS_GRAD) && !b->grad)) {
    pass_buffers_free(b);
    return MH_ERR;
  }
  b->cap = cap;
  b->outputs = outputs;
  b->K = m->num_outputs;
  b->D = m->embed_dim;
  return MH_OK;
}

int model_pass_batch(Model *m, const float *x, const int32_t *labels, int64_t n, unsigned outputs,
                     int bce, PassBuffers *b, PassBatch *out) {
  const int K = m->num_outputs, D = m->embed_dim;
  const int need_emb = (outputs & (PASS_EMBED | PASS_GRAD | PASS_GRADNORM)) != 0;
  if (need_emb && (D <= 0 || !m->embedding))
    return mh_errorf("model %s has no penultimate-layer embedding, which the pass was asked for "
                     "(embeddings or last-layer gradients)", m->type->id);
  MH_TRY(pass_buffers_reserve(b, m, n, outputs));
  memset(out, 0, sizeof *out);
  out->n = n;
  out->K = K;
  out->D = D;
  out->labels = labels;
  if (n == 0) return MH_OK;
  const float *emb = NULL;
  if (m->gpu) {
    /* upload, forward on the device, download what the host needs */
    const int64_t xb = n * m->shape.in_elems * (int64_t)sizeof(float);
    MH_TRY(gpu_grow((void **)&b->dx, &b->dx_cap, xb));
    MH_TRY(gpu_grow((void **)&b->dlog, &b->dlog_cap, n * K * (int64_t)sizeof(float)));
    MH_TRY(gpu_upload(b->dx, x, (size_t)xb));
    MH_TRY(m->forward(m, b->dx, n, b->dlog, 0));
    MH_TRY(gpu_download(b->logits, b->dlog, (size_t)(n * K) * sizeof(float)));
    if (need_emb) {
      MH_TRY(gpu_download(b->hemb, m->embedding(m), (size_t)(n * D) * sizeof(float)));
      emb = b->hemb;
    }
  } else {
    MH_TRY(m->forward(m, x, n, b->logits, 0));
    if (need_emb) emb = m->embedding(m);
  }
  /* Loss and its gradient w.r.t. the logits (the last-layer gradients need
   * the latter): per sample, unweighted. */
  if (outputs & (PASS_LOSS | PASS_GRAD | PASS_GRADNORM)) {
    double sum = 0.0;
    if (bce) MH_TRY(loss_bce_logits(b->logits, labels, NULL, n, b->dlogits, &sum, b->loss));
    else MH_TRY(loss_softmax_ce(b->logits, labels, NULL, n, K, b->dlogits, &sum, b->loss));
  }
  if (outputs & PASS_LOGITS) out->logits = b->logits;
  if (outputs & PASS_LOSS) out->loss = b->loss;
  if (outputs & PASS_PRED) {
    for (int64_t i = 0; i < n; i++) {
      const float *z = b->logits + i * K;
      int best = 0;
      if (K == 1) {
        best = z[0] > 0.0f;
      } else {
        for (int k = 1; k < K; k++)
          if (z[k] > z[best]) best = k;
      }
      b->pred[i] = best;
    }
    out->pred = b->pred;
  }
  if (outputs & PASS_EMBED) {
    memcpy(b->embed, emb, (size_t)(n * D) * sizeof(float));
    out->embed = b->embed;
  }
  if (outputs & PASS_GRAD) {
    last_layer_grads(emb, K, D, b->dlogits, n, b->grad);
    out->grad = b->grad;
  }
  if (outputs & PASS_GRADNORM) {
    /* ||d (x) [e, 1]|| = ||d|| * sqrt(||e||^2 + 1): no need to build it. */
    for (int64_t i = 0; i < n; i++) {
      double dd = 0.0, ee = 1.0;
      for (int k = 0; k < K; k++) dd += (double)b->dlogits[i * K + k] * b->dlogits[i * K + k];
      for (int e = 0; e < D; e++) ee += (double)emb[i * D + e] * emb[i * D + e];
      b->gradnorm[i] = (float)sqrt(dd * ee);
    }
    out->gradnorm = b->gradnorm;
  }
  return MH_OK;
}

/* ---- the split ------------------------------------------------------------ */

void model_pass_split(const int64_t *cost, int64_t nbatches, int nranks, int *owner) {
  int64_t total = 0;
  for (int64_t b = 0; b < nbatches; b++) total += cost[b];
  /* A batch goes to the rank whose equal share of the cost holds its first
   * unit of cost. */
  int64_t before = 0;
  for (int64_t b = 0; b < nbatches; b++) {
    __extension__ __int128 num = (__int128)before * nranks;
    int r = total > 0 ? (int)(num / total) : 0;
    owner[b] = r < nranks ? r : nranks - 1;
    before += cost[b];
  }
}

/* ---- the distributed pass --------------------------------------------------- */

void pass_result_free(PassResult *r) {
  free(r->labels);
  free(r->logits);
  free(r->pred);
  free(r->loss);
  free(r->embed);
  free(r->grad);
  free(r->gradnorm);
  memset(r, 0, sizeof *r);
}

/* Per-sample outputs of this rank's batches, appended in order. */
typedef struct {
  int64_t n, cap;
  int32_t *labels, *pred;
  float *logits, *loss, *embed, *grad, *gradnorm;
} Local;

static void local_free(Local *l) {
  free(l->labels);
  free(l->pred);
  free(l->logits);
  free(l->loss);
  free(l->embed);
  free(l->grad);
  free(l->gradnorm);
}

/* Widths (values per sample) of the per-sample outputs, in one table so
 * that allocation, append and gather cannot disagree. */
typedef struct {
  unsigned flag;
  size_t elem;
  int64_t width;
} Column;

static int columns(unsigned outputs, int K, int D, Column col[7]) {
  int n = 0;
  col[n++] = (Column){0, sizeof(int32_t), 1}; /* labels, always */
  if (outputs & PASS_LOGITS) col[n++] = (Column){PASS_LOGITS, sizeof(float), K};
  if (outputs & PASS_PRED) col[n++] = (Column){PASS_PRED, sizeof(int32_t), 1};
  if (outputs & PASS_LOSS) col[n++] = (Column){PASS_LOSS, sizeof(float), 1};
  if (outputs & PASS_EMBED) col[n++] = (Column){PASS_EMBED, sizeof(float), D};
  if (outputs & PASS_GRAD) col[n++] = (Column){PASS_GRAD, sizeof(float), (int64_t)K * (D + 1)};
  if (outputs & PASS_GRADNORM) col[n++] = (Column){PASS_GRADNORM, sizeof(float), 1};
  return n;
}

static void **local_slot(Local *l, unsigned flag) {
  switch (flag) {
    case PASS_LOGITS: return (void **)&l->logits;
    case PASS_PRED: return (void **)&l->pred;
    case PASS_LOSS: return (void **)&l->loss;
    case PASS_EMBED: return (void **)&l->embed;
    case PASS_GRAD: return (void **)&l->grad;
    case PASS_GRADNORM: return (void **)&l->gradnorm;
    default: return (void **)&l->labels;
  }
}

static void **result_slot(PassResult *r, unsigned flag) {
  switch (flag) {
    case PASS_LOGITS: return (void **)&r->logits;
    case PASS_PRED: return (void **)&r->pred;
    case PASS_LOSS: return (void **)&r->loss;
    case PASS_EMBED: return (void **)&r->embed;
    case PASS_GRAD: return (void **)&r->grad;
    case PASS_GRADNORM: return (void **)&r->gradnorm;
    default: return (void **)&r->labels;
  }
}

static const void *batch_slot(const PassBatch *b, unsigned flag) {
  switch (flag) {
    case PASS_LOGITS: return b->logits;
    case PASS_PRED: return b->pred;
    case PASS_LOSS: return b->loss;
    case PASS_EMBED: return b->embed;
    case PASS_GRAD: return b->grad;
    case PASS_GRADNORM: return b->gradnorm;
    default: return b->labels;
  }
}

static int local_alloc(Local *l, const Column *col, int ncol, int64_t n) {
  memset(l, 0, sizeof *l);
  l->cap = n;
  for (int c = 0; c < ncol; c++) {
    void **p = local_slot(l, col[c].flag);
    *p = mh_malloc((size_t)(n * col[c].width + 1) * col[c].elem);
    if (!*p) return MH_ERR;
  }
  return MH_OK;
}

static void local_append(Local *l, const Column *col, int ncol, const PassBatch *b) {
  for (int c = 0; c < ncol; c++) {
    char *dst = *local_slot(l, col[c].flag);
    memcpy(dst + (size_t)(l->n * col[c].width) * col[c].elem, batch_slot(b, col[c].flag),
           (size_t)(b->n * col[c].width) * col[c].elem);
  }
  l->n += b->n;
}

/* Rank 0 gets every rank's Local concatenated in rank order, which is row
 * order since each rank owns a contiguous run of batches. */
static int gather(const Dist *d, const Local *l, const Column *col, int ncol, int64_t total,
                  PassResult *res) {
  int rc = MH_OK;
  for (int c = 0; d->rank == 0 && !rc && c < ncol; c++) {
    void **dst = result_slot(res, col[c].flag);
    *dst = mh_malloc((size_t)(total * col[c].width + 1) * col[c].elem);
    if (!*dst) rc = MH_ERR;
  }
  MH_TRY(dist_agree(d, rc)); /* before the first gather: nobody waits for rank 0 */
  for (int c = 0; c < ncol; c++)
    MH_TRY(dist_gather_bytes(d, *local_slot((Local *)l, col[c].flag), l->n * col[c].width,
                             col[c].elem, *result_slot(res, col[c].flag), NULL));
  return MH_OK;
}

/* This rank's batches through the reader: outputs to the visitor and to
 * the local arrays; per-batch sums into sums[2 * b]. */
static int run_mine(Model *m, Store *s, const PassRequest *req, const int64_t *start,
                    const int64_t *len, const int64_t *mine, int64_t nmine, Local *local,
                    const Column *col, int ncol, double *sums) {
  const PassVisitor *v = req->visit;
  const ReaderConfig rcfg = {INT64_MAX, 0, 1, 1};
  PassBuffers pb;
  memset(&pb, 0, sizeof pb);
  Reader *rd = NULL;
  int rc = reader_create(s, &rcfg, 0, 1, &rd);
  if (!rc) rc = model_push(m); /* a GPU model runs with the host's current weights */
  int64_t *bs = mh_malloc((size_t)(nmine + 1) * sizeof(int64_t));
  int64_t *bl = mh_malloc((size_t)(nmine + 1) * sizeof(int64_t));
  if (!bs || !bl) rc = MH_ERR;
  for (int64_t j = 0; !rc && j < nmine; j++) {
    bs[j] = start[mine[j]];
    bl[j] = len[mine[j]];
  }
  if (!rc && nmine > 0) rc = reader_start_batches(rd, req->rows, bs, bl, nmine);
  Progress prog;
  progress_begin(&prog, req->progress, "batches", nmine);
  for (int64_t j = 0; !rc && j < nmine; j++) {
    Batch b;
    int more = reader_next(rd, &b);
    if (more <= 0) {
      rc = more < 0 ? MH_ERR : mh_errorf("model pass: the reader ended after %lld of %lld batches",
                                         (long long)j, (long long)nmine);
      break;
    }
    const int64_t bi = mine[j];
    const int runs = v && v->runs ? v->runs(v->ctx, bi) : 1;
    for (int r = 0; !rc && r < runs; r++) {
      if (v && v->prepare) rc = v->prepare(v->ctx, bi, r, m);
      PassBatch out;
      if (!rc) rc = model_pass_batch(m, b.x, b.labels, b.n, req->outputs, req->bce, &pb, &out);
      if (rc) break;
      if (v && v->consume) rc = v->consume(v->ctx, bi, r, &out);
      if (rc) break;
      if (r > 0) continue; /* sums and gathered outputs are of the first run */
      if (req->outputs & PASS_LOSS)
        for (int64_t i = 0; i < out.n; i++) sums[2 * bi] += out.loss[i];
      if (req->outputs & PASS_PRED)
        for (int64_t i = 0; i < out.n; i++) sums[2 * bi + 1] += out.pred[i] == out.labels[i];
      if (req->gather) local_append(local, col, ncol, &out);
    }
    progress_update(&prog, j + 1);
  }
  progress_end(&prog);
  reader_free(rd);
  pass_buffers_free(&pb);
  free(bs);
  free(bl);
  return rc;
}

int model_pass_run(const Dist *d, Model *m, Store *s, const PassRequest *req, PassResult *res) {
  memset(res, 0, sizeof *res);
  double t0 = mh_now();
  res->n = req->n;
  res->K = m->num_outputs;
  res->D = m->embed_dim;
  /* The batches: the caller's, or fixed ones from the start. */
  int64_t nb = req->nbatches;
  const int64_t B = req->batch_size > 0 ? req->batch_size : 1;
  if (!req->start) nb = (req->n + B - 1) / B;
  int64_t *start = mh_malloc((size_t)(nb + 1) * sizeof(int64_t));
  int64_t *len = mh_malloc((size_t)(nb + 1) * sizeof(int64_t));
  int64_t *cost = mh_malloc((size_t)(nb + 1) * sizeof(int64_t));
  int64_t *mine = mh_malloc((size_t)(nb + 1) * sizeof(int64_t));
  int *owner = mh_malloc((size_t)(nb + 1) * sizeof(int));
  double *sums = mh_calloc((size_t)(2 * nb + 1), sizeof(double));
  Local local;
  memset(&local, 0, sizeof local);
  Column col[7];
  const int ncol = columns(req->outputs, res->K, res->D, col);
  int rc = (!start || !len || !cost || !mine || !owner || !sums) ? MH_ERR : MH_OK;
  if (!rc && req->gather && req->visit && req->visit->runs)
    rc = mh_errorf("model pass: gathering needs one run per batch");
  const PassVisitor *v = req->visit;
  int64_t nmine = 0, local_rows = 0;
  for (int64_t b = 0; !rc && b < nb; b++) {
    start[b] = req->start ? req->start[b] : b * B;
    len[b] = req->start ? req->len[b] : (req->n - b * B < B ? req->n - b * B : B);
    cost[b] = len[b] * (v && v->runs ? v->runs(v->ctx, b) : 1);
  }
  if (!rc) model_pass_split(cost, nb, d->size, owner);
  for (int64_t b = 0; !rc && b < nb; b++)
    if (owner[b] == d->rank && cost[b] > 0) {
      mine[nmine++] = b;
      local_rows += len[b];
    }
  if (!rc && req->gather) rc = local_alloc(&local, col, ncol, local_rows);
  if (!rc) rc = run_mine(m, s, req, start, len, mine, nmine, &local, col, ncol, sums);
  /* One rank's failure (a read error) must not leave the others in the
   * reductions below. */
  rc = dist_agree(d, rc);
  /* Each batch's sums come from its one owner (the others add zeros, which
   * is exact), then add up in batch order: the same for any rank count. */
  if (!rc) rc = dist_allreduce_sum_f64(d, sums, 2 * nb);
  if (!rc) {
    double c = 0.0;
    for (int64_t b = 0; b < nb; b++) {
      res->loss_sum += sums[2 * b];
      c += sums[2 * b + 1];
    }
    res->correct = (int64_t)c;
  }
  if (!rc && req->gather) {
    int64_t total = 0;
    for (int64_t b = 0; b < nb; b++) total += cost[b] > 0 ? len[b] : 0;
    res->n = total;
    rc = gather(d, &local, col, ncol, total, res);
  }
  local_free(&local);
  free(start);
  free(len);
  free(cost);
  free(mine);
  free(owner);
  free(sums);
  res->seconds = mh_now() - t0;
  if (rc) pass_result_free(res);
  return rc;
}

/* trainer.c - see trainer.h. */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/signals.h"
#include "core/timing.h"
#include "train/gpu.h"
#include "train/loss.h"
#ifdef MODYN_HAVE_CUDA
#include "train/layers_cuda.h"
#endif

/* The batch filter's scratch: this rank's scores, the global batch's, and
 * the kept subset, sized for the largest global batch seen. */
typedef struct {
  PassBuffers pass;
  int64_t gcap;
  int32_t *glabels;
  float *gvals;     /* gathered per-sample outputs, one block per output */
  int64_t *keep;
  float *kweights;
  int64_t *counts;  /* [ranks] samples of each rank's share */
  float *sx;        /* [local batch * in_elems] kept samples */
  int32_t *slabels;
  float *sweights;
} FilterBuffers;

static void filter_buffers_free(FilterBuffers *f) {
  pass_buffers_free(&f->pass);
  free(f->glabels);
  free(f->gvals);
  free(f->keep);
  free(f->kweights);
  free(f->counts);
  free(f->sx);
  free(f->slabels);
  free(f->sweights);
  memset(f, 0, sizeof *f);
}

typedef struct {
  int64_t *rows;    /* [n] store rows of the keys, in key-list order */
  int64_t *order;   /* [n] this epoch's visiting order (positions) */
  int64_t *erows;   /* [n * epochs] rows in visiting order, epoch after epoch */
  float *eweights;  /* [n * epochs] weights in visiting order (when weighted) */
  float *logits;    /* [local batch * K] */
  float *dlogits;   /* [local batch * K] */
  float *comm;      /* [nparams + 2]: gradients, the loss sum and the count of ranks
                       that failed, reduced together */
  FilterBuffers f;  /* the batch filter's */
  /* GPU models: the step's batch on the device (uploaded through page-locked
   * staging), logits and their gradient, the optimizer's state, and the
   * clipping norm. */
  float *pin_x, *pin_w;
  int32_t *pin_labels;
  float *dx, *dw, *dlog, *ddlog, *dm, *dv;
  int32_t *dlabels;
  double *dnorm;
} Buffers;

static void buffers_free(Buffers *b) {
  free(b->rows);
  free(b->order);
  free(b->erows);
  free(b->eweights);
  free(b->logits);
  free(b->dlogits);
  free(b->comm);
  filter_buffers_free(&b->f);
  gpu_host_free(b->pin_x);
  gpu_host_free(b->pin_w);
  gpu_host_free(b->pin_labels);
  gpu_free(b->dx);
  gpu_free(b->dw);
  gpu_free(b->dlog);
  gpu_free(b->ddlog);
  gpu_free(b->dm);
  gpu_free(b->dv);
  gpu_free(b->dlabels);
  gpu_free(b->dnorm);
}

/* The device side of a GPU model's training: buffers for local_batch
 * samples, and the optimizer's state uploaded (downloaded again by
 * gpu_state_pull at the end of trainer_run). */
static int gpu_buffers_alloc(Buffers *b, const Model *m, const Optimizer *o,
                             int64_t local_batch) {
  const int64_t E = m->shape.in_elems, K = m->num_outputs, L = local_batch + 1;
  b->pin_x = gpu_host_alloc((size_t)(L * E) * sizeof(float));
  b->pin_w = gpu_host_alloc((size_t)L * sizeof(float));
  b->pin_labels = gpu_host_alloc((size_t)L * sizeof(int32_t));
  b->dx = gpu_malloc((size_t)(L * E) * sizeof(float));
  b->dw = gpu_malloc((size_t)L * sizeof(float));
  b->dlabels = gpu_malloc((size_t)L * sizeof(int32_t));
  b->dlog = gpu_malloc((size_t)(L * K) * sizeof(float));
  b->ddlog = gpu_malloc((size_t)(L * K) * sizeof(float));
  b->dm = gpu_malloc((size_t)(o->n + 1) * sizeof(float));
  b->dv = o->v ? gpu_malloc((size_t)(o->n + 1) * sizeof(float)) : NULL;
  b->dnorm = gpu_malloc(sizeof(double));
  if (!b->pin_x || !b->pin_w || !b->pin_labels || !b->dx || !b->dw || !b->dlabels ||
      !b->dlog || !b->ddlog || !b->dm || (o->v && !b->dv) || !b->dnorm)
    return MH_ERR;
  MH_TRY(gpu_upload(b->dm, o->m, (size_t)o->n * sizeof(float)));
  if (o->v) MH_TRY(gpu_upload(b->dv, o->v, (size_t)o->n * sizeof(float)));
  return model_push((Model *)m);
}

/* Trained values back to the host: the model and the optimizer's state. */
static int gpu_state_pull(Buffers *b, Model *m, Optimizer *o) {
  MH_TRY(gpu_download(o->m, b->dm, (size_t)o->n * sizeof(float)));
  if (o->v) MH_TRY(gpu_download(o->v, b->dv, (size_t)o->n * sizeof(float)));
  return model_pull(m);
}

static int buffers_alloc(Buffers *b, const Model *m, int64_t n, int64_t local_batch) {
  memset(b, 0, sizeof *b);
  const int K = m->num_outputs;
  b->rows = mh_malloc((size_t)n * sizeof(int64_t));
  b->order = mh_malloc((size_t)n * sizeof(int64_t));
  b->logits = mh_malloc((size_t)(local_batch * K) * sizeof(float));
  b->dlogits = mh_malloc((size_t)(local_batch * K) * sizeof(float));
  b->comm = mh_malloc((size_t)(m->nparams + 2) * sizeof(float));
  if (!b->rows || !b->order || !b->logits || !b->dlogits || !b->comm)
    return MH_ERR;
  return MH_OK;
}

/* Fault injection for tests of failure handling: MODYN_FAULT=RANK:STEP:KIND
 * makes rank RANK fail at its STEP-th training step of the run (counted over
 * all triggers): KIND "exit" ends the process abruptly (a crashed node),
 * "error" reports an error (a failed read), "nan" poisons the loss. */
typedef struct {
  int rank;
  int64_t step;
  char kind[16];
} Fault;

static int fault_parse(Fault *f) {
  const char *e = getenv("MODYN_FAULT");
  f->rank = -1;
  if (!e || !*e) return 0;
  long long step = 0;
  if (sscanf(e, "%d:%lld:%15s", &f->rank, &step, f->kind) != 3) f->rank = -1;
  f->step = step;
  return f->rank >= 0;
}

static int64_t g_steps_run; /* training steps of this process, all triggers */

static int fault_check(const Dist *d, float *loss) {
  static Fault f;
  static int parsed;
  /* a stop signal (signals.h) fails the step here, so every rank learns it
   * from the allreduce and stops at the same step */
  if (mh_stop_signal())
    return mh_errorf("stopped by %s during training", mh_signal_name(mh_stop_signal()));
  if (!parsed) {
    parsed = 1;
    fault_parse(&f);
  }
  g_steps_run++;
  if (f.rank != d->rank || g_steps_run != f.step) return MH_OK;
  if (!strcmp(f.kind, "exit")) _exit(3);
  if (!strcmp(f.kind, "nan")) {
    *loss = NAN;
    return MH_OK;
  }
  return mh_errorf("injected fault at step %lld (MODYN_FAULT=%s)", (long long)f.step,
                   getenv("MODYN_FAULT"));
}

/* One global batch: forward/backward on this rank's share, one allreduce of
 * the summed gradients and loss, one identical optimizer step everywhere.
 * Forward and backward run even on an empty share: layers with global-batch
 * statistics meet the other ranks inside them. A rank that failed (failed
 * != MH_OK: its read failed; or its loss or fault check fails here) still
 * joins every collective with an empty share, and the allreduce tells
 * every rank that the step failed (*any_failed), so they all stop at the
 * same step and nobody waits. Returns this rank's own status; the global
 * loss sum goes to *loss. */
static int train_step_gpu(const Dist *d, Model *m, Optimizer *o, Buffers *b, const Batch *bt,
                          int failed, double clip, int bce, double *loss, int *any_failed,
                          TrainStats *st);

static int train_step(const Dist *d, Model *m, Optimizer *o, Buffers *b, const Batch *bt,
                      int failed, double clip, int bce, double *loss, int *any_failed,
                      TrainStats *st) {
  if (m->gpu) return train_step_gpu(d, m, o, b, bt, failed, clip, bce, loss, any_failed, st);
  int rc = failed;
  model_zero_grad(m);
  double lsum = 0.0;
  const int64_t n = rc ? 0 : bt->n;
  const float *x = rc ? NULL : bt->x;
  const int32_t *labels = rc ? NULL : bt->labels;
  const float *w = rc ? NULL : bt->weights;
  int frc = m->forward(m, x, n, b->logits, 1);
  if (!frc) {
    int lrc = bce ? loss_bce_logits(b->logits, labels, w, n, b->dlogits, &lsum, NULL)
                  : loss_softmax_ce(b->logits, labels, w, n, m->num_outputs, b->dlogits, &lsum,
                                    NULL);
    if (lrc) { /* a bad label: backward still runs (its collectives), with no gradient */
      rc = lrc;
      memset(b->dlogits, 0, (size_t)(n * m->num_outputs) * sizeof(float));
    }
    frc = m->backward(m, x, b->dlogits, n);
  }
  if (frc) rc = frc;
  memcpy(b->comm, m->grads, (size_t)m->nparams * sizeof(float));
  b->comm[m->nparams] = (float)lsum;
  if (!rc) rc = fault_check(d, &b->comm[m->nparams]);
  b->comm[m->nparams + 1] = rc ? 1.0f : 0.0f;
  double t0 = mh_now();
  MH_TRY(dist_allreduce_sum_f32(d, b->comm, m->nparams + 2));
  st->comm_seconds += mh_now() - t0;
  *any_failed = b->comm[m->nparams + 1] > 0.0f;
  if (*any_failed) return rc;
  const float scale = 1.0f / (float)bt->global_len;
  for (int64_t i = 0; i < m->nparams; i++) m->grads[i] = b->comm[i] * scale;
  *loss = b->comm[m->nparams];
  if (clip > 0) {
    /* torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6). */
    double sq = 0;
    for (int64_t i = 0; i < m->nparams; i++) sq += (double)m->grads[i] * m->grads[i];
    double norm = sqrt(sq);
    if (norm > clip) {
      float f = (float)(clip / (norm + 1e-6));
      for (int64_t i = 0; i < m->nparams; i++) m->grads[i] *= f;
    }
  }
  optim_step(o, m->params, m->grads);
  return MH_OK;
}

#ifdef MODYN_HAVE_CUDA
/* The loss functions' label checks, on the host before the upload. */
static int labels_check(const int32_t *labels, int64_t n, int K, int bce) {
  for (int64_t i = 0; i < n; i++) {
    if (bce && labels[i] != 0 && labels[i] != 1)
      return mh_errorf("label %d is not 0 or 1 (BCEWithLogitsLoss needs binary labels)",
                       labels[i]);
    if (!bce && (labels[i] < 0 || labels[i] >= K))
      return mh_errorf("label %d is outside [0, %d)", labels[i], K);
  }
  return MH_OK;
}

/* train_step on the GPU: the same protocol, with the loss sum and the
 * failure count riding in the two spare floats after the device gradients
 * (one allreduce, NCCL where it is loaded), and one small download per step
 * that tells every rank the loss and whether anyone failed. */
static int train_step_gpu(const Dist *d, Model *m, Optimizer *o, Buffers *b, const Batch *bt,
                          int failed, double clip, int bce, double *loss, int *any_failed,
                          TrainStats *st) {
  int rc = failed;
  const int64_t P = m->nparams, E = m->shape.in_elems;
  const int K = m->num_outputs;
  if (gpu_zero(m->dgrads, (size_t)(P + 2) * sizeof(float))) rc = MH_ERR;
  if (!rc) rc = labels_check(bt->labels, bt->n, K, bce);
  const int64_t n = rc ? 0 : bt->n;
  if (n > 0) {
    memcpy(b->pin_x, bt->x, (size_t)(n * E) * sizeof(float));
    memcpy(b->pin_labels, bt->labels, (size_t)n * sizeof(int32_t));
    rc = gpu_upload(b->dx, b->pin_x, (size_t)(n * E) * sizeof(float));
    if (!rc) rc = gpu_upload(b->dlabels, b->pin_labels, (size_t)n * sizeof(int32_t));
    if (!rc && bt->weights) {
      memcpy(b->pin_w, bt->weights, (size_t)n * sizeof(float));
      rc = gpu_upload(b->dw, b->pin_w, (size_t)n * sizeof(float));
    }
  }
  const int64_t nn = rc ? 0 : n;
  const float *w = bt->weights ? b->dw : NULL;
  int frc = m->forward(m, b->dx, nn, b->dlog, 1);
  if (!frc) {
    frc = bce ? loss_bce_logits_cuda(b->dlog, b->dlabels, w, nn, b->ddlog, NULL, m->dgrads + P)
              : loss_softmax_ce_cuda(b->dlog, b->dlabels, w, nn, K, b->ddlog, NULL,
                                     m->dgrads + P);
    int brc = m->backward(m, b->dx, b->ddlog, nn);
    if (!frc) frc = brc;
  }
  if (frc && !rc) rc = frc;
  float tail[2] = {0.0f, 0.0f};
  if (!rc) {
    float poison = 0.0f;
    rc = fault_check(d, &poison);
    if (!rc && isnan(poison)) rc = gpu_upload(m->dgrads + P, (float[]){NAN}, sizeof(float));
  }
  if (rc) { /* joins the allreduce with no gradient and a failure */
    tail[1] = 1.0f;
    gpu_zero(m->dgrads, (size_t)P * sizeof(float));
    gpu_upload(m->dgrads + P, tail, sizeof tail);
  }
  double t0 = mh_now();
  MH_TRY(gpu_allreduce_sum(d, m->dgrads, P + 2, 0));
  MH_TRY(gpu_download(tail, m->dgrads + P, sizeof tail));
  st->comm_seconds += mh_now() - t0;
  *any_failed = tail[1] > 0.0f;
  if (*any_failed) return rc;
  *loss = tail[0];
  float scale = 1.0f / (float)bt->global_len;
  if (clip > 0) {
    double sq = 0.0;
    MH_TRY(sum_squares_cuda(m->dgrads, P, b->dnorm));
    MH_TRY(gpu_download(&sq, b->dnorm, sizeof sq));
    double norm = sqrt(sq) * scale;
    if (norm > clip) scale *= (float)(clip / (norm + 1e-6));
  }
  return optim_step_cuda(o, m->dparams, m->dgrads, b->dm, b->dv, scale);
}
#else
static int train_step_gpu(const Dist *d, Model *m, Optimizer *o, Buffers *b, const Batch *bt,
                          int failed, double clip, int bce, double *loss, int *any_failed,
                          TrainStats *st) {
  *any_failed = 1;
  return mh_errorf("GPU training: built without the CUDA backend");
}
#endif

/* ---- batch-then-sample: the filter hook ------------------------------------ */

void batch_filter_free(BatchFilter *f) {
  if (!f) return;
  if (f->destroy) f->destroy(f);
  free(f->impl);
  free(f);
}

static int filter_reserve(FilterBuffers *b, const Model *m, int ranks, int64_t global,
                          int64_t local) {
  if (global <= b->gcap) return MH_OK;
  const int64_t K = m->num_outputs, D = m->embed_dim;
  /* widest per-sample record: logits, loss, pred, embedding, gradients, norm */
  const int64_t width = K + 3 + D + K * (D + 1);
  PassBuffers keep_pass = b->pass;
  memset(&b->pass, 0, sizeof b->pass);
  filter_buffers_free(b);
  b->pass = keep_pass;
  b->glabels = mh_malloc((size_t)global * sizeof(int32_t));
  b->gvals = mh_malloc((size_t)(global * width) * sizeof(float));
  b->keep = mh_malloc((size_t)global * sizeof(int64_t));
  b->kweights = mh_malloc((size_t)global * sizeof(float));
  b->sx = mh_malloc((size_t)(local * m->shape.in_elems + 1) * sizeof(float));
  b->slabels = mh_malloc((size_t)(local + 1) * sizeof(int32_t));
  b->sweights = mh_malloc((size_t)(local + 1) * sizeof(float));
  b->counts = mh_malloc((size_t)ranks * sizeof(int64_t));
  if (!b->glabels || !b->gvals || !b->keep || !b->kweights || !b->sx || !b->slabels ||
      !b->sweights || !b->counts)
    return MH_ERR;
  b->gcap = global;
  return MH_OK;
}

/* Score this rank's share, gather every rank's scores, let the filter pick
 * the same subset on every rank, and point *out at this rank's part of it.
 * Returns this rank's own status; *any_failed says that some rank could not
 * score (every rank then learns it from the gathered counts). */
static int filter_batch(const Dist *d, Model *m, BatchFilter *f, FilterBuffers *b, const Batch *bt,
                        int bce, int64_t step, Batch *out, int *any_failed, TrainStats *st) {
  const int64_t G = bt->global_len;
  *any_failed = 0;
  /* A share is at most ceil(G / size) samples, whatever the batch. The
   * buffers grow at the same step on every rank (G is global): agree then,
   * so a failed allocation leaves nobody in the gathers below. */
  if (G > b->gcap) MH_TRY(dist_agree(d, filter_reserve(b, m, d->size, G, G / d->size + 1)));
  PassBatch mine, g;
  /* Scoring may fail on this rank alone: it then joins the gathers with
   * nothing. */
  int own = model_pass_batch(m, bt->x, bt->labels, bt->n, f->outputs, bce, &b->pass, &mine);
  if (own) memset(&mine, 0, sizeof mine);
  /* Each rank's share size once, then one gather per output. */
  int64_t *counts = b->counts;
  int rc = dist_allgather_i64(d, mine.n, counts);
  if (!rc) rc = dist_allgatherv(d, bt->labels, counts, sizeof(int32_t), b->glabels);
  /* This rank's share starts where the shares of the ranks before it end
   * (the reader cuts a global batch into contiguous slices in rank order). */
  int64_t off = 0, total = 0;
  for (int r = 0; r < d->size; r++) {
    if (r < d->rank) off += counts[r];
    total += counts[r];
  }
  memset(&g, 0, sizeof g);
  g.n = G;
  g.K = m->num_outputs;
  g.D = m->embed_dim;
  g.labels = b->glabels;
  float *cur = b->gvals;
  struct {
    unsigned flag;
    const void *src;
    int64_t width;
    void **dst;
  } cols[] = {
      {PASS_LOGITS, mine.logits, g.K, (void **)&g.logits},
      {PASS_PRED, mine.pred, 1, (void **)&g.pred},
      {PASS_LOSS, mine.loss, 1, (void **)&g.loss},
      {PASS_EMBED, mine.embed, g.D, (void **)&g.embed},
      {PASS_GRAD, mine.grad, (int64_t)g.K * (g.D + 1), (void **)&g.grad},
      {PASS_GRADNORM, mine.gradnorm, 1, (void **)&g.gradnorm},
  };
  for (size_t c = 0; !rc && c < sizeof cols / sizeof cols[0]; c++) {
    if (!(f->outputs & cols[c].flag)) continue;
    /* int32 and float are both 4 bytes: one float-typed area holds either */
    rc = dist_allgatherv(d, cols[c].src, counts, 4 * (size_t)cols[c].width, cur);
    *cols[c].dst = cur;
    cur += G * cols[c].width;
  }
  MH_TRY(rc);
  if (total != G) { /* a rank could not score: every rank sees the short total */
    *any_failed = 1;
    return own;
  }
  int64_t nkeep = 0;
  MH_TRY(f->select(f, &g, step, b->keep, b->kweights, &nkeep));
  if (nkeep < 0 || nkeep > G)
    return mh_errorf("batch filter kept %lld of %lld samples", (long long)nkeep, (long long)G);
  st->scored += G;
  /* This rank's kept samples, in order, with weights = the filter's times
   * the strategy's. */
  const int64_t E = m->shape.in_elems;
  int64_t n = 0;
  for (int64_t i = 0; i < nkeep; i++) {
    if (i > 0 && b->keep[i] <= b->keep[i - 1])
      return mh_errorf("batch filter: kept positions must increase");
    int64_t p = b->keep[i] - off;
    if (p < 0 || p >= bt->n) continue;
    memcpy(b->sx + n * E, bt->x + p * E, (size_t)E * sizeof(float));
    b->slabels[n] = bt->labels[p];
    b->sweights[n] = b->kweights[i] * (bt->weights ? bt->weights[p] : 1.0f);
    n++;
  }
  *out = *bt;
  out->n = n;
  out->global_len = nkeep;
  out->x = b->sx;
  out->labels = b->slabels;
  out->weights = b->sweights;
  return MH_OK;
}

/* An epoch ended: count it and record its mean loss. */
static void end_epoch(TrainStats *st, int64_t epoch, double loss_sum, int64_t samples) {
  st->epochs++;
  if (st->epochs == 1) st->first_loss = loss_sum / (double)samples;
  st->last_loss = loss_sum / (double)samples;
}

int trainer_run(const Dist *d, Model *m, Optimizer *o, Store *store, const int64_t *keys,
                const float *weights, int64_t n, const TrainOptions *opt, const TrainPlan *plan,
                TrainStats *st) {
  memset(st, 0, sizeof *st);
  double t_start = mh_now();
  if (n == 0) return MH_OK;
  const int64_t B = opt->batch_size;
  const int64_t local_batch = (B + d->size - 1) / d->size;
  Buffers b;
  Reader *rd = NULL;
  int rc = buffers_alloc(&b, m, n, local_batch);
  if (!rc && m->gpu) rc = gpu_buffers_alloc(&b, m, o, local_batch);
  if (!rc) rc = store_find_rows(store, keys, n, b.rows);
  if (!rc) rc = reader_create(store, &plan->io, d->rank, d->size, &rd);
  /* epochs_per_trigger epochs, each dropping its own partial last batch
   * when drop_last_batch is set (PyTorch's DataLoader); num_samples_to_pass,
   * when set, replaces the epoch count: as many epochs as it takes. */
  const int64_t per_epoch = opt->drop_last_batch ? n / B * B : n;
  int64_t epochs = opt->epochs, limit = -1;
  if (opt->num_samples_to_pass > 0) {
    limit = opt->num_samples_to_pass;
    epochs = per_epoch > 0 ? (limit + per_epoch - 1) / per_epoch : 0;
  }
  if (per_epoch == 0) epochs = 0;
  /* Every epoch's visiting order up front, so that the reader's prefetch
   * threads run across epoch boundaries. */
  if (!rc && epochs > 0) {
    b.erows = mh_malloc((size_t)(n * epochs) * sizeof(int64_t));
    b.eweights = weights ? mh_malloc((size_t)(n * epochs) * sizeof(float)) : NULL;
    if (!b.erows || (weights && !b.eweights)) rc = MH_ERR;
  }
  /* shuffle: the original's order, partitions of maximum_keys_in_memory
   * keys in random order, each shuffled (one partition: a plain shuffle). */
  for (int64_t e = 0; !rc && e < epochs; e++) {
    if (opt->shuffle) {
      Rng rng;
      rng_seed(&rng, rng_derive(plan->seed, (uint64_t)e));
      rc = rng_partition_order(&rng, b.order, n, plan->io.partition_keys);
      if (rc) break;
    } else {
      for (int64_t i = 0; i < n; i++) b.order[i] = i;
    }
    for (int64_t i = 0; i < n; i++) {
      b.erows[e * n + i] = b.rows[b.order[i]];
      if (weights) b.eweights[e * n + i] = weights[b.order[i]];
    }
  }
  /* A failed allocation or lookup on one rank must not leave the others in
   * the first step's collectives. */
  rc = dist_agree(d, rc);
  if (!rc && epochs > 0)
    rc = reader_start(rd, b.erows, weights ? b.eweights : NULL, n, epochs, B, opt->drop_last_batch,
                      limit);
  model_set_dist(m, d);
  Progress prog;
  int64_t visited = 0; /* samples of the global batches read, before any filter */
  progress_begin(&prog, plan->progress, "samples",
                 limit > 0 && limit < epochs * per_epoch ? limit : epochs * per_epoch);
  double epoch_loss = 0.0;
  int64_t epoch_samples = 0, epoch = 0;
  Batch bt;
  int more = 0;
  /* rc: this rank's own failure; any: some rank's (all ranks stop at the
   * same step, then agree on the first failing rank's message). */
  int any = 0;
  while (!rc && !any && epochs > 0) {
    more = reader_next(rd, &bt);
    if (more == 0) break;
    int own = more < 0 ? MH_ERR : MH_OK; /* a failed read joins the step empty */
    if (!own && bt.epoch != epoch) { /* an epoch ended: its mean loss */
      if (epoch_samples > 0) end_epoch(st, epoch, epoch_loss, epoch_samples);
      epoch = bt.epoch;
      epoch_loss = 0.0;
      epoch_samples = 0;
    }
    for (int g = 0; g < o->ngroups; g++)
      o->groups[g].lr = sched_lr(&plan->sched, o->groups[g].lr0,
                                 plan->sched.per_batch ? st->steps : epoch);
    Batch kept = bt;
    const Batch *step_batch = &bt;
    if (plan->filter && !own) {
      own = filter_batch(d, m, plan->filter, &b.f, &bt, opt->bce, st->steps, &kept, &any, st);
      if (any) { /* every rank saw the short gather */
        rc = own;
        break;
      }
      if (!own && kept.global_len == 0) continue; /* every rank chose the same: nothing */
      step_batch = &kept;
    }
    double loss = 0.0;
    own = train_step(d, m, o, &b, step_batch, own, opt->clip_grad_norm, opt->bce, &loss, &any, st);
    if (any) {
      rc = own;
      break;
    }
    if (!isfinite(loss)) {
      rc = mh_errorf("training loss became %s at epoch %lld, step %lld; lower the learning "
                     "rate (training.optimizers[0].param_groups[0].config.lr) or check the "
                     "data for NaN/inf features",
                     isnan(loss) ? "NaN" : "infinite", (long long)epoch, (long long)st->steps);
      break;
    }
    epoch_loss += loss;
    epoch_samples += step_batch->global_len;
    st->samples += step_batch->global_len;
    st->steps++;
    visited += bt.global_len;
    progress_update(&prog, visited);
  }
  progress_end(&prog);
  /* A step failed somewhere: every rank is here; the lowest failing rank's
   * message becomes everyone's. */
  if (any) rc = dist_agree(d, rc);
  if (!rc && epoch_samples > 0) end_epoch(st, epoch, epoch_loss, epoch_samples);
  if (epochs > 0) {
    st->read_seconds += reader_wait_seconds(rd);
    reader_finish(rd);
  }
  for (int g = 0; g < o->ngroups; g++) o->groups[g].lr = o->groups[g].lr0;
  if (m->gpu && b.dm) {
    int prc = gpu_state_pull(&b, m, o);
    if (!rc) rc = prc;
  }
  reader_free(rd);
  buffers_free(&b);
  st->seconds = mh_now() - t_start;
  return rc;
}

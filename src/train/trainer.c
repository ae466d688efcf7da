/* trainer.c - see trainer.h. */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timing.h"
#include "train/dist.h"
#include "train/loss.h"

typedef struct {
  int64_t *rows;    /* [n] store rows of the keys, in key-list order */
  int64_t *order;   /* [n] this epoch's visiting order (positions) */
  int64_t *erows;   /* [n * epochs] rows in visiting order, epoch after epoch */
  float *eweights;  /* [n * epochs] weights in visiting order (when weighted) */
  float *logits;    /* [local batch * K] */
  float *dlogits;   /* [local batch * K] */
  float *comm;      /* [nparams + 1]: gradients and the loss sum, reduced together */
} Buffers;

static void buffers_free(Buffers *b) {
  free(b->rows);
  free(b->order);
  free(b->erows);
  free(b->eweights);
  free(b->logits);
  free(b->dlogits);
  free(b->comm);
}

static int buffers_alloc(Buffers *b, const Model *m, int64_t n, int64_t local_batch) {
  memset(b, 0, sizeof *b);
  const int K = m->num_outputs;
  b->rows = mh_malloc((size_t)n * sizeof(int64_t));
  b->order = mh_malloc((size_t)n * sizeof(int64_t));
  b->logits = mh_malloc((size_t)(local_batch * K) * sizeof(float));
  b->dlogits = mh_malloc((size_t)(local_batch * K) * sizeof(float));
  b->comm = mh_malloc((size_t)(m->nparams + 1) * sizeof(float));
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

static int fault_check(float *loss) {
  static Fault f;
  static int parsed;
  if (!parsed) {
    parsed = 1;
    fault_parse(&f);
  }
  g_steps_run++;
  if (f.rank != mh_log_rank || g_steps_run != f.step) return MH_OK;
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
 * Returns the global loss sum in *loss. */
static int train_step(Model *m, Optimizer *o, Buffers *b, const Batch *bt, double clip, int bce,
                      double *loss, TrainStats *st) {
  model_zero_grad(m);
  double lsum = 0.0;
  if (bt->n > 0) {
    MH_TRY(m->forward(m, bt->x, bt->n, b->logits, 1));
    if (bce)
      MH_TRY(loss_bce_logits(b->logits, bt->labels, bt->weights, bt->n, b->dlogits, &lsum, NULL));
    else
      MH_TRY(loss_softmax_ce(b->logits, bt->labels, bt->weights, bt->n, m->num_outputs,
                             b->dlogits, &lsum, NULL));
    MH_TRY(m->backward(m, bt->x, b->dlogits, bt->n));
  }
  memcpy(b->comm, m->grads, (size_t)m->nparams * sizeof(float));
  b->comm[m->nparams] = (float)lsum;
  MH_TRY(fault_check(&b->comm[m->nparams]));
  double t0 = mh_now();
  MH_TRY(dist_allreduce_sum_f32(b->comm, m->nparams + 1));
  st->comm_seconds += mh_now() - t0;
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

/* An epoch ended: count it and record its mean loss. */
static void end_epoch(TrainStats *st, int64_t epoch, double loss_sum, int64_t samples) {
  st->epochs++;
  if (epoch == 0) st->first_loss = loss_sum / (double)samples;
  st->last_loss = loss_sum / (double)samples;
}

int trainer_run(Model *m, Optimizer *o, Store *store, const int64_t *keys, const float *weights,
                int64_t n, const TrainingConfig *tc, const TrainPlan *plan, TrainStats *st) {
  memset(st, 0, sizeof *st);
  double t_start = mh_now();
  if (n == 0) return MH_OK;
  const int64_t B = tc->batch_size;
  const int64_t local_batch = (B + mh_log_nranks - 1) / mh_log_nranks;
  Buffers b;
  Reader *rd = NULL;
  int rc = buffers_alloc(&b, m, n, local_batch);
  if (!rc) rc = store_find_rows(store, keys, n, b.rows);
  if (!rc) rc = reader_create(store, &plan->io, mh_log_rank, mh_log_nranks, &rd);
  const int bce = !strcmp(tc->optimization_criterion, "BCEWithLogitsLoss");
  /* num_samples_to_pass, when set, replaces the epoch count. */
  const int64_t target = tc->num_samples_to_pass > 0 ? tc->num_samples_to_pass
                                                     : tc->epochs_per_trigger * n;
  /* Every epoch's visiting order up front, so that the reader's prefetch
   * threads run across epoch boundaries. */
  const int64_t per_epoch = tc->drop_last_batch ? n / B * B : n;
  const int64_t epochs = per_epoch > 0 ? (target + per_epoch - 1) / per_epoch : 0;
  if (!rc && epochs > 0) {
    b.erows = mh_malloc((size_t)(n * epochs) * sizeof(int64_t));
    b.eweights = weights ? mh_malloc((size_t)(n * epochs) * sizeof(float)) : NULL;
    if (!b.erows || (weights && !b.eweights)) rc = MH_ERR;
  }
  /* shuffle: the original's order, partitions of maximum_keys_in_memory
   * keys in random order, each shuffled (one partition: a plain shuffle). */
  for (int64_t e = 0; !rc && e < epochs; e++) {
    if (tc->shuffle) {
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
  if (!rc && epochs > 0)
    rc = reader_start(rd, b.erows, weights ? b.eweights : NULL, n, epochs, B, tc->drop_last_batch,
                      target);
  double epoch_loss = 0.0;
  int64_t epoch_samples = 0, epoch = 0;
  Batch bt;
  int more = 0;
  while (!rc && epochs > 0 && (more = reader_next(rd, &bt)) != 0) {
    if (more < 0) {
      rc = MH_ERR;
      break;
    }
    if (bt.epoch != epoch) { /* an epoch ended: its mean loss */
      end_epoch(st, epoch, epoch_loss, epoch_samples);
      epoch = bt.epoch;
      epoch_loss = 0.0;
      epoch_samples = 0;
    }
    for (int g = 0; g < o->ngroups; g++)
      o->groups[g].lr = sched_lr(&plan->sched, o->groups[g].lr0,
                                 plan->sched.per_batch ? st->steps : epoch);
    double loss = 0.0;
    rc = train_step(m, o, &b, &bt, tc->clip_grad_norm, bce, &loss, st);
    if (rc) break;
    if (!isfinite(loss)) {
      rc = mh_errorf("training loss became %s at epoch %lld, step %lld; lower the learning "
                     "rate (training.optimizers[0].param_groups[0].config.lr) or check the "
                     "data for NaN/inf features",
                     isnan(loss) ? "NaN" : "infinite", (long long)epoch, (long long)st->steps);
      break;
    }
    epoch_loss += loss;
    epoch_samples += bt.global_len;
    st->samples += bt.global_len;
    st->steps++;
  }
  if (!rc && epoch_samples > 0) end_epoch(st, epoch, epoch_loss, epoch_samples);
  if (epochs > 0) {
    st->read_seconds += reader_wait_seconds(rd);
    reader_finish(rd);
  }
  for (int g = 0; g < o->ngroups; g++) o->groups[g].lr = o->groups[g].lr0;
  reader_free(rd);
  buffers_free(&b);
  st->seconds = mh_now() - t_start;
  return rc;
}

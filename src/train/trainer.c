/* trainer.c - see trainer.h. */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timing.h"
#include "train/dist.h"
#include "train/loss.h"

typedef struct {
  int64_t *rows;    /* [n] store rows of the keys */
  int64_t *order;   /* [n] visiting order of this epoch */
  int64_t *lrows;   /* [batch] this rank's rows of the current batch */
  int32_t *labels;  /* [batch] */
  float *weights;   /* [batch] */
  float *x;         /* [batch * in_elems] */
  float *logits;    /* [batch * K] */
  float *dlogits;   /* [batch * K] */
  float *comm;      /* [nparams + 1]: gradients and the loss sum, reduced together */
} Buffers;

static void buffers_free(Buffers *b) {
  free(b->rows);
  free(b->order);
  free(b->lrows);
  free(b->labels);
  free(b->weights);
  free(b->x);
  free(b->logits);
  free(b->dlogits);
  free(b->comm);
}

static int buffers_alloc(Buffers *b, const Model *m, int64_t n, int64_t batch) {
  memset(b, 0, sizeof *b);
  const int K = m->num_outputs;
  b->rows = mh_malloc((size_t)n * sizeof(int64_t));
  b->order = mh_malloc((size_t)n * sizeof(int64_t));
  b->lrows = mh_malloc((size_t)batch * sizeof(int64_t));
  b->labels = mh_malloc((size_t)batch * sizeof(int32_t));
  b->weights = mh_malloc((size_t)batch * sizeof(float));
  b->x = mh_malloc((size_t)(batch * m->shape.in_elems) * sizeof(float));
  b->logits = mh_malloc((size_t)(batch * K) * sizeof(float));
  b->dlogits = mh_malloc((size_t)(batch * K) * sizeof(float));
  b->comm = mh_malloc((size_t)(m->nparams + 1) * sizeof(float));
  if (!b->rows || !b->order || !b->lrows || !b->labels || !b->weights || !b->x || !b->logits ||
      !b->dlogits || !b->comm)
    return MH_ERR;
  return MH_OK;
}

/* One global batch: positions [b0, b0 + len) of the epoch order. Returns the
 * global loss sum in *loss. */
static int train_step(Model *m, Optimizer *o, Store *store, Buffers *b, const float *weights,
                      int64_t b0, int64_t len, double *loss, TrainStats *st) {
  int64_t lo, hi;
  dist_slice(len, mh_log_rank, mh_log_nranks, &lo, &hi);
  int64_t nl = hi - lo;
  for (int64_t i = 0; i < nl; i++) {
    int64_t pos = b->order[b0 + lo + i];
    b->lrows[i] = b->rows[pos];
    b->labels[i] = store->labels[b->rows[pos]];
    b->weights[i] = weights ? weights[pos] : 1.0f;
  }
  double t0 = mh_now();
  MH_TRY(store_read_features_f32(store, b->lrows, nl, b->x));
  st->read_seconds += mh_now() - t0;

  model_zero_grad(m);
  double lsum = 0.0;
  if (nl > 0) {
    MH_TRY(m->forward(m, b->x, nl, b->logits, 1));
    MH_TRY(loss_softmax_ce(b->logits, b->labels, weights ? b->weights : NULL, nl, m->num_outputs,
                           b->dlogits, &lsum, NULL));
    MH_TRY(m->backward(m, b->x, b->dlogits, nl));
  }
  memcpy(b->comm, m->grads, (size_t)m->nparams * sizeof(float));
  b->comm[m->nparams] = (float)lsum;
  t0 = mh_now();
  MH_TRY(dist_allreduce_sum_f32(b->comm, m->nparams + 1));
  st->comm_seconds += mh_now() - t0;
  const float scale = 1.0f / (float)len;
  for (int64_t i = 0; i < m->nparams; i++) m->grads[i] = b->comm[i] * scale;
  *loss = b->comm[m->nparams];
  optim_step(o, m->params, m->grads);
  return MH_OK;
}

int trainer_run(Model *m, Optimizer *o, Store *store, const int64_t *keys, const float *weights,
                int64_t n, const TrainingConfig *tc, uint64_t seed, TrainStats *st) {
  memset(st, 0, sizeof *st);
  double t_start = mh_now();
  if (n == 0) return MH_OK;
  const int64_t B = tc->batch_size;
  Buffers b;
  int rc = buffers_alloc(&b, m, n, B);
  if (!rc) rc = store_find_rows(store, keys, n, b.rows);
  /* num_samples_to_pass, when set, replaces the epoch count. */
  const int64_t target = tc->num_samples_to_pass > 0 ? tc->num_samples_to_pass
                                                     : tc->epochs_per_trigger * n;
  for (int64_t epoch = 0; !rc && st->samples < target; epoch++) {
    for (int64_t i = 0; i < n; i++) b.order[i] = i;
    if (tc->shuffle) {
      Rng rng;
      rng_seed(&rng, rng_derive(seed, (uint64_t)epoch));
      rng_shuffle_i64(&rng, b.order, n);
    }
    double epoch_loss = 0.0;
    int64_t epoch_samples = 0;
    for (int64_t b0 = 0; b0 < n && st->samples < target; b0 += B) {
      int64_t len = n - b0 < B ? n - b0 : B;
      if (len < B && tc->drop_last_batch) break;
      if (st->samples + len > target) len = target - st->samples;
      double loss = 0.0;
      rc = train_step(m, o, store, &b, weights, b0, len, &loss, st);
      if (rc) break;
      if (!isfinite(loss)) {
        rc = mh_errorf("training loss became %s at epoch %lld, step %lld; lower the learning "
                       "rate (training.optimizers[0].param_groups[0].config.lr) or check the "
                       "data for NaN/inf features",
                       isnan(loss) ? "NaN" : "infinite", (long long)epoch, (long long)st->steps);
        break;
      }
      epoch_loss += loss;
      epoch_samples += len;
      st->samples += len;
      st->steps++;
    }
    if (!rc && epoch_samples > 0) {
      st->epochs++;
      double mean = epoch_loss / (double)epoch_samples;
      if (epoch == 0) st->first_loss = mean;
      st->last_loss = mean;
    }
    if (!rc && epoch_samples == 0) break; /* drop_last with fewer keys than a batch */
  }
  buffers_free(&b);
  st->seconds = mh_now() - t_start;
  return rc;
}

/* trainer.h - data-parallel training of one trigger's training set.
 *
 * Every rank calls trainer_run with the same key list (broadcast by rank
 * 0). Each epoch visits the keys in a seeded order that does not depend on
 * the number of ranks; each global batch of batch_size keys is split into
 * per-rank slices (reader.h); each rank reads its slice from the store,
 * runs forward/backward, and the summed gradients are averaged over the
 * global batch with one allreduce, so every rank applies the same update.
 * Layers with global-batch statistics (SyncBatchNorm) talk to the other
 * ranks inside forward/backward, so every rank runs them on every step,
 * even with an empty slice. Losses are weighted when weights are given.
 *
 * Weighted losses follow the original's `dot(loss, w / sum(w))`: a step's
 * gradient is sum_i w_i grad(l_i) / sum_i w_i over the global batch (the
 * plain mean when there are no weights); the per-rank weight sums travel
 * in the same allreduce as the gradients.
 *
 * A BatchFilter (batch-then-sample downsampling) sees every global batch
 * before it trains: each rank scores its slice with the model in eval mode
 * (model_pass_batch), the scores are gathered onto every rank, every rank
 * runs the filter's selection on the same scores and so keeps the same
 * subset. As in the original, kept samples accumulate (in global order,
 * each rank holding its own) until they fill a batch of batch_size: then
 * one step trains on them with the filter's weights. What is left over
 * carries into the next epoch; at the end of training it trains as one
 * last smaller step, unless drop_last_batch.
 *
 * An EpochHook (sample-then-batch downsampling, RS2) is called at the start
 * of every epoch on every rank and may replace the epoch's keys and
 * weights, e.g. by scoring the trigger's set with the model being trained
 * (model_pass_run) and keeping a subset.
 *
 * The trainer takes plain structs; it knows nothing of the YAML schema. */
#ifndef MH_TRAINER_H
#define MH_TRAINER_H

#include <stdint.h>

#include "core/dist.h"
#include "core/vec.h"
#include "data/reader.h"
#include "data/store.h"
#include "train/model.h"
#include "train/model_pass.h"
#include "train/optim.h"
#include "train/sched.h"

typedef struct {
  int64_t samples;      /* samples passed, all epochs, all ranks */
  int64_t steps;        /* optimizer steps */
  int64_t epochs;       /* epochs run */
  double first_loss;    /* mean loss of the first epoch */
  double last_loss;     /* mean loss of the last epoch */
  double seconds;       /* wall time of trainer_run */
  double read_seconds;  /* this rank: waiting for features (all of the reading when
                           nothing is prefetched, only the stalls otherwise) */
  double comm_seconds;  /* this rank: allreduce */
  int64_t scored;       /* samples the batch filter and the epoch hook ran the model on */
} TrainStats;

/* The training section's values the engine needs (config/ fills them). */
typedef struct {
  int64_t batch_size;          /* global batch, split across ranks */
  int drop_last_batch;         /* each epoch drops its partial last batch */
  int shuffle;                 /* visit the keys in a seeded random order */
  int64_t epochs;              /* epochs_per_trigger */
  int64_t num_samples_to_pass; /* 0: epochs decide; else stop after this many samples */
  double clip_grad_norm;       /* 0 = off */
  int bce;                     /* BCEWithLogitsLoss (else softmax cross-entropy) */
} TrainOptions;

/* Batch-then-sample selection inside training (see above). */
typedef struct BatchFilter BatchFilter;
struct BatchFilter {
  unsigned outputs; /* PASS_* the selection needs */
  /* Called on every rank with the same global batch (scores in global
   * batch order, g->keys the samples' store keys; step counts the
   * trigger's steps; a filter created again for the same trigger must
   * choose alike at the same step, which resuming a mid-trigger checkpoint
   * relies on). Write the kept positions
   * (increasing, in [0, g->n)) to keep and their loss weights to weights
   * (both have room for g->n), and their number to *nkeep. Must depend on
   * nothing but its arguments and the filter's own deterministic state. */
  int (*select)(BatchFilter *f, const PassBatch *g, int64_t step, int64_t *keep, float *weights,
                int64_t *nkeep);
  void (*destroy)(BatchFilter *f); /* may be NULL */
  void *impl;
  /* The fraction it keeps, ratio / ratio_max (0: unknown), for the lr
   * schedule's MODYN_NUM_BATCHES, which the original computes from it. */
  int64_t ratio, ratio_max;
};
void batch_filter_free(BatchFilter *f);

/* What an epoch hook sees: the training run's context and the set that
 * trainer_run was given. */
typedef struct {
  const Dist *dist;
  Model *model;          /* the model being trained; its host weights are current */
  Store *store;
  int bce;               /* the loss is BCEWithLogitsLoss */
  int64_t batch_size;    /* the training batch (for model passes) */
  const int64_t *keys;   /* [n] the trigger's set */
  const float *weights;  /* [n] or NULL */
  int64_t n;
} EpochView;

/* An epoch's set, as the hook leaves it. */
typedef struct {
  I64Vec keys;     /* the epoch's keys (store keys) */
  F32Vec weights;  /* same length (weighted), or empty (unweighted) */
  int replaced;    /* 1: the epoch trains on keys/weights; 0: on the previous epoch's set
                      (trainer_run's set before any replacement) */
  int64_t scored;  /* samples the hook ran the model on */
} EpochSet;

typedef struct EpochHook EpochHook;
struct EpochHook {
  /* Collective: every rank calls it at the start of every epoch (0, 1, ...)
   * with the same view, and must leave the same set on every rank. out
   * arrives with replaced = 0 and scored = 0. */
  int (*begin_epoch)(EpochHook *h, const EpochView *v, int64_t epoch, EpochSet *out);
  void (*destroy)(EpochHook *h); /* may be NULL */
  void *impl;                    /* freed by epoch_hook_free */
  int64_t ratio, ratio_max;      /* as BatchFilter's (0: unknown) */
};
void epoch_hook_free(EpochHook *h);

/* Where training stood after a step: what a mid-trigger checkpoint holds
 * besides the model's weights and buffers and the optimizer's state (the
 * caller saves and loads those), with every rank's random streams (dropout
 * masks; restored when resumed on as many ranks). The visiting order is not kept: it follows
 * from the seed and the epoch (plan_pass). Neither is the batch filter's
 * own state: its choice depends on the step (BatchFilter.select). */
typedef struct {
  int64_t steps, samples, scored, epochs; /* TrainStats so far */
  double first_loss, last_loss;           /* TrainStats so far */
  double seconds;        /* training seconds before this point (timing only) */
  int64_t epoch;         /* the epoch of the last batch */
  double epoch_loss;     /* its (weighted) loss sum so far */
  double epoch_wsum;     /* its weight sum so far */
  int64_t visited;       /* samples of the global batches read, before any filter */
  int64_t batches;       /* global batches read: the reader starts at the next one */
  int ranks;             /* ranks of the run that saved it (acc_owner's meaning) */
  int64_t nacc;          /* kept samples waiting for a step (batch filter), global order */
  int64_t *acc_rows;     /* [nacc] their store rows */
  float *acc_weights;    /* [nacc] their loss weights (the filter's times the strategy's) */
  int32_t *acc_owner;    /* [nacc] the rank whose share each came from */
  int64_t nrng;          /* the model's random streams per rank (Model.rngs: dropout) */
  uint64_t *rng;         /* [ranks * nrng * 4] their xoshiro states, rank after rank */
} TrainPoint;
void train_point_free(TrainPoint *p);
/* The point's scalars in one fixed order, for its file and its broadcast:
 * iv = steps, samples, scored, epochs, epoch, visited, batches, ranks, nacc,
 * nrng; fv = first_loss, last_loss, seconds, epoch_loss, epoch_wsum.
 * Unpacking sets those fields only (not the arrays). */
#define TRAIN_POINT_NI 10
#define TRAIN_POINT_NF 5
void train_point_pack(const TrainPoint *p, int64_t *iv, double *fv);
void train_point_unpack(TrainPoint *p, const int64_t *iv, const double *fv);

/* Collective: every rank's random streams of m (Model.rngs: dropout
 * masks) onto every rank: *rng [ranks * *nstreams * 4] (free it; NULL when
 * the model has none). */
int trainer_rngs_gather(const Dist *d, Model *m, uint64_t **rng, int64_t *nstreams);
/* This rank's streams from rng as trainer_rngs_gather left it on `ranks`
 * ranks; nothing when the model's streams or the rank count differ (each
 * rank then draws from where it stands). */
void trainer_rngs_restore(const Dist *d, Model *m, const uint64_t *rng, int64_t nstreams,
                          int ranks);

/* Mid-trigger checkpoints (training.checkpointing): the trainer calls save
 * at a step boundary every `interval` steps, and after the step at which a
 * stop signal (signals.h) reached any rank; the ranks learn of the signal
 * in that step's allreduce, so they all stop after the same step. Then
 * trainer_run returns an error saying where it stopped. With an epoch hook
 * (its per-epoch state is not saved) nothing is saved: a signal fails the
 * step, as without a checkpointer, and the trigger trains again from its
 * start on resume. */
typedef struct TrainCheckpointer TrainCheckpointer;
struct TrainCheckpointer {
  int64_t interval; /* steps between saves; 0: only when a signal stops training */
  /* Collective: every rank calls it with the same point; the model's host
   * arrays and the optimizer's state are current. stop: a signal ends
   * training here. *where (rank 0) names the file, for the stop message. */
  int (*save)(TrainCheckpointer *c, const TrainPoint *p, int stop, char *where, size_t cap);
  const TrainPoint *resume; /* continue from here (the model and optimizer loaded), or NULL */
  void *ctx;
};

/* How one trigger trains, besides the options. */
typedef struct {
  ReaderConfig io;      /* partitions and prefetching */
  LrSchedule sched;     /* parsed training.lr_scheduler; restarts each call; its
                           MODYN_NUM_BATCHES / MODYN_NUM_EPOCHS are this call's */
  uint64_t seed;        /* decides the shuffle order (derived per epoch) */
  BatchFilter *filter;  /* NULL: train on every batch as it is */
  const char *progress; /* label of the progress line (core/progress.h), e.g. "trigger 3:
                           training"; NULL: none */
  EpochHook *epoch_hook; /* NULL: every epoch trains on the keys given */
  TrainCheckpointer *ckpt; /* NULL: no mid-trigger checkpoints; a stop signal fails training */
} TrainPlan;

/* The batches (optimizer steps) and epochs training n samples is expected
 * to take, as the original's trainer computes them for its lr schedule's
 * MODYN_NUM_BATCHES / MODYN_NUM_EPOCHS: whole batches per epoch, scaled by
 * the filter's or hook's ratio, times the epochs; or, with
 * num_samples_to_pass, the batches that many samples make and the epochs
 * they span. */
void trainer_expected_sizes(int64_t n, const TrainOptions *opt, const TrainPlan *plan,
                            int64_t *batches, int64_t *epochs);

/* Collective. Train m on keys[n] (weights may be NULL). The optimizer's lr
 * follows the schedule from the configured lr; the global gradient norm is
 * clipped to clip_grad_norm when set. NaN or infinite loss is an error that
 * says what to do. */
int trainer_run(const Dist *d, Model *m, Optimizer *o, Store *store, const int64_t *keys,
                const float *weights, int64_t n, const TrainOptions *opt, const TrainPlan *plan,
                TrainStats *st);

#endif

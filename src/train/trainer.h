/* trainer.h - data-parallel training of one trigger's training set.
 *
 * Every rank calls trainer_run with the same key list (broadcast by rank
 * 0). Each epoch visits the keys in a seeded order that does not depend on
 * the number of ranks; each global batch of training.batch_size keys is
 * split into per-rank slices (reader.h); each rank reads its slice from
 * the store, runs forward/backward, and the summed gradients are averaged
 * over the global batch with one allreduce, so every rank applies the same
 * update. Losses are weighted when weights are given. */
#ifndef MH_TRAINER_H
#define MH_TRAINER_H

#include <stdint.h>

#include "config/pipeline.h"
#include "data/reader.h"
#include "data/store.h"
#include "train/model.h"
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
} TrainStats;

/* How one trigger trains, besides the training section itself. */
typedef struct {
  ReaderConfig io;     /* partitions and prefetching */
  LrSchedule sched;    /* parsed training.lr_scheduler; restarts each call */
  uint64_t seed;       /* decides the shuffle order (derived per epoch) */
} TrainPlan;

/* Train m on keys[n] (weights may be NULL). The optimizer's lr follows the
 * schedule from the configured lr; the global gradient norm is clipped to
 * training.clip_grad_norm when set. NaN or infinite loss is an error that
 * says what to do. */
int trainer_run(Model *m, Optimizer *o, Store *store, const int64_t *keys, const float *weights,
                int64_t n, const TrainingConfig *tc, const TrainPlan *plan, TrainStats *st);

#endif

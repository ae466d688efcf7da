/* checkpoint.h - one model per trigger: weights, non-trained buffers,
 * optimizer state and where the model came from, in one HDF5 file
 * (models/trigger_NNNN.h5), written atomically.
 *   /params float32[n] (deflated with model_storage zip), or, for a
 *   WeightsDifference model, /params_delta uint32[n] (deflated) with
 *   attributes delta_operator ("sub"|"xor") and base_trigger (the previous
 *   trigger's model in the same directory, which it is applied to)
 *   /buffers float32[m]  /optimizer/m, /optimizer/v (attribute step)
 *   attributes: model_id, trigger, first_timestamp, last_timestamp,
 *   parent (trigger warm-started from, -1 = none), num_samples, and the
 *   trigger's statistics stream_index, new_samples, samples_trained,
 *   samples_scored, epochs, loss_first_epoch, loss_last_epoch, train_seconds */
#ifndef MH_CHECKPOINT_H
#define MH_CHECKPOINT_H

#include <stdint.h>

#include "train/model.h"
#include "train/model_storage.h"
#include "train/optim.h"
#include "train/trainer.h"

typedef struct {
  int64_t trigger;          /* trigger index, 0-based */
  int64_t first_timestamp;  /* first timestamp of the trigger's new data */
  int64_t last_timestamp;   /* last timestamp of the trigger's new data ("trained up to") */
  int64_t parent;           /* trigger whose model was the starting point; -1 none */
  int64_t num_samples;      /* samples in the training set */
  /* How the trigger went (for triggers.csv after a resume); 0 when absent. */
  int64_t stream_index;     /* stream position of the trigger's last sample */
  int64_t new_samples;      /* samples since the previous trigger */
  int64_t samples_trained;  /* samples passed in training, all epochs */
  int64_t samples_scored;   /* samples downsampling ran the model on, all epochs */
  int64_t epochs;
  double loss_first, loss_last; /* mean training loss of the first/last epoch */
  double train_seconds;
} CheckpointMeta;

/* ms may be NULL (full, uncompressed). base: the previous trigger's stored
 * weights, needed when ms stores this trigger as a difference. *bytes (may
 * be NULL) gets the file size. */
int checkpoint_write(const char *path, const Model *m, const Optimizer *o,
                     const CheckpointMeta *meta, const ModelStorage *ms, const float *base,
                     int64_t *bytes);
/* The same, with the model's random streams after the trigger (dropout
 * masks; trainer_rngs_gather: every rank's, rng_words words) in /rng,
 * with rng_checksum, so that a resumed run draws the same masks. */
int checkpoint_write_rng(const char *path, const Model *m, const Optimizer *o,
                         const CheckpointMeta *meta, const ModelStorage *ms, const float *base,
                         int64_t *bytes, const uint64_t *rng, int64_t rng_words);
/* A checkpoint's /rng (*rng NULL and *rng_words 0 when it has none;
 * free *rng), verified against its checksum. */
int checkpoint_read_rng(const char *path, uint64_t **rng, int64_t *rng_words);
/* Load into an existing model of the same type and size; o may be NULL.
 * Difference models are resolved through their base models (bit-exact).
 * prev: the weights of the previous trigger when the caller holds them
 * (reading triggers in order), else NULL; a difference against that
 * trigger is then applied to prev instead of reading its chain again. */
int checkpoint_read(const char *path, Model *m, Optimizer *o, CheckpointMeta *meta,
                    const float *prev);

/* A mid-trigger checkpoint (training.checkpointing; trainer.h): the model
 * (full /params) and the optimizer as above, with meta, plus the group
 * /train_point: where training stood (the attributes of train_point_pack's
 * scalars: steps, samples, scored, epochs, epoch, visited, batches, ranks,
 * waiting, rng_streams, loss_first_epoch, loss_last_epoch, train_seconds,
 * epoch_loss, epoch_wsum), the batch filter's waiting samples (acc_rows
 * int64, acc_weights float32, acc_owner int64), every rank's random
 * streams (rng), set_checksum (of the trigger's training set, so that a resume
 * that selected another set does not continue it) and point_checksum,
 * verified on reading. */
int checkpoint_write_point(const char *path, const Model *m, const Optimizer *o,
                           const CheckpointMeta *meta, const TrainPoint *p,
                           uint64_t set_checksum);
/* p is allocated (train_point_free it). */
int checkpoint_read_point(const char *path, Model *m, Optimizer *o, CheckpointMeta *meta,
                          TrainPoint *p, uint64_t *set_checksum);

/* What checkpoint_verify found in a file. */
typedef struct {
  char model_id[128];
  CheckpointMeta meta;
  int64_t nparams, nbuffers; /* the file's weights (after a difference is applied) */
  int64_t noptim;            /* optimizer state per moment; 0: none stored */
  int checksums;             /* stored checksums that were present, all matching */
  int delta;                 /* stored as a difference to an earlier trigger */
  int partial;               /* a mid-trigger checkpoint (its /train_point verified too) */
} CheckpointInfo;

/* Verify a checkpoint without a model: read everything a load reads, at
 * the sizes the file gives (a difference model through its base chain),
 * and compare every stored checksum (meta_checksum, weights_checksum,
 * optimizer_checksum; a mid-trigger checkpoint's point_checksum and
 * rng_checksum) with the same code checkpoint_read uses. MH_ERR with
 * "checkpoint PATH: what is wrong" when the file is damaged or unreadable.
 * For `modyn check RUN_DIR`. */
int checkpoint_verify(const char *path, CheckpointInfo *info);

#endif

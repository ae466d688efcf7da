/* checkpoint.h - one model per trigger: weights, non-trained buffers,
 * optimizer state and where the model came from, in one HDF5 file
 * (models/trigger_NNNN.h5), written atomically.
 *   /params float32[n]  /buffers float32[m]  /optimizer/m, /optimizer/v
 *   attributes: model_id, trigger, first_timestamp, last_timestamp,
 *   parent (trigger warm-started from, -1 = none), num_samples, optimizer_step */
#ifndef MH_CHECKPOINT_H
#define MH_CHECKPOINT_H

#include <stdint.h>

#include "train/model.h"
#include "train/optim.h"

typedef struct {
  int64_t trigger;          /* trigger index, 0-based */
  int64_t first_timestamp;  /* first timestamp of the trigger's new data */
  int64_t last_timestamp;   /* last timestamp of the trigger's new data ("trained up to") */
  int64_t parent;           /* trigger whose model was the starting point; -1 none */
  int64_t num_samples;      /* samples in the training set */
} CheckpointMeta;

int checkpoint_write(const char *path, const Model *m, const Optimizer *o,
                     const CheckpointMeta *meta);
/* Load into an existing model of the same type and size; o may be NULL. */
int checkpoint_read(const char *path, Model *m, Optimizer *o, CheckpointMeta *meta);

#endif

/* plugin_env.h - what a trigger or selection strategy gets at creation:
 * the rank context, the training store (schema and the stream's keys,
 * timestamps and labels), the current model, and the model pass.
 *
 * Policies that need a model on data ask env->pass while they decide; the
 * orchestrator turns the request into a command that every rank runs
 * (model_pass.h), so a plug-in never adds a command of its own. Triggers
 * and strategies decide on rank 0, where the pass is called; the answer
 * arrives there, per sample and in key order. A strategy's batch filter
 * (trainer.h) runs inside training on every rank and needs no pass.
 *
 * This header does not say how the pass reaches the other ranks
 * (orch/protocol.h). */
#ifndef MH_PLUGIN_ENV_H
#define MH_PLUGIN_ENV_H

#include <stdint.h>

#include "core/dist.h"
#include "data/store.h"
#include "train/model.h"
#include "train/model_pass.h"

/* Which weights a pass runs: the current model, or the model of a completed
 * trigger k (>= 0), read from its checkpoint. */
#define PASS_MODEL_CURRENT (-1)

/* What a completed trigger's training took (PluginEnv.trigger_cost). */
typedef struct {
  int64_t training_set;    /* keys in its training set (the original's number_samples) */
  int64_t samples_trained; /* samples passed in training, all epochs, all ranks */
  double train_s;          /* wall-clock seconds of its training */
} TriggerCost;

typedef struct PluginEnv PluginEnv;
struct PluginEnv {
  const Dist *dist;       /* rank context; plug-ins decide on dist->rank == 0 */
  Store *store;           /* the training store: schema, n, keys, timestamps, labels; rank 0
                             may read features itself (store_read_features_f32) */
  Model *model;           /* the current model (the initial one before the first trigger);
                             rank 0 may run it in eval mode itself for small work, but must
                             not change its weights */
  const int *models_done; /* completed triggers so far (models 0 .. *models_done - 1) */
  int bce;                /* the loss is BCEWithLogitsLoss (PASS_LOSS follows it) */
  int64_t batch_size;     /* the pass's batch (the training batch size) */
  const char *run_dir;    /* the run directory (every rank; "" when validating): a plug-in
                             that trains a model of its own (RHOLoss's irreducible-loss
                             model) checkpoints it under RUN/aux/, beside models/, so that
                             `modyn resume` finds it */
  /* Rank 0 only. Run model `which` (PASS_MODEL_CURRENT or a trigger index)
   * over keys[n] of the training store on every rank; out gets the PASS_*
   * outputs per sample in key order (pass_result_free it). */
  int (*pass)(PluginEnv *env, const int64_t *keys, int64_t n, unsigned outputs, int64_t which,
              PassResult *out);
  /* Rank 0 only. One JSON object (without the newline) as a line of the
   * run's events.jsonl, e.g. a drift check's metric, threshold and
   * decision, so a user can see why a trigger fired or did not. */
  void (*event)(PluginEnv *env, const char *json);
  /* Read-only log of the completed triggers: what trigger k (0 <= k <
   * *models_done) trained and how long it took, filled in by the
   * orchestrator when its training completes (restored triggers of a
   * resumed run give their recorded values). Cost-aware triggers fit their
   * cost model on it. NULL when there is no pipeline. */
  int (*trigger_cost)(PluginEnv *env, int64_t k, TriggerCost *out);
  /* Rank 0 only. Keep a selection made inside training (a sample-then-batch
   * downsampler's choice at an epoch) as selection/trigger_NNNN_epoch_EEEE.h5:
   * /keys and /weights, with the downsampler's name. */
  int (*record_selection)(PluginEnv *env, int64_t trigger, int64_t epoch, const char *by,
                          const int64_t *keys, const float *weights, int64_t n);
  void *orch;             /* the orchestrator's own state */
};

#endif

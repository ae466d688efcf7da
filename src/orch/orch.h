/* orch.h - the orchestrator's state, shared by its four rooms:
 *   protocol.c  typed commands that rank 0 issues and every rank carries out
 *   worker.c    the handlers, one per command, and the worker loop
 *   replay.c    rank 0: the stream replay, the trigger and the selection
 *   run_dir.c   rank 0: the run directory's files, and what resume reads
 * and run.c, which sets them up (run.h). Internal to src/orch/. */
#ifndef MH_ORCH_ORCH_H
#define MH_ORCH_ORCH_H

#include <stdio.h>

#include "config/pipeline.h"
#include "core/dist.h"
#include "data/store.h"
#include "eval/evaluation.h"
#include "orch/plugin_env.h"
#include "orch/run.h"
#include "select/selector.h"
#include "train/checkpoint.h"
#include "train/model.h"
#include "train/model_storage.h"
#include "train/optim.h"
#include "train/sched.h"
#include "train/trainer.h"
#include "trigger/trigger.h"

typedef struct {
  const Dist *dist;
  const PipelineConfig *cfg;
  char dir[1024];
  Store train;
  ModelShape shape;
  Model *model;          /* the current model, the same weights on every rank */
  Model *scratch;        /* a second model of the same type, for passes over stored
                            checkpoints (created on first use) */
  Optimizer opt;
  LrSchedule sched;
  ModelStorage storage;
  TrainOptions topt;     /* the training section as the engine takes it */
  float *stored_params;  /* rank 0: weights of the last stored model (delta base) */
  float *initial;        /* every rank: the starting params + buffers, kept when each
                            trigger starts from them (use_previous_model: false) */
  int64_t resume_upto;   /* triggers below this are restored from checkpoints */
  int resuming;          /* `modyn resume`: trigger resume_upto continues from its
                            mid-trigger checkpoint when there is one */
  Evaluation ev;
  PluginEnv env;         /* what the trigger and the strategy see */
  Trigger *trigger;      /* rank 0 only */
  Selector *selector;    /* every rank (batch filters); rank 0 feeds it */
  FILE *events;          /* rank 0 only: events.jsonl */
  int nmodels;           /* triggers completed (trained or restored) */
  CheckpointMeta *meta;  /* [nmodels] */
  double *eval_s;        /* [nmodels] evaluation seconds after each trigger */
  TrainStats last;       /* the last trigger's training statistics */
  double last_ckpt_s;    /* rank 0: seconds writing the last checkpoint */
  int64_t last_ckpt_bytes; /* rank 0: its size */
  int64_t total_iv;      /* evaluation intervals known at start */
  int collective_failed;  /* rank 0: a command failed (on every rank) */
  int replaying_restored; /* rank 0: the replay is still before a resumed run's last
                             restored trigger (plug-ins' events are not written again) */
  RunOptions run;         /* following a growing store (run.h) */
  int stopped_by;         /* rank 0: the signal that ended a followed run while it waited */
  double t_start;
} Orch;

/* ---- run.c ---- */
/* The input shape and class count of a model for store s. */
void orch_store_shape(const Store *s, ModelShape *shape);
/* Create o->model for o->shape (and its optimizer), and the evaluation. */
int orch_open_model(Orch *o, int with_optimizer);
/* Free everything an Orch holds (any part may be missing). */
void orch_close(Orch *o);

/* ---- replay.c ---- */
/* The plug-ins' environment (PluginEnv.pass issues CMD_PASS). */
void orch_env_init(Orch *o);

/* ---- worker.c ---- */
/* Other ranks: carry out rank 0's commands until CMD_DONE. */
int orch_worker_loop(Orch *o);

/* Rank 0: replay the stream, fire triggers, issue the commands, then
 * CMD_DONE. */
int orch_replay(Orch *o);

/* ---- run_dir.c (rank 0) ---- */
/* Create (or, resuming, open) the run directory; *done = completed
 * triggers of a resumed run. */
int run_dir_prepare(Orch *o, const char *run_dir, int resume, int64_t *done);
/* One line of events.jsonl (nothing when the file is not open). */
void run_dir_event(Orch *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* models/trigger_NNNN.h5 and selection/trigger_NNNN.h5 of a trigger. */
void run_dir_model_path(const Orch *o, int64_t trigger, char *path, size_t cap);
/* A trigger's mid-trigger checkpoint: trigger_NNNN_partial.h5 in
 * training.checkpointing.path (relative to the run directory), by default
 * in models/. */
void run_dir_partial_path(const Orch *o, int64_t trigger, char *path, size_t cap);
int run_dir_write_selection(const Orch *o, int64_t trigger, const TrainingSet *set, int weighted);
int run_dir_write_epoch_selection(const Orch *o, int64_t trigger, int64_t epoch, const char *by,
                                  const int64_t *keys, const float *weights, int64_t n);
int run_dir_write_triggers(const Orch *o);
int run_dir_write_matrix(const Orch *o);
/* eval/composite.csv and eval/score.csv; *score gets the first task's. */
int run_dir_write_composite(const Orch *o, EvalScore *score);

#endif

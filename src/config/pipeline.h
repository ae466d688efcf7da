/* pipeline.h - a pipeline YAML as typed structs.
 *
 * The sections the orchestrator itself uses (pipeline, training, data,
 * evaluation, experiment) are parsed and validated here. Sections owned by a
 * plug-in (model.config, trigger, selection_strategy, an evaluation
 * strategy, a metric) are kept as CfgRefs: the plug-in named by their
 * id/name validates them when it is created (orch/plugins.h), so adding a
 * plug-in never touches this file. Names follow the original Modyn YAML. */
#ifndef MH_PIPELINE_H
#define MH_PIPELINE_H

#include <stdint.h>

#include "config/cfgtree.h"
#include "eval/eval_config.h"
#include "train/optim.h"
#include "train/trainer.h"

#define CFG_NAME 128
#define CFG_PATH 1024
#define CFG_MAX_GROUPS OPTIM_MAX_GROUPS
#define CFG_MAX_EVAL_DATASETS EVAL_MAX_DATASETS
#define CFG_MAX_METRICS EVAL_MAX_METRICS
#define CFG_MAX_HANDLERS EVAL_MAX_HANDLERS


typedef struct {
  char device[CFG_NAME];            /* "cpu" | "cuda" | "cuda:N"; default "cpu" */
  int64_t batch_size;               /* global batch size, split across ranks (required, >= 1) */
  int drop_last_batch;              /* default false */
  int shuffle;                      /* default true */
  int64_t epochs_per_trigger;       /* default 1 */
  int64_t *num_samples_to_pass;     /* [num_samples_to_pass_len]: element i for trigger i
                                       (0: the epochs decide); NULL when absent */
  int num_samples_to_pass_len;      /* the list's length; -1: one number for every trigger */
  int use_previous_model;           /* warm start from the previous trigger's model; default true */
  char initial_model[CFG_NAME];     /* "random" | "pretrained"; default random */
  char initial_model_path[CFG_PATH];/* initial_model_path, needed for pretrained */
  int64_t seed;                     /* default 42 */
  int amp;                          /* accepted, default false */
  OptimizerConfig optimizer;        /* optimizers[0]; exactly one optimizer for now */
  char optimization_criterion[CFG_NAME]; /* optimization_criterion.name: CrossEntropyLoss */
  int64_t record_loss_every;        /* 0 = off */
  double clip_grad_norm;            /* clip the global gradient norm to this; 0 = off */
  int64_t num_prefetched_partitions;/* default 1 */
  int64_t parallel_prefetch_requests; /* default 1 */
  CfgRef lr_scheduler;              /* optional, validated by the training engine */
  CfgRef checkpointing;             /* optional: activated, interval, path */
  int ckpt_activated;               /* checkpointing.activated: periodic mid-trigger saves */
  int64_t ckpt_interval;            /* checkpointing.interval: steps between them */
  char ckpt_path[CFG_PATH];         /* checkpointing.path: their folder ("": RUN_DIR/models;
                                       relative: to the run directory) */
} TrainingConfig;

typedef struct {
  char dataset_id[CFG_NAME]; /* data.dataset_id: a store under $MODYN_DATA_DIR (default ./data) */
  char path[CFG_PATH];       /* resolved store directory (data.path wins over dataset_id) */
  CfgRef transformations;    /* optional list, validated by the data module */
} DataConfig;


typedef struct {
  int64_t start_replay_at;  /* first timestamp replayed; INT64_MIN = from the start */
  int64_t stop_replay_at;   /* last timestamp replayed (exclusive); INT64_MAX = to the end */
  int64_t maximum_triggers; /* stop after this many triggers; -1 = no limit */
} ExperimentConfig;

typedef struct {
  CfgDoc doc;                /* owns the tree that the CfgRefs point into */
  char name[CFG_NAME];       /* pipeline.name (required) */
  char description[512];     /* pipeline.description */
  char version[CFG_NAME];    /* pipeline.version */
  char model_id[CFG_NAME];   /* model.id (required) */
  CfgRef model_config;       /* model.config (may be absent) */
  CfgRef model_storage;      /* model_storage (optional) */
  TrainingConfig training;
  DataConfig data;
  char trigger_id[CFG_NAME]; /* trigger.id (required) */
  CfgRef trigger;            /* the trigger map, for the trigger plug-in */
  char selection_name[CFG_NAME]; /* selection_strategy.name (required) */
  CfgRef selection;          /* the selection_strategy map, for the strategy plug-in */
  EvaluationConfig evaluation;
  ExperimentConfig experiment;
  char data_dir[CFG_PATH];   /* where dataset ids were looked up (--data-dir, $MODYN_DATA_DIR
                                or ./data), absolute: a run records it for `modyn resume` */
  char inert[2048];          /* the original's fields present that have no effect here,
                                "PATH (line N), ..." ("" when none): warn once */
} PipelineConfig;

/* A downsampler's `il_training_config` (RHOLoss: the irreducible-loss
 * model), the original's ILTrainingConfig: a training map (same fields,
 * same defaults, as `training`) plus il_model_id and il_model_config. The
 * CfgRefs point into the caller's document. */
typedef struct {
  char model_id[CFG_NAME]; /* il_model_id (required) */
  CfgRef model_id_ref;     /* for model_create's messages */
  CfgRef model_config;     /* il_model_config (may be absent) */
  TrainingConfig training;
} IlTrainingConfig;

/* Parse and check il_training_config (errors name file:line and field). */
int pipeline_parse_il_training(const CfgRef *sec, IlTrainingConfig *il);
void pipeline_il_training_free(IlTrainingConfig *il);

/* Parse text (already read; name is used in messages) with overrides
 * ("a.b=v", applied in order before validation) into cfg. Validates the
 * sections listed above; unknown keys anywhere in them are errors, except
 * the original's fields that mean nothing here (GPU count, data loader
 * workers, Python parser functions, ...): those are accepted, listed in
 * cfg->inert for one warning, and kept in the document (the resolved
 * config keeps them). Store
 * paths are resolved against data_dir (NULL: $MODYN_DATA_DIR or "data") but
 * not opened. Returns MH_OK or MH_ERR with a FILE:LINE: PATH: message; on
 * error cfg holds nothing (pipeline_free is still safe). The CfgRefs in cfg
 * point at cfg->doc, so parse into the struct's final place and do not copy
 * it by value afterwards. */
int pipeline_parse(const char *name, const char *text, const char *const *overrides,
                   int num_overrides, const char *data_dir, PipelineConfig *cfg);
/* Read the file and parse it. A missing file: "cannot read FILE: reason". */
int pipeline_load(const char *path, const char *const *overrides, int num_overrides,
                  const char *data_dir, PipelineConfig *cfg);
void pipeline_free(PipelineConfig *cfg);
/* The training section as the engine takes it (train/trainer.h), for
 * trigger 0; pipeline_samples_to_pass gives another trigger's value. */
void pipeline_train_options(const PipelineConfig *cfg, TrainOptions *out);
/* training.num_samples_to_pass for trigger (0-based): the list's element
 * `trigger`, 0 (the epochs decide) past its end or when absent, the number
 * itself for every trigger when a single number was given. */
int64_t pipeline_samples_to_pass(const TrainingConfig *t, int64_t trigger);

#endif

/* pipeline.c - see pipeline.h.
 *
 * One static function per YAML section, in file order. Each checks its
 * section's keys first (so a misspelt key is reported as unknown, not as a
 * missing required field), then reads the fields with the cfg_* getters,
 * whose messages carry file:line and the field path. Plug-in sections are
 * only checked to be mappings carrying their id/name/type. */
#include "config/pipeline.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define MAX_BATCH 1048576

/* ---- Allowed keys per checked section ------------------------------------ */

static const char *const k_top[] = {"pipeline", "model", "model_storage", "training", "data",
                                    "trigger", "selection_strategy", "evaluation", "experiment",
                                    NULL};
static const char *const k_pipeline[] = {"name", "description", "version", NULL};
static const char *const k_model[] = {"id", "config", NULL};
static const char *const k_training[] = {
    "device", "batch_size", "drop_last_batch", "shuffle", "epochs_per_trigger",
    "num_samples_to_pass", "use_previous_model", "initial_model", "initial_model_path", "seed",
    "amp", "optimizers", "optimization_criterion", "record_loss_every",
    "num_prefetched_partitions", "parallel_prefetch_requests", "lr_scheduler", "checkpointing",
    "clip_grad_norm",
    NULL};
static const char *const k_optimizer[] = {"name", "algorithm", "source", "param_groups", NULL};
static const char *const k_group[] = {"module", "config", NULL};
static const char *const k_group_config[] = {"lr", "momentum", "weight_decay", "nesterov",
                                             "betas", "eps", NULL};
static const char *const k_criterion[] = {"name", NULL};
static const char *const k_data[] = {"dataset_id", "path", "transformations", NULL};
static const char *const k_evaluation[] = {"device", "handlers", "datasets", NULL};
static const char *const k_handler[] = {"name", "execution_time", "models", "datasets",
                                        "strategy", NULL};
static const char *const k_eval_dataset[] = {"dataset_id", "path", "batch_size", "metrics", NULL};
static const char *const k_experiment[] = {"start_replay_at", "stop_replay_at",
                                           "maximum_triggers", NULL};

/* The original's fields that have no effect in this version (CfgDoc.inert):
 * accepted so that its pipeline files load unchanged, named in one warning
 * (PipelineConfig.inert), and kept in the resolved config. What takes their
 * place: one GPU per rank (gpus), the reader's prefetch threads
 * (dataloader_workers), typed HDF5 stores written by `modyn ingest`
 * (bytes parser, tokenizer and label transformer functions), the run
 * directory's files (result_writers), evaluation on every rank
 * (evaluation workers). */
static const char *const k_inert[] = {
    "training.gpus",
    "training.dataloader_workers",
    "training.enable_accurate_gpu_measurements",
    "training.grad_scaler_config",
    "training.initial_model_id",
    "data.bytes_parser_function",
    "data.bytes_parser_function_target",
    "data.transformations_target",
    "data.label_transformer_function",
    "data.tokenizer",
    "data.tokenizer_seq_length",
    "selection_strategy.processor_type",
    "evaluation.result_writers",
    "evaluation.after_training_evaluation_workers",
    "evaluation.after_pipeline_evaluation_workers",
    "evaluation.datasets[].bytes_parser_function",
    "evaluation.datasets[].bytes_parser_function_target",
    "evaluation.datasets[].transformations",
    "evaluation.datasets[].transformations_target",
    "evaluation.datasets[].label_transformer_function",
    "evaluation.datasets[].dataloader_workers",
    "evaluation.datasets[].tokenizer",
    "evaluation.datasets[].tokenizer_seq_length",
    NULL};

/* ---- Enumerations -------------------------------------------------------- */

static const char *const e_algorithm[] = {"SGD", "Adam", "AdamW", NULL};
static const char *const e_criterion[] = {"CrossEntropyLoss", "BCEWithLogitsLoss", NULL};
static const char *const e_initial_model[] = {"random", "pretrained", NULL};
static const char *const e_execution_time[] = {"after_training", "after_pipeline", "manual",
                                               NULL};
/* The original's schema spells the third choice `training`, its code
 * compares `train`: both are accepted and stored as "train". Default
 * `active`, as in the original. */
static const char *const e_models[] = {"matrix", "active", "train", "training", NULL};

/* ---- Small helpers ------------------------------------------------------- */

/* An explicit null (or empty) value counts as absent, so plug-ins and the
 * engine only ever see a mapping or nothing. */
static CfgRef absent_if_null(CfgRef r) {
  if (cfg_is_null(&r)) r.node = NULL;
  return r;
}

/* A section (or nested map) that must be there, with only allowed keys. */
static int req_section(const CfgRef *parent, const char *key, const char *const *allowed,
                       CfgRef *out) {
  cfg_child(parent, key, out);
  if (cfg_is_null(out)) return cfg_errorf(out, "missing required field");
  MH_TRY(cfg_expect_map(out));
  return allowed ? cfg_check_keys(out, allowed) : MH_OK;
}

/* An optional section: absent, or a map with only allowed keys (NULL:
 * any keys, for plug-in sections). */
static int opt_section(const CfgRef *parent, const char *key, const char *const *allowed,
                       CfgRef *out) {
  cfg_child(parent, key, out);
  *out = absent_if_null(*out);
  MH_TRY(cfg_expect_map(out));
  return allowed ? cfg_check_keys(out, allowed) : MH_OK;
}

/* A required string that may not be empty. */
static int req_name(const CfgRef *map, const char *key, char *out, size_t cap) {
  MH_TRY(cfg_req_string(map, key, out, cap));
  if (out[0] == '\0') {
    CfgRef r;
    cfg_child(map, key, &r);
    return cfg_errorf(&r, "must not be empty");
  }
  return MH_OK;
}

static int get_enum_name(const CfgRef *map, const char *key, const char *const *choices, int def,
                         char *out, size_t cap) {
  int idx = def;
  MH_TRY(cfg_get_enum(map, key, choices, def, &idx));
  snprintf(out, cap, "%s", choices[idx]);
  return MH_OK;
}

/* A number in an interval whose ends may be open or infinite; the message
 * uses the usual notation: "must be > 0", "must be in [0, 1)". */
static int get_interval(const CfgRef *map, const char *key, int required, double def, double lo,
                        int lo_open, double hi, int hi_open, double *out) {
  CfgRef r;
  cfg_child(map, key, &r);
  if (required)
    MH_TRY(cfg_req_double(map, key, -DBL_MAX, DBL_MAX, out));
  else
    MH_TRY(cfg_get_double(map, key, def, -DBL_MAX, DBL_MAX, out));
  if (cfg_is_null(&r)) return MH_OK;
  double v = *out;
  int ok = (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  if (ok) return MH_OK;
  if (isinf(hi)) return cfg_errorf(&r, "must be %s %g, got %g", lo_open ? ">" : ">=", lo, v);
  return cfg_errorf(&r, "must be in %c%g, %g%c, got %g", lo_open ? '(' : '[', lo, hi,
                    hi_open ? ')' : ']', v);
}

/* "cpu", "cuda", "cuda:N" or "auto" (train/device.h). */
static int get_device(const CfgRef *map, const char *key, const char *def, char *out, size_t cap) {
  MH_TRY(cfg_get_string(map, key, def, out, cap));
  if (strcmp(out, "cpu") == 0 || strcmp(out, "cuda") == 0 || strcmp(out, "auto") == 0)
    return MH_OK;
  if (strncmp(out, "cuda:", 5) == 0 && out[5] && strlen(out + 5) <= 4 &&
      strspn(out + 5, "0123456789") == strlen(out + 5))
    return MH_OK;
  CfgRef r;
  cfg_child(map, key, &r);
  return cfg_errorf(&r, "expected cpu, cuda, cuda:N or auto, got \"%s\"", out);
}

/* The store directory: path when given, else DIR/dataset_id. When only a
 * path is given, the dataset id is its last component. */
static int resolve_store(const CfgRef *map, const char *data_dir, char *dataset_id, char *path) {
  CfgRef id_ref, path_ref;
  cfg_child(map, "dataset_id", &id_ref);
  cfg_child(map, "path", &path_ref);
  MH_TRY(cfg_get_string(map, "dataset_id", "", dataset_id, CFG_NAME));
  MH_TRY(cfg_get_string(map, "path", "", path, CFG_PATH));
  if (cfg_present(&id_ref) && !cfg_is_null(&id_ref) && dataset_id[0] == '\0')
    return cfg_errorf(&id_ref, "must not be empty");
  if (cfg_present(&path_ref) && !cfg_is_null(&path_ref) && path[0] == '\0')
    return cfg_errorf(&path_ref, "must not be empty");
  if (dataset_id[0] == '\0' && path[0] == '\0')
    return cfg_errorf(&id_ref, "missing required field (or give %s.path)", map->path);
  if (path[0]) {
    if (dataset_id[0] == '\0') {
      size_t end = strlen(path);
      while (end > 1 && path[end - 1] == '/') end--;
      size_t start = end;
      while (start > 0 && path[start - 1] != '/') start--;
      if (end - start >= CFG_NAME) return cfg_errorf(&path_ref, "last path component too long");
      memcpy(dataset_id, path + start, end - start);
      dataset_id[end - start] = '\0';
    }
    return MH_OK;
  }
  size_t dl = strlen(data_dir);
  while (dl > 1 && data_dir[dl - 1] == '/') dl--;
  int w = snprintf(path, CFG_PATH, "%.*s/%s", (int)dl, data_dir, dataset_id);
  if (w < 0 || w >= CFG_PATH)
    return cfg_errorf(&id_ref, "store path %.*s/%s is longer than %d characters", (int)dl, data_dir,
                      dataset_id, CFG_PATH - 1);
  return MH_OK;
}

/* ---- Sections ------------------------------------------------------------ */

static int parse_pipeline(const CfgRef *root, PipelineConfig *cfg) {
  CfgRef sec;
  MH_TRY(req_section(root, "pipeline", k_pipeline, &sec));
  MH_TRY(req_name(&sec, "name", cfg->name, sizeof cfg->name));
  /* the name becomes a folder under runs/: nothing that leaves it */
  if (!cfg_is_safe_name(cfg->name)) {
    CfgRef r;
    cfg_child(&sec, "name", &r);
    return cfg_errorf(&r, "\"%s\" may hold only letters, digits, '.', '_' and '-', and not start "
                          "with '.' (it names the run directory runs/<name>-<time>)",
                      cfg->name);
  }
  MH_TRY(cfg_get_string(&sec, "description", "", cfg->description, sizeof cfg->description));
  return cfg_get_string(&sec, "version", "", cfg->version, sizeof cfg->version);
}

static int parse_model(const CfgRef *root, PipelineConfig *cfg) {
  CfgRef sec;
  MH_TRY(req_section(root, "model", k_model, &sec));
  MH_TRY(req_name(&sec, "id", cfg->model_id, sizeof cfg->model_id));
  MH_TRY(opt_section(&sec, "config", NULL, &cfg->model_config));
  return opt_section(root, "model_storage", NULL, &cfg->model_storage);
}

static int parse_param_group(const CfgRef *g, const char *algorithm, ParamGroupConfig *pg) {
  MH_TRY(cfg_expect_map(g));
  MH_TRY(cfg_check_keys(g, k_group));
  MH_TRY(cfg_get_string(g, "module", "model", pg->module, sizeof pg->module));
  CfgRef c;
  MH_TRY(req_section(g, "config", k_group_config, &c));
  MH_TRY(get_interval(&c, "lr", 1, 0, 0, 1, INFINITY, 0, &pg->lr));
  MH_TRY(get_interval(&c, "momentum", 0, 0, 0, 0, 1, 0, &pg->momentum));
  MH_TRY(get_interval(&c, "weight_decay", 0, 0, 0, 0, INFINITY, 0, &pg->weight_decay));
  MH_TRY(cfg_get_bool(&c, "nesterov", 0, &pg->nesterov));
  if (pg->nesterov && (strcmp(algorithm, "SGD") != 0 || pg->momentum <= 0)) {
    CfgRef r;
    cfg_child(&c, "nesterov", &r);
    return cfg_errorf(&r, "needs algorithm SGD with momentum > 0");
  }
  pg->beta1 = 0.9;
  pg->beta2 = 0.999;
  CfgRef betas;
  cfg_child(&c, "betas", &betas);
  if (!cfg_is_null(&betas)) {
    if (betas.node->kind != CFG_SEQ || cfg_len(&betas) != 2) {
      if (betas.node->kind == CFG_SEQ)
        return cfg_errorf(&betas, "expected a sequence of two numbers, got %d items",
                          cfg_len(&betas));
      MH_TRY(cfg_expect_seq(&betas));
    }
    double b[2];
    for (int i = 0; i < 2; i++) {
      CfgRef item = cfg_item(&betas, i);
      MH_TRY(cfg_as_double(&item, -DBL_MAX, DBL_MAX, &b[i]));
      if (!(b[i] >= 0 && b[i] < 1)) return cfg_errorf(&item, "must be in [0, 1), got %g", b[i]);
    }
    pg->beta1 = b[0];
    pg->beta2 = b[1];
  }
  return get_interval(&c, "eps", 0, 1e-8, 0, 1, INFINITY, 0, &pg->eps);
}

static int parse_optimizer(const CfgRef *o, OptimizerConfig *opt) {
  MH_TRY(cfg_expect_map(o));
  MH_TRY(cfg_check_keys(o, k_optimizer));
  MH_TRY(cfg_get_string(o, "name", "default", opt->name, sizeof opt->name));
  int alg = 0;
  MH_TRY(cfg_req_enum(o, "algorithm", e_algorithm, &alg));
  snprintf(opt->algorithm, sizeof opt->algorithm, "%s", e_algorithm[alg]);
  MH_TRY(cfg_get_string(o, "source", "PyTorch", opt->source, sizeof opt->source));
  CfgRef groups;
  cfg_child(o, "param_groups", &groups);
  if (cfg_is_null(&groups)) return cfg_errorf(&groups, "missing required field");
  MH_TRY(cfg_expect_seq(&groups));
  int n = cfg_len(&groups);
  if (n < 1 || n > CFG_MAX_GROUPS)
    return cfg_errorf(&groups, "must list 1 to %d param groups, got %d", CFG_MAX_GROUPS, n);
  opt->num_groups = n;
  for (int i = 0; i < n; i++) {
    CfgRef g = cfg_item(&groups, i);
    MH_TRY(parse_param_group(&g, opt->algorithm, &opt->groups[i]));
  }
  return MH_OK;
}

/* num_samples_to_pass: the original's list (element i for trigger i;
 * triggers past its end train epochs_per_trigger epochs), or one number as
 * shorthand for every trigger. */
static int parse_samples_to_pass(const CfgRef *sec, TrainingConfig *t) {
  CfgRef r;
  cfg_child(sec, "num_samples_to_pass", &r);
  if (cfg_is_null(&r)) return MH_OK;
  if (r.node->kind == CFG_SCALAR) {
    t->num_samples_to_pass = mh_malloc(sizeof(int64_t));
    if (!t->num_samples_to_pass) return MH_ERR;
    t->num_samples_to_pass_len = -1;
    return cfg_as_int(&r, 0, INT64_MAX, t->num_samples_to_pass);
  }
  if (r.node->kind != CFG_SEQ)
    return cfg_errorf(&r, "expected a number of samples or a list of them (one per trigger)");
  int n = cfg_len(&r);
  if (n < 1) return cfg_errorf(&r, "lists no numbers; omit it to train epochs_per_trigger epochs");
  t->num_samples_to_pass = mh_malloc((size_t)n * sizeof(int64_t));
  if (!t->num_samples_to_pass) return MH_ERR;
  t->num_samples_to_pass_len = n;
  for (int i = 0; i < n; i++) {
    CfgRef item = cfg_item(&r, i);
    MH_TRY(cfg_as_int(&item, 0, INT64_MAX, &t->num_samples_to_pass[i]));
  }
  return MH_OK;
}

int64_t pipeline_samples_to_pass(const TrainingConfig *t, int64_t trigger) {
  if (!t->num_samples_to_pass) return 0;
  if (t->num_samples_to_pass_len < 0) return t->num_samples_to_pass[0];
  return trigger >= 0 && trigger < t->num_samples_to_pass_len ? t->num_samples_to_pass[trigger] : 0;
}

/* training.checkpointing, the original's CheckpointingConfig: activated
 * (required in the section), interval (required when activated; here the
 * optimizer steps between mid-trigger checkpoints), path (optional here:
 * the folder of those checkpoints). A signal during training saves one
 * whether or not the section is activated. */
static int parse_checkpointing(const CfgRef *sec, TrainingConfig *t) {
  static const char *const keys[] = {"activated", "interval", "path", NULL};
  CfgRef c, r;
  MH_TRY(opt_section(sec, "checkpointing", keys, &t->checkpointing));
  c = t->checkpointing;
  t->ckpt_activated = 0;
  t->ckpt_interval = 0;
  t->ckpt_path[0] = '\0';
  if (cfg_is_null(&c)) return MH_OK;
  cfg_child(&c, "activated", &r);
  if (cfg_is_null(&r)) return cfg_errorf(&r, "missing required field");
  MH_TRY(cfg_get_bool(&c, "activated", 0, &t->ckpt_activated));
  cfg_child(&c, "interval", &r);
  if (!cfg_is_null(&r)) MH_TRY(cfg_get_int(&c, "interval", 0, 1, INT64_MAX, &t->ckpt_interval));
  else if (t->ckpt_activated)
    return cfg_errorf(&r, "missing required field (checkpointing is activated): the optimizer "
                          "steps between mid-trigger checkpoints");
  cfg_child(&c, "path", &r);
  if (!cfg_is_null(&r)) MH_TRY(cfg_get_string(&c, "path", "", t->ckpt_path, sizeof t->ckpt_path));
  if (!t->ckpt_activated) t->ckpt_interval = 0;
  return MH_OK;
}

/* The fields of a training map (its keys checked by the caller). */
static int parse_training_map(const CfgRef *sec_in, TrainingConfig *t) {
  const CfgRef sec = *sec_in;
  MH_TRY(get_device(&sec, "device", "cpu", t->device, sizeof t->device));
  MH_TRY(cfg_req_int(&sec, "batch_size", 1, MAX_BATCH, &t->batch_size));
  MH_TRY(cfg_get_bool(&sec, "drop_last_batch", 0, &t->drop_last_batch));
  MH_TRY(cfg_get_bool(&sec, "shuffle", 1, &t->shuffle));
  MH_TRY(cfg_get_int(&sec, "epochs_per_trigger", 1, 1, 1000000, &t->epochs_per_trigger));
  MH_TRY(parse_samples_to_pass(&sec, t));
  MH_TRY(cfg_get_bool(&sec, "use_previous_model", 1, &t->use_previous_model));
  MH_TRY(get_enum_name(&sec, "initial_model", e_initial_model, 0, t->initial_model,
                       sizeof t->initial_model));
  MH_TRY(cfg_get_string(&sec, "initial_model_path", "", t->initial_model_path,
                        sizeof t->initial_model_path));
  if (strcmp(t->initial_model, "pretrained") == 0 && t->initial_model_path[0] == '\0') {
    CfgRef r;
    cfg_child(&sec, "initial_model_path", &r);
    return cfg_errorf(&r, "missing required field (initial_model is pretrained)");
  }
  MH_TRY(cfg_get_int(&sec, "seed", 42, 0, INT64_MAX, &t->seed));
  MH_TRY(cfg_get_bool(&sec, "amp", 0, &t->amp));

  CfgRef opts;
  cfg_child(&sec, "optimizers", &opts);
  if (cfg_is_null(&opts)) return cfg_errorf(&opts, "missing required field");
  MH_TRY(cfg_expect_seq(&opts));
  if (cfg_len(&opts) != 1)
    return cfg_errorf(&opts, "exactly one optimizer is supported for now, got %d", cfg_len(&opts));
  CfgRef o = cfg_item(&opts, 0);
  MH_TRY(parse_optimizer(&o, &t->optimizer));

  CfgRef crit;
  MH_TRY(opt_section(&sec, "optimization_criterion", k_criterion, &crit));
  MH_TRY(get_enum_name(&crit, "name", e_criterion, 0, t->optimization_criterion,
                       sizeof t->optimization_criterion));
  MH_TRY(cfg_get_int(&sec, "record_loss_every", 0, 0, INT64_MAX, &t->record_loss_every));
  MH_TRY(cfg_get_double(&sec, "clip_grad_norm", 0, 0, 1e30, &t->clip_grad_norm));
  MH_TRY(cfg_get_int(&sec, "num_prefetched_partitions", 1, 0, 1024, &t->num_prefetched_partitions));
  MH_TRY(cfg_get_int(&sec, "parallel_prefetch_requests", 1, 1, 1024,
                     &t->parallel_prefetch_requests));
  MH_TRY(opt_section(&sec, "lr_scheduler", NULL, &t->lr_scheduler));
  return parse_checkpointing(&sec, t);
}

static int parse_training(const CfgRef *root, TrainingConfig *t) {
  CfgRef sec;
  MH_TRY(req_section(root, "training", k_training, &sec));
  return parse_training_map(&sec, t);
}

/* ILTrainingConfig: a training map plus the model's id and config. The
 * original's fields that mean nothing here are accepted silently, as in
 * the training section (its warning lists the top-level ones). */
static const char *const k_il_training[] = {
    "device", "batch_size", "drop_last_batch", "shuffle", "epochs_per_trigger",
    "num_samples_to_pass", "use_previous_model", "initial_model", "initial_model_path", "seed",
    "amp", "optimizers", "optimization_criterion", "record_loss_every",
    "num_prefetched_partitions", "parallel_prefetch_requests", "lr_scheduler", "checkpointing",
    "clip_grad_norm", "il_model_id", "il_model_config", "gpus", "dataloader_workers",
    "enable_accurate_gpu_measurements", "grad_scaler_config", "initial_model_id", NULL};

int pipeline_parse_il_training(const CfgRef *sec, IlTrainingConfig *il) {
  memset(il, 0, sizeof *il);
  if (cfg_is_null(sec)) return cfg_errorf(sec, "missing required field");
  MH_TRY(cfg_expect_map(sec));
  MH_TRY(cfg_check_keys(sec, k_il_training));
  MH_TRY(req_name(sec, "il_model_id", il->model_id, sizeof il->model_id));
  cfg_child(sec, "il_model_id", &il->model_id_ref);
  MH_TRY(opt_section(sec, "il_model_config", NULL, &il->model_config));
  int rc = parse_training_map(sec, &il->training);
  if (!rc && il->training.num_samples_to_pass) {
    CfgRef r;
    cfg_child(sec, "num_samples_to_pass", &r);
    rc = cfg_errorf(&r, "the IL model trains epochs_per_trigger epochs (the original allows "
                        "only null here)");
  }
  if (!rc && strcmp(il->training.initial_model, "random") != 0) {
    CfgRef r;
    cfg_child(sec, "initial_model", &r);
    rc = cfg_errorf(&r, "the IL model starts random (the original allows only random here)");
  }
  if (rc) pipeline_il_training_free(il);
  return rc;
}

void pipeline_il_training_free(IlTrainingConfig *il) {
  if (!il) return;
  free(il->training.num_samples_to_pass);
  il->training.num_samples_to_pass = NULL;
}

static int parse_data(const CfgRef *root, const char *data_dir, DataConfig *d) {
  CfgRef sec;
  MH_TRY(req_section(root, "data", k_data, &sec));
  MH_TRY(resolve_store(&sec, data_dir, d->dataset_id, d->path));
  cfg_child(&sec, "transformations", &d->transformations);
  d->transformations = absent_if_null(d->transformations);
  return cfg_expect_seq(&d->transformations);
}

/* A plug-in section: a map whose id key names the plug-in; the rest is the
 * plug-in's to check. */
static int parse_plugin(const CfgRef *root, const char *key, const char *id_key, char *id,
                        CfgRef *out) {
  MH_TRY(req_section(root, key, NULL, out));
  return req_name(out, id_key, id, CFG_NAME);
}

static int parse_eval_dataset(const CfgRef *ref, const char *data_dir, EvalDatasetConfig *ds) {
  MH_TRY(cfg_expect_map(ref));
  MH_TRY(cfg_check_keys(ref, k_eval_dataset));
  MH_TRY(req_name(ref, "dataset_id", ds->dataset_id, sizeof ds->dataset_id));
  MH_TRY(resolve_store(ref, data_dir, ds->dataset_id, ds->path));
  MH_TRY(cfg_get_int(ref, "batch_size", 256, 1, MAX_BATCH, &ds->batch_size));
  CfgRef metrics;
  cfg_child(ref, "metrics", &metrics);
  if (cfg_is_null(&metrics)) return cfg_errorf(&metrics, "missing required field");
  MH_TRY(cfg_expect_seq(&metrics));
  int n = cfg_len(&metrics);
  if (n < 1 || n > CFG_MAX_METRICS)
    return cfg_errorf(&metrics, "must list 1 to %d metrics, got %d", CFG_MAX_METRICS, n);
  ds->num_metrics = n;
  for (int i = 0; i < n; i++) {
    CfgRef m = cfg_item(&metrics, i);
    if (cfg_is_null(&m) || m.node->kind != CFG_MAP) {
      MH_TRY(cfg_expect_map(&m));
      return cfg_errorf(&m, "expected a mapping with a name, got null");
    }
    MH_TRY(req_name(&m, "name", ds->metrics[i].name, sizeof ds->metrics[i].name));
    ds->metrics[i].ref = m;
  }
  return MH_OK;
}

static int find_eval_dataset(const EvaluationConfig *ev, const char *id) {
  for (int i = 0; i < ev->num_datasets; i++)
    if (strcmp(ev->datasets[i].dataset_id, id) == 0) return i;
  return -1;
}

static int parse_handler(const CfgRef *ref, EvaluationConfig *ev, EvalHandlerConfig *h) {
  MH_TRY(cfg_expect_map(ref));
  MH_TRY(cfg_check_keys(ref, k_handler));
  MH_TRY(cfg_get_string(ref, "name", "default", h->name, sizeof h->name));
  MH_TRY(get_enum_name(ref, "execution_time", e_execution_time, 0, h->execution_time,
                       sizeof h->execution_time));
  int models = 1;
  MH_TRY(cfg_get_enum(ref, "models", e_models, 1, &models));
  snprintf(h->models, sizeof h->models, "%s", e_models[models == 3 ? 2 : models]);
  MH_TRY(req_section(ref, "strategy", NULL, &h->strategy));
  MH_TRY(req_name(&h->strategy, "type", h->strategy_type, sizeof h->strategy_type));

  CfgRef names;
  cfg_child(ref, "datasets", &names);
  if (cfg_is_null(&names)) { /* default: every evaluation dataset */
    h->num_datasets = ev->num_datasets;
    for (int i = 0; i < ev->num_datasets; i++)
      memcpy(h->datasets[i], ev->datasets[i].dataset_id, CFG_NAME);
    return MH_OK;
  }
  MH_TRY(cfg_expect_seq(&names));
  int n = cfg_len(&names);
  if (n < 1) return cfg_errorf(&names, "lists no datasets; omit it to use all of evaluation.datasets");
  if (n > CFG_MAX_EVAL_DATASETS)
    return cfg_errorf(&names, "at most %d datasets are supported, got %d", CFG_MAX_EVAL_DATASETS, n);
  for (int i = 0; i < n; i++) {
    CfgRef item = cfg_item(&names, i);
    MH_TRY(cfg_as_string(&item, h->datasets[i], CFG_NAME));
    if (find_eval_dataset(ev, h->datasets[i]) < 0) {
      char list[CFG_MAX_EVAL_DATASETS * (CFG_NAME + 2)] = "";
      for (int k = 0; k < ev->num_datasets; k++) {
        if (k) strcat(list, ", ");
        strcat(list, ev->datasets[k].dataset_id);
      }
      return cfg_errorf(&item, "unknown evaluation dataset \"%s\"; evaluation.datasets has: %s",
                        h->datasets[i], list);
    }
    for (int k = 0; k < i; k++)
      if (strcmp(h->datasets[k], h->datasets[i]) == 0)
        return cfg_errorf(&item, "dataset \"%s\" is listed twice", h->datasets[i]);
  }
  h->num_datasets = n;
  return MH_OK;
}

static int parse_evaluation(const CfgRef *root, const char *data_dir, const char *train_device,
                            EvaluationConfig *ev) {
  CfgRef sec;
  MH_TRY(opt_section(root, "evaluation", k_evaluation, &sec));
  if (!cfg_present(&sec)) return MH_OK;
  ev->enabled = 1;
  MH_TRY(get_device(&sec, "device", train_device, ev->device, sizeof ev->device));

  CfgRef dss;
  cfg_child(&sec, "datasets", &dss);
  if (cfg_is_null(&dss)) return cfg_errorf(&dss, "missing required field");
  MH_TRY(cfg_expect_seq(&dss));
  int n = cfg_len(&dss);
  if (n < 1 || n > CFG_MAX_EVAL_DATASETS)
    return cfg_errorf(&dss, "must list 1 to %d datasets, got %d", CFG_MAX_EVAL_DATASETS, n);
  for (int i = 0; i < n; i++) {
    CfgRef d = cfg_item(&dss, i);
    MH_TRY(parse_eval_dataset(&d, data_dir, &ev->datasets[i]));
    if (find_eval_dataset(ev, ev->datasets[i].dataset_id) >= 0) {
      CfgRef id;
      cfg_child(&d, "dataset_id", &id);
      return cfg_errorf(&id, "dataset \"%s\" is listed twice", ev->datasets[i].dataset_id);
    }
    ev->num_datasets = i + 1;
  }

  CfgRef hs;
  cfg_child(&sec, "handlers", &hs);
  if (cfg_is_null(&hs)) return cfg_errorf(&hs, "missing required field");
  MH_TRY(cfg_expect_seq(&hs));
  n = cfg_len(&hs);
  if (n < 1 || n > CFG_MAX_HANDLERS)
    return cfg_errorf(&hs, "must list 1 to %d handlers, got %d", CFG_MAX_HANDLERS, n);
  for (int i = 0; i < n; i++) {
    CfgRef h = cfg_item(&hs, i);
    MH_TRY(parse_handler(&h, ev, &ev->handlers[i]));
    for (int k = 0; k < i; k++) {
      if (strcmp(ev->handlers[k].name, ev->handlers[i].name) == 0) {
        CfgRef name;
        cfg_child(&h, "name", &name);
        return cfg_errorf(&name, "handler name \"%s\" is used twice", ev->handlers[i].name);
      }
    }
  }
  ev->num_handlers = n;
  return MH_OK;
}

static int parse_experiment(const CfgRef *root, ExperimentConfig *x) {
  CfgRef sec;
  MH_TRY(opt_section(root, "experiment", k_experiment, &sec));
  MH_TRY(cfg_get_int(&sec, "start_replay_at", INT64_MIN, INT64_MIN, INT64_MAX, &x->start_replay_at));
  MH_TRY(cfg_get_int(&sec, "stop_replay_at", INT64_MAX, INT64_MIN, INT64_MAX, &x->stop_replay_at));
  if (x->stop_replay_at <= x->start_replay_at) {
    CfgRef r;
    cfg_child(&sec, "stop_replay_at", &r);
    return cfg_errorf(&r, "must be greater than start_replay_at (%lld), got %lld",
                      (long long)x->start_replay_at, (long long)x->stop_replay_at);
  }
  MH_TRY(cfg_get_int(&sec, "maximum_triggers", -1, INT64_MIN, INT64_MAX, &x->maximum_triggers));
  if (x->maximum_triggers == 0 || x->maximum_triggers < -1) {
    CfgRef r;
    cfg_child(&sec, "maximum_triggers", &r);
    return cfg_errorf(&r, "must be -1 (no limit) or at least 1, got %lld",
                      (long long)x->maximum_triggers);
  }
  return MH_OK;
}

/* Every section's first error, one per line: a file with mistakes in
 * several sections is reported in one go. */
typedef struct {
  char text[4000];
  size_t len;
  int n;
} Errors;

static void note_error(Errors *e) {
  if (e->len + 2 >= sizeof e->text) return;
  e->len += (size_t)snprintf(e->text + e->len, sizeof e->text - e->len, "%s%s", e->n ? "\n" : "",
                             mh_error());
  if (e->len >= sizeof e->text) e->len = sizeof e->text - 1;
  e->n++;
}

static int validate(PipelineConfig *cfg, const char *data_dir) {
  CfgRef root = cfg_root(&cfg->doc);
  if (!cfg_present(&root))
    return cfg_errorf(&root, "empty file; expected a mapping with the sections %s, %s, %s, ...",
                      k_top[0], k_top[1], k_top[2]);
  Errors e;
  memset(&e, 0, sizeof e);
  if (cfg_check_keys(&root, k_top)) note_error(&e);
  if (parse_pipeline(&root, cfg)) note_error(&e);
  if (parse_model(&root, cfg)) note_error(&e);
  int training_ok = parse_training(&root, &cfg->training) == MH_OK;
  if (!training_ok) note_error(&e);
  if (parse_data(&root, data_dir, &cfg->data)) note_error(&e);
  if (parse_plugin(&root, "trigger", "id", cfg->trigger_id, &cfg->trigger)) note_error(&e);
  if (parse_plugin(&root, "selection_strategy", "name", cfg->selection_name, &cfg->selection))
    note_error(&e);
  /* evaluation.device defaults to training.device: "cpu" when that failed */
  if (parse_evaluation(&root, data_dir, training_ok ? cfg->training.device : "cpu",
                       &cfg->evaluation))
    note_error(&e);
  if (parse_experiment(&root, &cfg->experiment)) note_error(&e);
  if (e.n) return mh_errorf("%s", e.text);
  return MH_OK;
}

/* ---- Public -------------------------------------------------------------- */

int pipeline_parse(const char *name, const char *text, const char *const *overrides,
                   int num_overrides, const char *data_dir, PipelineConfig *cfg) {
  memset(cfg, 0, sizeof *cfg);
  if (!data_dir || !data_dir[0]) data_dir = getenv("MODYN_DATA_DIR");
  if (!data_dir || !data_dir[0]) data_dir = "data";
  char abs[PATH_MAX];
  const char *dd = realpath(data_dir, abs) ? abs : data_dir;
  size_t dl = strlen(dd) < sizeof cfg->data_dir ? strlen(dd) : sizeof cfg->data_dir - 1;
  memcpy(cfg->data_dir, dd, dl);
  cfg->data_dir[dl] = '\0';
  if (cfg_load_string(name, text, &cfg->doc) != MH_OK) goto fail;
  cfg->doc.inert = k_inert;
  for (int i = 0; i < num_overrides; i++)
    if (cfg_apply_override(&cfg->doc, overrides[i]) != MH_OK) goto fail;
  if (validate(cfg, data_dir) != MH_OK) goto fail;
  cfg_inert_present(&cfg->doc, cfg->inert, sizeof cfg->inert);
  return MH_OK;
fail:
  pipeline_free(cfg);
  return MH_ERR;
}

int pipeline_load(const char *path, const char *const *overrides, int num_overrides,
                  const char *data_dir, PipelineConfig *cfg) {
  memset(cfg, 0, sizeof *cfg);
  char *text = NULL;
  MH_TRY(cfg_read_text(path, &text, NULL));
  int rc = pipeline_parse(path, text, overrides, num_overrides, data_dir, cfg);
  free(text);
  return rc;
}

void pipeline_free(PipelineConfig *cfg) {
  if (!cfg) return;
  cfg_doc_free(&cfg->doc);
  free(cfg->training.num_samples_to_pass);
  memset(cfg, 0, sizeof *cfg);
}

void pipeline_train_options(const PipelineConfig *cfg, TrainOptions *out) {
  const TrainingConfig *tc = &cfg->training;
  memset(out, 0, sizeof *out);
  out->batch_size = tc->batch_size;
  out->drop_last_batch = tc->drop_last_batch;
  out->shuffle = tc->shuffle;
  out->epochs = tc->epochs_per_trigger;
  out->num_samples_to_pass = pipeline_samples_to_pass(tc, 0);
  out->clip_grad_norm = tc->clip_grad_norm;
  out->bce = !strcmp(tc->optimization_criterion, "BCEWithLogitsLoss");
}

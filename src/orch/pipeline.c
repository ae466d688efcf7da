/* pipeline.c - see pipeline.h. */
#include "orch/pipeline.h"

#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/h5util.h"
#include "core/log.h"
#include "core/timing.h"
#include "core/vec.h"
#include "data/store.h"
#include "eval/evaluation.h"
#include "select/selector.h"
#include "train/checkpoint.h"
#include "train/model_storage.h"
#include "train/dist.h"
#include "train/model.h"
#include "train/optim.h"
#include "train/parallel.h"
#include "train/trainer.h"
#include "trigger/trigger.h"

/* Samples handed to the trigger per call while replaying. Results do not
 * depend on it (triggers are chunking-invariant). */
#define REPLAY_CHUNK 4096

enum { CMD_TRAIN = 1, CMD_DONE = 2 };

/* What rank 0 broadcasts at each trigger (then the keys). */
typedef struct {
  int64_t type;        /* CMD_TRAIN | CMD_DONE */
  int64_t trigger;     /* trigger index */
  int64_t nkeys;       /* training-set size */
  int64_t first_ts;    /* first timestamp of the trigger's new data */
  int64_t last_ts;     /* last timestamp of the trigger's new data */
  int64_t index;       /* stream index of the trigger's last sample (-1: none yet) */
  int64_t new_samples; /* samples that arrived since the previous trigger */
  int64_t partition;   /* keys per broadcast partition */
  int64_t weighted;    /* 1: per-sample weights follow each key partition */
  int64_t restore;     /* 1: a completed trigger of a resumed run: no keys follow;
                          the model is loaded from its checkpoint */
} Cmd;

typedef struct {
  const PipelineConfig *cfg;
  char dir[1024];
  Store train;
  ModelShape shape;
  Model *model;
  Optimizer opt;
  LrSchedule sched;
  ModelStorage storage;
  float *stored_params;  /* rank 0: weights of the last stored model (delta base) */
  float *initial;        /* every rank: the starting params + buffers, kept when each
                            trigger starts from them (use_previous_model: false) */
  int64_t resume_upto;   /* triggers below this are restored from checkpoints */
  Evaluation ev;
  Trigger *trigger;   /* rank 0 only */
  Selector *selector; /* rank 0 only */
  FILE *events;       /* rank 0 only */
  int nmodels;
  CheckpointMeta *meta;  /* [nmodels] */
  double *eval_s;        /* [nmodels] evaluation seconds after each trigger */
  int64_t total_iv;      /* evaluation intervals known at start (results live in ev) */
  double t_start;
} Run;

/* ---- small helpers ------------------------------------------------------ */

static const char *fmt_ts(int64_t ts, char *buf, size_t cap) {
  if (ts == INT64_MIN || ts == INT64_MAX) {
    snprintf(buf, cap, "-");
    return buf;
  }
  time_t t = (time_t)ts;
  struct tm tm;
  if (gmtime_r(&t, &tm)) strftime(buf, cap, "%Y-%m-%d", &tm);
  else snprintf(buf, cap, "%lld", (long long)ts);
  return buf;
}

static void event(Run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void event(Run *r, const char *fmt, ...) {
  if (!r->events) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(r->events, fmt, ap);
  va_end(ap);
  fputc('\n', r->events);
  fflush(r->events);
}

/* The starting weights: seeded initialisation, or the weights of a stored
 * checkpoint (initial_model: pretrained). Rank 0 makes them, all get them. */
static int init_model_weights(Run *r) {
  const TrainingConfig *tc = &r->cfg->training;
  int rc = MH_OK;
  if (mh_log_rank == 0) {
    if (!strcmp(tc->initial_model, "pretrained")) {
      CheckpointMeta meta;
      rc = checkpoint_read(tc->initial_model_path, r->model, NULL, &meta, NULL);
      if (rc) mh_error_context("training.initial_model_path");
    } else {
      Rng rng;
      rng_seed(&rng, (uint64_t)tc->seed);
      r->model->init(r->model, &rng);
    }
  }
  /* Rank 0 alone may fail: tell the others before the broadcast. */
  int ok = rc == MH_OK;
  MPI_CHECK(MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD));
  if (!ok) return mh_log_rank == 0 ? MH_ERR : mh_errorf("rank 0 could not build the initial model");
  MH_TRY(dist_bcast_model(r->model));
  if (!tc->use_previous_model) {
    /* Every trigger starts from these: keep them rather than build (or read)
     * and broadcast them again. */
    Model *m = r->model;
    r->initial = mh_malloc((size_t)(m->nparams + m->nbuffers + 1) * sizeof(float));
    if (!r->initial) return MH_ERR;
    memcpy(r->initial, m->params, (size_t)m->nparams * sizeof(float));
    memcpy(r->initial + m->nparams, m->buffers, (size_t)m->nbuffers * sizeof(float));
  }
  return MH_OK;
}

/* ---- setup -------------------------------------------------------------- */

/* Plug-ins that need only the configuration come first, so `modyn
 * validate` reports configuration mistakes before it touches any store. */
static int open_parts(Run *r, const PipelineConfig *cfg, int with_orchestrator) {
  r->cfg = cfg;
  MH_TRY(sched_parse(&cfg->training.lr_scheduler, &r->sched));
  MH_TRY(model_storage_parse(&cfg->model_storage, &r->storage));
  if (with_orchestrator) {
    MH_TRY(trigger_create(&cfg->trigger, &r->trigger));
    MH_TRY(selector_create(&cfg->selection, &r->selector));
  }
  if (store_open(cfg->data.path, &r->train)) return mh_error_context("training data");
  const StoreSchema *sc = &r->train.schema;
  r->shape.ndims = sc->ndims;
  for (int i = 0; i < sc->ndims; i++) r->shape.dims[i] = sc->dims[i];
  r->shape.in_elems = r->train.feat_elems;
  r->shape.num_classes = sc->num_classes;
  CfgRef root = cfg_root(&cfg->doc), model_ref, id_ref;
  cfg_child(&root, "model", &model_ref);
  cfg_child(&model_ref, "id", &id_ref);
  MH_TRY(model_create(cfg->model_id, &id_ref, &cfg->model_config, &r->shape, &r->model));
  if (!strcmp(cfg->training.optimization_criterion, "BCEWithLogitsLoss") &&
      r->model->num_outputs != 1)
    return mh_errorf("training.optimization_criterion.name: BCEWithLogitsLoss needs a model with "
                     "one output (a binary DLRM), but %s has %d outputs; use CrossEntropyLoss",
                     cfg->model_id, r->model->num_outputs);
  MH_TRY(optim_init(&r->opt, &cfg->training.optimizer, r->model, r->model->nparams));
  MH_TRY(evaluation_init(&r->ev, cfg, sc->num_classes, &r->shape));
  r->total_iv = evaluation_num_intervals(&r->ev);
  return MH_OK;
}

static void close_parts(Run *r) {
  if (r->events) fclose(r->events);
  trigger_free(r->trigger);
  selector_free(r->selector);
  evaluation_free(&r->ev);
  optim_free(&r->opt);
  model_free(r->model);
  store_close(&r->train);
  free(r->stored_params);
  free(r->initial);
  free(r->meta);
  free(r->eval_s);
}

int pipeline_check(const PipelineConfig *cfg) {
  Run r;
  memset(&r, 0, sizeof r);
  int rc = open_parts(&r, cfg, 1);
  close_parts(&r);
  return rc;
}

/* ---- outputs (rank 0) ----------------------------------------------------- */

/* ---- evaluation outputs (src/eval/evaluation.h writes them) ---- */
static int write_matrix(Run *r) {
  char path[1100];
  snprintf(path, sizeof path, "%s/eval/matrix.csv", r->dir);
  return evaluation_write_matrix(&r->ev, r->meta, r->nmodels, path);
}

static int write_triggers(Run *r) {
  char path[1100];
  snprintf(path, sizeof path, "%s/triggers.csv", r->dir);
  AtomicFile f;
  MH_TRY(atomic_open(&f, path));
  fprintf(f.fp, "trigger,stream_index,first_timestamp,last_timestamp,new_samples,"
                "trained_samples,epochs,loss_first_epoch,loss_last_epoch,train_seconds,"
                "eval_seconds\n");
  for (int i = 0; i < r->nmodels; i++) {
    const CheckpointMeta *t = &r->meta[i];
    fprintf(f.fp, "%lld,%lld,%lld,%lld,%lld,%lld,%lld,%.6f,%.6f,%.4f,%.4f\n", (long long)t->trigger,
            (long long)t->stream_index, (long long)t->first_timestamp,
            (long long)t->last_timestamp, (long long)t->new_samples,
            (long long)t->samples_trained, (long long)t->epochs, t->loss_first, t->loss_last,
            t->train_seconds, r->eval_s[i]);
  }
  return atomic_commit(&f);
}

/* Composite models per interval and the pipeline scores (eval/score.csv);
 * fills the summary from the first task's first metric. */
static int write_composite(Run *r, RunSummary *sum) {
  char cpath[1100], spath[1100];
  snprintf(cpath, sizeof cpath, "%s/eval/composite.csv", r->dir);
  snprintf(spath, sizeof spath, "%s/eval/score.csv", r->dir);
  EvalScore sc;
  MH_TRY(evaluation_write_composite(&r->ev, r->meta, r->nmodels, cpath, spath, &sc));
  sum->mean_active = sc.mean_active;
  sum->mean_trained = sc.mean_trained;
  sum->tw_active = sc.tw_active;
  sum->intervals_scored = sc.n_active;
  return MH_OK;
}

/* After the last trigger: handlers that run after the pipeline evaluate
 * every model from its checkpoint. Collective. */
static int evaluate_after_pipeline(Run *r) {
  if (!evaluation_has_after_pipeline(&r->ev) || r->nmodels == 0) return MH_OK;
  EvalBank bank;
  int rc = eval_bank_load(&bank, r->model, r->dir);
  if (!rc) rc = evaluation_after_pipeline(&r->ev, r->model, &bank);
  eval_bank_free(&bank);
  if (!rc && mh_log_rank == 0) rc = write_matrix(r);
  return rc;
}
/* ---- end of the evaluation outputs ---- */

/* ---- one trigger, on every rank -------------------------------------------- */

static int grow_results(Run *r) {
  int n = r->nmodels + 1;
  CheckpointMeta *meta = mh_realloc(r->meta, (size_t)n * sizeof *meta);
  if (!meta) return MH_ERR;
  r->meta = meta;
  double *eval_s = mh_realloc(r->eval_s, (size_t)n * sizeof *eval_s);
  if (!eval_s) return MH_ERR;
  r->eval_s = eval_s;
  return MH_OK;
}

/* A trigger that a resumed run completed before: rank 0 loads its model
 * from the checkpoint and checks that replaying the stream gave the same
 * trigger; every rank gets the weights. */
static int restore_trigger(Run *r, const Cmd *cmd, const char *path, CheckpointMeta *meta,
                           TrainStats *ts) {
  int ok = 1;
  if (mh_log_rank == 0) {
    /* Triggers are restored in order: the previous one's weights are at hand. */
    if (checkpoint_read(path, r->model, NULL, meta, r->nmodels > 0 ? r->stored_params : NULL)) {
      ok = 0;
    } else if (meta->first_timestamp != cmd->first_ts || meta->last_timestamp != cmd->last_ts) {
      mh_errorf("%s holds trigger %lld for data %lld..%lld, but replaying the stream now gives "
                "%lld..%lld: the data or the configuration changed since the run; start a new run",
                path, (long long)cmd->trigger, (long long)meta->first_timestamp,
                (long long)meta->last_timestamp, (long long)cmd->first_ts, (long long)cmd->last_ts);
      ok = 0;
    }
  }
  MPI_CHECK(MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD));
  if (!ok) return mh_log_rank == 0 ? MH_ERR : mh_errorf("rank 0 could not restore a trigger");
  MH_TRY(dist_bcast_model(r->model));
  double stats[5] = {(double)meta->samples_trained, (double)meta->epochs, meta->loss_first,
                     meta->loss_last, meta->train_seconds};
  MPI_CHECK(MPI_Bcast(stats, 5, MPI_DOUBLE, 0, MPI_COMM_WORLD));
  ts->samples = (int64_t)stats[0];
  ts->epochs = (int64_t)stats[1];
  ts->first_loss = stats[2];
  ts->last_loss = stats[3];
  ts->seconds = stats[4]; /* the original training time, for triggers.csv */
  return MH_OK;
}

static int handle_trigger(Run *r, const Cmd *cmd, const int64_t *keys, const float *weights,
                          double select_s) {
  const TrainingConfig *tc = &r->cfg->training;
  MH_TRY(grow_results(r));
  int mi = r->nmodels;
  if (!tc->use_previous_model && mi > 0 && !cmd->restore) {
    Model *m = r->model;
    memcpy(m->params, r->initial, (size_t)m->nparams * sizeof(float));
    memcpy(m->buffers, r->initial + m->nparams, (size_t)m->nbuffers * sizeof(float));
  }
  /* Each trigger starts a fresh optimizer, as the original's trainer does. */
  optim_reset(&r->opt);

  TrainStats ts;
  memset(&ts, 0, sizeof ts);
  CheckpointMeta *meta = &r->meta[mi];
  char path[1100];
  snprintf(path, sizeof path, "%s/models/trigger_%04lld.h5", r->dir, (long long)cmd->trigger);
  if (cmd->restore) {
    MH_TRY(restore_trigger(r, cmd, path, meta, &ts));
  } else {
    uint64_t seed = rng_derive((uint64_t)tc->seed, (uint64_t)cmd->trigger + 1);
    TrainPlan plan = {{cmd->partition, 0, (int)tc->num_prefetched_partitions,
                       (int)tc->parallel_prefetch_requests},
                      r->sched, seed};
    if (trainer_run(r->model, &r->opt, &r->train, keys, weights, cmd->nkeys, tc, &plan, &ts))
      return mh_error_context("trigger %lld", (long long)cmd->trigger);
  }

  meta->trigger = cmd->trigger;
  meta->first_timestamp = cmd->first_ts;
  meta->last_timestamp = cmd->last_ts;
  meta->parent = tc->use_previous_model && mi > 0 ? mi - 1 : -1;
  meta->num_samples = cmd->nkeys;
  meta->stream_index = cmd->index;
  meta->new_samples = cmd->new_samples;
  meta->samples_trained = ts.samples;
  meta->epochs = ts.epochs;
  meta->loss_first = ts.first_loss;
  meta->loss_last = ts.last_loss;
  meta->train_seconds = ts.seconds;
  double t0 = mh_now();
  int64_t ckpt_bytes = 0;
  if (mh_log_rank == 0) {
    if (!r->stored_params) {
      r->stored_params = mh_malloc((size_t)r->model->nparams * sizeof(float));
      if (!r->stored_params) return MH_ERR;
    }
    if (!cmd->restore)
      MH_TRY(checkpoint_write(path, r->model, &r->opt, meta, &r->storage,
                              mi > 0 ? r->stored_params : NULL, &ckpt_bytes));
    memcpy(r->stored_params, r->model->params, (size_t)r->model->nparams * sizeof(float));
  }
  double ckpt_s = mh_now() - t0;

  t0 = mh_now();
  if (r->ev.ntasks > 0) MH_TRY(evaluation_after_training(&r->ev, r->model, r->meta, mi + 1));
  double eval_s = mh_now() - t0;
  r->nmodels++;

  r->eval_s[mi] = eval_s;

  if (mh_log_rank == 0) {
    if (r->ev.ntasks > 0) MH_TRY(write_matrix(r));
    MH_TRY(write_triggers(r));
    char d1[32];
    double next = evaluation_next_value(&r->ev, r->meta, mi + 1, mi);
    LOG0("%7lld %9lld %11s %8lld %9lld %6lld %9.4f %9.4f %9.1f %10.0f%s\n", (long long)cmd->trigger,
         (long long)cmd->index, fmt_ts(cmd->last_ts, d1, sizeof d1), (long long)cmd->new_samples,
         (long long)ts.samples, (long long)ts.epochs, ts.last_loss, next, 1e3 * ts.seconds,
         ts.seconds > 0 ? (double)ts.samples / ts.seconds : 0.0, cmd->restore ? "  (restored)" : "");
    if (!cmd->restore)
      event(r,
          "{\"event\":\"trigger\",\"trigger\":%lld,\"stream_index\":%lld,\"first_timestamp\":%lld,"
          "\"last_timestamp\":%lld,\"new_samples\":%lld,\"training_set\":%lld,"
          "\"samples_trained\":%lld,\"epochs\":%lld,\"steps\":%lld,\"loss_first_epoch\":%.6f,"
          "\"loss_last_epoch\":%.6f,\"selection_s\":%.6f,\"train_s\":%.6f,\"read_s\":%.6f,"
          "\"allreduce_s\":%.6f,\"checkpoint_s\":%.6f,\"checkpoint_bytes\":%lld,"
          "\"eval_s\":%.6f}",
          (long long)cmd->trigger, (long long)cmd->index, (long long)cmd->first_ts,
          (long long)cmd->last_ts, (long long)cmd->new_samples, (long long)cmd->nkeys,
          (long long)ts.samples, (long long)ts.epochs, (long long)ts.steps, ts.first_loss,
          ts.last_loss, select_s, ts.seconds, ts.read_seconds, ts.comm_seconds, ckpt_s,
          (long long)ckpt_bytes, eval_s);
  }
  return MH_OK;
}

/* ---- the command channel ------------------------------------------------- */

static int bcast_cmd(Cmd *cmd) {
  MPI_CHECK(MPI_Bcast(cmd, (int)(sizeof *cmd / sizeof(int64_t)), MPI_INT64_T, 0, MPI_COMM_WORLD));
  return MH_OK;
}

/* The training set travels in partitions of cmd->partition keys (and their
 * weights, for weighted strategies). */
static int bcast_keys(const Cmd *cmd, int64_t *keys, float *weights) {
  for (int64_t off = 0; off < cmd->nkeys; off += cmd->partition) {
    int64_t c = cmd->nkeys - off < cmd->partition ? cmd->nkeys - off : cmd->partition;
    MPI_CHECK(MPI_Bcast(keys + off, (int)c, MPI_INT64_T, 0, MPI_COMM_WORLD));
    if (cmd->weighted) MPI_CHECK(MPI_Bcast(weights + off, (int)c, MPI_FLOAT, 0, MPI_COMM_WORLD));
  }
  return MH_OK;
}

static int worker_loop(Run *r) {
  for (;;) {
    Cmd cmd;
    MH_TRY(bcast_cmd(&cmd));
    if (cmd.type == CMD_DONE) return MH_OK;
    int64_t nk = cmd.restore ? 0 : cmd.nkeys;
    int64_t *keys = mh_malloc((size_t)nk * sizeof(int64_t));
    float *weights = cmd.weighted ? mh_malloc((size_t)nk * sizeof(float)) : NULL;
    int rc = !keys || (cmd.weighted && !weights) ? MH_ERR : MH_OK;
    if (!rc && !cmd.restore) rc = bcast_keys(&cmd, keys, weights);
    if (!rc) rc = handle_trigger(r, &cmd, keys, weights, 0.0);
    free(keys);
    free(weights);
    MH_TRY(rc);
  }
}

/* ---- the orchestrator (rank 0) -------------------------------------------- */

static const Store *g_order_store;
static int cmp_replay(const void *a, const void *b) {
  const Store *s = g_order_store;
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  if (s->timestamps[x] != s->timestamps[y]) return s->timestamps[x] < s->timestamps[y] ? -1 : 1;
  return (s->keys[x] > s->keys[y]) - (s->keys[x] < s->keys[y]);
}

typedef struct {
  int64_t count;    /* samples since the last trigger */
  int64_t first_ts; /* of those */
  int64_t last_ts;  /* last sample's timestamp seen so far */
} Pending;

/* selection/trigger_NNNN.h5: the trigger's training set as the strategy
 * chose it (/keys, and /weights for weighted strategies). */
static int write_selection(const Run *r, int64_t trigger, const TrainingSet *set, int weighted) {
  char path[1100];
  snprintf(path, sizeof path, "%s/selection/trigger_%04lld.h5", r->dir, (long long)trigger);
  hid_t f = h5_create_tmp(path);
  if (f < 0) return MH_ERR;
  int rc = h5_attr_write_i64(f, "trigger", trigger);
  if (!rc) rc = h5_attr_write_str(f, "strategy", r->cfg->selection_name);
  if (!rc) rc = h5_write_i64(f, "keys", set->keys.len, set->keys.data);
  if (!rc && weighted) rc = h5_write_f32(f, "weights", set->weights.len, set->weights.data);
  if (rc) {
    H5Fclose(f);
    return mh_error_context("writing %s", path);
  }
  return h5_commit(f, path);
}

static int fire(Run *r, int64_t trigger, int64_t index, Pending *p, TrainingSet *set) {
  double t0 = mh_now();
  MH_TRY(r->selector->select(r->selector, trigger, set));
  double select_s = mh_now() - t0;
  int weighted = r->selector->common.uses_weights && set->weights.len == set->keys.len;
  if (trigger >= r->resume_upto) MH_TRY(write_selection(r, trigger, set, weighted));
  Cmd cmd = {CMD_TRAIN, trigger, set->keys.len, p->count ? p->first_ts : p->last_ts,
             p->last_ts, index, p->count, r->selector->common.maximum_keys_in_memory, weighted,
             trigger < r->resume_upto};
  float *w = weighted ? set->weights.data : NULL;
  MH_TRY(bcast_cmd(&cmd));
  if (!cmd.restore) MH_TRY(bcast_keys(&cmd, set->keys.data, w));
  MH_TRY(handle_trigger(r, &cmd, set->keys.data, w, select_s));
  p->count = 0;
  return MH_OK;
}

static int orchestrate(Run *r) {
  const Store *s = &r->train;
  const ExperimentConfig *ex = &r->cfg->experiment;
  int64_t *order = mh_malloc((size_t)s->n * sizeof(int64_t));
  int64_t *ck = mh_malloc(REPLAY_CHUNK * sizeof(int64_t));
  int64_t *ct = mh_malloc(REPLAY_CHUNK * sizeof(int64_t));
  int32_t *cl = mh_malloc(REPLAY_CHUNK * sizeof(int32_t));
  I64Vec fired = {0};
  TrainingSet set = {0};
  int rc = (!order || !ck || !ct || !cl) ? MH_ERR : MH_OK;
  int64_t n = 0;
  for (int64_t i = 0; !rc && i < s->n; i++)
    if (s->timestamps[i] >= ex->start_replay_at && s->timestamps[i] < ex->stop_replay_at)
      order[n++] = i;
  g_order_store = s;
  if (!rc) qsort(order, (size_t)n, sizeof(int64_t), cmp_replay);

  Pending p = {0, 0, INT64_MIN};
  int64_t triggers = 0;
  int stop = 0;
  for (int64_t c0 = 0; !rc && !stop && c0 < n; c0 += REPLAY_CHUNK) {
    int64_t cn = n - c0 < REPLAY_CHUNK ? n - c0 : REPLAY_CHUNK;
    for (int64_t i = 0; i < cn; i++) {
      ck[i] = s->keys[order[c0 + i]];
      ct[i] = s->timestamps[order[c0 + i]];
      cl[i] = s->labels[order[c0 + i]];
    }
    StreamChunk chunk = {ck, ct, cl, cn};
    fired.len = 0;
    rc = r->trigger->inform(r->trigger, &chunk, &fired);
    int64_t prev = 0; /* first sample of the chunk not yet given to the selector */
    for (int64_t f = 0; !rc && f <= fired.len; f++) {
      int64_t end = f < fired.len ? fired.data[f] + 1 : cn; /* samples [prev, end) */
      if (end > prev) {
        StreamChunk part = {ck + prev, ct + prev, cl + prev, end - prev};
        rc = r->selector->inform(r->selector, &part);
        if (rc) break;
        if (p.count == 0) p.first_ts = ct[prev];
        p.count += end - prev;
        p.last_ts = ct[end - 1];
        prev = end;
      }
      if (f == fired.len) break;
      rc = fire(r, triggers, c0 + fired.data[f], &p, &set);
      triggers++;
      if (ex->maximum_triggers > 0 && triggers >= ex->maximum_triggers) {
        stop = 1;
        break;
      }
    }
  }
  Cmd done = {CMD_DONE, 0, 0, 0, 0, 0, 0, 1, 0, 0};
  if (!rc) rc = bcast_cmd(&done);
  training_set_free(&set);
  i64vec_free(&fired);
  free(order);
  free(ck);
  free(ct);
  free(cl);
  return rc;
}

/* ---- the run ----------------------------------------------------------------- */

/* Completed triggers of an interrupted run: its checkpoints
 * trigger_0000.h5, trigger_0001.h5, ... without a gap. */
static int64_t completed_triggers(const char *run_dir) {
  int64_t k = 0;
  char path[1100];
  for (;; k++) {
    snprintf(path, sizeof path, "%s/models/trigger_%04lld.h5", run_dir, (long long)k);
    if (!mh_path_exists(path)) return k;
  }
}

static int prepare_dir_rank0(Run *r, const char *run_dir, int resume, int64_t *done) {
  char path[1100];
  snprintf(path, sizeof path, "%s/config.yaml", run_dir);
  if (!resume && mh_path_exists(path))
    return mh_errorf("run directory %s already holds a run; choose another --out, or continue "
                     "it with 'modyn resume %s'", run_dir, run_dir);
  if (resume) {
    if (!mh_path_exists(path))
      return mh_errorf("%s is not a run directory (no config.yaml)", run_dir);
    *done = completed_triggers(run_dir);
    snprintf(path, sizeof path, "%s/events.jsonl", run_dir);
    r->events = fopen(path, "a");
    if (!r->events) return mh_errorf("cannot append to %s", path);
    return MH_OK;
  }
  snprintf(path, sizeof path, "%s/models", run_dir);
  MH_TRY(mh_mkdir_p(path));
  snprintf(path, sizeof path, "%s/eval", run_dir);
  MH_TRY(mh_mkdir_p(path));
  snprintf(path, sizeof path, "%s/selection", run_dir);
  MH_TRY(mh_mkdir_p(path));
  snprintf(path, sizeof path, "%s/config.yaml", run_dir);
  MH_TRY(cfg_write_yaml(&r->cfg->doc, path));
  snprintf(path, sizeof path, "%s/events.jsonl", run_dir);
  r->events = fopen(path, "w");
  if (!r->events) return mh_errorf("cannot write %s", path);
  return MH_OK;
}

/* Rank 0 prepares the directory; every rank learns how many triggers a
 * resumed run restores (the broadcast happens even when rank 0 failed, so
 * no rank waits; the setup check after it reports the failure). */
static int prepare_dir(Run *r, const char *run_dir, int resume) {
  snprintf(r->dir, sizeof r->dir, "%s", run_dir);
  int64_t done = 0;
  int rc = mh_log_rank == 0 ? prepare_dir_rank0(r, run_dir, resume, &done) : MH_OK;
  MPI_CHECK(MPI_Bcast(&done, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));
  r->resume_upto = done;
  return rc;
}

static void print_ranks(void) {
  char host[64] = "";
  gethostname(host, sizeof host - 1);
  int threads = par_threads();
  char *all = mh_log_rank == 0 ? calloc((size_t)mh_log_nranks, sizeof host) : NULL;
  int *th = mh_log_rank == 0 ? calloc((size_t)mh_log_nranks, sizeof(int)) : NULL;
  MPI_Gather(host, sizeof host, MPI_CHAR, all, sizeof host, MPI_CHAR, 0, MPI_COMM_WORLD);
  MPI_Gather(&threads, 1, MPI_INT, th, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (all && th)
    for (int i = 0; i < mh_log_nranks; i++)
      LOG0("# rank %d on %s, device cpu, %d thread%s\n", i, all + i * sizeof host, th[i],
           th[i] == 1 ? "" : "s");
  free(all);
  free(th);
}

int pipeline_run(const PipelineConfig *cfg, const char *run_dir, int resume, RunSummary *sum) {
  Run r;
  memset(&r, 0, sizeof r);
  memset(sum, 0, sizeof *sum);
  r.t_start = mh_now();
  r.cfg = cfg;
  int rc = prepare_dir(&r, run_dir, resume);
  if (!rc) rc = open_parts(&r, cfg, mh_log_rank == 0);
  /* Setup errors on one rank must not leave the others waiting: agree
   * first, and let the lowest failing rank alone print its message. */
  int mine = rc == MH_OK ? mh_log_nranks : mh_log_rank, first_bad = 0;
  MPI_Allreduce(&mine, &first_bad, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (first_bad < mh_log_nranks) {
    if (first_bad == mh_log_rank) fprintf(stderr, "modyn: error: %s\n", mh_error());
    close_parts(&r);
    return PIPELINE_REPORTED;
  }
  print_ranks();
  LOG0("# pipeline %s: model %s (%lld parameters), trigger %s, selection %s\n", cfg->name,
       cfg->model_id, (long long)r.model->nparams, cfg->trigger_id, cfg->selection_name);
  LOG0("# data %s: %lld samples, %d shards; %d evaluation tasks, %lld intervals\n",
       cfg->data.path, (long long)r.train.n, r.train.nshards, r.ev.ntasks, (long long)r.total_iv);
  LOG0("# run directory %s\n", run_dir);
  if (resume)
    LOG0("# resuming: %lld completed trigger%s restored from checkpoints, then training goes on\n",
         (long long)r.resume_upto, r.resume_upto == 1 ? "" : "s");
  LOG0("#%6s %9s %11s %8s %9s %6s %9s %9s %9s %10s\n", "trigger", "index", "data_up_to", "new",
       "trained", "epochs", "loss", "acc_next", "train_ms", "samples/s");
  event(&r, "{\"event\":\"%s\",\"pipeline\":\"%s\",\"ranks\":%d,\"samples\":%lld,"
            "\"restored_triggers\":%lld}",
        resume ? "pipeline_resume" : "pipeline_start", cfg->name, mh_log_nranks,
        (long long)r.train.n, (long long)r.resume_upto);

  rc = init_model_weights(&r);
  if (!rc) rc = mh_log_rank == 0 ? orchestrate(&r) : worker_loop(&r);

  if (!rc) {
    sum->triggers = r.nmodels;
    for (int i = 0; i < r.nmodels; i++) sum->samples_trained += r.meta[i].samples_trained;
    if (r.ev.ntasks > 0) rc = evaluate_after_pipeline(&r);
    if (!rc && mh_log_rank == 0 && r.ev.ntasks > 0) rc = write_composite(&r, sum);
    sum->wall_seconds = mh_now() - r.t_start;
    char mean[32];
    if (isfinite(sum->mean_active)) snprintf(mean, sizeof mean, "%.6f", sum->mean_active);
    else snprintf(mean, sizeof mean, "null");
    event(&r, "{\"event\":\"pipeline_end\",\"triggers\":%d,\"samples_trained\":%lld,"
              "\"mean_composite_active\":%s,\"wall_s\":%.6f}",
          sum->triggers, (long long)sum->samples_trained, mean, sum->wall_seconds);
  }
  close_parts(&r);
  return rc;
}

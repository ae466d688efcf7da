/* downsample_rho.c - `RHOLoss` downsampling (Mindermann et al.,
 * "Prioritized Training on Points that are Learnable, Worth Learning, and
 * Not Yet Learnt"): in every batch, keep the `target` samples whose loss
 * under the model being trained exceeds their irreducible loss the most;
 * weights 1. Batch-then-sample only, as in the original.
 *
 * The irreducible loss (IL) of a sample is its loss under a second model,
 * the IL model, trained on a holdout of the trigger's new data. As the
 * original:
 *   - the holdout: each sample that arrived since the previous trigger,
 *     with probability holdout_set_ratio / holdout_set_ratio_max (the
 *     original's `random() < p` over the trigger's new data);
 *   - Simple: one IL model trained on the holdout; Twin: the new data split
 *     in two at p = 1/2, one IL model trained on each half; a sample's IL
 *     comes from the model that did not train on it (the second model's for
 *     the first half, the first model's for everything else);
 *   - the main model trains on the whole training set (the holdout is not
 *     taken out of it: the original's description, "the original training
 *     set is used to train the main model");
 *   - il_training_config is a training section of its own (il_model_id,
 *     il_model_config, optimizer, epochs, batch size, ...); with
 *     use_previous_model each IL model starts from its latest checkpoint of
 *     an earlier trigger, else from a fresh initialisation.
 *
 * Where it runs: rank 0's select() keeps the holdout and the set's keys
 * (prepare); before the trigger trains, every rank (before_training) gets
 * them by broadcast, trains the IL model(s) data-parallel with the
 * trainer, rank 0 writes RUN/aux/trigger_NNNN_il.h5 (Twin: and
 * trigger_NNNN_il_twin.h5), the IL of every key of the set comes from one
 * model pass, and every rank keeps the same (key, IL) table for the batch
 * filter. A resumed run loads the trigger's IL checkpoint when it exists
 * instead of training again (the same weights: training is deterministic).
 * Since the IL model is fixed for the trigger, the IL is computed once per
 * key (the original caches it per sample id on first sight). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/pipeline.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "select/downsampler.h"
#include "train/checkpoint.h"

typedef struct {
  int64_t key;
  float il;
} KeyLoss;

typedef struct {
  int64_t holdout_ratio, holdout_ratio_max;
  int twin;
  IlTrainingConfig il;
  LrSchedule sched;
  Model *models[2]; /* the IL models (Twin: two), created on first use */
  Optimizer opt[2];
  /* rank 0, from prepare */
  int64_t prepared;  /* the trigger prepared (-1: none) */
  I64Vec part[2];    /* holdout keys (Twin: both halves) */
  I64Vec set;        /* the training set's keys */
  /* every rank, from before_training */
  int64_t ready;     /* the trigger whose table this is (-1: none) */
  KeyLoss *table;    /* [ntable] sorted by key */
  int64_t ntable;
} Rho;

static int cmp_keyloss(const void *a, const void *b) {
  const KeyLoss *x = a, *y = b;
  return (x->key > y->key) - (x->key < y->key);
}

int downsample_rho_select(const float *loss, const float *il, int64_t n, int64_t target,
                          int64_t *keep, float *weights, int64_t *nkeep) {
  float *neg = mh_malloc((size_t)(n + 1) * sizeof(float));
  if (!neg) return MH_ERR;
  for (int64_t i = 0; i < n; i++) neg[i] = -(loss[i] - il[i]);
  int rc = downsample_smallest(neg, n, target, keep, weights, nkeep);
  free(neg);
  return rc;
}

static int rho_choose(Downsampler *d, const PassBatch *g, int64_t target, Rng *rng, int64_t *keep,
                      float *weights, int64_t *nkeep) {
  (void)rng;
  Rho *r = d->impl;
  if (!g->loss) return mh_errorf("RHOLoss downsampling: the scores hold no losses");
  if (!g->keys) return mh_errorf("RHOLoss downsampling: the batch comes without its keys");
  if (r->ready < 0)
    return mh_errorf("RHOLoss downsampling: no irreducible losses (the IL model was not trained "
                     "for this trigger)");
  float *il = mh_malloc((size_t)(g->n + 1) * sizeof(float));
  if (!il) return MH_ERR;
  for (int64_t i = 0; i < g->n; i++) {
    KeyLoss k = {g->keys[i], 0};
    const KeyLoss *hit = bsearch(&k, r->table, (size_t)r->ntable, sizeof k, cmp_keyloss);
    if (!hit) {
      free(il);
      return mh_errorf("RHOLoss downsampling: key %lld has no irreducible loss (it is not in "
                       "trigger %lld's training set)",
                       (long long)g->keys[i], (long long)r->ready);
    }
    il[i] = hit->il;
  }
  int rc = downsample_rho_select(g->loss, il, g->n, target, keep, weights, nkeep);
  free(il);
  return rc;
}

int downsample_rho_set_losses(Downsampler *d, int64_t trigger, const int64_t *keys,
                              const float *il, int64_t n) {
  Rho *r = d->impl;
  free(r->table);
  r->ntable = 0;
  r->ready = -1;
  r->table = mh_malloc((size_t)(n + 1) * sizeof(KeyLoss));
  if (!r->table) return MH_ERR;
  for (int64_t i = 0; i < n; i++) r->table[i] = (KeyLoss){keys[i], il[i]};
  qsort(r->table, (size_t)n, sizeof(KeyLoss), cmp_keyloss);
  r->ntable = n;
  r->ready = trigger;
  return MH_OK;
}

/* ---- rank 0, at selection: the holdout ---------------------------------------------- */

static int rho_prepare(Downsampler *d, PluginEnv *env, int64_t trigger, uint64_t seed,
                       const int64_t *new_keys, int64_t n_new, const TrainingSet *set) {
  (void)env;
  Rho *r = d->impl;
  r->prepared = -1;
  r->part[0].len = r->part[1].len = r->set.len = 0;
  Rng rng;
  rng_seed(&rng, rng_derive(seed, 0x480));
  const double p = r->twin ? 0.5 : (double)r->holdout_ratio / (double)r->holdout_ratio_max;
  MH_TRY(i64vec_reserve(&r->part[0], n_new));
  if (r->twin) MH_TRY(i64vec_reserve(&r->part[1], n_new));
  for (int64_t i = 0; i < n_new; i++) {
    const int in = rng_uniform(&rng) < p;
    if (in) r->part[0].data[r->part[0].len++] = new_keys[i];
    else if (r->twin) r->part[1].data[r->part[1].len++] = new_keys[i];
  }
  MH_TRY(i64vec_reserve(&r->set, set->keys.len));
  memcpy(r->set.data, set->keys.data, (size_t)set->keys.len * sizeof(int64_t));
  r->set.len = set->keys.len;
  r->prepared = trigger;
  return MH_OK;
}

/* ---- every rank, before training: the IL models and their losses -------------------- */

/* Rank 0's vector to every rank (others: resized). */
static int bcast_vec(const Dist *dist, I64Vec *v) {
  int64_t n = v->len;
  MH_TRY(dist_bcast_i64(dist, &n, 1));
  int rc = dist->rank == 0 ? MH_OK : i64vec_reserve(v, n);
  MH_TRY(dist_agree(dist, rc));
  v->len = n;
  return n > 0 ? dist_bcast_i64(dist, v->data, n) : MH_OK;
}

static void il_path(const PluginEnv *env, int64_t trigger, int j, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/aux/trigger_%04lld_il%s.h5", env->run_dir, (long long)trigger,
           j ? "_twin" : "");
}

/* Model j created (first use), its optimizer too. */
static int il_model(Rho *r, PluginEnv *env, int j) {
  if (r->models[j]) return MH_OK;
  MH_TRY(model_create(r->il.model_id, &r->il.model_id_ref, &r->il.model_config,
                      &env->model->shape, &r->models[j]));
  Model *m = r->models[j];
  if (m->num_outputs != env->model->num_outputs)
    return mh_errorf("RHOLoss: the IL model %s has %d outputs, the model being trained %d: "
                     "il_model_config must describe the same task",
                     r->il.model_id, m->num_outputs, env->model->num_outputs);
  return optim_init(&r->opt[j], &r->il.training.optimizer, m, m->nparams);
}

/* Rank 0: where model j of `trigger` starts. 1: the trigger's own
 * checkpoint exists (a resumed run): loaded, no training. */
static int il_start(Rho *r, PluginEnv *env, int64_t trigger, int j, int *loaded) {
  Model *m = r->models[j];
  char path[1200];
  CheckpointMeta meta;
  *loaded = 0;
  il_path(env, trigger, j, path, sizeof path);
  if (mh_path_exists(path)) {
    *loaded = 1;
    return checkpoint_read(path, m, NULL, &meta, NULL);
  }
  if (r->il.training.use_previous_model)
    for (int64_t k = trigger - 1; k >= 0; k--) {
      il_path(env, k, j, path, sizeof path);
      if (mh_path_exists(path)) return checkpoint_read(path, m, NULL, &meta, NULL);
    }
  Rng rng;
  rng_seed(&rng, rng_derive(rng_derive((uint64_t)r->il.training.seed, (uint64_t)trigger),
                            (uint64_t)j + 1));
  m->init(m, &rng);
  return MH_OK;
}

static int il_train(Rho *r, PluginEnv *env, int64_t trigger, int j) {
  const Dist *dist = env->dist;
  MH_TRY(dist_agree(dist, il_model(r, env, j)));
  Model *m = r->models[j];
  int loaded = 0, rc = MH_OK;
  if (dist->rank == 0) rc = il_start(r, env, trigger, j, &loaded);
  MH_TRY(dist_agree(dist, rc));
  int64_t flag = loaded;
  MH_TRY(dist_bcast_i64(dist, &flag, 1));
  MH_TRY(dist_bcast_f32(dist, m->params, m->nparams));
  if (m->nbuffers > 0) MH_TRY(dist_bcast_f32(dist, m->buffers, m->nbuffers));
  const I64Vec *keys = &r->part[j];
  TrainStats ts;
  memset(&ts, 0, sizeof ts);
  if (!flag) {
    const TrainingConfig *tc = &r->il.training;
    TrainOptions topt = {tc->batch_size, tc->drop_last_batch, tc->shuffle,
                         tc->epochs_per_trigger, 0, tc->clip_grad_norm,
                         !strcmp(tc->optimization_criterion, "BCEWithLogitsLoss")};
    char label[64];
    snprintf(label, sizeof label, "trigger %lld: IL model", (long long)trigger);
    TrainPlan plan = {{keys->len > 0 ? keys->len : 1, 0, (int)tc->num_prefetched_partitions,
                       (int)tc->parallel_prefetch_requests},
                      r->sched,
                      rng_derive(rng_derive((uint64_t)tc->seed, (uint64_t)trigger + 1),
                                 (uint64_t)j + 0x11),
                      NULL,
                      label,
                      NULL,
                      NULL}; /* no mid-trigger checkpoints: a stopped trigger trains it again */
    optim_reset(&r->opt[j]);
    rc = trainer_run(dist, m, &r->opt[j], env->store, keys->data, NULL, keys->len, &topt, &plan,
                     &ts);
    model_set_dist(m, NULL);
    if (rc) return mh_error_context("trigger %lld: RHOLoss IL model", (long long)trigger);
    rc = MH_OK;
    if (dist->rank == 0) {
      char dir[1100], path[1200];
      snprintf(dir, sizeof dir, "%s/aux", env->run_dir);
      il_path(env, trigger, j, path, sizeof path);
      CheckpointMeta meta;
      memset(&meta, 0, sizeof meta);
      meta.trigger = trigger;
      meta.parent = -1;
      meta.num_samples = keys->len;
      meta.samples_trained = ts.samples;
      meta.epochs = ts.epochs;
      meta.loss_first = ts.first_loss;
      meta.loss_last = ts.last_loss;
      meta.train_seconds = ts.seconds;
      rc = mh_mkdir_p(dir);
      if (!rc) rc = checkpoint_write(path, m, &r->opt[j], &meta, NULL, NULL, NULL);
    }
    MH_TRY(dist_agree(dist, rc));
  }
  if (dist->rank == 0 && env->event) {
    char line[400];
    snprintf(line, sizeof line,
             "{\"event\":\"rho_il\",\"trigger\":%lld,\"model\":%d,\"holdout\":%lld,"
             "\"loaded\":%d,\"samples_trained\":%lld,\"loss_first_epoch\":%.6f,"
             "\"loss_last_epoch\":%.6f,\"train_s\":%.6f}",
             (long long)trigger, j, (long long)keys->len, (int)flag, (long long)ts.samples,
             ts.first_loss, ts.last_loss, ts.seconds);
    env->event(env, line);
  }
  return MH_OK;
}

/* Rank 0: the loss of every key of the set under IL model j (gathered). */
static int il_pass(Rho *r, PluginEnv *env, int j, const int64_t *rows, PassResult *res) {
  PassRequest req = {rows, r->set.len, env->batch_size, NULL, NULL, 0, PASS_LOSS, env->bce, 1,
                     NULL, "RHOLoss: irreducible loss"};
  return model_pass_run(env->dist, r->models[j], env->store, &req, res);
}

static int cmp_i64(const void *a, const void *b) {
  const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int rho_before_training(Downsampler *d, PluginEnv *env, int64_t trigger) {
  Rho *r = d->impl;
  const Dist *dist = env->dist;
  r->ready = -1;
  int rc = dist->rank == 0 && r->prepared != trigger
               ? mh_errorf("RHOLoss: trigger %lld was not selected before its training",
                           (long long)trigger)
               : MH_OK;
  MH_TRY(dist_agree(dist, rc));
  const int nmodels = r->twin ? 2 : 1;
  for (int j = 0; j < nmodels; j++) MH_TRY(bcast_vec(dist, &r->part[j]));
  MH_TRY(bcast_vec(dist, &r->set));
  for (int j = 0; j < nmodels; j++) MH_TRY(il_train(r, env, trigger, j));

  /* The set's IL, on rank 0, then everywhere. */
  const int64_t n = r->set.len;
  int64_t *rows = mh_malloc((size_t)(n + 1) * sizeof(int64_t));
  float *il = mh_malloc((size_t)(n + 1) * sizeof(float));
  rc = rows && il ? store_find_rows(env->store, r->set.data, n, rows) : MH_ERR;
  rc = dist_agree(dist, rc);
  PassResult res[2];
  memset(res, 0, sizeof res);
  for (int j = 0; !rc && j < nmodels; j++) rc = il_pass(r, env, j, rows, &res[j]);
  if (!rc && dist->rank == 0) {
    if (!r->twin) {
      memcpy(il, res[0].loss, (size_t)n * sizeof(float));
    } else { /* the first half's keys take the second model's loss */
      int64_t *half = mh_malloc((size_t)(r->part[0].len + 1) * sizeof(int64_t));
      if (half) {
        memcpy(half, r->part[0].data, (size_t)r->part[0].len * sizeof(int64_t));
        qsort(half, (size_t)r->part[0].len, sizeof(int64_t), cmp_i64);
        for (int64_t i = 0; i < n; i++) {
          const int seen0 =
              bsearch(&r->set.data[i], half, (size_t)r->part[0].len, sizeof(int64_t), cmp_i64) !=
              NULL;
          il[i] = seen0 ? res[1].loss[i] : res[0].loss[i];
        }
        free(half);
      } else {
        rc = MH_ERR;
      }
    }
  }
  for (int j = 0; j < 2; j++) pass_result_free(&res[j]);
  rc = dist_agree(dist, rc);
  if (!rc) rc = dist_bcast_f32(dist, il, n);
  if (!rc) rc = dist_agree(dist, downsample_rho_set_losses(d, trigger, r->set.data, il, n));
  free(rows);
  free(il);
  return rc;
}

/* ---- creation ------------------------------------------------------------------------ */

static void rho_destroy(Downsampler *d) {
  Rho *r = d->impl;
  if (!r) return;
  for (int j = 0; j < 2; j++) {
    model_free(r->models[j]);
    optim_free(&r->opt[j]);
    i64vec_free(&r->part[j]);
  }
  i64vec_free(&r->set);
  free(r->table);
  pipeline_il_training_free(&r->il);
}

static int rho_create(const CfgRef *cfg, const DownsampleCommon *c, Downsampler **out) {
  static const char *const own[] = {"holdout_set_ratio", "holdout_set_ratio_max",
                                    "holdout_set_strategy", "il_training_config", NULL};
  static const char *const strategies[] = {"Simple", "Twin", NULL};
  MH_TRY(downsampler_check_keys(cfg, own));
  if (c->sample_then_batch) {
    CfgRef at;
    cfg_child(cfg, "sample_then_batch", &at);
    return cfg_errorf(&at, "RHOLoss runs batch-then-sample only (as in the original)");
  }
  Downsampler *d = downsampler_alloc(c, PASS_LOSS, rho_choose);
  Rho *r = mh_calloc(1, sizeof *r);
  if (!d || !r) {
    free(r);
    downsampler_free(d);
    return MH_ERR;
  }
  *out = d;
  d->impl = r;
  d->destroy = rho_destroy;
  d->prepare = rho_prepare;
  d->before_training = rho_before_training;
  r->prepared = r->ready = -1;
  MH_TRY(cfg_get_int(cfg, "holdout_set_ratio_max", 100, 1, INT32_MAX, &r->holdout_ratio_max));
  MH_TRY(cfg_req_int(cfg, "holdout_set_ratio", 0, r->holdout_ratio_max, &r->holdout_ratio));
  int strategy = 0;
  MH_TRY(cfg_req_enum(cfg, "holdout_set_strategy", strategies, &strategy));
  r->twin = strategy == 1;
  if (r->twin && 2 * r->holdout_ratio != r->holdout_ratio_max) {
    CfgRef at;
    cfg_child(cfg, "holdout_set_ratio", &at);
    return cfg_errorf(&at, "the Twin strategy splits the new data in halves: holdout_set_ratio "
                           "must be half of holdout_set_ratio_max (%lld), got %lld",
                      (long long)r->holdout_ratio_max, (long long)r->holdout_ratio);
  }
  CfgRef il;
  cfg_child(cfg, "il_training_config", &il);
  MH_TRY(pipeline_parse_il_training(&il, &r->il));
  /* the model's own fields are checked when it is made (it needs the store's shape) */
  if (!model_find(r->il.model_id))
    return cfg_errorf(&r->il.model_id_ref, "unknown model \"%s\"; available: %s",
                      r->il.model_id, model_list());
  return sched_parse(&r->il.training.lr_scheduler, &r->sched);
}

const DownsamplerType downsampler_rho = {"RHOLoss", rho_create};

/* run.c - see run.h: setting up the orchestrator's parts on every rank,
 * then the replay on rank 0 and the worker loop elsewhere. */
#include "orch/run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/timing.h"
#include "orch/orch.h"
#include "train/device.h"
#include "train/parallel.h"

/* ---- setup -------------------------------------------------------------------- */

void orch_store_shape(const Store *s, ModelShape *shape) {
  memset(shape, 0, sizeof *shape);
  shape->ndims = s->schema.ndims;
  for (int i = 0; i < s->schema.ndims; i++) shape->dims[i] = s->schema.dims[i];
  shape->in_elems = s->feat_elems;
  shape->num_classes = s->schema.num_classes;
  shape->token_ids = s->schema.type == FEAT_I32;
}

/* The model for inputs of o->shape, its optimizer, and the evaluation:
 * what a run and `modyn eval` (reeval.c) both set up. */
int orch_open_model(Orch *o, int with_optimizer) {
  const PipelineConfig *cfg = o->cfg;
  CfgRef root = cfg_root(&cfg->doc), model_ref, id_ref;
  cfg_child(&root, "model", &model_ref);
  cfg_child(&model_ref, "id", &id_ref);
  MH_TRY(model_create(cfg->model_id, &id_ref, &cfg->model_config, &o->shape, &o->model));
  if (with_optimizer)
    MH_TRY(optim_init(&o->opt, &cfg->training.optimizer, o->model, o->model->nparams));
  MH_TRY(evaluation_init(&o->ev, &cfg->evaluation, o->shape.num_classes, &o->shape));
  o->total_iv = evaluation_num_intervals(&o->ev);
  return MH_OK;
}

/* Plug-ins that need only the configuration come first, so `modyn
 * validate` reports configuration mistakes before it touches any store.
 * The trigger lives on rank 0 (with_trigger); the strategy everywhere. */
static int open_parts(Orch *o, const PipelineConfig *cfg, int with_trigger, int validating) {
  o->cfg = cfg;
  pipeline_train_options(cfg, &o->topt);
  MH_TRY(sched_parse(&cfg->training.lr_scheduler, &o->sched));
  MH_TRY(model_storage_parse(&cfg->model_storage, &o->storage));
  PluginEnv *env = validating ? NULL : &o->env;
  if (with_trigger) MH_TRY(trigger_create(&cfg->trigger, env, &o->trigger));
  MH_TRY(selector_create(&cfg->selection, env, &o->selector));
  if (store_open(cfg->data.path, &o->train)) return mh_error_context("training data");
  orch_store_shape(&o->train, &o->shape);
  MH_TRY(orch_open_model(o, 1));
  if (o->topt.bce && o->model->num_outputs != 1)
    return mh_errorf("training.optimization_criterion.name: BCEWithLogitsLoss needs a model with "
                     "one output (a binary DLRM), but %s has %d outputs; use CrossEntropyLoss",
                     cfg->model_id, o->model->num_outputs);
  orch_env_init(o);
  return MH_OK;
}

void orch_close(Orch *o) {
  if (o->events) fclose(o->events);
  trigger_free(o->trigger);
  selector_free(o->selector);
  evaluation_free(&o->ev);
  optim_free(&o->opt);
  model_free(o->model);
  model_free(o->scratch);
  store_close(&o->train);
  free(o->stored_params);
  free(o->initial);
  free(o->meta);
  free(o->eval_s);
}

int pipeline_check(const Dist *d, const PipelineConfig *cfg) {
  Orch o;
  memset(&o, 0, sizeof o);
  o.dist = d;
  int rc = open_parts(&o, cfg, 1, 1);
  orch_close(&o);
  return rc;
}

/* The starting weights: seeded initialisation, or the weights of a stored
 * checkpoint (initial_model: pretrained). Rank 0 makes them, all get them. */
static int init_model_weights(Orch *o) {
  const TrainingConfig *tc = &o->cfg->training;
  const Dist *d = o->dist;
  Model *m = o->model;
  int rc = MH_OK;
  if (d->rank == 0) {
    if (!strcmp(tc->initial_model, "pretrained")) {
      CheckpointMeta meta;
      rc = checkpoint_read(tc->initial_model_path, m, NULL, &meta, NULL);
      if (rc) mh_error_context("training.initial_model_path");
    } else {
      Rng rng;
      rng_seed(&rng, (uint64_t)tc->seed);
      m->init(m, &rng);
    }
  }
  MH_TRY(dist_agree(d, rc));
  MH_TRY(dist_bcast_f32(d, m->params, m->nparams));
  MH_TRY(dist_bcast_f32(d, m->buffers, m->nbuffers));
  if (!tc->use_previous_model) {
    /* Every trigger starts from these: keep them rather than build (or read)
     * and broadcast them again. */
    o->initial = mh_malloc((size_t)(m->nparams + m->nbuffers + 1) * sizeof(float));
    MH_TRY(dist_agree(d, o->initial ? MH_OK : MH_ERR));
    memcpy(o->initial, m->params, (size_t)m->nparams * sizeof(float));
    memcpy(o->initial + m->nparams, m->buffers, (size_t)m->nbuffers * sizeof(float));
  }
  return MH_OK;
}

/* The trap of mpirun's default binding (a rank on one core): threads that
 * share fewer cores run up to 2-3x slower, and nothing else says so. One
 * line on rank 0 when any rank has more threads than bound cores; one note
 * when ranks are bound to fewer cores than the node has for each. */
static int warn_binding(const Dist *d, const int *th) {
  int info[2] = {par_bound_cores(), 0}, *all = NULL;
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  info[1] = online > 0 && info[0] > 0 && info[0] < online / (d->local_size > 0 ? d->local_size : 1);
  if (d->rank == 0) all = mh_calloc((size_t)d->size * 2, sizeof(int));
  MH_TRY(dist_agree(d, d->rank != 0 || all ? MH_OK : MH_ERR));
  MPI_CHECK(MPI_Gather(info, 2, MPI_INT, all, 2, MPI_INT, 0, d->comm));
  int over = -1, under = -1;
  for (int i = 0; d->rank == 0 && i < d->size; i++) {
    if (over < 0 && all[2 * i] > 0 && th[i] > all[2 * i]) over = i;
    if (under < 0 && all[2 * i + 1] && th[i] <= all[2 * i]) under = i;
  }
  if (over >= 0)
    LOG0("# warning: rank %d runs %d threads on %d bound core%s; they share cores (up to 2-3x "
         "slower). Start mpirun with --bind-to none, or --map-by slot:PE=%d (SLURM: "
         "--cpus-per-task=%d), or set MODYN_THREADS=%d\n",
         over, th[over], all[2 * over], all[2 * over] == 1 ? "" : "s", th[over], th[over],
         all[2 * over]);
  else if (under >= 0)
    LOG0("# note: rank %d is bound to %d core%s of %ld on its node, so it runs %d thread%s; for "
         "more, start mpirun with --bind-to none or --map-by slot:PE=N\n",
         under, all[2 * under], all[2 * under] == 1 ? "" : "s", online, th[under],
         th[under] == 1 ? "" : "s");
  free(all);
  return MH_OK;
}

/* One '#' line per rank: host, device, threads. */
static int print_ranks(const Dist *d, const char *device) {
  char host[64] = "", dev[160] = "";
  gethostname(host, sizeof host - 1);
  snprintf(dev, sizeof dev, "%s", device);
  int threads = par_threads();
  char *all = d->rank == 0 ? mh_calloc((size_t)d->size, sizeof host) : NULL;
  char *devs = d->rank == 0 ? mh_calloc((size_t)d->size, sizeof dev) : NULL;
  int *th = d->rank == 0 ? mh_calloc((size_t)d->size, sizeof(int)) : NULL;
  MH_TRY(dist_agree(d, d->rank != 0 || (all && th && devs) ? MH_OK : MH_ERR));
  MPI_CHECK(MPI_Gather(host, sizeof host, MPI_CHAR, all, sizeof host, MPI_CHAR, 0, d->comm));
  MPI_CHECK(MPI_Gather(dev, sizeof dev, MPI_CHAR, devs, sizeof dev, MPI_CHAR, 0, d->comm));
  MPI_CHECK(MPI_Gather(&threads, 1, MPI_INT, th, 1, MPI_INT, 0, d->comm));
  for (int i = 0; d->rank == 0 && i < d->size; i++)
    LOG0("# rank %d on %s, device %s, %d thread%s\n", i, all + i * sizeof host,
         devs + i * sizeof dev, th[i], th[i] == 1 ? "" : "s");
  MH_TRY(warn_binding(d, th));
  free(all);
  free(devs);
  free(th);
  return MH_OK;
}

/* ---- after the last trigger ------------------------------------------------------ */

/* Handlers that run after the pipeline evaluate every model from its
 * checkpoint; then rank 0 writes the matrix, composite models and scores. */
static int finish(Orch *o, RunSummary *sum) {
  const Dist *d = o->dist;
  int rc = MH_OK;
  if (o->ev.ntasks > 0 && evaluation_has_after_pipeline(&o->ev) && o->nmodels > 0) {
    EvalBank bank;
    rc = eval_bank_load(&bank, d, o->model, o->dir);
    if (!rc) rc = evaluation_after_pipeline(&o->ev, d, o->model, &bank);
    eval_bank_free(&bank);
    if (!rc && d->rank == 0) rc = run_dir_write_matrix(o);
  }
  if (!rc && d->rank == 0 && o->ev.ntasks > 0) {
    EvalScore sc;
    rc = run_dir_write_composite(o, &sc);
    sum->mean_active = sc.mean_active;
    sum->mean_trained = sc.mean_trained;
    sum->tw_active = sc.tw_active;
    sum->intervals_scored = sc.n_active;
  }
  return dist_agree(d, rc);
}

int pipeline_run(const Dist *d, const PipelineConfig *cfg, const char *run_dir, int resume,
                 RunSummary *sum) {
  return pipeline_run_with(d, cfg, run_dir, resume, NULL, sum);
}

int pipeline_run_with(const Dist *d, const PipelineConfig *cfg, const char *run_dir, int resume,
                      const RunOptions *opt, RunSummary *sum) {
  Orch o;
  memset(&o, 0, sizeof o);
  memset(sum, 0, sizeof *sum);
  o.dist = d;
  o.t_start = mh_now();
  o.cfg = cfg;
  if (opt) o.run = *opt;
  if (o.run.poll_s <= 0) o.run.poll_s = RUN_DEFAULT_POLL;
  if (o.run.idle_s < 0) o.run.idle_s = 0;
  /* Rank 0 prepares the directory; every rank learns how many triggers a
   * resumed run restores. */
  int64_t done = 0;
  int rc = d->rank == 0 ? run_dir_prepare(&o, run_dir, resume, &done) : MH_OK;
  snprintf(o.dir, sizeof o.dir, "%s", run_dir);
  if (dist_bcast_i64(d, &done, 1)) rc = MH_ERR;
  o.resume_upto = done;
  o.resuming = resume;
  if (!rc) rc = open_parts(&o, cfg, d->rank == 0, 0);
  /* Setup errors on one rank must not leave the others waiting. */
  if (dist_agree_or_report(d, rc)) {
    orch_close(&o);
    return PIPELINE_REPORTED;
  }
  /* The starting weights are made on the host; then training.device puts
   * every rank's model on its GPU, or all on the CPU. */
  char device[160];
  const char *why = "";
  rc = init_model_weights(&o);
  if (!rc) rc = device_place(d, cfg->training.device, cfg->training.amp, o.model, device,
                                sizeof device, &why);
  if (dist_agree_or_report(d, rc)) {
    orch_close(&o);
    return PIPELINE_REPORTED;
  }
  if (*why) LOG0("# training.device %s: running on the CPU (%s)\n", cfg->training.device, why);
  if (cfg->training.amp && !o.model->gpu)
    LOG0("# training.amp is on, but the model runs on the CPU: float32 throughout\n");
  rc = print_ranks(d, device);
  LOG0("# pipeline %s: model %s (%lld parameters), trigger %s, selection %s\n", cfg->name,
       cfg->model_id, (long long)o.model->nparams, cfg->trigger_id, cfg->selection_name);
  LOG0("# data %s: %lld sample%s, %d shard%s; %d evaluation task%s, %lld interval%s\n",
       cfg->data.path, (long long)o.train.n, mh_plural(o.train.n), o.train.nshards,
       mh_plural(o.train.nshards), o.ev.ntasks, mh_plural(o.ev.ntasks), (long long)o.total_iv,
       mh_plural(o.total_iv));
  LOG0("# run directory %s\n", run_dir);
  if (o.run.follow)
    LOG0("# following %s: new shards are looked for every %g s%s\n", cfg->data.path,
         o.run.poll_s, o.run.idle_s > 0 ? ", until none came for --follow-until-idle" : "");
  if (resume)
    LOG0("# resuming: %lld completed trigger%s restored from checkpoints; the replay goes on "
         "after the last one\n",
         (long long)o.resume_upto, mh_plural(o.resume_upto));
  LOG0("#%6s %9s %11s %8s %9s %6s %9s %9s %9s %10s\n", "trigger", "index", "data_up_to", "new",
       "trained", "epochs", "loss", "acc_next", "train_ms", "samples/s");
  run_dir_event(&o, "{\"event\":\"%s\",\"pipeline\":\"%s\",\"ranks\":%d,\"samples\":%lld,"
                    "\"restored_triggers\":%lld}",
                resume ? "pipeline_resume" : "pipeline_start", cfg->name, d->size,
                (long long)o.train.n, (long long)o.resume_upto);

  if (!rc) rc = d->rank == 0 ? orch_replay(&o) : orch_worker_loop(&o);
  /* Shards that came during a run that did not follow them: say so. */
  if (!rc && d->rank == 0 && !o.run.follow &&
      store_unloaded_shards(&o.train, &sum->unused_shards) == MH_OK && sum->unused_shards > 0)
    run_dir_event(&o, "{\"event\":\"unused_shards\",\"shards\":%d}", sum->unused_shards);
  sum->stopped_by = o.stopped_by;
  /* Every rank leaves the loop knowing whether the run failed; this carries
   * the failing rank's message to all of them. */
  rc = dist_agree(d, rc);
  if (!rc) {
    sum->triggers = o.nmodels;
    for (int i = 0; i < o.nmodels; i++) sum->samples_trained += o.meta[i].samples_trained;
    rc = finish(&o, sum);
    sum->wall_seconds = mh_now() - o.t_start;
    char mean[32];
    if (isfinite(sum->mean_active)) snprintf(mean, sizeof mean, "%.6f", sum->mean_active);
    else snprintf(mean, sizeof mean, "null");
    run_dir_event(&o, "{\"event\":\"pipeline_end\",\"triggers\":%d,\"samples_trained\":%lld,"
                      "\"mean_composite_active\":%s,\"wall_s\":%.6f}",
                  sum->triggers, (long long)sum->samples_trained, mean, sum->wall_seconds);
  }
  orch_close(&o);
  return rc;
}

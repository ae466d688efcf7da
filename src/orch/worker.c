/* worker.c - the handlers of the orchestration protocol (one per command,
 * run on every rank) and the loop in which ranks other than 0 wait for
 * rank 0's commands. See protocol.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timing.h"
#include "orch/protocol.h"
#include "train/checkpoint.h"

/* ---- CMD_TRAIN ---------------------------------------------------------------- */

static int grow_results(Orch *o) {
  int n = o->nmodels + 1;
  CheckpointMeta *meta = mh_realloc(o->meta, (size_t)n * sizeof *meta);
  if (!meta) return MH_ERR;
  o->meta = meta;
  double *eval_s = mh_realloc(o->eval_s, (size_t)n * sizeof *eval_s);
  if (!eval_s) return MH_ERR;
  o->eval_s = eval_s;
  return MH_OK;
}

/* A trigger that a resumed run completed before: rank 0 loads its model
 * from the checkpoint and checks that replaying the stream gave the same
 * trigger; every rank gets the weights and the training statistics. */
static int restore_trigger(Orch *o, const TrainArgs *a, const char *path, CheckpointMeta *meta,
                           TrainStats *ts) {
  const Dist *d = o->dist;
  int rc = MH_OK;
  if (d->rank == 0) {
    /* Triggers are restored in order: the previous one's weights are at hand. */
    rc = checkpoint_read(path, o->model, NULL, meta, o->nmodels > 0 ? o->stored_params : NULL);
    if (!rc && (meta->first_timestamp != a->first_ts || meta->last_timestamp != a->last_ts))
      rc = mh_errorf("%s holds trigger %lld for data %lld..%lld, but replaying the stream now "
                     "gives %lld..%lld: the data or the configuration changed since the run; "
                     "start a new run",
                     path, (long long)a->trigger, (long long)meta->first_timestamp,
                     (long long)meta->last_timestamp, (long long)a->first_ts,
                     (long long)a->last_ts);
  }
  /* the dropout streams as the run left them after this trigger (none in
   * checkpoints of models without dropout) */
  uint64_t *rng = NULL;
  int64_t words = 0;
  if (!rc && d->rank == 0) rc = checkpoint_read_rng(path, &rng, &words);
  if (dist_agree(d, rc)) {
    free(rng);
    return MH_ERR;
  }
  MH_TRY(dist_bcast_f32(d, o->model->params, o->model->nparams));
  MH_TRY(dist_bcast_f32(d, o->model->buffers, o->model->nbuffers));
  MH_TRY(dist_bcast_i64(d, &words, 1));
  if (d->rank != 0 && words > 0) rng = mh_malloc((size_t)words * sizeof *rng);
  rc = dist_agree(d, words == 0 || rng ? MH_OK : MH_ERR);
  if (!rc && words > 0) rc = dist_bcast(d, rng, words, MPI_UINT64_T);
  const int64_t nstreams = o->model->rngs ? o->model->rngs(o->model, NULL, 0) : 0;
  if (!rc && nstreams > 0 && words % (4 * nstreams) == 0)
    trainer_rngs_restore(d, o->model, rng, nstreams, (int)(words / (4 * nstreams)));
  free(rng);
  MH_TRY(rc);
  double stats[6] = {(double)meta->samples_trained, (double)meta->epochs, meta->loss_first,
                     meta->loss_last, meta->train_seconds, (double)meta->samples_scored};
  MH_TRY(dist_bcast_f64(d, stats, 6));
  ts->samples = (int64_t)stats[0];
  ts->epochs = (int64_t)stats[1];
  ts->first_loss = stats[2];
  ts->last_loss = stats[3];
  ts->seconds = stats[4]; /* the original training time, for triggers.csv */
  ts->scored = (int64_t)stats[5];
  return MH_OK;
}

/* ---- mid-trigger checkpoints (training.checkpointing) ------------------------- */

typedef struct {
  Orch *o;
  const TrainArgs *a;
  uint64_t set_checksum; /* of the trigger's training set */
  char path[1100];       /* its mid-trigger checkpoint */
} PointSave;

/* What identifies a trigger's training set: its keys and weights. */
static uint64_t set_checksum(const int64_t *keys, const float *weights, int64_t n) {
  uint64_t h = mh_checksum(&n, sizeof n, 0);
  h = mh_checksum(keys, (size_t)n * sizeof *keys, h);
  return weights ? mh_checksum(weights, (size_t)n * sizeof *weights, h) : h;
}

/* TrainCheckpointer.save: rank 0 writes the point with the model and the
 * optimizer (their state is the same on every rank). */
static int save_point(TrainCheckpointer *c, const TrainPoint *p, int stop, char *where,
                      size_t cap) {
  PointSave *x = c->ctx;
  Orch *o = x->o;
  const TrainArgs *a = x->a;
  const TrainingConfig *tc = &o->cfg->training;
  int rc = MH_OK;
  double t0 = mh_now();
  if (o->dist->rank == 0) {
    CheckpointMeta meta = {a->trigger,     a->first_ts,     a->last_ts,
                           tc->use_previous_model && o->nmodels > 0 ? o->nmodels - 1 : -1,
                           a->nkeys,       a->index,        a->new_samples,
                           p->samples,     p->scored,       p->epochs,
                           p->first_loss,  p->last_loss,    p->seconds};
    rc = checkpoint_write_point(x->path, o->model, &o->opt, &meta, p, x->set_checksum);
    snprintf(where, cap, "%s", x->path);
  }
  MH_TRY(dist_agree(o->dist, rc));
  run_dir_event(o, "{\"event\":\"train_checkpoint\",\"trigger\":%lld,\"steps\":%lld,"
                   "\"epoch\":%lld,\"batches\":%lld,\"waiting\":%lld,\"stop\":%s,"
                   "\"checkpoint_s\":%.6f}",
                (long long)a->trigger, (long long)p->steps, (long long)p->epoch,
                (long long)p->batches, (long long)p->nacc, stop ? "true" : "false",
                mh_now() - t0);
  return MH_OK;
}

/* A resumed run's interrupted trigger: rank 0 loads its mid-trigger
 * checkpoint when there is one (the model, the optimizer and *p), and every
 * rank gets them. *have = 0 when there is none. */
static int load_point(Orch *o, const TrainArgs *a, const PointSave *x, TrainPoint *p, int *have) {
  const Dist *d = o->dist;
  int64_t hv = 0;
  int rc = MH_OK;
  memset(p, 0, sizeof *p);
  if (d->rank == 0 && mh_path_exists(x->path)) {
    CheckpointMeta meta;
    uint64_t sum = 0;
    hv = 1;
    rc = checkpoint_read_point(x->path, o->model, &o->opt, &meta, p, &sum);
    if (!rc && (meta.trigger != a->trigger || sum != x->set_checksum))
      rc = mh_errorf("%s holds trigger %lld's training state for another training set than "
                     "replaying the stream gives now (the data or the configuration changed); "
                     "delete it to train trigger %lld from its start",
                     x->path, (long long)meta.trigger, (long long)a->trigger);
  }
  MH_TRY(dist_agree(d, rc));
  MH_TRY(dist_bcast_i64(d, &hv, 1));
  *have = (int)hv;
  if (!hv) return MH_OK;
  Model *m = o->model;
  MH_TRY(dist_bcast_f32(d, m->params, m->nparams));
  MH_TRY(dist_bcast_f32(d, m->buffers, m->nbuffers));
  MH_TRY(dist_bcast_f32(d, o->opt.m, o->opt.n));
  if (o->opt.v) MH_TRY(dist_bcast_f32(d, o->opt.v, o->opt.n));
  int64_t iv[TRAIN_POINT_NI + 1]; /* the point, then the optimizer's step count */
  double fv[TRAIN_POINT_NF];
  train_point_pack(p, iv, fv);
  iv[TRAIN_POINT_NI] = o->opt.step;
  MH_TRY(dist_bcast_i64(d, iv, TRAIN_POINT_NI + 1));
  MH_TRY(dist_bcast_f64(d, fv, TRAIN_POINT_NF));
  if (d->rank != 0) {
    o->opt.step = iv[TRAIN_POINT_NI];
    train_point_unpack(p, iv, fv);
    p->acc_rows = mh_malloc((size_t)(p->nacc + 1) * sizeof *p->acc_rows);
    p->acc_weights = mh_malloc((size_t)(p->nacc + 1) * sizeof *p->acc_weights);
    p->acc_owner = mh_malloc((size_t)(p->nacc + 1) * sizeof *p->acc_owner);
    p->rng = mh_malloc((size_t)(p->ranks * p->nrng * 4 + 1) * sizeof *p->rng);
    rc = p->acc_rows && p->acc_weights && p->acc_owner && p->rng ? MH_OK : MH_ERR;
  }
  MH_TRY(dist_agree(d, rc));
  MH_TRY(dist_bcast_i64(d, p->acc_rows, p->nacc));
  MH_TRY(dist_bcast_f32(d, p->acc_weights, p->nacc));
  MH_TRY(dist_bcast(d, p->acc_owner, p->nacc, MPI_INT32_T));
  MH_TRY(dist_bcast(d, p->rng, p->ranks * p->nrng * 4, MPI_UINT64_T));
  LOG0("# trigger %lld: continuing its training from the mid-trigger checkpoint %s (after step "
       "%lld, epoch %lld)\n",
       (long long)a->trigger, x->path, (long long)p->steps, (long long)p->epoch);
  return MH_OK;
}

static int train_trigger(Orch *o, const TrainArgs *a, const int64_t *keys, const float *weights,
                         TrainStats *ts) {
  const TrainingConfig *tc = &o->cfg->training;
  BatchFilter *filter = NULL;
  EpochHook *hook = NULL;
  if (o->selector->batch_filter)
    MH_TRY(o->selector->batch_filter(o->selector, a->trigger, &filter));
  if (o->selector->epoch_hook && o->selector->epoch_hook(o->selector, a->trigger, &hook)) {
    batch_filter_free(filter);
    return MH_ERR;
  }
  uint64_t seed = rng_derive((uint64_t)tc->seed, (uint64_t)a->trigger + 1);
  char label[64];
  snprintf(label, sizeof label, "trigger %lld: training", (long long)a->trigger);
  PointSave ps = {o, a, set_checksum(keys, weights, a->nkeys), ""};
  run_dir_partial_path(o, a->trigger, ps.path, sizeof ps.path);
  TrainCheckpointer ckpt = {tc->ckpt_interval, save_point, NULL, &ps};
  TrainPoint point;
  int have = 0, rc = MH_OK;
  if (o->resuming && a->trigger == o->resume_upto) {
    rc = load_point(o, a, &ps, &point, &have);
    if (have) ckpt.resume = &point;
  }
  TrainPlan plan = {{a->partition, 0, (int)tc->num_prefetched_partitions,
                     (int)tc->parallel_prefetch_requests},
                    o->sched, seed, filter, label, hook, &ckpt};
  /* num_samples_to_pass may differ per trigger (the original's list). */
  TrainOptions topt = o->topt;
  topt.num_samples_to_pass = pipeline_samples_to_pass(tc, a->trigger);
  if (!rc)
    rc = trainer_run(o->dist, o->model, &o->opt, &o->train, keys, weights, a->nkeys, &topt, &plan,
                     ts);
  if (have) train_point_free(&point);
  batch_filter_free(filter);
  epoch_hook_free(hook);
  if (rc) return mh_error_context("trigger %lld", (long long)a->trigger);
  return MH_OK;
}

static int handle_train(Orch *o, Cmd *c) {
  const TrainArgs *a = &c->h.a.train;
  const Dist *d = o->dist;
  const TrainingConfig *tc = &o->cfg->training;
  int64_t *own_keys = NULL;
  float *own_weights = NULL;
  const int64_t *keys = c->keys;
  const float *weights = c->weights;
  if (!a->restore)
    MH_TRY(proto_bcast_keys(d, a->nkeys, a->partition, (int)a->weighted, &keys, &weights,
                            &own_keys, &own_weights));
  int rc = grow_results(o);
  const int mi = o->nmodels;
  if (!rc && !tc->use_previous_model && mi > 0 && !a->restore) {
    Model *m = o->model;
    memcpy(m->params, o->initial, (size_t)m->nparams * sizeof(float));
    memcpy(m->buffers, o->initial + m->nparams, (size_t)m->nbuffers * sizeof(float));
  }
  /* Each trigger starts a fresh optimizer, as the original's trainer does. */
  optim_reset(&o->opt);
  TrainStats *ts = &o->last;
  memset(ts, 0, sizeof *ts);
  char path[1100];
  run_dir_model_path(o, a->trigger, path, sizeof path);
  CheckpointMeta *meta = rc ? NULL : &o->meta[mi];
  rc = dist_agree(d, rc);
  if (!rc) rc = a->restore ? restore_trigger(o, a, path, meta, ts)
                           : train_trigger(o, a, keys, weights, ts);
  free(own_keys);
  free(own_weights);
  MH_TRY(rc);

  meta->trigger = a->trigger;
  meta->first_timestamp = a->first_ts;
  meta->last_timestamp = a->last_ts;
  meta->parent = tc->use_previous_model && mi > 0 ? mi - 1 : -1;
  meta->num_samples = a->nkeys;
  meta->stream_index = a->index;
  meta->new_samples = a->new_samples;
  meta->samples_trained = ts->samples;
  meta->samples_scored = ts->scored;
  meta->epochs = ts->epochs;
  meta->loss_first = ts->first_loss;
  meta->loss_last = ts->last_loss;
  meta->train_seconds = ts->seconds;
  /* Rank 0 writes the checkpoint (a difference against the previous model
   * when model_storage asks for it); a failed write ends every rank. */
  rc = MH_OK;
  double t0 = mh_now();
  o->last_ckpt_bytes = 0;
  /* every rank's dropout streams go with the model, for a resumed run */
  uint64_t *rng = NULL;
  int64_t nstreams = 0;
  if (!a->restore) MH_TRY(trainer_rngs_gather(d, o->model, &rng, &nstreams));
  if (d->rank == 0) {
    if (!o->stored_params) o->stored_params = mh_malloc((size_t)o->model->nparams * sizeof(float));
    if (!o->stored_params) rc = MH_ERR;
    if (!rc && !a->restore)
      rc = checkpoint_write_rng(path, o->model, &o->opt, meta, &o->storage,
                                mi > 0 ? o->stored_params : NULL, &o->last_ckpt_bytes, rng,
                                nstreams * 4 * d->size);
    if (!rc)
      memcpy(o->stored_params, o->model->params, (size_t)o->model->nparams * sizeof(float));
    /* the trigger is complete: its mid-trigger checkpoint has served */
    char partial[1100];
    run_dir_partial_path(o, a->trigger, partial, sizeof partial);
    if (!rc && unlink(partial) != 0 && errno != ENOENT)
      rc = mh_errorf("cannot remove %s: %s", partial, strerror(errno));
  }
  free(rng);
  o->last_ckpt_s = mh_now() - t0;
  MH_TRY(dist_agree(d, rc));
  o->nmodels++;
  return MH_OK;
}

/* ---- CMD_EVALUATE ------------------------------------------------------------- */

static int handle_evaluate(Orch *o, Cmd *c) {
  (void)c;
  double t0 = mh_now();
  if (o->ev.ntasks > 0)
    MH_TRY(evaluation_after_training(&o->ev, o->dist, o->model, o->meta, o->nmodels));
  o->eval_s[o->nmodels - 1] = mh_now() - t0;
  return MH_OK;
}

/* ---- CMD_PASS ------------------------------------------------------------------- */

/* The weights a pass asked for: the current model, or a completed
 * trigger's checkpoint read by rank 0 into the scratch model. */
static int pass_model(Orch *o, int64_t which, Model **out) {
  const Dist *d = o->dist;
  *out = o->model;
  if (which == PASS_MODEL_CURRENT) return MH_OK;
  int rc = MH_OK;
  if (which < 0 || which >= o->nmodels)
    rc = mh_errorf("model pass: no model of trigger %lld (%d completed)", (long long)which,
                   o->nmodels);
  if (!rc && !o->scratch) {
    const PipelineConfig *cfg = o->cfg;
    CfgRef root = cfg_root(&cfg->doc), model_ref, id_ref;
    cfg_child(&root, "model", &model_ref);
    cfg_child(&model_ref, "id", &id_ref);
    rc = model_create(cfg->model_id, &id_ref, &cfg->model_config, &o->shape, &o->scratch);
  }
  if (!rc && d->rank == 0) {
    char path[1100];
    CheckpointMeta meta;
    run_dir_model_path(o, which, path, sizeof path);
    rc = checkpoint_read(path, o->scratch, NULL, &meta, NULL);
  }
  MH_TRY(dist_agree(d, rc));
  MH_TRY(dist_bcast_f32(d, o->scratch->params, o->scratch->nparams));
  MH_TRY(dist_bcast_f32(d, o->scratch->buffers, o->scratch->nbuffers));
  *out = o->scratch;
  return MH_OK;
}

static int handle_pass(Orch *o, Cmd *c) {
  const PassArgs *a = &c->h.a.pass;
  const Dist *d = o->dist;
  const int64_t *keys = c->keys;
  const float *unused = NULL;
  int64_t *own_keys = NULL;
  float *own_weights = NULL;
  MH_TRY(proto_bcast_keys(d, a->nkeys, 0, 0, &keys, &unused, &own_keys, &own_weights));
  int64_t *rows = mh_malloc((size_t)(a->nkeys + 1) * sizeof(int64_t));
  int rc = rows ? store_find_rows(&o->train, keys, a->nkeys, rows) : MH_ERR;
  Model *m = NULL;
  rc = dist_agree(d, rc);
  if (!rc) rc = pass_model(o, a->which, &m);
  PassResult res;
  memset(&res, 0, sizeof res);
  if (!rc) {
    PassRequest req = {rows, a->nkeys, o->topt.batch_size, NULL, NULL, 0, (unsigned)a->outputs,
                       o->topt.bce, 1, NULL, "model pass"};
    rc = model_pass_run(d, m, &o->train, &req, &res);
  }
  if (!rc && d->rank == 0 && c->result) *c->result = res;
  else pass_result_free(&res);
  free(rows);
  free(own_keys);
  free(own_weights);
  return rc;
}

/* ---- CMD_REFRESH ---------------------------------------------------------------- */

/* Rank 0 loaded the store's new shards before it issued this; the others
 * load the same ones (not any that arrived since). */
static int handle_refresh(Orch *o, Cmd *c) {
  const RefreshArgs *a = &c->h.a.refresh;
  Store *s = &o->train;
  int rc = MH_OK;
  if (o->dist->rank != 0) {
    int64_t added = 0;
    rc = store_refresh_to(s, (int)a->nshards, &added);
    if (!rc && (s->nshards != a->nshards || s->n != a->nsamples))
      rc = mh_errorf("%s: rank 0 loaded %lld shards with %lld samples, this rank %d with %lld; "
                     "do all ranks see the same store directory?",
                     s->dir, (long long)a->nshards, (long long)a->nsamples, s->nshards,
                     (long long)s->n);
  }
  return dist_agree(o->dist, rc);
}

/* ---- dispatch ----------------------------------------------------------------- */

/* raw[0] = 1: rank 0 failed on its own; the run's final handshake carries
 * its message to every rank. Rank 0 dispatches DONE too: it keeps its own
 * message (the cause, e.g. a full disk), which a new one would replace. */
static int handle_done(Orch *o, Cmd *c) {
  if (!c->h.a.raw[0]) return MH_OK;
  return o->dist->rank == 0 ? MH_ERR : mh_errorf("rank 0 stopped the run");
}

typedef int (*CmdHandler)(Orch *o, Cmd *c);

static const CmdHandler handlers[CMD_NTYPES] = {
    [CMD_DONE] = handle_done,
    [CMD_TRAIN] = handle_train,
    [CMD_EVALUATE] = handle_evaluate,
    [CMD_PASS] = handle_pass,
    [CMD_REFRESH] = handle_refresh,
};

int proto_dispatch(Orch *o, Cmd *c) { return handlers[c->h.type](o, c); }

int orch_worker_loop(Orch *o) {
  for (;;) {
    Cmd c;
    MH_TRY(proto_receive(o, &c));
    MH_TRY(proto_dispatch(o, &c));
    if (c.h.type == CMD_DONE) return MH_OK;
  }
}

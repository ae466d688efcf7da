/* replay.c - rank 0's side of a run: replay the training store in
 * (timestamp, key) order, feed the trigger and the selection strategy, and
 * at each trigger issue the commands that train and evaluate the new model
 * on every rank; write the run directory's per-trigger files and print the
 * trigger's line. Also the plug-ins' model pass (PluginEnv.pass), which
 * becomes a CMD_PASS. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/signals.h"
#include "core/log.h"
#include "core/timing.h"
#include "core/vec.h"
#include "orch/protocol.h"

/* Samples handed to the trigger per call while replaying. Results do not
 * depend on it (triggers are chunking-invariant). */
#define REPLAY_CHUNK 4096

/* ---- the plug-ins' model pass ------------------------------------------------------ */

static int env_pass(PluginEnv *env, const int64_t *keys, int64_t n, unsigned outputs,
                    int64_t which, PassResult *out) {
  Orch *o = env->orch;
  memset(out, 0, sizeof *out);
  if (o->dist->rank != 0)
    return mh_errorf("the model pass is asked for on rank 0 only (a plug-in called it on rank "
                     "%d)", o->dist->rank);
  Cmd c;
  memset(&c, 0, sizeof c);
  c.h.type = CMD_PASS;
  c.h.a.pass.nkeys = n;
  c.h.a.pass.outputs = outputs;
  c.h.a.pass.which = which;
  c.keys = keys;
  c.result = out;
  return proto_issue(o, &c);
}

/* A resumed run replays the triggers it restores: their plug-in lines are
 * in events.jsonl already. */
static void env_event(PluginEnv *env, const char *json) {
  Orch *o = env->orch;
  if (o->replaying_restored) return;
  run_dir_event(o, "%s", json);
}

/* The completed triggers' log: their checkpoint metadata (worker.c). */
static int env_trigger_cost(PluginEnv *env, int64_t k, TriggerCost *out) {
  Orch *o = env->orch;
  if (k < 0 || k >= o->nmodels)
    return mh_errorf("trigger_cost: no completed trigger %lld (%d completed)", (long long)k,
                     o->nmodels);
  out->training_set = o->meta[k].num_samples;
  out->samples_trained = o->meta[k].samples_trained;
  out->train_s = o->meta[k].train_seconds;
  return MH_OK;
}

static int env_record_selection(PluginEnv *env, int64_t trigger, int64_t epoch, const char *by,
                                const int64_t *keys, const float *weights, int64_t n) {
  return run_dir_write_epoch_selection(env->orch, trigger, epoch, by, keys, weights, n);
}

void orch_env_init(Orch *o) {
  PluginEnv *e = &o->env;
  e->dist = o->dist;
  e->store = &o->train;
  e->model = o->model;
  e->models_done = &o->nmodels;
  e->bce = o->topt.bce;
  e->batch_size = o->topt.batch_size;
  e->run_dir = o->dir;
  e->pass = env_pass;
  e->event = env_event;
  e->trigger_cost = env_trigger_cost;
  e->record_selection = env_record_selection;
  e->orch = o;
}

/* ---- one trigger ------------------------------------------------------------------ */

typedef struct {
  int64_t count;    /* samples since the last trigger */
  int64_t first_ts; /* of those */
  int64_t last_ts;  /* last sample's timestamp seen so far */
} Pending;

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

/* The trigger's line on the console and in events.jsonl, and the files. */
static int report_trigger(Orch *o, const TrainArgs *a, double select_s) {
  const TrainStats *ts = &o->last;
  const int mi = o->nmodels - 1;
  if (o->ev.ntasks > 0) MH_TRY(run_dir_write_matrix(o));
  MH_TRY(run_dir_write_triggers(o));
  char d1[32];
  double next = evaluation_next_value(&o->ev, o->meta, o->nmodels, mi);
  LOG0("%7lld %9lld %11s %8lld %9lld %6lld %9.4f %9.4f %9.1f %10.0f%s\n", (long long)a->trigger,
       (long long)a->index, fmt_ts(a->last_ts, d1, sizeof d1), (long long)a->new_samples,
       (long long)ts->samples, (long long)ts->epochs, ts->last_loss, next, 1e3 * ts->seconds,
       ts->seconds > 0 ? (double)ts->samples / ts->seconds : 0.0,
       a->restore ? "  (restored)" : "");
  if (!a->restore)
    run_dir_event(o,
        "{\"event\":\"trigger\",\"trigger\":%lld,\"stream_index\":%lld,\"first_timestamp\":%lld,"
        "\"last_timestamp\":%lld,\"new_samples\":%lld,\"training_set\":%lld,"
        "\"samples_trained\":%lld,\"epochs\":%lld,\"steps\":%lld,\"loss_first_epoch\":%.6f,"
        "\"loss_last_epoch\":%.6f,\"selection_s\":%.6f,\"train_s\":%.6f,\"read_s\":%.6f,"
        "\"allreduce_s\":%.6f,\"scored\":%lld,\"checkpoint_s\":%.6f,\"checkpoint_bytes\":%lld,"
        "\"eval_s\":%.6f}",
        (long long)a->trigger, (long long)a->index, (long long)a->first_ts,
        (long long)a->last_ts, (long long)a->new_samples, (long long)a->nkeys,
        (long long)ts->samples, (long long)ts->epochs, (long long)ts->steps, ts->first_loss,
        ts->last_loss, select_s, ts->seconds, ts->read_seconds, ts->comm_seconds,
        (long long)ts->scored, o->last_ckpt_s, (long long)o->last_ckpt_bytes, o->eval_s[mi]);
  return MH_OK;
}

static int fire(Orch *o, int64_t trigger, int64_t index, Pending *p, TrainingSet *set) {
  Selector *sel = o->selector;
  double t0 = mh_now();
  o->replaying_restored = trigger < o->resume_upto;
  MH_TRY(sel->select(sel, trigger, set));
  double select_s = mh_now() - t0;
  int weighted = sel->common.uses_weights && set->weights.len == set->keys.len;
  int restore = trigger < o->resume_upto;
  if (!restore) MH_TRY(run_dir_write_selection(o, trigger, set, weighted));
  Cmd c;
  memset(&c, 0, sizeof c);
  c.h.type = CMD_TRAIN;
  TrainArgs *a = &c.h.a.train;
  a->trigger = trigger;
  a->nkeys = set->keys.len;
  a->first_ts = p->count ? p->first_ts : p->last_ts;
  a->last_ts = p->last_ts;
  a->index = index;
  a->new_samples = p->count;
  a->partition = sel->common.maximum_keys_in_memory;
  a->weighted = weighted;
  a->restore = restore;
  c.keys = set->keys.data;
  c.weights = weighted ? set->weights.data : NULL;
  c.select_s = select_s;
  MH_TRY(proto_issue(o, &c));
  Cmd e;
  memset(&e, 0, sizeof e);
  e.h.type = CMD_EVALUATE;
  MH_TRY(proto_issue(o, &e));
  MH_TRY(report_trigger(o, a, select_s));
  p->count = 0;
  return MH_OK;
}

/* ---- the replay --------------------------------------------------------------------- */

/* Rows [from, s->n) of the store that the replay window admits, in
 * (timestamp, key) order, appended to rows. When rows already holds a
 * replayed stream (following), new rows that sort before its last one
 * cannot join it: they are counted in *late and left out. */
static int add_rows(const Orch *o, int64_t from, I64Vec *rows, int64_t *late,
                    int64_t *first_late) {
  const Store *s = &o->train;
  const ExperimentConfig *ex = &o->cfg->experiment;
  *late = 0;
  *first_late = -1;
  MH_TRY(i64vec_reserve(rows, rows->len + (s->n - from) + 1));
  int64_t *add = rows->data + rows->len, n = 0;
  for (int64_t i = from; i < s->n; i++)
    if (s->timestamps[i] >= ex->start_replay_at && s->timestamps[i] < ex->stop_replay_at)
      add[n++] = i;
  store_sort_rows_by_time(s, add, n);
  int64_t skip = 0;
  if (rows->len > 0) {
    const int64_t last = rows->data[rows->len - 1];
    const int64_t lt = s->timestamps[last], lk = s->keys[last];
    while (skip < n && (s->timestamps[add[skip]] < lt ||
                        (s->timestamps[add[skip]] == lt && s->keys[add[skip]] < lk)))
      skip++;
  }
  if (skip > 0) {
    *first_late = add[0];
    memmove(add, add + skip, (size_t)(n - skip) * sizeof *add);
  }
  *late = skip;
  rows->len += n - skip;
  return MH_OK;
}

/* The shard holding global row r. */
static const char *shard_name(const Store *s, int64_t r) {
  int i = 0;
  while (i + 1 < s->nshards && s->shards[i + 1].first_row <= r) i++;
  const char *slash = strrchr(s->shards[i].path, '/');
  return slash ? slash + 1 : s->shards[i].path;
}

static void sleep_s(double sec) {
  struct timespec ts = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
  nanosleep(&ts, NULL);
}

/* Following: wait for new shards; when some came, every rank loads them
 * and their rows join `rows`. *stop = 1 ends the run cleanly: a stop
 * signal (o->stopped_by), or no shard for idle_s seconds. */
static int follow_wait(Orch *o, I64Vec *rows, int *stop) {
  Store *s = &o->train;
  const RunOptions *ro = &o->run;
  const double since = mh_now();
  for (;;) {
    const int64_t n0 = s->n;
    const int shards0 = s->nshards;
    int64_t added = 0;
    if (store_refresh(s, &added)) return mh_error_context("following the training store");
    if (s->nshards > shards0) {
      Cmd c;
      memset(&c, 0, sizeof c);
      c.h.type = CMD_REFRESH;
      c.h.a.refresh.nshards = s->nshards;
      c.h.a.refresh.nsamples = s->n;
      MH_TRY(proto_issue(o, &c));
      const int64_t before = rows->len;
      int64_t late = 0, first_late = -1;
      MH_TRY(add_rows(o, n0, rows, &late, &first_late));
      char d1[32], d2[32];
      const int k = s->nshards - shards0;
      LOG0("# store grew: %d new shard%s (%s%s%s), %lld sample%s; %lld to replay\n", k,
           mh_plural(k), shard_name(s, n0), k > 1 ? " to " : "",
           k > 1 ? shard_name(s, s->n - 1) : "", (long long)added, mh_plural(added),
           (long long)(rows->len - before));
      run_dir_event(o, "{\"event\":\"store_grew\",\"shards\":%d,\"samples\":%lld,"
                       "\"replayed\":%lld,\"late\":%lld,\"store_shards\":%d,"
                       "\"store_samples\":%lld}",
                    k, (long long)added, (long long)(rows->len - before),
                    (long long)late, s->nshards, (long long)s->n);
      if (late > 0) {
        const int64_t last = rows->data[before - 1];
        LOG0("# warning: %lld sample%s of the new shards (the first in %s, at %s) sort before "
             "the last one replayed (%s): a followed stream cannot go back, so they are "
             "skipped\n",
             (long long)late, mh_plural(late), shard_name(s, first_late),
             fmt_ts(s->timestamps[first_late], d1, sizeof d1),
             fmt_ts(s->timestamps[last], d2, sizeof d2));
        run_dir_event(o, "{\"event\":\"late_samples\",\"skipped\":%lld,\"first_timestamp\":%lld,"
                         "\"replay_timestamp\":%lld}",
                      (long long)late, (long long)s->timestamps[first_late],
                      (long long)s->timestamps[last]);
      }
      return MH_OK;
    }
    if (ro->idle_s > 0 && mh_now() - since >= ro->idle_s) {
      LOG0("# no new shard for %g s: the run ends (--follow-until-idle)\n", ro->idle_s);
      *stop = 1;
      return MH_OK;
    }
    /* sleep until the next look, hearing a stop signal within 50 ms */
    for (double end = mh_now() + ro->poll_s; mh_now() < end;) {
      if (mh_stop_signal()) {
        o->stopped_by = mh_stop_signal();
        *stop = 1;
        return MH_OK;
      }
      double left = end - mh_now();
      sleep_s(left < 0.05 ? (left > 0 ? left : 0) : 0.05);
    }
  }
}

int orch_replay(Orch *o) {
  const ExperimentConfig *ex = &o->cfg->experiment;
  int64_t *ck = mh_malloc(REPLAY_CHUNK * sizeof(int64_t));
  int64_t *ct = mh_malloc(REPLAY_CHUNK * sizeof(int64_t));
  int32_t *cl = mh_malloc(REPLAY_CHUNK * sizeof(int32_t));
  I64Vec rows = {0}; /* the stream: store rows in replay order (grows when following) */
  I64Vec fired = {0};
  TrainingSet set = {0};
  int rc = (!ck || !ct || !cl) ? MH_ERR : MH_OK;
  int64_t late = 0, first_late = -1;
  if (!rc) rc = add_rows(o, 0, &rows, &late, &first_late);

  Pending p = {0, 0, INT64_MIN};
  int64_t triggers = 0;
  int stop = 0;
  for (int64_t c0 = 0, cn = 0; !rc && !stop;) {
    if (c0 == rows.len) { /* the end of the store */
      if (!o->run.follow) break;
      rc = follow_wait(o, &rows, &stop);
      continue;
    }
    /* The store's pointers may have moved (following): read them each chunk. */
    const Store *s = &o->train;
    if (mh_stop_signal()) {
      if (o->run.follow) { /* a followed run ends this way: between triggers, cleanly */
        o->stopped_by = mh_stop_signal();
        break;
      }
      rc = mh_errorf("stopped by %s after %lld trigger%s", mh_signal_name(mh_stop_signal()),
                     (long long)triggers, mh_plural(triggers));
      break;
    }
    cn = rows.len - c0 < REPLAY_CHUNK ? rows.len - c0 : REPLAY_CHUNK;
    if (o->trigger->max_chunk) {
      int64_t lim = o->trigger->max_chunk(o->trigger);
      if (lim > 0 && lim < cn) cn = lim;
    }
    for (int64_t i = 0; i < cn; i++) {
      ck[i] = s->keys[rows.data[c0 + i]];
      ct[i] = s->timestamps[rows.data[c0 + i]];
      cl[i] = s->labels[rows.data[c0 + i]];
    }
    StreamChunk chunk = {ck, ct, cl, cn};
    fired.len = 0;
    /* Checks before the last restored trigger fires were logged by the
     * interrupted run (triggers cut chunks at their checks: max_chunk). */
    o->replaying_restored = triggers < o->resume_upto;
    rc = o->trigger->inform(o->trigger, &chunk, &fired);
    int64_t prev = 0; /* first sample of the chunk not yet given to the selector */
    for (int64_t f = 0; !rc && f <= fired.len; f++) {
      int64_t end = f < fired.len ? fired.data[f] + 1 : cn; /* samples [prev, end) */
      if (end > prev) {
        StreamChunk part = {ck + prev, ct + prev, cl + prev, end - prev};
        rc = o->selector->inform(o->selector, &part);
        if (rc) break;
        if (p.count == 0) p.first_ts = ct[prev];
        p.count += end - prev;
        p.last_ts = ct[end - 1];
        prev = end;
      }
      if (f == fired.len) break;
      rc = fire(o, triggers, c0 + fired.data[f], &p, &set);
      triggers++;
      if (ex->maximum_triggers > 0 && triggers >= ex->maximum_triggers) {
        stop = 1;
        break;
      }
    }
    c0 += cn;
  }
  /* A failure of rank 0 alone (the trigger's, the strategy's, a file it
   * writes) must still release the workers: DONE tells them it failed,
   * and the caller's handshake carries rank 0's message. A failed command
   * ended on every rank already: nobody waits for DONE then. */
  int rc2 = MH_OK;
  if (!o->collective_failed) {
    Cmd done;
    memset(&done, 0, sizeof done);
    done.h.type = CMD_DONE;
    done.h.a.raw[0] = rc != MH_OK;
    rc2 = proto_issue(o, &done);
  }
  training_set_free(&set);
  i64vec_free(&fired);
  i64vec_free(&rows);
  free(ck);
  free(ct);
  free(cl);
  return rc ? rc : rc2;
}

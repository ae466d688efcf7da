/* drift.c - DataDriftTrigger: fires when the newest data (the current
 * window) has drifted away from the data of the last trigger(s) (the
 * reference window), measured on the penultimate-layer embeddings of the
 * latest model.
 *
 * Every evaluation_interval_data_points samples (batched.h) the checked
 * batch joins the windows (drift_windows.h); then:
 *   - the first check always fires (there is no trained model before it);
 *   - during the warmup (warmup_intervals checks with a warmup_policy) the
 *     warmup policy decides, the windows move as if each check had fired,
 *     and the reference window of each warmup check is kept; at the last
 *     warmup check every kept reference is compared with the current
 *     window, which calibrates the dynamic criteria (their decisions are
 *     discarded) - the original Modyn's order;
 *   - afterwards each metric (drift_metric.h) compares the two windows, its
 *     decision criterion (criterion.h) decides, and the aggregation
 *     (drift_aggregation.h) combines the decisions.
 * Each window is capped at sample_size samples (5000 by default; null = no
 * cap) by a seeded uniform sample without replacement, so rank 0 only ever
 * holds a few times sample_size vectors. The vectors come from the model
 * pass (PluginEnv.pass, PASS_EMBED, spread over all ranks), or from the raw
 * features (read on rank 0) while no model is trained yet. The reference
 * window's vectors are kept until the reference or the model changes, and
 * the current window's until the next check, which passes only the samples
 * it has not seen with the same model.
 * Every check and calibration run writes one line to events.jsonl
 * ("event": "drift_check" / "drift_calibration") with the windows, each
 * metric's distance, threshold and decision, the outcome and timings. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/timing.h"
#include "trigger/batched.h"
#include "trigger/check_log.h"
#include "trigger/drift_aggregation.h"
#include "trigger/drift_metric.h"
#include "trigger/drift_windows.h"

#define DRIFT_MAX_METRICS 16
#define DRIFT_SEED 42u /* windows are sampled from seeds derived from this */

typedef struct {
  float *v;       /* [n * dim] */
  int64_t n, dim;
  int features;   /* raw features rather than embeddings */
} Vectors;

typedef struct {
  Batched b;
  PluginEnv *env;
  DriftWindows w;
  DriftMetric metrics[DRIFT_MAX_METRICS];
  int nmetrics;
  DriftAggregation agg;
  int64_t sample_size;          /* <= 0: no cap */
  int triggered_once;
  KeyTsQueue *warm;             /* reference windows of the warmup checks */
  int nwarm;
  Vectors ref;                  /* cached reference vectors */
  Vectors prev;                 /* the last current window's vectors... */
  int64_t *prev_keys;           /* ...their keys, sorted, and */
  int64_t *prev_row;            /* ...the row of each in prev.v */
  int64_t prev_models;          /* the model they came from (-1: none) */
  int64_t ref_version, ref_models; /* what ref was made from (-1: nothing) */
  int64_t fired_models;         /* *models_done when the trigger last fired (-1: never) */
} DriftTrigger;

/* ---- vectors of a window ------------------------------------------------------------ */

static int64_t models_done(const DriftTrigger *d) {
  return d->env && d->env->models_done ? *d->env->models_done : 0;
}

/* Up to cap keys of q, chosen uniformly without replacement (seeded), in
 * stream order. */
static int sample_keys(const KeyTsQueue *q, int64_t cap, uint64_t seed, int64_t **keys,
                       int64_t *n) {
  int64_t len = q->len, take = cap > 0 && cap < len ? cap : len;
  int64_t *idx = mh_malloc((size_t)(len + 1) * sizeof *idx);
  *keys = mh_malloc((size_t)(take + 1) * sizeof **keys);
  if (!idx || !*keys) {
    free(idx);
    return MH_ERR;
  }
  for (int64_t i = 0; i < len; i++) idx[i] = i;
  if (take < len) {
    Rng rng;
    rng_seed(&rng, seed);
    for (int64_t i = 0; i < take; i++) { /* partial Fisher-Yates */
      int64_t j = i + (int64_t)rng_below(&rng, (uint64_t)(len - i));
      int64_t t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
    }
    /* back into stream order: mark the chosen ones */
    char *pick = mh_calloc((size_t)len, 1);
    if (!pick) {
      free(idx);
      return MH_ERR;
    }
    for (int64_t i = 0; i < take; i++) pick[idx[i]] = 1;
    int64_t k = 0;
    for (int64_t i = 0; i < len; i++)
      if (pick[i]) idx[k++] = i;
    free(pick);
  }
  for (int64_t i = 0; i < take; i++) (*keys)[i] = kq_key(q, idx[i]);
  free(idx);
  *n = take;
  return MH_OK;
}

/* Vectors of keys[n]: the latest model's embeddings through the model pass,
 * or the raw features while no model is trained. */
static int vectors_of(DriftTrigger *d, const int64_t *keys, int64_t n, Vectors *out) {
  memset(out, 0, sizeof *out);
  PluginEnv *env = d->env;
  if (!env || !env->pass) return mh_errorf("DataDriftTrigger: no pipeline to get data from");
  out->n = n;
  if (models_done(d) == 0) {
    if (!env->store) return mh_errorf("DataDriftTrigger: no store to read features from");
    Store *s = (Store *)env->store; /* reading features does not change the store */
    out->features = 1;
    out->dim = s->feat_elems;
    int64_t *rows = mh_malloc((size_t)(n + 1) * sizeof *rows);
    out->v = mh_malloc((size_t)(n * out->dim + 1) * sizeof *out->v);
    int rc = rows && out->v ? MH_OK : MH_ERR;
    if (!rc) rc = store_find_rows(s, keys, n, rows);
    if (!rc) rc = store_read_features_f32(s, rows, n, out->v);
    free(rows);
    return rc;
  }
  PassResult r;
  MH_TRY(env->pass(env, keys, n, PASS_EMBED, PASS_MODEL_CURRENT, &r));
  if (!r.embed || r.D <= 0) {
    pass_result_free(&r);
    return mh_errorf("DataDriftTrigger: the model has no penultimate-layer embedding");
  }
  out->dim = r.D;
  out->v = r.embed; /* take the array over */
  r.embed = NULL;
  pass_result_free(&r);
  return MH_OK;
}

static int window_vectors(DriftTrigger *d, const KeyTsQueue *q, uint64_t seed, Vectors *out) {
  int64_t *keys = NULL, n = 0;
  MH_TRY(sample_keys(q, d->sample_size, seed, &keys, &n));
  int rc = vectors_of(d, keys, n, out);
  free(keys);
  return rc;
}

static void sort_keys_rows(int64_t *key, int64_t *row, int64_t n) {
  /* insertion runs are short in practice (stream order is nearly key
   * order); fall back to a plain shell sort otherwise */
  for (int64_t gap = n / 2; gap > 0; gap /= 2)
    for (int64_t i = gap; i < n; i++)
      for (int64_t j = i; j >= gap && key[j - gap] > key[j]; j -= gap) {
        int64_t t = key[j];
        key[j] = key[j - gap];
        key[j - gap] = t;
        t = row[j];
        row[j] = row[j - gap];
        row[j - gap] = t;
      }
}

static int64_t find_key(const int64_t *sorted, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (sorted[mid] < k) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && sorted[lo] == k ? lo : -1;
}

/* The current window's vectors. Consecutive current windows overlap (a
 * check adds evaluation_interval_data_points samples to a window that is
 * usually longer), so the vectors of the previous check's current window
 * are reused while the model is the same: only new samples go through the
 * model pass. */
static int current_vectors(DriftTrigger *d, uint64_t seed, Vectors *out) {
  int64_t *keys = NULL, n = 0;
  MH_TRY(sample_keys(&d->w.current, d->sample_size, seed, &keys, &n));
  const int64_t models = models_done(d);
  const int reuse = d->prev.v && d->prev_models == models;
  int64_t *miss = mh_malloc((size_t)(n + 1) * sizeof *miss);
  int64_t *from = mh_malloc((size_t)(n + 1) * sizeof *from); /* row in prev, or -1 */
  int rc = miss && from ? MH_OK : MH_ERR;
  int64_t nmiss = 0;
  for (int64_t i = 0; !rc && i < n; i++) {
    int64_t at = reuse ? find_key(d->prev_keys, d->prev.n, keys[i]) : -1;
    from[i] = at >= 0 ? d->prev_row[at] : -1;
    if (at < 0) miss[nmiss++] = keys[i];
  }
  Vectors fresh = {0};
  if (!rc && nmiss) rc = vectors_of(d, miss, nmiss, &fresh);
  memset(out, 0, sizeof *out);
  if (!rc) {
    out->n = n;
    out->dim = nmiss ? fresh.dim : d->prev.dim;
    out->features = nmiss ? fresh.features : d->prev.features;
    if (reuse && nmiss && fresh.dim != d->prev.dim)
      rc = mh_errorf("DataDriftTrigger: vectors changed dimension (%lld, then %lld)",
                     (long long)d->prev.dim, (long long)fresh.dim);
    out->v = rc ? NULL : mh_malloc((size_t)(n * out->dim + 1) * sizeof *out->v);
    if (!out->v) rc = MH_ERR;
  }
  for (int64_t i = 0, f = 0; !rc && i < n; i++) {
    const float *src = from[i] >= 0 ? d->prev.v + from[i] * out->dim : fresh.v + (f++) * out->dim;
    memcpy(out->v + i * out->dim, src, (size_t)out->dim * sizeof *src);
  }
  free(fresh.v);
  free(miss);
  free(from);
  /* Keep this window's vectors for the next check. */
  free(d->prev.v);
  free(d->prev_keys);
  free(d->prev_row);
  memset(&d->prev, 0, sizeof d->prev);
  d->prev_keys = d->prev_row = NULL;
  d->prev_models = -1;
  if (!rc) {
    d->prev = *out;
    d->prev.v = mh_malloc((size_t)(n * out->dim + 1) * sizeof *d->prev.v);
    d->prev_row = mh_malloc((size_t)(n + 1) * sizeof *d->prev_row);
    if (d->prev.v && d->prev_row) {
      memcpy(d->prev.v, out->v, (size_t)(n * out->dim) * sizeof *out->v);
      for (int64_t i = 0; i < n; i++) d->prev_row[i] = i;
      d->prev_keys = keys;
      keys = NULL;
      sort_keys_rows(d->prev_keys, d->prev_row, n);
      d->prev_models = models;
    } else {
      free(d->prev.v);
      free(d->prev_row);
      memset(&d->prev, 0, sizeof d->prev);
      d->prev_row = NULL;
    }
  }
  free(keys);
  if (rc) {
    free(out->v);
    out->v = NULL;
  }
  return rc;
}

/* ---- one comparison of two windows ----------------------------------------------- */

typedef struct {
  DriftMetricResult r[DRIFT_MAX_METRICS];
  int vote[DRIFT_MAX_METRICS];
  int ran[DRIFT_MAX_METRICS];
  int drift;            /* aggregated */
  int64_t nref, ncur;   /* vectors compared */
  int64_t dim;
  int features;
  const char *skipped;  /* why nothing was compared, or NULL */
  double embed_s, metric_s;
} Detection;

/* Compare reference window ref (cached when it is the trigger's own) with
 * the current window; calibrating: only metrics whose criterion needs
 * calibration run, to feed their criteria. */
static int detect(DriftTrigger *d, const KeyTsQueue *ref, int own_ref, uint64_t ref_seed,
                  int64_t check, int calibrating, Detection *det) {
  memset(det, 0, sizeof *det);
  if (ref->len < 2 || d->w.current.len < 2) {
    det->skipped = "a window has fewer than 2 samples";
    return MH_OK;
  }
  double t0 = mh_now();
  Vectors tmp = {0}, cur = {0};
  const Vectors *rv;
  const int64_t models = models_done(d);
  if (own_ref && d->ref.v && d->ref_version == d->w.reference_version && d->ref_models == models) {
    rv = &d->ref;
  } else {
    Vectors *dst = own_ref ? &d->ref : &tmp;
    if (own_ref) {
      free(d->ref.v);
      memset(&d->ref, 0, sizeof d->ref);
      d->ref_version = d->ref_models = -1;
    }
    MH_TRY(window_vectors(d, ref, ref_seed, dst));
    if (own_ref) {
      d->ref_version = d->w.reference_version;
      d->ref_models = models;
    }
    rv = dst;
  }
  int rc = current_vectors(d, rng_derive(DRIFT_SEED, 2 * (uint64_t)check + 2), &cur);
  if (!rc && cur.dim != rv->dim)
    rc = mh_errorf("DataDriftTrigger: reference vectors have %lld dimensions, current %lld",
                   (long long)rv->dim, (long long)cur.dim);
  det->embed_s = mh_now() - t0;
  det->nref = rv->n;
  det->ncur = cur.n;
  det->dim = cur.dim;
  det->features = cur.features;
  t0 = mh_now();
  for (int i = 0; !rc && i < d->nmetrics; i++) {
    DriftMetric *m = &d->metrics[i];
    if (calibrating && !(m->has_criterion && m->criterion.needs_calibration)) continue;
    det->r[i].p_val = det->r[i].sigma = NAN;
    det->r[i].test_drift = -1;
    rc = m->compute(m, rv->v, rv->n, cur.v, cur.n, cur.dim,
                    rng_derive(DRIFT_SEED, ((uint64_t)3 << 40) + (uint64_t)check), &det->r[i]);
    if (rc) {
      mh_error_context("metrics.%s", m->name);
      break;
    }
    det->ran[i] = 1;
    det->vote[i] = m->has_criterion ? criterion_decide(&m->criterion, det->r[i].distance)
                                    : det->r[i].test_drift == 1;
  }
  det->metric_s = mh_now() - t0;
  if (!rc && !calibrating) det->drift = drift_aggregate(&d->agg, det->vote, d->nmetrics);
  free(tmp.v);
  free(cur.v);
  return rc;
}

/* ---- the check's line in events.jsonl ------------------------------------------------- */

static void log_window(CheckLog *l, const char *name, const KeyTsQueue *q, int64_t used) {
  check_log_printf(l, ",\"%s\":{\"samples\":%lld,\"used\":%lld", name, (long long)q->len,
                   (long long)used);
  if (q->len)
    check_log_printf(l, ",\"first_timestamp\":%lld,\"last_timestamp\":%lld",
                     (long long)kq_ts(q, 0), (long long)kq_ts(q, q->len - 1));
  check_log_printf(l, "}");
}

static void log_detection(CheckLog *l, const DriftTrigger *d, const KeyTsQueue *ref,
                          const Detection *det) {
  log_window(l, "reference", ref, det->nref);
  log_window(l, "current", &d->w.current, det->ncur);
  if (det->skipped) {
    check_log_printf(l, ",\"skipped\":\"%s\"", det->skipped);
    return;
  }
  check_log_printf(l, ",\"vectors\":\"%s\",\"dim\":%lld,\"metrics\":{",
                   det->features ? "features" : "embeddings", (long long)det->dim);
  int first = 1;
  for (int i = 0; i < d->nmetrics; i++) {
    if (!det->ran[i]) continue;
    const DriftMetric *m = &d->metrics[i];
    check_log_printf(l, "%s\"%s\":{\"id\":\"%s\",\"distance\":", first ? "" : ",", m->name,
                     m->type->id);
    check_log_num(l, det->r[i].distance);
    check_log_printf(l, ",\"threshold\":");
    check_log_num(l, m->has_criterion ? m->criterion.last_threshold : NAN);
    check_log_printf(l, ",\"p_val\":");
    check_log_num(l, det->r[i].p_val);
    if (det->r[i].test_drift >= 0)
      check_log_printf(l, ",\"test_drift\":%s", det->r[i].test_drift ? "true" : "false");
    if (isfinite(det->r[i].sigma)) {
      check_log_printf(l, ",\"sigma\":");
      check_log_num(l, det->r[i].sigma);
    }
    check_log_printf(l, ",\"drift\":%s}", det->vote[i] ? "true" : "false");
    first = 0;
  }
  check_log_printf(l, "},\"embed_s\":%.6f,\"metric_s\":%.6f", det->embed_s, det->metric_s);
}

static void emit(DriftTrigger *d, CheckLog *l) {
  if (d->env && d->env->event && !l->failed) d->env->event(d->env, l->s);
  check_log_free(l);
}

/* ---- the check ---------------------------------------------------------------------------- */

static int any_needs_calibration(const DriftTrigger *d) {
  for (int i = 0; i < d->nmetrics; i++)
    if (d->metrics[i].has_criterion && d->metrics[i].criterion.needs_calibration) return 1;
  return 0;
}

static void free_warm(DriftTrigger *d) {
  for (int i = 0; i < d->nwarm; i++) kq_free(&d->warm[i]);
  free(d->warm);
  d->warm = NULL;
  d->nwarm = 0;
}

static int drift_check(void *owner, const BatchedCheck *c, int *fire) {
  DriftTrigger *d = owner;
  const double t0 = mh_now();
  const StreamChunk *batch = &c->batch;
  MH_TRY(drift_windows_add(&d->w, batch->keys, batch->timestamps, batch->n));
  const int warm_done_before = batched_warmup_completed(&d->b);
  const int64_t models = models_done(d);
  int triggered = 0, delegated = -1;
  Detection det;
  memset(&det, 0, sizeof det);
  const char *phase;
  if (!d->triggered_once || !warm_done_before) {
    phase = d->triggered_once ? "warmup" : "first";
    if (!warm_done_before) { /* keep this warmup check's reference for the calibration */
      KeyTsQueue *w = realloc(d->warm, (size_t)(d->nwarm + 1) * sizeof *w);
      if (!w) return mh_errorf("DataDriftTrigger: out of memory");
      d->warm = w;
      MH_TRY(kq_copy(d->triggered_once ? &d->w.reference : &d->w.current, &d->warm[d->nwarm]));
      d->nwarm++;
    }
    MH_TRY(batched_delegate(&d->b, batch, &delegated));
    triggered = !d->triggered_once || delegated;
    d->triggered_once = 1;
    if (batched_warmup_completed(&d->b) && !warm_done_before) {
      /* the last warmup check: calibrate the dynamic criteria */
      for (int i = 0; any_needs_calibration(d) && i < d->nwarm; i++) {
        Detection cal;
        MH_TRY(detect(d, &d->warm[i], 0, rng_derive(DRIFT_SEED, ((uint64_t)1 << 40) + (uint64_t)i),
                      c->check, 1, &cal));
        CheckLog l = {0};
        check_log_printf(&l, "{\"event\":\"drift_calibration\",\"check\":%lld,\"warmup_interval\":%d,"
                         "\"model\":%lld", (long long)c->check, i, (long long)models);
        log_detection(&l, d, &d->warm[i], &cal);
        check_log_printf(&l, "}");
        emit(d, &l);
      }
      free_warm(d);
    }
  } else {
    phase = "detect";
    MH_TRY(detect(d, &d->w.reference, 1,
                  rng_derive(DRIFT_SEED, 2 * (uint64_t)d->w.reference_version + 1), c->check, 0,
                  &det));
    triggered = det.drift;
  }

  CheckLog l = {0};
  check_log_printf(&l, "{\"event\":\"drift_check\",\"check\":%lld,\"stream_index\":%lld,"
                   "\"batch_first_timestamp\":%lld,\"batch_last_timestamp\":%lld,\"phase\":\"%s\","
                   "\"model\":%lld",
                   (long long)c->check, (long long)c->last_index, (long long)batch->timestamps[0],
                   (long long)batch->timestamps[batch->n - 1], phase, (long long)models);
  if (!strcmp(phase, "detect")) {
    /* the model should be the one trained at the last fire; with an
     * orchestrator that trains only after a whole chunk it may be older */
    check_log_printf(&l, ",\"stale_model\":%s", models <= d->fired_models ? "true" : "false");
    log_detection(&l, d, &d->w.reference, &det);
    check_log_printf(&l, ",\"drift\":%s", det.drift ? "true" : "false");
  } else {
    log_window(&l, "reference", &d->w.reference, 0);
    log_window(&l, "current", &d->w.current, 0);
    if (delegated >= 0 && d->b.warmup)
      check_log_printf(&l, ",\"warmup_policy_fired\":%s", delegated ? "true" : "false");
  }
  check_log_printf(&l, ",\"triggered\":%s,\"check_s\":%.6f}", triggered ? "true" : "false",
                   mh_now() - t0);
  emit(d, &l);

  /* During the warmup the windows move as if every check fired; on a fire
   * they move for the model trained on it (the original does this when it
   * is told about the new model, before the next check). */
  if (!batched_warmup_completed(&d->b) || triggered) MH_TRY(drift_windows_on_trigger(&d->w));
  if (triggered) d->fired_models = models;
  *fire = triggered;
  return MH_OK;
}

/* ---- the plug-in ------------------------------------------------------------------------ */

static int drift_inform(Trigger *t, const StreamChunk *c, I64Vec *fired) {
  DriftTrigger *d = t->impl;
  return batched_inform(&d->b, c, fired);
}

static void drift_destroy(Trigger *t) {
  DriftTrigger *d = t->impl;
  if (!d) return;
  batched_free(&d->b);
  drift_windows_free(&d->w);
  for (int i = 0; i < d->nmetrics; i++) drift_metric_free(&d->metrics[i]);
  free_warm(d);
  free(d->ref.v);
  free(d->prev.v);
  free(d->prev_keys);
  free(d->prev_row);
}

/* Chunks end at the next check: a fire's model is trained before it. */
static int64_t drift_max_chunk(Trigger *t) {
  DriftTrigger *x = t->impl;
  return batched_next_chunk_limit(&x->b);
}

static int drift_create(const CfgRef *cfg, PluginEnv *env, Trigger **out) {
  static const char *const keys[] = {"id", BATCHED_KEYS, "windowing_strategy", "sample_size",
                                     "metrics", "aggregation_strategy", NULL};
  MH_TRY(cfg_check_keys(cfg, keys));
  DriftTrigger *d = mh_calloc(1, sizeof *d);
  Trigger *t = mh_calloc(1, sizeof *t);
  if (!d || !t) {
    free(d);
    free(t);
    return MH_ERR;
  }
  t->impl = d;
  t->inform = drift_inform;
  t->max_chunk = drift_max_chunk;
  t->destroy = drift_destroy;
  *out = t;
  d->env = env;
  d->ref_version = d->ref_models = -1;
  d->prev_models = -1;
  d->fired_models = -1;
  MH_TRY(batched_init(&d->b, cfg, env, d, drift_check));
  CfgRef ws, ms, ss;
  cfg_child(cfg, "windowing_strategy", &ws);
  MH_TRY(drift_windows_init(&ws, &d->w));
  d->sample_size = 5000;
  if (cfg_child(cfg, "sample_size", &ss)) {
    if (cfg_is_null(&ss)) d->sample_size = 0;
    else MH_TRY(cfg_as_int(&ss, 2, INT64_MAX / 4, &d->sample_size));
  }
  if (!cfg_child(cfg, "metrics", &ms)) return cfg_errorf(&ms, "missing required field");
  MH_TRY(cfg_expect_map(&ms));
  if (cfg_len(&ms) < 1 || cfg_len(&ms) > DRIFT_MAX_METRICS)
    return cfg_errorf(&ms, "needs 1 to %d metrics, got %d", DRIFT_MAX_METRICS, cfg_len(&ms));
  for (int i = 0; i < cfg_len(&ms); i++) {
    const char *name = ms.node->keys[i];
    CfgRef m;
    cfg_child(&ms, name, &m);
    if (strlen(name) >= sizeof d->metrics[0].name)
      return cfg_errorf(&m, "metric name too long (at most %zu characters)",
                        sizeof d->metrics[0].name - 1);
    MH_TRY(drift_metric_create(name, &m, &d->metrics[i]));
    d->nmetrics++;
  }
  CfgRef ag;
  cfg_child(cfg, "aggregation_strategy", &ag);
  MH_TRY(drift_aggregation_init(&ag, d->nmetrics, &d->agg));
  if (any_needs_calibration(d) && !d->b.warmup) {
    CfgRef wp;
    cfg_child(cfg, "warmup_policy", &wp);
    return cfg_errorf(&wp, "a warmup_policy is required: a metric's decision criterion needs "
                           "calibration (DynamicQuantile/DynamicRollingAverage)");
  }
  return MH_OK;
}

const TriggerType trigger_data_drift = {"DataDriftTrigger", drift_create};

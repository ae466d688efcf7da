/* ensemble.c - EnsembleTrigger: several sub-triggers vote at common check
 * points, the original Modyn's EnsembleTrigger.
 *
 * Every `detection_interval_data_points` samples (1000 by default) the
 * ensemble checks: each sub-trigger votes "yes" when it fired anywhere
 * inside the interval just completed (a fire on the boundary before the
 * interval's first sample counts for this interval, as a sub-trigger
 * informed with the whole interval would report it), and the
 * `ensemble_strategy` combines the votes:
 *   {id: MajorityVote}              more than half of the sub-triggers;
 *   {id: AtLeastN, n}               at least n of them;
 *   {id: Custom, aggregation_function: all | any}
 *                                   the original takes a Python callable
 *                                   here; a YAML file can name only these two.
 * A fire owns the stream up to and including the interval's last sample.
 * Samples of an incomplete interval wait for the next chunk; nothing is
 * buffered, the sub-triggers see each piece as it comes and only their
 * "fired" flags are kept, which gives the same votes because every trigger
 * answers the same however the stream is cut (trigger.h).
 * `subtriggers` maps a name to any trigger map except another
 * EnsembleTrigger (the original refuses nesting too); they are created
 * with the ensemble's PluginEnv. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "trigger/trigger.h"

#define ENSEMBLE_MAX_SUBTRIGGERS 64

enum { ENS_MAJORITY, ENS_AT_LEAST_N, ENS_CUSTOM };

typedef struct {
  int64_t interval;  /* detection_interval_data_points */
  int64_t left;      /* samples until the next check */
  Trigger **subs;    /* the sub-triggers, in configuration order */
  int *voted;        /* sub-trigger fired inside the current interval */
  int nsubs;
  int at_least;      /* votes needed to fire */
} EnsembleTrigger;

/* Inform every sub-trigger of c (part of one interval) and record who fired. */
static int feed_subs(EnsembleTrigger *e, const StreamChunk *c) {
  I64Vec fired = {0};
  int rc = MH_OK;
  for (int s = 0; !rc && s < e->nsubs; s++) {
    fired.len = 0;
    rc = e->subs[s]->inform(e->subs[s], c, &fired);
    if (fired.len > 0) e->voted[s] = 1;
  }
  i64vec_free(&fired);
  return rc;
}

static int ensemble_inform(Trigger *t, const StreamChunk *c, I64Vec *fired) {
  EnsembleTrigger *e = t->impl;
  for (int64_t off = 0; off < c->n;) {
    int64_t n = c->n - off < e->left ? c->n - off : e->left;
    StreamChunk piece = {c->keys + off, c->timestamps + off, c->labels + off, n};
    MH_TRY(feed_subs(e, &piece));
    off += n;
    e->left -= n;
    if (e->left > 0) continue; /* the interval goes on in the next chunk */
    int yes = 0;
    for (int s = 0; s < e->nsubs; s++) yes += e->voted[s];
    memset(e->voted, 0, (size_t)e->nsubs * sizeof *e->voted);
    e->left = e->interval;
    if (yes >= e->at_least) MH_TRY(i64vec_push(fired, off - 1));
  }
  return MH_OK;
}

/* The smallest limit a sub-trigger asks for, and never past the next
 * check: a sub-trigger that checks the model on data must see the model
 * trained at an ensemble fire, and ensemble fires happen only at checks. */
static int64_t ensemble_max_chunk(Trigger *t) {
  EnsembleTrigger *e = t->impl;
  int64_t lim = e->left;
  for (int s = 0; s < e->nsubs; s++) {
    Trigger *sub = e->subs[s];
    if (!sub->max_chunk) continue;
    int64_t l = sub->max_chunk(sub);
    if (l > 0 && l < lim) lim = l;
  }
  return lim;
}

static void ensemble_destroy(Trigger *t) {
  EnsembleTrigger *e = t->impl;
  if (!e) return;
  for (int s = 0; s < e->nsubs; s++) trigger_free(e->subs[s]);
  free(e->subs);
  free(e->voted);
}

/* ensemble_strategy -> votes needed to fire out of nsubs. */
static int parse_strategy(const CfgRef *cfg, int nsubs, int *at_least) {
  static const char *const ids[] = {"MajorityVote", "AtLeastN", "Custom", NULL};
  static const char *const mv_keys[] = {"id", NULL};
  static const char *const n_keys[] = {"id", "n", NULL};
  static const char *const custom_keys[] = {"id", "aggregation_function", NULL};
  static const char *const funcs[] = {"all", "any", NULL};
  CfgRef st;
  if (!cfg_child(cfg, "ensemble_strategy", &st)) return cfg_errorf(&st, "missing required field");
  MH_TRY(cfg_expect_map(&st));
  int kind;
  MH_TRY(cfg_req_enum(&st, "id", ids, &kind));
  if (kind == ENS_MAJORITY) {
    MH_TRY(cfg_check_keys(&st, mv_keys));
    *at_least = nsubs / 2 + 1; /* more than half */
  } else if (kind == ENS_AT_LEAST_N) {
    MH_TRY(cfg_check_keys(&st, n_keys));
    int64_t n;
    MH_TRY(cfg_req_int(&st, "n", 1, ENSEMBLE_MAX_SUBTRIGGERS, &n));
    if (n > nsubs) {
      CfgRef at;
      cfg_child(&st, "n", &at);
      return cfg_errorf(&at, "is %lld but there are only %d subtriggers; the trigger could never fire",
                        (long long)n, nsubs);
    }
    *at_least = (int)n;
  } else {
    MH_TRY(cfg_check_keys(&st, custom_keys));
    int f;
    MH_TRY(cfg_req_enum(&st, "aggregation_function", funcs, &f));
    *at_least = f == 0 ? nsubs : 1;
  }
  return MH_OK;
}

static int ensemble_create(const CfgRef *cfg, PluginEnv *env, Trigger **out) {
  static const char *const keys[] = {"id", "detection_interval_data_points", "subtriggers",
                                     "ensemble_strategy", NULL};
  MH_TRY(cfg_check_keys(cfg, keys));
  EnsembleTrigger *e = mh_calloc(1, sizeof *e);
  Trigger *t = mh_calloc(1, sizeof *t);
  if (!e || !t) {
    free(e);
    free(t);
    return MH_ERR;
  }
  t->impl = e;
  t->inform = ensemble_inform;
  t->destroy = ensemble_destroy;
  *out = t; /* trigger_create frees it (and the sub-triggers made so far) on error */
  MH_TRY(cfg_get_int(cfg, "detection_interval_data_points", 1000, 1, INT64_MAX,
                     &e->interval));
  e->left = e->interval;

  CfgRef subs;
  if (!cfg_child(cfg, "subtriggers", &subs)) return cfg_errorf(&subs, "missing required field");
  MH_TRY(cfg_expect_map(&subs));
  int n = cfg_len(&subs);
  if (n < 1 || n > ENSEMBLE_MAX_SUBTRIGGERS)
    return cfg_errorf(&subs, "needs 1 to %d subtriggers, got %d", ENSEMBLE_MAX_SUBTRIGGERS, n);
  e->subs = mh_calloc((size_t)n, sizeof *e->subs);
  e->voted = mh_calloc((size_t)n, sizeof *e->voted);
  if (!e->subs || !e->voted) return MH_ERR;
  for (int i = 0; i < n; i++) {
    CfgRef sub, id;
    cfg_child(&subs, subs.node->keys[i], &sub);
    MH_TRY(cfg_expect_map(&sub));
    char name[64];
    if (cfg_child(&sub, "id", &id) && cfg_as_string(&id, name, sizeof name) == MH_OK &&
        strcmp(name, "EnsembleTrigger") == 0)
      return cfg_errorf(&id, "nested ensemble triggers are not supported");
    MH_TRY(trigger_create(&sub, env, &e->subs[i]));
    e->nsubs++;
    if (e->subs[i]->max_chunk) t->max_chunk = ensemble_max_chunk;
  }
  return parse_strategy(cfg, n, &e->at_least);
}

const TriggerType trigger_ensemble = {"EnsembleTrigger", ensemble_create};

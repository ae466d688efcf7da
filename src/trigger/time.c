/* time.c - TimeTrigger: fires every `every` of sample time.
 * Boundaries are start + k*every, where start is `start_timestamp` or the
 * first sample's timestamp. A trigger fires at each boundary passed; it
 * owns the samples with timestamps before the boundary. As in Modyn, a
 * sample at exactly the boundary belongs to the next trigger, and a gap in
 * the data that spans several boundaries fires several triggers at once. */
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "trigger/trigger.h"

typedef struct {
  int64_t every;          /* seconds */
  int64_t next;           /* next boundary */
  int started;            /* next is set */
  int have_start;         /* start_timestamp given */
  int64_t start;
  int exhausted;          /* the last boundary before INT64_MAX fired: no more */
} TimeTrigger;

/* Boundaries one stretch of samples may pass (each fires a trigger, which
 * trains): 100,000, e.g. 270 years of daily triggers. */
#define TIME_MAX_GAP 100000

static int time_inform(Trigger *t, const StreamChunk *c, I64Vec *fired) {
  TimeTrigger *s = t->impl;
  if (c->n == 0 || s->exhausted) return MH_OK;
  if (!s->started) {
    const int64_t start = s->have_start ? s->start : c->timestamps[0];
    s->started = 1;
    if (start > INT64_MAX - s->every) { /* the first boundary is past the last timestamp */
      s->exhausted = 1;
      return MH_OK;
    }
    s->next = start + s->every;
  }
  int64_t i = 0;
  const int64_t last_ts = c->timestamps[c->n - 1];
  if (s->next <= last_ts) {
    /* Every boundary passed fires, so a gap of K boundaries fires K times:
     * an implausible K (a far-future timestamp) is an error, not a run that
     * never ends. */
    __extension__ __int128 k = ((__int128)last_ts - s->next) / s->every + 1;
    if (k > TIME_MAX_GAP)
      return mh_errorf("TimeTrigger: the samples reach timestamp %lld, %.3g boundaries of every "
                       "%llds after the last trigger; check the store's timestamps, or replay a "
                       "window with experiment.start_replay_at / stop_replay_at",
                       (long long)last_ts, (double)k, (long long)s->every);
  }
  while (s->next <= last_ts) {
    while (c->timestamps[i] < s->next) i++; /* first sample at/after the boundary */
    MH_TRY(i64vec_push(fired, i - 1));
    if (s->next > INT64_MAX - s->every) { /* no later boundary is representable */
      s->next = INT64_MAX;
      s->exhausted = 1;
      break;
    }
    s->next += s->every;
  }
  return MH_OK;
}

static int time_create(const CfgRef *cfg, PluginEnv *env, Trigger **out) {
  static const char *const keys[] = {"id", "every", "start_timestamp", NULL};
  MH_TRY(cfg_check_keys(cfg, keys));
  TimeTrigger *s = mh_calloc(1, sizeof *s);
  Trigger *t = mh_calloc(1, sizeof *t);
  if (!s || !t) {
    free(s);
    free(t);
    return MH_ERR;
  }
  t->impl = s;
  t->inform = time_inform;
  *out = t;
  MH_TRY(cfg_req_duration(cfg, "every", &s->every));
  if (s->every <= 0) {
    CfgRef at;
    cfg_child(cfg, "every", &at);
    return cfg_errorf(&at, "must be positive");
  }
  CfgRef st;
  if (cfg_child(cfg, "start_timestamp", &st) && !cfg_is_null(&st)) {
    MH_TRY(cfg_as_int(&st, INT64_MIN / 2, INT64_MAX / 2, &s->start));
    s->have_start = 1;
  }
  return MH_OK;
}

const TriggerType trigger_time = {"TimeTrigger", time_create};

/* time.c - TimeTrigger: fires every `every` of sample time.
 * Boundaries are start + k*every, where start is `start_timestamp` or the
 * first sample's timestamp. A trigger fires at each boundary passed; it
 * owns the samples with timestamps before the boundary. As in Modyn, a
 * sample at exactly the boundary belongs to the next trigger, and a gap in
 * the data that spans several boundaries fires several triggers at once. */
#include <stdlib.h>

#include "core/error.h"
#include "trigger/trigger.h"

typedef struct {
  int64_t every;          /* seconds */
  int64_t next;           /* next boundary */
  int started;            /* next is set */
  int have_start;         /* start_timestamp given */
  int64_t start;
} TimeTrigger;

static int time_inform(Trigger *t, const StreamChunk *c, I64Vec *fired) {
  TimeTrigger *s = t->impl;
  if (c->n == 0) return MH_OK;
  if (!s->started) {
    s->next = (s->have_start ? s->start : c->timestamps[0]) + s->every;
    s->started = 1;
  }
  int64_t i = 0;
  const int64_t last_ts = c->timestamps[c->n - 1];
  while (s->next <= last_ts) {
    while (c->timestamps[i] < s->next) i++; /* first sample at/after the boundary */
    MH_TRY(i64vec_push(fired, i - 1));
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

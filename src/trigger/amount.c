/* amount.c - DataAmountTrigger: fires after every `num_samples` samples; the
 * trigger owns exactly those samples. */
#include <stdlib.h>

#include "core/error.h"
#include "trigger/trigger.h"

typedef struct {
  int64_t num_samples;
  int64_t seen; /* samples since the last trigger */
} AmountTrigger;

static int amount_inform(Trigger *t, const StreamChunk *c, I64Vec *fired) {
  AmountTrigger *s = t->impl;
  for (int64_t i = 0; i < c->n; i++) {
    if (++s->seen == s->num_samples) {
      MH_TRY(i64vec_push(fired, i));
      s->seen = 0;
    }
  }
  return MH_OK;
}

static int amount_create(const CfgRef *cfg, PluginEnv *env, Trigger **out) {
  static const char *const keys[] = {"id", "num_samples", NULL};
  MH_TRY(cfg_check_keys(cfg, keys));
  AmountTrigger *s = mh_calloc(1, sizeof *s);
  Trigger *t = mh_calloc(1, sizeof *t);
  if (!s || !t) {
    free(s);
    free(t);
    return MH_ERR;
  }
  t->impl = s;
  t->inform = amount_inform;
  *out = t;
  return cfg_req_int(cfg, "num_samples", 1, INT64_MAX, &s->num_samples);
}

const TriggerType trigger_data_amount = {"DataAmountTrigger", amount_create};

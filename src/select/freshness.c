/* freshness.c - FreshnessSamplingStrategy: each training set mixes keys no
 * set has used (`unused_data_ratio` percent) with keys an earlier set
 * used, following the original:
 *   first trigger: every unused key (a uniform sample of `limit` of them
 *     when a limit is set);
 *   later: with u unused and v used keys and r = unused_data_ratio,
 *     the largest set with that mix: max_u = int(u / (r / 100)),
 *     max_v = int(v / ((100 - r) / 100)); if max_u > max_v the set takes
 *     all v used keys and max_v - v unused ones, else all u unused keys and
 *     max_u - u used ones; a limit caps it at int(limit * r / 100) unused
 *     plus the rest used. Each part is a uniform sample.
 * The chosen keys are marked used. State spans triggers, so tail_triggers
 * must stay absent (null), as in the original. `limit` <= 0: no limit.
 * A trigger with no used keys yet takes the first-trigger path (the
 * original would divide by zero). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "select/key_state.h"
#include "select/presampler.h"
#include "select/selector.h"
#include "select/set_order.h"

typedef struct {
  KeyState ks;
  int64_t unused_ratio; /* percent of each set from never-used keys */
  I64Vec idx;           /* scratch */
} Freshness;

typedef struct {
  const uint8_t *used;
  uint8_t want;
} UsedIs;

static int used_is(const void *ctx, int64_t i) {
  const UsedIs *u = ctx;
  return u->used[i] == u->want;
}

static int fr_inform(Selector *s, const StreamChunk *c) {
  Freshness *f = s->impl;
  /* Only rank 0 is informed: size the columns for the whole store once,
   * instead of growing (and copying) them as the stream comes. */
  if (f->ks.cap == 0 && s->env && s->env->store)
    MH_TRY(key_state_reserve(&f->ks, s->env->store->n));
  return key_state_append(&f->ks, c);
}

static int fr_select(Selector *s, int64_t trigger, TrainingSet *out) {
  Freshness *f = s->impl;
  KeyState *ks = &f->ks;
  training_set_clear(out);
  MH_TRY(key_state_close_trigger(ks, trigger));
  const int64_t limit = s->common.limit > 0 ? s->common.limit : -1;
  int64_t u = 0, v = 0;
  for (int64_t i = 0; i < ks->n; i++) v += ks->used[i];
  u = ks->n - v;
  int64_t take_u, take_v;
  if (v == 0) { /* the first trigger (or no key used yet) */
    take_u = limit >= 0 && limit < u ? limit : u;
    take_v = 0;
  } else {
    const double r = (double)f->unused_ratio;
    const int64_t max_u = (int64_t)((double)u / (r / 100.0));
    const int64_t max_v = (int64_t)((double)v / ((100.0 - r) / 100.0));
    if (max_u > max_v) {
      take_v = v;
      take_u = max_v - v;
    } else {
      take_u = u;
      take_v = max_u - u;
    }
    if (limit >= 0 && take_u + take_v > limit) {
      take_u = (int64_t)((double)limit * (r / 100.0));
      take_v = limit - take_u;
      if (take_u > u) take_u = u;
      if (take_v > v) take_v = v;
    }
  }
  Rng rng;
  rng_seed(&rng, rng_derive(rng_derive((uint64_t)s->common.seed, (uint64_t)trigger), 1));
  f->idx.len = 0;
  UsedIs unused = {ks->used, 0}, used = {ks->used, 1};
  MH_TRY(presample_uniform(&rng, 0, ks->n, u, take_u, used_is, &unused, &f->idx));
  MH_TRY(presample_uniform(&rng, 0, ks->n, v, take_v, used_is, &used, &f->idx));
  const int64_t n = f->idx.len;
  MH_TRY(i64vec_reserve(&out->keys, n));
  for (int64_t i = 0; i < n; i++) {
    const int64_t j = f->idx.data[i];
    out->keys.data[i] = ks->keys[j];
    ks->used[j] = 1;
    ks->last_used[j] = (int32_t)trigger;
  }
  out->keys.len = n;
  Rng shuffle;
  rng_seed(&shuffle, rng_derive(rng_derive((uint64_t)s->common.seed, (uint64_t)trigger), 2));
  MH_TRY(set_shuffle_partitions(out, s->common.maximum_keys_in_memory, &shuffle));
  if (s->env && s->env->event) {
    char line[320];
    snprintf(line, sizeof line,
             "{\"event\":\"selection\",\"trigger\":%lld,\"strategy\":\"FreshnessSamplingStrategy\","
             "\"unused\":%lld,\"used\":%lld,\"from_unused\":%lld,\"from_used\":%lld}",
             (long long)trigger, (long long)u, (long long)v, (long long)take_u,
             (long long)(n - take_u));
    s->env->event(s->env, line);
  }
  return MH_OK;
}

static void fr_destroy(Selector *s) {
  Freshness *f = s->impl;
  if (!f) return;
  key_state_free(&f->ks);
  i64vec_free(&f->idx);
}

static int fr_create(const CfgRef *cfg, PluginEnv *env, Selector **out) {
  (void)env;
  static const char *const own[] = {"unused_data_ratio", NULL};
  Selector *s = NULL;
  Freshness *f = NULL;
  MH_TRY(selector_new(cfg, own, sizeof *f, &s, (void **)&f));
  *out = s;
  s->inform = fr_inform;
  s->select = fr_select;
  s->destroy = fr_destroy;
  MH_TRY(key_state_init(&f->ks, 0));
  /* At least 1% fresh (else the first trigger's data would be trained on
   * forever) and at most 99% (else NewDataStrategy does it). */
  MH_TRY(cfg_req_int(cfg, "unused_data_ratio", 1, 99, &f->unused_ratio));
  if (s->common.tail_triggers >= 0) {
    CfgRef at;
    cfg_child(cfg, "tail_triggers", &at);
    return cfg_errorf(&at, "FreshnessSamplingStrategy keeps used/unused state across all "
                           "triggers: leave tail_triggers absent or null");
  }
  return MH_OK;
}

const SelectorType selector_freshness = {"FreshnessSamplingStrategy", fr_create};

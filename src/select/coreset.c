/* coreset.c - CoresetStrategy: the trigger's window (tail_triggers),
 * presampled on rank 0 (presampling_config, presampler.h), then optionally
 * downsampled by the model (downsampling_config, downsampler.h):
 *   - batch-then-sample downsamplers become the trigger's batch filter,
 *     which every rank runs inside training on each global batch;
 *   - sample-then-batch ones become the trigger's epoch hook: select()
 *     hands the trainer the presampled set, and at the start of every
 *     `period`-th epoch every rank scores it with the model being trained
 *     (one model pass) and trains on the chosen keys with their weights
 *     (weighted, as the original always is in that mode).
 * The first `warmup_triggers` triggers train on the whole window (`No`
 * presampling, no downsampling); the downsampling schedule counts triggers
 * from 0 all the same. `limit` <= 0 means no limit, as in the original.
 * The set is shuffled within partitions of maximum_keys_in_memory, as the
 * original stores it. Every draw is seeded by `seed` and the trigger. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "select/downsampler.h"
#include "select/key_state.h"
#include "select/presampler.h"
#include "select/selector.h"
#include "select/set_order.h"

/* Random streams of one trigger (rng_derive of the trigger's seed). */
enum { STREAM_PRESAMPLE = 1, STREAM_DOWNSAMPLE, STREAM_SHUFFLE };

typedef struct {
  KeyState ks;             /* rank 0: every key seen */
  int64_t warmup_triggers; /* triggers trained on the whole window */
  Presampler *pre;         /* presampling_config */
  Presampler *none;        /* warm-up triggers */
  DownsampleSchedule down; /* downsampling_config */
  I64Vec idx;              /* scratch: presampled indices */
} Coreset;

static int cs_inform(Selector *s, const StreamChunk *c) {
  Coreset *cs = s->impl;
  /* Only rank 0 is informed: size the columns for the whole store once,
   * instead of growing (and copying) them as the stream comes. */
  if (cs->ks.cap == 0 && s->env && s->env->store)
    MH_TRY(key_state_reserve(&cs->ks, s->env->store->n));
  return key_state_append(&cs->ks, c);
}

static uint64_t trigger_seed(const Selector *s, int64_t trigger, int stream) {
  return rng_derive(rng_derive((uint64_t)s->common.seed, (uint64_t)trigger), (uint64_t)stream);
}

/* The trigger's downsampler (NULL: none), warm-up included. */
static Downsampler *downsampler_of(const Coreset *cs, int64_t trigger) {
  if (trigger < cs->warmup_triggers) return NULL;
  return downsample_schedule_at(&cs->down, trigger);
}

static int cs_select(Selector *s, int64_t trigger, TrainingSet *out) {
  Coreset *cs = s->impl;
  KeyState *ks = &cs->ks;
  training_set_clear(out);
  MH_TRY(key_state_close_trigger(ks, trigger));
  const int64_t begin = key_state_window_begin(ks, trigger, s->common.tail_triggers);
  const int warm = trigger < cs->warmup_triggers;
  Rng rng;
  rng_seed(&rng, trigger_seed(s, trigger, STREAM_PRESAMPLE));
  PresampleCall call = {ks, begin, trigger, s->common.limit > 0 ? s->common.limit : -1, &rng};
  Presampler *p = warm ? cs->none : cs->pre;
  MH_TRY(p->sample(p, &call, &cs->idx));
  const int64_t n = cs->idx.len;
  Downsampler *d = downsampler_of(cs, trigger);
  const int stb = d && d->common.sample_then_batch;
  MH_TRY(i64vec_reserve(&out->keys, n));
  for (int64_t i = 0; i < n; i++) out->keys.data[i] = ks->keys[cs->idx.data[i]];
  out->keys.len = n;
  Rng shuffle;
  rng_seed(&shuffle, trigger_seed(s, trigger, STREAM_SHUFFLE));
  MH_TRY(set_shuffle_partitions(out, s->common.maximum_keys_in_memory, &shuffle));
  if (d && d->prepare && s->env) {
    const int64_t new_begin = key_state_window_begin(ks, trigger, 0);
    MH_TRY(d->prepare(d, s->env, trigger, trigger_seed(s, trigger, STREAM_DOWNSAMPLE),
                      ks->keys + new_begin, ks->n - new_begin, out));
  }
  if (s->env && s->env->event) {
    char line[512];
    snprintf(line, sizeof line,
             "{\"event\":\"selection\",\"trigger\":%lld,\"strategy\":\"CoresetStrategy\","
             "\"window\":%lld,\"presampling\":\"%s\",\"presampled\":%lld,"
             "\"downsampling\":\"%s\",\"mode\":\"%s\",\"training_set\":%lld}",
             (long long)trigger, (long long)(ks->n - begin), p->cfg.strategy, (long long)n,
             d ? d->common.strategy : "No", !d ? "none" : stb ? "StB" : "BtS",
             (long long)out->keys.len);
    s->env->event(s->env, line);
  }
  return MH_OK;
}

/* Every rank: the downsampler's own collective work before training. */
static int before_training(Selector *s, Downsampler *d, int64_t trigger) {
  if (!d->before_training) return MH_OK;
  if (!s->env)
    return mh_errorf("%s downsampling needs the run's environment", d->common.strategy);
  return d->before_training(d, s->env, trigger);
}

static int cs_batch_filter(Selector *s, int64_t trigger, BatchFilter **out) {
  Coreset *cs = s->impl;
  *out = NULL;
  Downsampler *d = downsampler_of(cs, trigger);
  if (!d || d->common.sample_then_batch) return MH_OK;
  MH_TRY(before_training(s, d, trigger));
  return downsampler_batch_filter(d, (uint64_t)s->common.seed, trigger, out);
}

static int cs_epoch_hook(Selector *s, int64_t trigger, EpochHook **out) {
  Coreset *cs = s->impl;
  *out = NULL;
  Downsampler *d = downsampler_of(cs, trigger);
  if (!d || !d->common.sample_then_batch) return MH_OK;
  MH_TRY(before_training(s, d, trigger));
  return downsampler_epoch_hook(d, s->env, trigger_seed(s, trigger, STREAM_DOWNSAMPLE), trigger,
                                out);
}

static void cs_destroy(Selector *s) {
  Coreset *cs = s->impl;
  if (!cs) return;
  key_state_free(&cs->ks);
  presampler_free(cs->pre);
  presampler_free(cs->none);
  downsample_schedule_free(&cs->down);
  i64vec_free(&cs->idx);
}

static int cs_create(const CfgRef *cfg, PluginEnv *env, Selector **out) {
  static const char *const own[] = {"warmup_triggers", "presampling_config",
                                    "downsampling_config", NULL};
  Selector *s = NULL;
  Coreset *cs = NULL;
  MH_TRY(selector_new(cfg, own, sizeof *cs, &s, (void **)&cs));
  *out = s;
  s->inform = cs_inform;
  s->select = cs_select;
  s->batch_filter = cs_batch_filter;
  s->epoch_hook = cs_epoch_hook;
  s->destroy = cs_destroy;
  MH_TRY(key_state_init(&cs->ks, 0));
  MH_TRY(cfg_get_int(cfg, "warmup_triggers", 0, 0, INT32_MAX, &cs->warmup_triggers));
  CfgRef pre, down;
  cfg_child(cfg, "presampling_config", &pre);
  MH_TRY(presampler_create(&pre, s->common.tail_triggers, &cs->pre));
  MH_TRY(presampler_create_none(&cs->none));
  cfg_child(cfg, "downsampling_config", &down);
  MH_TRY(downsample_schedule_parse(&down, &cs->down));
  return MH_OK;
}

const SelectorType selector_coreset = {"CoresetStrategy", cs_create};

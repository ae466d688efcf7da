/* new_data.c - NewDataStrategy: train on the data that arrived since the
 * last trigger, or on a tail of triggers.
 *   tail_triggers: null (default) = all data seen so far; 0 = only this
 *   trigger's new data; N = this trigger's data plus the N previous triggers'.
 *   limit (-1 = none) caps the set with a uniform sample without
 *   replacement (seeded by `seed` and the trigger index), kept in stream
 *   order. Only on all data (tail_triggers null) does limit_reset choose:
 *   lastX = the newest `limit` keys, sampleUAR = the uniform sample. This
 *   is the original's rule (new_data_strategy.py: _get_data_reset and
 *   _get_data_tail sample uniformly, only _get_data_no_reset reads
 *   limit_reset); the original applies it to each partition of
 *   maximum_keys_in_memory keys, we to the whole set (the same with one
 *   partition).
 * Weights are all 1 (uses_weights is accepted but has no effect here). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "select/selector.h"

typedef struct {
  I64Vec keys;         /* every key seen, in stream order */
  I64Vec trigger_end;  /* trigger_end[t] = len of keys when trigger t fired */
  int limit_reset;     /* 0 = lastX, 1 = sampleUAR */
} NewData;

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int nd_inform(Selector *s, const StreamChunk *c) {
  NewData *d = s->impl;
  MH_TRY(i64vec_reserve(&d->keys, d->keys.len + c->n));
  memcpy(d->keys.data + d->keys.len, c->keys, (size_t)c->n * sizeof(int64_t));
  d->keys.len += c->n;
  return MH_OK;
}

static int nd_select(Selector *s, int64_t trigger, TrainingSet *out) {
  NewData *d = s->impl;
  training_set_clear(out);
  MH_TRY(i64vec_push(&d->trigger_end, d->keys.len));
  int64_t t = d->trigger_end.len - 1; /* this trigger's position */
  int64_t tail = s->common.tail_triggers;
  int64_t first_trigger = tail < 0 ? 0 : (t - tail < 0 ? 0 : t - tail);
  int64_t begin = first_trigger == 0 ? 0 : d->trigger_end.data[first_trigger - 1];
  int64_t end = d->keys.len;
  int64_t n = end - begin;
  int64_t limit = s->common.limit;
  if (limit >= 0 && n > limit) {
    if (tail < 0 && d->limit_reset == 0) {
      begin = end - limit; /* lastX: the newest keys */
      n = limit;
    } else {
      /* sampleUAR: partial Fisher-Yates over a copy, then keep stream order. */
      int64_t *tmp = mh_malloc((size_t)n * sizeof(int64_t));
      if (!tmp) return MH_ERR;
      for (int64_t i = 0; i < n; i++) tmp[i] = begin + i;
      Rng rng;
      rng_seed(&rng, rng_derive((uint64_t)s->common.seed, (uint64_t)trigger));
      for (int64_t i = 0; i < limit; i++) {
        int64_t j = i + (int64_t)rng_below(&rng, (uint64_t)(n - i));
        int64_t x = tmp[i];
        tmp[i] = tmp[j];
        tmp[j] = x;
      }
      /* Sort the chosen positions so the set keeps stream order. */
      qsort(tmp, (size_t)limit, sizeof(int64_t), cmp_i64);
      int rc = i64vec_reserve(&out->keys, limit);
      for (int64_t i = 0; !rc && i < limit; i++) out->keys.data[i] = d->keys.data[tmp[i]];
      if (!rc) out->keys.len = limit;
      free(tmp);
      return rc;
    }
  }
  MH_TRY(i64vec_reserve(&out->keys, n));
  memcpy(out->keys.data, d->keys.data + begin, (size_t)n * sizeof(int64_t));
  out->keys.len = n;
  return MH_OK;
}

static void nd_destroy(Selector *s) {
  NewData *d = s->impl;
  if (!d) return;
  i64vec_free(&d->keys);
  i64vec_free(&d->trigger_end);
}

static int nd_create(const CfgRef *cfg, PluginEnv *env, Selector **out) {
  static const char *const own[] = {"limit_reset", NULL};
  static const char *const resets[] = {"lastX", "sampleUAR", NULL};
  Selector *s = NULL;
  NewData *d = NULL;
  MH_TRY(selector_new(cfg, own, sizeof *d, &s, (void **)&d));
  *out = s;
  s->inform = nd_inform;
  s->select = nd_select;
  s->destroy = nd_destroy;
  return cfg_get_enum(cfg, "limit_reset", resets, 0, &d->limit_reset);
}

const SelectorType selector_new_data = {"NewDataStrategy", nd_create};

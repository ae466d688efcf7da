/* presample_no_replacement.c - `RandomNoReplacement` presampling: like
 * Random, but a key is drawn again only after every key of the window has
 * been drawn since the last "complete" trigger. Following the original:
 * candidates are window keys last used before last_complete (initially 0,
 * so every never-used key qualifies); when they are fewer than the target,
 * all of them are taken, last_complete becomes this trigger, and the rest
 * of the target is drawn from the window's keys not taken now. The chosen
 * keys' last_used becomes this trigger. The key state keeps last_used, so
 * a replay from the start rebuilds the same draws. */
#include <stdlib.h>

#include "core/error.h"
#include "select/presampler.h"

typedef struct {
  int64_t last_complete; /* last trigger at which every window key had been drawn */
} NoReplacement;

typedef struct {
  const int32_t *last_used;
  int32_t before; /* candidates: last_used < before */
} Unused;

static int unused_since(const void *ctx, int64_t i) {
  const Unused *u = ctx;
  return u->last_used[i] < u->before;
}

static int nr_sample(Presampler *p, const PresampleCall *c, I64Vec *out) {
  NoReplacement *nr = p->impl;
  KeyState *ks = c->ks;
  out->len = 0;
  const int64_t begin = c->begin, end = ks->n;
  const int64_t k = presample_target(&p->cfg, end - begin, c->limit);
  if (k <= 0) return MH_OK;
  Unused u = {ks->last_used, (int32_t)nr->last_complete};
  int64_t avail = 0;
  for (int64_t i = begin; i < end; i++) avail += unused_since(&u, i);
  MH_TRY(presample_uniform(c->rng, begin, end, avail, k, unused_since, &u, out));
  for (int64_t j = 0; j < out->len; j++) ks->last_used[out->data[j]] = (int32_t)c->trigger;
  if (avail >= k) return MH_OK;
  /* Every candidate is used: a new round starts at this trigger. Keys just
   * taken carry last_used == trigger and so are not drawn twice. */
  nr->last_complete = c->trigger;
  u.before = (int32_t)c->trigger;
  int64_t rest = 0;
  for (int64_t i = begin; i < end; i++) rest += unused_since(&u, i);
  I64Vec more = {0};
  int rc = presample_uniform(c->rng, begin, end, rest, k - out->len, unused_since, &u, &more);
  for (int64_t j = 0; !rc && j < more.len; j++) ks->last_used[more.data[j]] = (int32_t)c->trigger;
  /* The set is every key used now, in index order: merge the two draws. */
  const int64_t n1 = out->len;
  if (!rc) rc = i64vec_reserve(out, n1 + more.len);
  if (!rc) {
    int64_t a = n1 - 1, b = more.len - 1, w = n1 + more.len - 1;
    while (b >= 0) out->data[w--] = (a >= 0 && out->data[a] > more.data[b]) ? out->data[a--]
                                                                           : more.data[b--];
    out->len = n1 + more.len;
  }
  i64vec_free(&more);
  return rc;
}

static int nr_create(const CfgRef *cfg, const PresampleConfig *pc, int64_t tail_triggers,
                     Presampler **out) {
  (void)cfg;
  (void)tail_triggers;
  *out = presampler_alloc(pc, nr_sample);
  if (!*out) return MH_ERR;
  NoReplacement *nr = mh_calloc(1, sizeof *nr);
  if (!nr) return MH_ERR;
  (*out)->impl = nr;
  return MH_OK;
}

const PresamplerType presampler_random_no_replacement = {"RandomNoReplacement", nr_create};

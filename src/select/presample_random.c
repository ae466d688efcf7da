/* presample_random.c - `Random` presampling: a uniform sample, without
 * repeats, of target = min(limit, int(window * ratio / ratio_max)) keys of
 * the window, returned oldest first (the original's ORDER BY random()
 * LIMIT target, then ORDER BY timestamp). */
#include "core/error.h"
#include "select/presampler.h"

static int random_sample(Presampler *p, const PresampleCall *c, I64Vec *out) {
  out->len = 0;
  const int64_t n = c->ks->n - c->begin;
  const int64_t k = presample_target(&p->cfg, n, c->limit);
  return presample_uniform(c->rng, c->begin, c->ks->n, n, k, NULL, NULL, out);
}

static int random_create(const CfgRef *cfg, const PresampleConfig *pc, int64_t tail_triggers,
                         Presampler **out) {
  (void)cfg;
  (void)tail_triggers;
  *out = presampler_alloc(pc, random_sample);
  return *out ? MH_OK : MH_ERR;
}

const PresamplerType presampler_random = {"Random", random_create};

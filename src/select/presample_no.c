/* presample_no.c - `No` presampling: the whole window, oldest first; a
 * limit keeps the oldest `limit` keys (the original's ORDER BY timestamp
 * LIMIT). CoresetStrategy's warm-up triggers use it too. */
#include "core/error.h"
#include "select/presampler.h"

static int no_sample(Presampler *p, const PresampleCall *c, I64Vec *out) {
  (void)p;
  out->len = 0;
  int64_t end = c->ks->n;
  if (c->limit >= 0 && end - c->begin > c->limit) end = c->begin + c->limit;
  MH_TRY(i64vec_reserve(out, end - c->begin));
  for (int64_t i = c->begin; i < end; i++) out->data[out->len++] = i;
  return MH_OK;
}

static int no_create(const CfgRef *cfg, const PresampleConfig *pc, int64_t tail_triggers,
                     Presampler **out) {
  (void)cfg;
  (void)tail_triggers;
  *out = presampler_alloc(pc, no_sample);
  return *out ? MH_OK : MH_ERR;
}

const PresamplerType presampler_no = {"No", no_create};

/* presample_trigger_balanced.c - `TriggerBalanced` presampling: the target
 * is shared fairly among the triggers the window's keys arrived in (each
 * trigger gets min(fair share, its count), drawn uniformly), see
 * presample_balanced.c. With tail_triggers 0 the window is one trigger, so
 * the original refuses it, and so do we. */
#include "core/error.h"
#include "select/presampler.h"

static int trigger_sample(Presampler *p, const PresampleCall *c, I64Vec *out) {
  const KeyState *ks = c->ks;
  const int32_t first = c->begin < ks->n ? ks->trigger[c->begin] : 0;
  return presample_balanced(&p->cfg, c, ks->trigger, first, (int32_t)c->trigger, out);
}

static int trigger_create(const CfgRef *cfg, const PresampleConfig *pc, int64_t tail_triggers,
                          Presampler **out) {
  if (tail_triggers == 0) {
    CfgRef at;
    cfg_child(cfg, "strategy", &at);
    return cfg_errorf(&at, "TriggerBalanced cannot balance across triggers when tail_triggers "
                           "is 0 (each set holds one trigger's data); set tail_triggers to "
                           "null (all data) or N >= 1");
  }
  *out = presampler_alloc(pc, trigger_sample);
  return *out ? MH_OK : MH_ERR;
}

const PresamplerType presampler_trigger_balanced = {"TriggerBalanced", trigger_create};

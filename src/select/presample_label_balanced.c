/* presample_label_balanced.c - `LabelBalanced` presampling: the target is
 * shared fairly among the labels present in the window (each label gets
 * min(fair share, its count), drawn uniformly), see presample_balanced.c. */
#include "core/error.h"
#include "select/presampler.h"

static int label_sample(Presampler *p, const PresampleCall *c, I64Vec *out) {
  return presample_balanced(&p->cfg, c, c->ks->labels, c->ks->min_label, c->ks->max_label, out);
}

static int label_create(const CfgRef *cfg, const PresampleConfig *pc, int64_t tail_triggers,
                        Presampler **out) {
  (void)cfg;
  (void)tail_triggers;
  *out = presampler_alloc(pc, label_sample);
  return *out ? MH_OK : MH_ERR;
}

const PresamplerType presampler_label_balanced = {"LabelBalanced", label_create};

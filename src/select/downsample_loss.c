/* downsample_loss.c - `Loss` downsampling (Katharopoulos & Fleuret, "Not
 * all samples are created equal"): draw `target` samples without
 * replacement, each with probability proportional to its loss under the
 * current model; weight 1 / (n p) (downsample_importance). */
#include "core/error.h"
#include "select/downsampler.h"

static int loss_choose(Downsampler *d, const PassBatch *g, int64_t target, Rng *rng,
                       int64_t *keep, float *weights, int64_t *nkeep) {
  if (!g->loss) return mh_errorf("%s downsampling: the scores hold no losses", d->type->name);
  return downsample_importance(g->loss, g->n, target, rng, keep, weights, nkeep);
}

static int loss_create(const CfgRef *cfg, const DownsampleCommon *c, Downsampler **out) {
  MH_TRY(downsampler_check_keys(cfg, NULL));
  *out = downsampler_alloc(c, PASS_LOSS, loss_choose);
  return *out ? MH_OK : MH_ERR;
}

const DownsamplerType downsampler_loss = {"Loss", loss_create};

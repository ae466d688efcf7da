/* downsample_rs2.c - `RS2` downsampling (Okanovic et al., "Repeated random
 * sampling for minimizing the time-to-accuracy of learning"): a random
 * subset of the trigger's set each epoch, with or without replacement
 * across epochs (Rs2Epochs in downsampler.c). It needs no scores and, as in
 * the original, runs sample-then-batch only, selecting every epoch
 * (period 1). Weights 1.
 *
 * Until the trainer asks the strategy for each epoch's keys, the set is
 * chosen once per trigger: the first epoch's subset, which every epoch of
 * the trigger then trains on. With one epoch per trigger that is RS2
 * exactly. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "select/downsampler.h"

typedef struct {
  int with_replacement;
} Rs2;

static int rs2_choose(Downsampler *d, const PassBatch *g, int64_t target, Rng *rng, int64_t *keep,
                      float *weights, int64_t *nkeep) {
  const Rs2 *r = d->impl;
  Rs2Epochs ep;
  MH_TRY(rs2_epochs_init(&ep, g->n, target, r->with_replacement));
  int rc = rs2_epochs_next(&ep, rng, keep, nkeep);
  for (int64_t i = 0; !rc && i < *nkeep; i++) weights[i] = 1.0f;
  rs2_epochs_free(&ep);
  return rc;
}

static int rs2_create(const CfgRef *cfg, const DownsampleCommon *c, Downsampler **out) {
  static const char *const own[] = {"with_replacement", NULL};
  MH_TRY(downsampler_check_keys(cfg, own));
  CfgRef at;
  /* The original's schema fixes both: sample_then_batch (default true here)
   * and period 1. */
  if (cfg_child(cfg, "sample_then_batch", &at) && !cfg_is_null(&at) && !c->sample_then_batch)
    return cfg_errorf(&at, "RS2 runs sample-then-batch only; remove the field or set it to "
                           "true");
  if (cfg_child(cfg, "period", &at) && !cfg_is_null(&at) && c->period != 1)
    return cfg_errorf(&at, "RS2 draws a new subset every epoch: period must be 1, got %lld",
                      (long long)c->period);
  Rs2 *r = mh_calloc(1, sizeof *r);
  if (!r) return MH_ERR;
  *out = downsampler_alloc(c, 0, rs2_choose);
  if (!*out) {
    free(r);
    return MH_ERR;
  }
  (*out)->impl = r;
  (*out)->common.sample_then_batch = 1;
  if (!cfg_child(cfg, "with_replacement", &at) || cfg_is_null(&at))
    return cfg_errorf(&at, "missing required field");
  return cfg_get_bool(cfg, "with_replacement", 0, &r->with_replacement);
}

const DownsamplerType downsampler_rs2 = {"RS2", rs2_create};

/* downsample_rs2.c - `RS2` downsampling (Okanovic et al., "Repeated random
 * sampling for minimizing the time-to-accuracy of learning"): a random
 * subset of the trigger's set each epoch, with or without replacement
 * across epochs (Rs2Epochs in downsampler.c). It needs no scores and, as in
 * the original, runs sample-then-batch only, selecting every epoch
 * (period 1): the trainer's epoch hook asks for each epoch's subset
 * (choose_epoch), and the trigger's Rs2Epochs carries over from epoch to
 * epoch, so without replacement no sample repeats before every sample of
 * the pass has been trained on. Weights 1. */
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

/* The trigger's epochs: one Rs2Epochs from its first selection on. */
static int rs2_choose_epoch(Downsampler *d, const PassBatch *g, int64_t target, int64_t epoch,
                            void **state, Rng *rng, int64_t *keep, float *weights,
                            int64_t *nkeep) {
  (void)epoch;
  const Rs2 *r = d->impl;
  Rs2Epochs *ep = *state;
  if (!ep) {
    ep = mh_calloc(1, sizeof *ep);
    if (!ep) return MH_ERR;
    if (rs2_epochs_init(ep, g->n, target, r->with_replacement)) {
      free(ep);
      return MH_ERR;
    }
    *state = ep;
  }
  if (ep->n != g->n || ep->target != target)
    return mh_errorf("RS2: the trigger's set changed size between epochs (%lld -> %lld)",
                     (long long)ep->n, (long long)g->n);
  MH_TRY(rs2_epochs_next(ep, rng, keep, nkeep));
  for (int64_t i = 0; i < *nkeep; i++) weights[i] = 1.0f;
  return MH_OK;
}

static void rs2_state_free(void *state) {
  if (!state) return;
  rs2_epochs_free(state);
  free(state);
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
  (*out)->choose_epoch = rs2_choose_epoch;
  (*out)->state_free = rs2_state_free;
  (*out)->common.sample_then_batch = 1;
  if (!cfg_child(cfg, "with_replacement", &at) || cfg_is_null(&at))
    return cfg_errorf(&at, "missing required field");
  return cfg_get_bool(cfg, "with_replacement", 0, &r->with_replacement);
}

const DownsamplerType downsampler_rs2 = {"RS2", rs2_create};

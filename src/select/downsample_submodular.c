/* downsample_submodular.c - `Submodular` downsampling (the original adapts
 * DeepCore's submodular.py, after Iyer et al.): greedy maximisation of
 * `submodular_function` (FacilityLocation, GraphCut, LogDeterminant;
 * submodular.h) with `submodular_optimizer` (NaiveGreedy, LazyGreedy,
 * StochasticGreedy, ApproximateLazyGreedy) over the per-sample gradients
 * (sample_grads.h, `full_grad_approximation`). The similarity is the
 * original's shifted cosine, 0.5 + 0.5 cos(g_i, g_j), in [0, 1] (a zero
 * gradient has cosine 0 with everything: the original divides by zero
 * there). Weights 1. `balance` chooses within each label
 * (sample_then_batch only, as the original). `selection_batch` is
 * accepted; the original does not use it for this strategy either.
 *
 * Cost: O(n^2 * p) for the first gains (FacilityLocation, GraphCut), then
 * O(n * p) per re-evaluation or step; LogDeterminant O(target * n * (p + r));
 * O(n * p) memory. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "select/downsampler.h"
#include "select/sample_grads.h"
#include "select/submodular.h"

typedef struct {
  int function, optimizer, approx;
  int64_t selection_batch;
} Submod;

typedef struct {
  const double *u; /* [n * p] unit gradients (0 for a zero one) */
  int64_t p;
} CosSim;

static double cos_sim(const void *ctx, int64_t i, int64_t j) {
  const CosSim *c = ctx;
  const double *x = c->u + i * c->p, *y = c->u + j * c->p;
  double s = 0.0;
  for (int64_t k = 0; k < c->p; k++) s += x[k] * y[k];
  /* cos(g, g) is 1 exactly, not |u|^2 rounded (0 for a zero gradient):
   * equal diagonals tie exactly, and ties go to the lower position */
  if (i == j) s = s > 0.5 ? 1.0 : 0.0;
  return 0.5 + 0.5 * s;
}

static int sm_choose(Downsampler *d, const PassBatch *g, int64_t target, Rng *rng, int64_t *keep,
                     float *weights, int64_t *nkeep) {
  const Submod *sm = d->impl;
  const int64_t n = g->n;
  *nkeep = 0;
  if (target > n) target = n;
  if (target <= 0) return MH_OK;
  double *u = NULL;
  int64_t p = 0;
  if (sample_grads(g, sm->approx, &u, &p))
    return mh_error_context("%s downsampling", d->type->name);
  for (int64_t i = 0; i < n; i++) {
    double *r = u + i * p, nn = 0.0;
    for (int64_t k = 0; k < p; k++) nn += r[k] * r[k];
    const double inv = nn > 0 ? 1.0 / sqrt(nn) : 0.0;
    for (int64_t k = 0; k < p; k++) r[k] *= inv;
  }
  int64_t *sel = mh_malloc((size_t)target * sizeof(int64_t));
  int rc = sel ? MH_OK : MH_ERR;
  if (!rc) {
    CosSim cs = {u, p};
    Similarity s = {n, cos_sim, &cs, NULL, 1};
    rc = submod_maximize(&s, sm->function, sm->optimizer, target, rng, sel, NULL);
  }
  if (!rc) rc = coreset_emit(sel, NULL, target, 0, keep, weights, nkeep);
  free(u);
  free(sel);
  return rc;
}

static int sm_create(const CfgRef *cfg, const DownsampleCommon *c, Downsampler **out) {
  static const char *const own[] = {"submodular_function",     "submodular_optimizer",
                                    "selection_batch",         "balance",
                                    "full_grad_approximation", NULL};
  MH_TRY(downsampler_check_keys(cfg, own));
  Submod *sm = mh_calloc(1, sizeof *sm);
  if (!sm) return MH_ERR;
  if (sample_grads_parse(cfg, &sm->approx)) {
    free(sm);
    return MH_ERR;
  }
  *out = downsampler_alloc(c, grad_approx_outputs(sm->approx), sm_choose);
  if (!*out) {
    free(sm);
    return MH_ERR;
  }
  (*out)->impl = sm;
  MH_TRY(cfg_req_enum(cfg, "submodular_function", submod_function_names, &sm->function));
  MH_TRY(cfg_get_enum(cfg, "submodular_optimizer", submod_optimizer_names, GREEDY_NAIVE,
                      &sm->optimizer));
  MH_TRY(cfg_get_int(cfg, "selection_batch", 64, 1, INT32_MAX, &sm->selection_batch));
  return coreset_parse_balance(cfg, *out, 0);
}

const DownsamplerType downsampler_submodular = {"Submodular", sm_create};

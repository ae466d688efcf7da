/* downsample_gradmatch.c - `GradMatch` downsampling (Killamsetty et al.,
 * "GRAD-MATCH: gradient matching based data subset selection"; the
 * original adapts DeepCore's gradmatch.py): orthogonal matching pursuit
 * (omp.h, ridge lam = 1) picks `target` samples whose per-sample gradients
 * (sample_grads.h, `full_grad_approximation`) match the mean gradient; the
 * weights are the non-negative least-squares fit of the last step, and
 * samples whose fitted weight is 0 are dropped (the original keeps
 * np.nonzero(weights)), so fewer than `target` may remain.
 *
 * As the original, each gradient is that of the mean loss over its loader
 * batch, i.e. divided by the batch's size: the scale enters the choice and
 * the weights through the ridge term. Batch-then-sample scores one batch
 * (all n samples); sample-then-batch cuts the scored set (each label's,
 * with `balance`) into consecutive batches of the training batch size, the
 * last one shorter, as the original's loader does. `balance` needs
 * sample_then_batch, as in the original.
 *
 * Cost: O(target * n * p + target^2 * p) for the pursuit, plus the
 * target x target fit (omp.h); O(n * p + target^2) memory. */
#include <stdlib.h>

#include "core/error.h"
#include "select/downsampler.h"
#include "select/omp.h"
#include "select/sample_grads.h"

typedef struct {
  int approx;
} GradMatch;

static int gm_choose(Downsampler *d, const PassBatch *g, int64_t target, Rng *rng, int64_t *keep,
                     float *weights, int64_t *nkeep) {
  (void)rng;
  const GradMatch *gm = d->impl;
  const int64_t n = g->n;
  *nkeep = 0;
  if (target > n) target = n;
  if (target <= 0) return MH_OK;
  double *v = NULL;
  int64_t p = 0;
  if (sample_grads(g, gm->approx, &v, &p))
    return mh_error_context("%s downsampling", d->type->name);
  double *b = mh_calloc((size_t)p + 1, sizeof(double));
  double *x = mh_malloc((size_t)target * sizeof(double));
  int64_t *sel = mh_malloc((size_t)target * sizeof(int64_t));
  int rc = b && x && sel ? MH_OK : MH_ERR;
  if (!rc) {
    const int64_t B = d->batch_size > 0 ? d->batch_size : n;
    for (int64_t i = 0; i < n; i++) {
      const int64_t start = i / B * B;
      const int64_t len = n - start < B ? n - start : B;
      for (int64_t k = 0; k < p; k++) v[i * p + k] /= (double)len;
    }
    /* the target: the mean gradient */
    for (int64_t i = 0; i < n; i++)
      for (int64_t k = 0; k < p; k++) b[k] += v[i * p + k];
    for (int64_t k = 0; k < p; k++) b[k] /= (double)n;
    rc = omp_select(v, n, p, b, target, 1.0, sel, x);
  }
  if (!rc) rc = coreset_emit(sel, x, target, 1, keep, weights, nkeep);
  free(v);
  free(b);
  free(x);
  free(sel);
  return rc;
}

static int gm_create(const CfgRef *cfg, const DownsampleCommon *c, Downsampler **out) {
  static const char *const own[] = {"balance", "full_grad_approximation", NULL};
  MH_TRY(downsampler_check_keys(cfg, own));
  GradMatch *gm = mh_calloc(1, sizeof *gm);
  if (!gm) return MH_ERR;
  if (sample_grads_parse(cfg, &gm->approx)) {
    free(gm);
    return MH_ERR;
  }
  *out = downsampler_alloc(c, grad_approx_outputs(gm->approx), gm_choose);
  if (!*out) {
    free(gm);
    return MH_ERR;
  }
  (*out)->impl = gm;
  return coreset_parse_balance(cfg, *out, 0);
}

const DownsamplerType downsampler_gradmatch = {"GradMatch", gm_create};

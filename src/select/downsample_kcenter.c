/* downsample_kcenter.c - `KcenterGreedy` downsampling (Sener & Savarese,
 * "Active learning for convolutional neural networks: a core-set
 * approach"; the original adapts DeepCore's k_center_greedy): greedy
 * k-center on the penultimate-layer embeddings. The first center is drawn
 * uniformly (the original's np.random.randint, here the downsampler's
 * rng); each further one is the sample farthest (Euclidean) from its
 * nearest center, ties to the lower position. Weights 1 (the method comes
 * from active learning and has none). `balance` chooses within each label
 * (sample_then_batch only, as the original).
 *
 * Cost: O(n * target * D) time, O(n) memory beyond the embeddings. */
#include <stdlib.h>

#include "core/error.h"
#include "select/downsampler.h"
#include "select/sample_grads.h"

static double dist2(const float *x, const float *y, int64_t D) {
  double s = 0.0;
  for (int64_t k = 0; k < D; k++) {
    const double d = (double)x[k] - (double)y[k];
    s += d * d;
  }
  return s;
}

static int kc_choose(Downsampler *d, const PassBatch *g, int64_t target, Rng *rng, int64_t *keep,
                     float *weights, int64_t *nkeep) {
  if (!g->embed) return mh_errorf("%s downsampling: the scores hold no embeddings", d->type->name);
  const int64_t n = g->n, D = g->D;
  *nkeep = 0;
  if (target > n) target = n;
  if (target <= 0) return MH_OK;
  /* squared distances order as the distances do, without sqrt's ties */
  double *mins = mh_malloc((size_t)n * sizeof(double));
  int64_t *sel = mh_malloc((size_t)target * sizeof(int64_t));
  unsigned char *chosen = mh_calloc((size_t)n, 1);
  int rc = mins && sel && chosen ? MH_OK : MH_ERR;
  if (!rc) {
    int64_t p = (int64_t)rng_below(rng, (uint64_t)n);
    for (int64_t t = 0;; t++) {
      sel[t] = p;
      chosen[p] = 1;
      if (t + 1 == target) break;
      const float *ep = g->embed + p * D;
      int64_t far = -1;
      for (int64_t j = 0; j < n; j++) {
        if (chosen[j]) continue;
        const double dj = dist2(ep, g->embed + j * D, D);
        if (t == 0 || dj < mins[j]) mins[j] = dj;
        if (far < 0 || mins[j] > mins[far]) far = j;
      }
      p = far;
    }
    rc = coreset_emit(sel, NULL, target, 0, keep, weights, nkeep);
  }
  free(mins);
  free(sel);
  free(chosen);
  return rc;
}

static int kc_create(const CfgRef *cfg, const DownsampleCommon *c, Downsampler **out) {
  static const char *const own[] = {"balance", NULL};
  MH_TRY(downsampler_check_keys(cfg, own));
  *out = downsampler_alloc(c, PASS_EMBED, kc_choose);
  if (!*out) return MH_ERR;
  return coreset_parse_balance(cfg, *out, 0);
}

const DownsamplerType downsampler_kcenter = {"KcenterGreedy", kc_create};

/* downsample_craig.c - `Craig` downsampling (Mirzasoleiman et al.,
 * "Coresets for data-efficient training of machine learning models"; the
 * original adapts DeepCore's craig.py): facility location over per-sample
 * gradients (sample_grads.h, `full_grad_approximation`), per class.
 *
 * As the original: the similarity of two samples of the same label is
 * max_d - d(i, j) + 1e-3, with d the Euclidean distance of their gradients
 * (sqrt(max(d^2, 1e-12)), so d(i, i) = 1e-6) and max_d the largest such
 * distance within the label; samples of different labels have similarity
 * 0 (the original's block-diagonal matrix). The greedy optimizer (`greedy`,
 * submodular.h) keeps `target` samples; each kept sample's weight is 1 +
 * the number of samples (itself included) whose most similar kept sample
 * it is, ties to the lower position; a sample of a label with nothing kept
 * counts for the lowest kept position (the original's argmax over a column
 * of zeros). `balance`: each label keeps its own share (works in both
 * modes, as the original's per-label split of a batch does).
 *
 * As the original, each gradient is that of the mean loss over its label's
 * samples in its loader batch: divided by their number (batch-then-sample:
 * the label's count in the batch; sample-then-batch, which the original
 * feeds label by label: chunks of the training batch size, the last one
 * shorter). Within a label the factor changes nothing, but it sets how
 * much the 1e-3 shift weighs against distances across labels. The
 * greedy's rng is used by StochasticGreedy only. `selection_batch` is
 * accepted: in the
 * original it only chunks the gain computation (its chunk loop skips rows
 * past the first chunk, a slip we do not copy), here gains are exact sums.
 *
 * Cost: O(sum over labels of n_c^2 * p) for the distances, then O(n_c) per
 * gain evaluation (the first gains of all samples: O(sum n_c^2)); memory
 * O(n * p) plus each label's n_c x n_c distances while they total at most
 * 8M doubles (beyond that, distances are recomputed at O(p) each). */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "select/downsampler.h"
#include "select/sample_grads.h"
#include "select/submodular.h"

typedef struct {
  int64_t selection_batch;
  int greedy;
  int approx;
} Craig;

typedef struct {
  const double *v; /* [n * p] gradients */
  int64_t p;
  const double *maxd; /* [n] the largest distance within the sample's label */
  /* Each label's distances, when they fit (NULL: computed on demand; the
   * values are the same bits either way): sample i's row starts at
   * dist[off[i] + rank[i] * size[i]], its label's block being size x size. */
  const double *dist;
  const int64_t *off, *rank, *size;
} CraigSim;

/* Labels' distance blocks are kept when they hold at most this many
 * doubles in all (64 MiB): the greedy then reads instead of recomputing. */
#ifndef CRAIG_CACHE_MAX
#define CRAIG_CACHE_MAX (8 << 20)
#endif

static double grad_dist(const double *x, const double *y, int64_t p) {
  double s = 0.0;
  for (int64_t k = 0; k < p; k++) {
    const double d = x[k] - y[k];
    s += d * d;
  }
  return sqrt(s > 1e-12 ? s : 1e-12);
}

static double craig_sim(const void *ctx, int64_t i, int64_t j) {
  const CraigSim *c = ctx;
  const double dij = c->dist ? c->dist[c->off[i] + c->rank[i] * c->size[i] + c->rank[j]]
                             : grad_dist(c->v + i * c->p, c->v + j * c->p, c->p);
  return c->maxd[i] - dij + 1e-3;
}

static int cmp_label_pos(const void *a, const void *b, void *ctx) {
  const int32_t *labels = ctx;
  const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  if (labels[x] != labels[y]) return labels[x] < labels[y] ? -1 : 1;
  return (x > y) - (x < y);
}

static int craig_choose(Downsampler *d, const PassBatch *g, int64_t target, Rng *rng, int64_t *keep,
                        float *weights, int64_t *nkeep) {
  const Craig *cr = d->impl;
  const int64_t n = g->n;
  *nkeep = 0;
  if (target > n) target = n;
  if (target <= 0) return MH_OK;
  if (!g->labels) return mh_errorf("%s downsampling needs labels", d->type->name);
  double *v = NULL, *maxd = NULL, *w = NULL, *dist = NULL;
  int64_t p = 0, *order = NULL, *sel = NULL, *assign = NULL, *blk = NULL;
  int rc = sample_grads(g, cr->approx, &v, &p);
  if (rc) return mh_error_context("%s downsampling", d->type->name);
  maxd = mh_malloc((size_t)n * sizeof(double));
  order = mh_malloc((size_t)n * sizeof(int64_t));
  sel = mh_malloc((size_t)target * sizeof(int64_t));
  assign = mh_malloc((size_t)n * sizeof(int64_t));
  w = mh_malloc((size_t)target * sizeof(double));
  blk = mh_malloc((size_t)(3 * n) * sizeof(int64_t)); /* off, rank, size */
  rc = maxd && order && sel && assign && w && blk ? MH_OK : MH_ERR;
  if (!rc) {
    /* the samples sorted by label: each label a block */
    for (int64_t i = 0; i < n; i++) order[i] = i;
    qsort_r(order, (size_t)n, sizeof(int64_t), cmp_label_pos, (void *)g->labels);
    int64_t cells = 0;
    for (int64_t a = 0; a < n;) {
      int64_t b = a + 1;
      while (b < n && g->labels[order[b]] == g->labels[order[a]]) b++;
      const int64_t m = b - a, B = d->batch_size > 0 ? d->batch_size : m;
      for (int64_t x = a; x < b; x++) {
        blk[order[x]] = cells;
        blk[n + order[x]] = x - a;
        blk[2 * n + order[x]] = m;
        /* the gradient of the mean loss over the label's samples in its
         * loader batch: the whole label in BtS, chunks of batch_size in StB */
        const int64_t start = (x - a) / B * B, len = m - start < B ? m - start : B;
        for (int64_t k = 0; k < p; k++) v[order[x] * p + k] /= (double)len;
      }
      cells += m * m;
      a = b;
    }
    if (cells <= CRAIG_CACHE_MAX) dist = mh_malloc((size_t)cells * sizeof(double));
    /* max_d per label over its pairs (and the block of distances) */
    for (int64_t a = 0; a < n;) {
      const int64_t m = blk[2 * n + order[a]], b = a + m;
      double mx = 0.0;
      for (int64_t x = a; x < b; x++)
        for (int64_t y = x; y < b; y++) {
          const double dxy = grad_dist(v + order[x] * p, v + order[y] * p, p);
          if (dxy > mx) mx = dxy;
          if (dist) {
            double *db = dist + blk[order[a]];
            db[(x - a) * m + (y - a)] = db[(y - a) * m + (x - a)] = dxy;
          }
        }
      for (int64_t x = a; x < b; x++) maxd[order[x]] = mx;
      a = b;
    }
    CraigSim cs = {v, p, maxd, dist, blk, blk + n, blk + 2 * n};
    Similarity s = {n, craig_sim, &cs, g->labels, 0}; /* distances cached above */
    rc = submod_maximize(&s, SUBMOD_FACILITY_LOCATION, cr->greedy, target, rng, sel, assign);
  }
  if (!rc) {
    /* weight = 1 + the samples each kept one stands for */
    int64_t *slot = order; /* reused: position -> index into sel */
    for (int64_t t = 0; t < target; t++) {
      w[t] = 1.0;
      slot[sel[t]] = t;
    }
    for (int64_t i = 0; i < n; i++) w[slot[assign[i]]] += 1.0;
    rc = coreset_emit(sel, w, target, 0, keep, weights, nkeep);
  }
  free(v);
  free(maxd);
  free(dist);
  free(blk);
  free(order);
  free(sel);
  free(assign);
  free(w);
  return rc;
}

static int craig_create(const CfgRef *cfg, const DownsampleCommon *c, Downsampler **out) {
  static const char *const own[] = {"selection_batch", "balance", "greedy",
                                    "full_grad_approximation", NULL};
  MH_TRY(downsampler_check_keys(cfg, own));
  Craig *cr = mh_calloc(1, sizeof *cr);
  if (!cr) return MH_ERR;
  if (sample_grads_parse(cfg, &cr->approx)) {
    free(cr);
    return MH_ERR;
  }
  *out = downsampler_alloc(c, grad_approx_outputs(cr->approx), craig_choose);
  if (!*out) {
    free(cr);
    return MH_ERR;
  }
  (*out)->impl = cr;
  MH_TRY(cfg_get_int(cfg, "selection_batch", 64, 1, INT32_MAX, &cr->selection_batch));
  MH_TRY(cfg_get_enum(cfg, "greedy", submod_optimizer_names, GREEDY_NAIVE, &cr->greedy));
  return coreset_parse_balance(cfg, *out, 1);
}

const DownsamplerType downsampler_craig = {"Craig", craig_create};

/* sample_grads.c - see sample_grads.h. */
#include "select/sample_grads.h"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"

const char *const grad_approx_names[] = {"LastLayer", "LastLayerWithEmbedding", NULL};

unsigned grad_approx_outputs(int approx) {
  return approx == GRAD_LAST_LAYER ? PASS_LOGITS : PASS_GRAD;
}

int sample_grads(const PassBatch *g, int approx, double **out, int64_t *dim) {
  *out = NULL;
  *dim = 0;
  const int64_t n = g->n, K = g->K;
  if (approx == GRAD_LAST_LAYER_WITH_EMBEDDING) {
    if (!g->grad) return mh_errorf("the scores hold no last-layer gradients");
    const int64_t p = K * (g->D + 1);
    double *v = mh_malloc((size_t)(n * p + 1) * sizeof(double));
    if (!v) return MH_ERR;
    for (int64_t i = 0; i < n * p; i++) v[i] = g->grad[i];
    *out = v;
    *dim = p;
    return MH_OK;
  }
  if (!g->logits || !g->labels) return mh_errorf("the scores hold no logits");
  double *v = mh_malloc((size_t)(n * K + 1) * sizeof(double));
  if (!v) return MH_ERR;
  for (int64_t i = 0; i < n; i++) {
    const float *z = g->logits + i * K;
    double *r = v + i * K;
    const int32_t y = g->labels[i];
    if (K == 1) { /* BCEWithLogits: d loss / d z = sigmoid(z) - y */
      r[0] = 1.0 / (1.0 + exp(-(double)z[0])) - (double)y;
      continue;
    }
    double mx = z[0], den = 0.0;
    for (int64_t k = 1; k < K; k++)
      if (z[k] > mx) mx = z[k];
    for (int64_t k = 0; k < K; k++) den += (r[k] = exp((double)z[k] - mx));
    for (int64_t k = 0; k < K; k++) r[k] = r[k] / den - (k == y ? 1.0 : 0.0);
  }
  *out = v;
  *dim = K;
  return MH_OK;
}

int sample_grads_parse(const CfgRef *cfg, int *approx) {
  return cfg_get_enum(cfg, "full_grad_approximation", grad_approx_names, GRAD_LAST_LAYER, approx);
}

int coreset_parse_balance(const CfgRef *cfg, Downsampler *d, int bts_ok) {
  MH_TRY(cfg_get_bool(cfg, "balance", 0, &d->balance));
  if (d->balance && !bts_ok && !d->common.sample_then_batch) {
    CfgRef at;
    cfg_child(cfg, "balance", &at);
    return cfg_errorf(&at,
                      "balance: true needs sample_then_batch: true (the original selects "
                      "label by label only there; in batch-then-sample it would keep "
                      "nothing)");
  }
  return MH_OK;
}

typedef struct {
  int64_t pos;
  double w;
} Chosen;

static int cmp_chosen(const void *a, const void *b) {
  const Chosen *x = a, *y = b;
  return (x->pos > y->pos) - (x->pos < y->pos);
}

int coreset_emit(const int64_t *sel, const double *w, int64_t k, int drop_zero, int64_t *keep,
                 float *weights, int64_t *nkeep) {
  *nkeep = 0;
  Chosen *c = mh_malloc((size_t)(k + 1) * sizeof *c);
  if (!c) return MH_ERR;
  int64_t m = 0;
  for (int64_t i = 0; i < k; i++) {
    const double wi = w ? w[i] : 1.0;
    if (drop_zero && !(wi > 0)) continue;
    c[m++] = (Chosen){sel[i], wi};
  }
  qsort(c, (size_t)m, sizeof *c, cmp_chosen);
  for (int64_t i = 0; i < m; i++) {
    keep[i] = c[i].pos;
    weights[i] = (float)c[i].w;
  }
  *nkeep = m;
  free(c);
  return MH_OK;
}

/* embedding.c - embedding tables: nn.EmbeddingBag (sum or mean over a
 * fixed-length, padded list of token ids per sample) as a layer, and the
 * plain per-id lookup DLRM uses for its categorical features.
 *
 * Ids arrive as float32 (the store converts int32 tokens to float, exact up
 * to 2^24) and are cast back; id < 0 is padding; ids are taken modulo the
 * table size (the hashing trick). Weights are N(0, 1) like nn.Embedding.
 * Gradients are dense rows added into the model's flat grads buffer; the
 * scatter is serial because two samples may share a row. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/layers.h"
#include "train/parallel.h"

static inline int64_t emb_row(float v, int64_t V) {
  if (!(v >= 0.0f)) return -1; /* padding (and NaN) */
  return (int64_t)v % V;
}

void embedding_gather(const float *W, int64_t V, int D, const float *ids, int64_t id_stride,
                      int64_t n, float *out, int64_t out_stride) {
  for (int64_t i = 0; i < n; i++) {
    int64_t r = emb_row(ids[i * id_stride], V);
    if (r < 0)
      memset(out + i * out_stride, 0, (size_t)D * sizeof(float));
    else
      memcpy(out + i * out_stride, W + r * D, (size_t)D * sizeof(float));
  }
}

void embedding_scatter_add(float *dW, int64_t V, int D, const float *ids, int64_t id_stride,
                           int64_t n, const float *dout, int64_t out_stride) {
  for (int64_t i = 0; i < n; i++) {
    int64_t r = emb_row(ids[i * id_stride], V);
    if (r < 0) continue;
    float *g = dW + r * D;
    const float *d = dout + i * out_stride;
    for (int e = 0; e < D; e++) g[e] += d[e];
  }
}

/* ---- nn.EmbeddingBag ------------------------------------------------------ */

typedef struct {
  int64_t V;        /* num_embeddings */
  EmbBagMode mode;
} EmbBag;

static void embbag_init(Layer *l, Rng *rng) {
  for (int64_t i = 0; i < l->nparams; i++) l->params[i] = (float)rng_normal(rng);
}

static int embbag_forward(Layer *l, const float *x, float *y, int64_t n, int train) {
  const EmbBag *eb = l->impl;
  const int64_t L = dims_elems(l->in);
  const int D = l->out.c;
  const float *W = l->params;
#pragma omp parallel for schedule(static) if (n * L * D > 65536)
  for (int64_t i = 0; i < n; i++) {
    float *yi = y + i * D;
    memset(yi, 0, (size_t)D * sizeof(float));
    int64_t cnt = 0;
    for (int64_t t = 0; t < L; t++) {
      int64_t r = emb_row(x[i * L + t], eb->V);
      if (r < 0) continue;
      const float *w = W + r * D;
      for (int e = 0; e < D; e++) yi[e] += w[e];
      cnt++;
    }
    if (eb->mode == EMBBAG_MEAN && cnt > 1)
      for (int e = 0; e < D; e++) yi[e] /= (float)cnt;
  }
  return MH_OK;
}

static int embbag_backward(Layer *l, const float *x, const float *y, float *dy, float *dx,
                           int64_t n) {
  const EmbBag *eb = l->impl;
  const int64_t L = dims_elems(l->in);
  const int D = l->out.c;
  for (int64_t i = 0; i < n; i++) {
    int64_t cnt = 0;
    for (int64_t t = 0; t < L; t++) cnt += emb_row(x[i * L + t], eb->V) >= 0;
    const float scale = eb->mode == EMBBAG_MEAN && cnt > 1 ? 1.0f / (float)cnt : 1.0f;
    const float *d = dy + i * D;
    for (int64_t t = 0; t < L; t++) {
      int64_t r = emb_row(x[i * L + t], eb->V);
      if (r < 0) continue;
      float *g = l->grads + r * D;
      for (int e = 0; e < D; e++) g[e] += scale * d[e];
    }
  }
  if (dx) memset(dx, 0, (size_t)(n * L) * sizeof(float)); /* ids have no gradient */
  return MH_OK;
}

static void embbag_destroy(Layer *l) { free(l->impl); }

static const LayerOps embbag_ops = {"embedding_bag", embbag_init, embbag_forward, embbag_backward,
                                    embbag_destroy, 0, 0, NULL, NULL, NULL};

Layer *layer_embedding_bag(Dims in, int64_t num_embeddings, int dim, EmbBagMode mode) {
  if (dims_elems(in) <= 0 || num_embeddings <= 0 || dim <= 0) {
    mh_errorf("embedding bag: bad sizes (%lld ids, %lld embeddings of %d)",
              (long long)dims_elems(in), (long long)num_embeddings, dim);
    return NULL;
  }
  par_init(0);
  Layer *l = mh_calloc(1, sizeof *l);
  EmbBag *eb = mh_calloc(1, sizeof *eb);
  if (!l || !eb) {
    free(l);
    free(eb);
    return NULL;
  }
  eb->V = num_embeddings;
  eb->mode = mode;
  l->ops = &embbag_ops;
  l->in = in;
  l->out = (Dims){dim, 1, 1};
  l->nparams = num_embeddings * dim;
  l->impl = eb;
  return l;
}

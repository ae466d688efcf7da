/* dlrm.c - DLRM (Naumov et al. 2019; torchrec's DLRM layout) for
 * click-through prediction. Each sample is num_dense_features floats then
 * num_sparse_features categorical ids (floats, cast back, taken modulo the
 * feature's table size; a negative id gives a zero embedding):
 *   bottom MLP (Linear + ReLU per layer) on the dense features -> D values,
 *   one embedding table [V_f, D] per sparse feature,
 *   dot interaction (layers.h): the bottom output and the pairwise dots,
 *   top MLP (Linear + ReLU per hidden layer) then Linear to 1 logit when
 *   num_classes == 2 (BCEWithLogitsLoss), else num_classes logits.
 * Parameters: the tables, then the bottom MLP, then the top MLP (torchrec's
 * sparse_arch, dense_arch, over_arch order). Tables are N(0, 1) like
 * nn.Embedding, linears like nn.Linear.
 * model.config: num_dense_features (13), num_sparse_features (26),
 * embedding_dim (default and must-match: bottom_mlp's last size),
 * num_embeddings_per_feature (one int for all, or a list; 1000), bottom_mlp
 * ([64, 16]), top_mlp ([64, 32]), num_classes (default and must-match: the
 * store's). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/model_config.h"
#include "train/net.h"
#include "train/parallel.h"

typedef struct {
  int Fd, Fs, D;        /* dense features, sparse features, embedding size */
  int64_t *V;           /* [Fs] table sizes */
  int64_t *table_off;   /* [Fs] offset of each table in params */
  Net bottom, top;
  float *ws;            /* dense [n Fd], emb [n Fs D], inter [n OD], dinter [n OD],
                           ddense [n D], demb [n Fs D] */
  int64_t ws_cap, batch_cap;
  float *dense, *emb, *inter, *dinter, *ddense, *demb; /* views into ws */
  const float *bout;    /* bottom output of the last forward */
} Dlrm;

static int dlrm_reserve(Dlrm *d, int64_t n) {
  if (n < 1) n = 1; /* an empty batch still gets real buffers */
  if (n <= d->batch_cap) return MH_OK;
  const int64_t OD = interaction_out_dim(d->Fs, d->D), FD = (int64_t)d->Fs * d->D;
  MH_TRY(par_reserve(&d->ws, &d->ws_cap, n * (d->Fd + 2 * FD + 2 * OD + d->D)));
  d->dense = d->ws;
  d->emb = d->dense + n * d->Fd;
  d->inter = d->emb + n * FD;
  d->dinter = d->inter + n * OD;
  d->ddense = d->dinter + n * OD;
  d->demb = d->ddense + n * d->D;
  d->batch_cap = n;
  return MH_OK;
}

static void dlrm_init(Model *m, Rng *rng) {
  Dlrm *d = m->impl;
  int64_t ntab = d->table_off[d->Fs - 1] + d->V[d->Fs - 1] * d->D;
  for (int64_t i = 0; i < ntab; i++) m->params[i] = (float)rng_normal(rng);
  net_init_params(&d->bottom, rng);
  net_init_params(&d->top, rng);
}

static int dlrm_forward(Model *m, const float *x, int64_t n, float *logits, int train) {
  Dlrm *d = m->impl;
  MH_TRY(dlrm_reserve(d, n));
  const int64_t in = m->shape.in_elems, FD = (int64_t)d->Fs * d->D;
  for (int64_t i = 0; i < n; i++)
    memcpy(d->dense + i * d->Fd, x + i * in, (size_t)d->Fd * sizeof(float));
  MH_TRY(net_forward(&d->bottom, d->dense, n, train, &d->bout));
  for (int f = 0; f < d->Fs; f++)
    embedding_gather(m->params + d->table_off[f], d->V[f], d->D, x + d->Fd + f, in, n,
                     d->emb + (int64_t)f * d->D, FD);
  interaction_forward(d->bout, d->emb, n, d->Fs, d->D, d->inter);
  const float *y;
  MH_TRY(net_forward(&d->top, d->inter, n, train, &y));
  if (n > 0) memcpy(logits, y, (size_t)(n * m->num_outputs) * sizeof(float));
  return MH_OK;
}

static int dlrm_backward(Model *m, const float *x, const float *dlogits, int64_t n) {
  Dlrm *d = m->impl;
  const int64_t in = m->shape.in_elems, FD = (int64_t)d->Fs * d->D;
  MH_TRY(net_backward(&d->top, d->inter, dlogits, n, d->dinter));
  interaction_backward(d->bout, d->emb, d->dinter, n, d->Fs, d->D, d->ddense, d->demb);
  MH_TRY(net_backward(&d->bottom, d->dense, d->ddense, n, NULL));
  for (int f = 0; f < d->Fs; f++)
    embedding_scatter_add(m->grads + d->table_off[f], d->V[f], d->D, x + d->Fd + f, in, n,
                          d->demb + (int64_t)f * d->D, FD);
  return MH_OK;
}

/* Both MLPs (no batchnorm today; a future one would then sync). */
static void dlrm_set_dist(Model *m, const struct Dist *dist) {
  Dlrm *d = m->impl;
  net_set_dist(&d->bottom, dist);
  net_set_dist(&d->top, dist);
}

static const float *dlrm_embedding(const Model *m) {
  const Dlrm *d = m->impl;
  return net_layer_input(&d->top, d->top.nlayers - 1);
}

static void dlrm_destroy(Model *m) {
  Dlrm *d = m->impl;
  if (!d) return;
  net_free(&d->bottom);
  net_free(&d->top);
  free(d->V);
  free(d->table_off);
  free(d->ws);
  free(d);
}

/* An MLP of Linear + ReLU layers; a final linear without ReLU when out > 0. */
static int dlrm_mlp(Net *net, const int64_t *sizes, int n, int out) {
  for (int i = 0; i < n; i++) {
    MH_TRY(net_add(net, layer_linear(net_out(net), (int)sizes[i])));
    MH_TRY(net_add(net, layer_relu(net_out(net))));
  }
  if (out > 0) MH_TRY(net_add(net, layer_linear(net_out(net), out)));
  return MH_OK;
}

static int dlrm_create(const CfgRef *config, const ModelShape *shape, Model **out) {
  static const char *const keys[] = {"num_dense_features", "num_sparse_features", "embedding_dim",
                                     "num_embeddings_per_feature", "bottom_mlp", "top_mlp",
                                     "num_classes", NULL};
  MH_TRY(cfg_check_keys(config, keys));
  int64_t Fd = 0, Fs = 0, D = 0, k = 0;
  int64_t bottom[MCFG_MAX_LIST], top[MCFG_MAX_LIST], V[MCFG_MAX_LIST];
  int nb = 0, nt = 0, nv = 0;
  static const int64_t def_bottom[] = {64, 16}, def_top[] = {64, 32}, def_v[] = {1000};
  MH_TRY(cfg_get_int(config, "num_dense_features", 13, 1, 1 << 20, &Fd));
  MH_TRY(cfg_get_int(config, "num_sparse_features", 26, 1, MCFG_MAX_LIST, &Fs));
  MH_TRY(mcfg_int_list(config, "bottom_mlp", def_bottom, 2, 1, 1 << 16, 0, 0, bottom, &nb));
  MH_TRY(mcfg_int_list(config, "top_mlp", def_top, 2, 1, 1 << 16, 0, 1, top, &nt));
  MH_TRY(mcfg_int_list(config, "num_embeddings_per_feature", def_v, 1, 1, (int64_t)1 << 31, 1, 0,
                       V, &nv));
  MH_TRY(cfg_get_int(config, "embedding_dim", bottom[nb - 1], 1, 1 << 16, &D));
  MH_TRY(mcfg_num_classes(config, shape, &k));
  CfgRef at;
  if (D != bottom[nb - 1]) {
    cfg_child(config, "embedding_dim", &at);
    return cfg_errorf(&at, "is %lld but must equal the last size of bottom_mlp (%lld): the "
                      "interaction takes dot products of the bottom output with the embeddings",
                      (long long)D, (long long)bottom[nb - 1]);
  }
  if (nv != 1 && nv != Fs) {
    cfg_child(config, "num_embeddings_per_feature", &at);
    return cfg_errorf(&at, "has %d entries but num_sparse_features is %lld (give one size per "
                      "sparse feature, or one integer for all)", nv, (long long)Fs);
  }
  if (Fd + Fs != shape->in_elems) {
    cfg_child(config, "num_sparse_features", &at);
    return cfg_errorf(&at, "num_dense_features (%lld) + num_sparse_features (%lld) = %lld, but "
                      "the training store has %lld features per sample", (long long)Fd,
                      (long long)Fs, (long long)(Fd + Fs), (long long)shape->in_elems);
  }
  Model *m = mh_calloc(1, sizeof *m);
  Dlrm *d = m ? mh_calloc(1, sizeof *d) : NULL;
  if (!d) {
    free(m);
    return MH_ERR;
  }
  m->impl = d;
  m->destroy = dlrm_destroy;
  m->shape = *shape;
  d->Fd = (int)Fd;
  d->Fs = (int)Fs;
  d->D = (int)D;
  d->V = mh_calloc((size_t)Fs, sizeof(int64_t));
  d->table_off = mh_calloc((size_t)Fs, sizeof(int64_t));
  net_init(&d->bottom, (Dims){(int)Fd, 1, 1});
  net_init(&d->top, (Dims){(int)interaction_out_dim((int)Fs, (int)D), 1, 1});
  const int nout = k == 2 ? 1 : (int)k;
  if (!d->V || !d->table_off || dlrm_mlp(&d->bottom, bottom, nb, 0) ||
      dlrm_mlp(&d->top, top, nt, nout)) {
    model_free(m);
    return MH_ERR;
  }
  int64_t off = 0;
  for (int f = 0; f < Fs; f++) {
    d->V[f] = nv == 1 ? V[0] : V[f];
    d->table_off[f] = off;
    off += d->V[f] * D;
  }
  if (model_alloc(m, off + d->bottom.nparams + d->top.nparams, 0)) {
    model_free(m);
    return MH_ERR;
  }
  /* Param-group parts under torchrec's names. */
  m->nparts = 3;
  m->parts[0] = (ModelPart){"model.sparse_arch", 0, off};
  m->parts[1] = (ModelPart){"model.dense_arch", off, d->bottom.nparams};
  m->parts[2] = (ModelPart){"model.over_arch", off + d->bottom.nparams, d->top.nparams};
  net_bind(&d->bottom, m->params + off, m->grads + off, NULL);
  off += d->bottom.nparams;
  net_bind(&d->top, m->params + off, m->grads + off, NULL);
  m->num_outputs = nout;
  m->embed_dim = (int)dims_elems(d->top.layers[d->top.nlayers - 1]->in);
  m->embedding = dlrm_embedding;
  m->init = dlrm_init;
  m->forward = dlrm_forward;
  m->backward = dlrm_backward;
  m->set_dist = dlrm_set_dist;
  *out = m;
  return MH_OK;
}

const ModelType model_dlrm = {"DLRM", dlrm_create};

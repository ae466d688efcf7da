/* model.c - model registry lookups and shared helpers (see model.h). */
#include "train/model.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/plugin.h"
#include "train/gpu.h"

extern const ModelType *const model_registry[];

const ModelType *model_find(const char *id) {
  for (int i = 0; model_registry[i]; i++)
    if (!strcmp(model_registry[i]->id, id)) return model_registry[i];
  return NULL;
}

const char *model_list(void) {
  static char buf[512];
  return plugin_names((const void *const *)model_registry, buf, sizeof buf);
}

int model_create(const char *id, const CfgRef *id_ref, const CfgRef *config,
                 const ModelShape *shape, Model **out) {
  const ModelType *t = model_find(id);
  if (!t) return cfg_errorf(id_ref, "unknown model \"%s\"; available: %s", id, model_list());
  MH_TRY(t->create(config, shape, out));
  (*out)->type = t;
  (*out)->shape = *shape;
  return MH_OK;
}

Model *model_from_yaml(const char *id, const char *yaml, const ModelShape *shape, uint64_t seed) {
  CfgDoc doc;
  if (cfg_load_string("model.yaml", yaml, &doc)) return NULL;
  CfgRef root = cfg_root(&doc);
  Model *m = NULL;
  int rc = model_create(id, &root, &root, shape, &m);
  cfg_doc_free(&doc);
  if (rc) return NULL;
  Rng rng;
  rng_seed(&rng, seed);
  m->init(m, &rng);
  return m;
}

int model_alloc(Model *m, int64_t nparams, int64_t nbuffers) {
  m->nparams = nparams;
  m->nbuffers = nbuffers;
  m->params = mh_calloc((size_t)nparams, sizeof(float));
  m->grads = mh_calloc((size_t)nparams, sizeof(float));
  m->buffers = nbuffers ? mh_calloc((size_t)nbuffers, sizeof(float)) : NULL;
  if (!m->params || !m->grads || (nbuffers && !m->buffers)) return MH_ERR;
  return MH_OK;
}

void model_zero_grad(Model *m) {
  if (m->gpu) gpu_zero(m->dgrads, (size_t)m->nparams * sizeof(float));
  else memset(m->grads, 0, (size_t)m->nparams * sizeof(float));
}

int model_to_device(Model *m) {
  if (m->gpu) return MH_OK;
  if (!m->to_device)
    return mh_errorf("model %s has no GPU path yet; set training.device to cpu (or auto, which "
                     "falls back to the CPU for it)",
                     m->type ? m->type->id : "?");
  m->dparams = gpu_malloc((size_t)m->nparams * sizeof(float));
  m->dgrads = m->dparams ? gpu_malloc((size_t)(m->nparams + 4) * sizeof(float)) : NULL;
  m->dbuffers = m->dgrads ? gpu_malloc((size_t)(m->nbuffers + 1) * sizeof(float)) : NULL;
  if (!m->dbuffers) return MH_ERR;
  MH_TRY(gpu_zero(m->dgrads, (size_t)(m->nparams + 4) * sizeof(float)));
  MH_TRY(m->to_device(m));
  m->gpu = 1;
  return model_push(m);
}

int model_push(Model *m) {
  if (!m->gpu) return MH_OK;
  MH_TRY(gpu_upload(m->dparams, m->params, (size_t)m->nparams * sizeof(float)));
  return gpu_upload(m->dbuffers, m->buffers, (size_t)m->nbuffers * sizeof(float));
}

int model_pull(Model *m) {
  if (!m->gpu) return MH_OK;
  MH_TRY(gpu_download(m->params, m->dparams, (size_t)m->nparams * sizeof(float)));
  return gpu_download(m->buffers, m->dbuffers, (size_t)m->nbuffers * sizeof(float));
}

void model_free(Model *m) {
  if (!m) return;
  if (m->destroy) m->destroy(m);
  gpu_free(m->dparams);
  gpu_free(m->dgrads);
  gpu_free(m->dbuffers);
  free(m->params);
  free(m->grads);
  free(m->buffers);
  free(m);
}

int model_last_layer_grads(const Model *m, const float *dlogits, int64_t n, float *out) {
  if (m->embed_dim <= 0 || !m->embedding) return mh_errorf("model %s has no embedding", m->type->id);
  if (m->gpu) return mh_errorf("model_last_layer_grads: the embeddings are on the GPU");
  last_layer_grads(m->embedding(m), m->num_outputs, m->embed_dim, dlogits, n, out);
  return MH_OK;
}

void last_layer_grads(const float *emb, int K, int E, const float *dlogits, int64_t n,
                      float *out) {
  for (int64_t i = 0; i < n; i++) {
    float *g = out + i * (int64_t)K * (E + 1);
    for (int k = 0; k < K; k++) {
      float d = dlogits[i * K + k];
      for (int e = 0; e < E; e++) g[k * (E + 1) + e] = d * emb[i * E + e];
      g[k * (E + 1) + E] = d;
    }
  }
}

void model_set_dist(Model *m, const struct Dist *d) {
  m->dist = d;
  if (m->set_dist) m->set_dist(m, d);
}

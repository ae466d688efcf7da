/* model.c - model registry lookups and shared helpers (see model.h). */
#include "train/model.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/plugin.h"

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

int model_alloc(Model *m, int64_t nparams, int64_t nbuffers) {
  m->nparams = nparams;
  m->nbuffers = nbuffers;
  m->params = mh_calloc((size_t)nparams, sizeof(float));
  m->grads = mh_calloc((size_t)nparams, sizeof(float));
  m->buffers = nbuffers ? mh_calloc((size_t)nbuffers, sizeof(float)) : NULL;
  if (!m->params || !m->grads || (nbuffers && !m->buffers)) return MH_ERR;
  return MH_OK;
}

void model_zero_grad(Model *m) { memset(m->grads, 0, (size_t)m->nparams * sizeof(float)); }

void model_free(Model *m) {
  if (!m) return;
  if (m->destroy) m->destroy(m);
  free(m->params);
  free(m->grads);
  free(m->buffers);
  free(m);
}

int model_last_layer_grads(const Model *m, const float *dlogits, int64_t n, float *out) {
  if (m->embed_dim <= 0 || !m->embedding) return mh_errorf("model %s has no embedding", m->type->id);
  const float *emb = m->embedding(m);
  const int K = m->num_outputs, E = m->embed_dim;
  for (int64_t i = 0; i < n; i++) {
    float *g = out + i * (int64_t)K * (E + 1);
    for (int k = 0; k < K; k++) {
      float d = dlogits[i * K + k];
      for (int e = 0; e < E; e++) g[k * (E + 1) + e] = d * emb[i * E + e];
      g[k * (E + 1) + E] = d;
    }
  }
  return MH_OK;
}

void model_set_dist(Model *m, const struct Dist *d) {
  m->dist = d;
  if (m->set_dist) m->set_dist(m, d);
}

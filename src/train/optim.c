/* optim.c - see optim.h. Update rules follow torch.optim (dampening 0). */
#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int optim_init(Optimizer *o, const OptimizerConfig *cfg, int64_t nparams) {
  memset(o, 0, sizeof *o);
  const ParamGroupConfig *g = &cfg->groups[0];
  if (!strcmp(cfg->algorithm, "SGD")) o->algorithm = OPT_SGD;
  else if (!strcmp(cfg->algorithm, "Adam")) o->algorithm = OPT_ADAM;
  else if (!strcmp(cfg->algorithm, "AdamW")) o->algorithm = OPT_ADAMW;
  else return mh_errorf("unknown optimizer algorithm \"%s\"", cfg->algorithm);
  o->lr = g->lr;
  o->momentum = g->momentum;
  o->weight_decay = g->weight_decay;
  o->nesterov = g->nesterov;
  o->beta1 = g->beta1;
  o->beta2 = g->beta2;
  o->eps = g->eps;
  o->n = nparams;
  o->m = mh_calloc((size_t)nparams, sizeof(float));
  if (!o->m) return MH_ERR;
  if (o->algorithm != OPT_SGD) {
    o->v = mh_calloc((size_t)nparams, sizeof(float));
    if (!o->v) return MH_ERR;
  }
  return MH_OK;
}

void optim_free(Optimizer *o) {
  free(o->m);
  free(o->v);
  o->m = o->v = NULL;
}

void optim_reset(Optimizer *o) {
  o->step = 0;
  memset(o->m, 0, (size_t)o->n * sizeof(float));
  if (o->v) memset(o->v, 0, (size_t)o->n * sizeof(float));
}

static void sgd_step(Optimizer *o, float *p, const float *g) {
  const float lr = (float)o->lr, mu = (float)o->momentum, wd = (float)o->weight_decay;
  const int first = o->step == 0;
  for (int64_t i = 0; i < o->n; i++) {
    float d = g[i] + wd * p[i];
    if (mu != 0.0f) {
      float buf = first ? d : mu * o->m[i] + d;
      o->m[i] = buf;
      d = o->nesterov ? d + mu * buf : buf;
    }
    p[i] -= lr * d;
  }
}

static void adam_step(Optimizer *o, float *p, const float *g, int decoupled) {
  const double b1 = o->beta1, b2 = o->beta2;
  const double t = (double)(o->step + 1);
  const double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
  const float step_size = (float)(o->lr / bc1);
  const float sqrt_bc2 = (float)sqrt(bc2);
  const float wd = (float)o->weight_decay, lr = (float)o->lr, eps = (float)o->eps;
  for (int64_t i = 0; i < o->n; i++) {
    float gi = g[i];
    if (decoupled) p[i] *= 1.0f - lr * wd;
    else gi += wd * p[i];
    o->m[i] = (float)b1 * o->m[i] + (float)(1.0 - b1) * gi;
    o->v[i] = (float)b2 * o->v[i] + (float)(1.0 - b2) * gi * gi;
    float denom = sqrtf(o->v[i]) / sqrt_bc2 + eps;
    p[i] -= step_size * o->m[i] / denom;
  }
}

void optim_step(Optimizer *o, float *params, const float *grads) {
  switch (o->algorithm) {
    case OPT_SGD: sgd_step(o, params, grads); break;
    case OPT_ADAM: adam_step(o, params, grads, 0); break;
    case OPT_ADAMW: adam_step(o, params, grads, 1); break;
  }
  o->step++;
}

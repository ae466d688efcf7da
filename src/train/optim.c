/* optim.c - see optim.h. Update rules follow torch.optim (dampening 0). */
#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#ifdef MODYN_HAVE_CUDA
#include "train/layers_cuda.h"
#endif

/* Does part name `part` belong to module `module`? */
static int part_in_module(const char *part, const char *module) {
  if (!strcmp(module, "model")) return 1;
  size_t n = strlen(module);
  return !strncmp(part, module, n) && (part[n] == '\0' || part[n] == '.');
}

int optim_init(Optimizer *o, const OptimizerConfig *cfg, const Model *m, int64_t nparams) {
  memset(o, 0, sizeof *o);
  if (!strcmp(cfg->algorithm, "SGD")) o->algorithm = OPT_SGD;
  else if (!strcmp(cfg->algorithm, "Adam")) o->algorithm = OPT_ADAM;
  else if (!strcmp(cfg->algorithm, "AdamW")) o->algorithm = OPT_ADAMW;
  else return mh_errorf("unknown optimizer algorithm \"%s\"", cfg->algorithm);
  o->n = nparams;
  /* The model's named parts; a model without parts is one part "model". */
  ModelPart whole = {"model", 0, nparams};
  const ModelPart *parts = m && m->nparts > 0 ? m->parts : &whole;
  int nparts = m && m->nparts > 0 ? m->nparts : 1;
  int owner[MODEL_MAX_PARTS];
  for (int p = 0; p < nparts; p++) owner[p] = -1;
  o->ngroups = cfg->num_groups;
  for (int g = 0; g < cfg->num_groups; g++) {
    const ParamGroupConfig *pc = &cfg->groups[g];
    OptGroup *og = &o->groups[g];
    og->lr = og->lr0 = pc->lr;
    og->momentum = pc->momentum;
    og->weight_decay = pc->weight_decay;
    og->nesterov = pc->nesterov;
    og->beta1 = pc->beta1;
    og->beta2 = pc->beta2;
    og->eps = pc->eps;
    og->ranges = mh_calloc((size_t)nparts, sizeof *og->ranges);
    if (!og->ranges) return MH_ERR;
    for (int p = 0; p < nparts; p++) {
      if (!part_in_module(parts[p].name, pc->module)) continue;
      if (owner[p] >= 0)
        return mh_errorf("training.optimizers[0].param_groups[%d].module: %s is already in "
                         "param group %d (module %s); each parameter may be in one group only",
                         g, parts[p].name, owner[p], cfg->groups[owner[p]].module);
      owner[p] = g;
      og->ranges[og->nranges][0] = parts[p].off;
      og->ranges[og->nranges][1] = parts[p].len;
      og->nranges++;
    }
    if (og->nranges == 0) {
      char names[1024] = "";
      for (int p = 0; p < nparts; p++) {
        if (p) strncat(names, ", ", sizeof names - strlen(names) - 1);
        strncat(names, parts[p].name, sizeof names - strlen(names) - 1);
      }
      return mh_errorf("training.optimizers[0].param_groups[%d].module: no part of the model is "
                       "called %s; its parts are: model (all), %s",
                       g, pc->module, names);
    }
  }
  for (int p = 0; p < nparts; p++)
    if (owner[p] < 0) o->frozen += parts[p].len;
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
  for (int g = 0; g < o->ngroups; g++) {
    free(o->groups[g].ranges);
    o->groups[g].ranges = NULL;
  }
}

void optim_reset(Optimizer *o) {
  o->step = 0;
  memset(o->m, 0, (size_t)o->n * sizeof(float));
  if (o->v) memset(o->v, 0, (size_t)o->n * sizeof(float));
}

/* Both rules update elements [lo, hi) with group gr's hyper-parameters. */
static void sgd_step(Optimizer *o, const OptGroup *gr, float *p, const float *g, int64_t lo,
                     int64_t hi) {
  const float lr = (float)gr->lr, mu = (float)gr->momentum, wd = (float)gr->weight_decay;
  const int first = o->step == 0;
  for (int64_t i = lo; i < hi; i++) {
    float d = g[i] + wd * p[i];
    if (mu != 0.0f) {
      float buf = first ? d : mu * o->m[i] + d;
      o->m[i] = buf;
      d = gr->nesterov ? d + mu * buf : buf;
    }
    p[i] -= lr * d;
  }
}

static void adam_step(Optimizer *o, const OptGroup *gr, float *p, const float *g, int decoupled,
                      int64_t lo, int64_t hi) {
  const double b1 = gr->beta1, b2 = gr->beta2;
  const double t = (double)(o->step + 1);
  const double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
  const float step_size = (float)(gr->lr / bc1);
  const float sqrt_bc2 = (float)sqrt(bc2);
  const float wd = (float)gr->weight_decay, lr = (float)gr->lr, eps = (float)gr->eps;
  for (int64_t i = lo; i < hi; i++) {
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
  for (int g = 0; g < o->ngroups; g++) {
    const OptGroup *gr = &o->groups[g];
    for (int r = 0; r < gr->nranges; r++) {
      int64_t lo = gr->ranges[r][0], hi = lo + gr->ranges[r][1];
      switch (o->algorithm) {
        case OPT_SGD: sgd_step(o, gr, params, grads, lo, hi); break;
        case OPT_ADAM: adam_step(o, gr, params, grads, 0, lo, hi); break;
        case OPT_ADAMW: adam_step(o, gr, params, grads, 1, lo, hi); break;
      }
    }
  }
  o->step++;
}

#ifdef MODYN_HAVE_CUDA
int optim_step_cuda(Optimizer *o, float *params, const float *grads, float *m, float *v,
                    float scale) {
  for (int g = 0; g < o->ngroups; g++) {
    const OptGroup *gr = &o->groups[g];
    const double t = (double)(o->step + 1);
    for (int r = 0; r < gr->nranges; r++) {
      int64_t lo = gr->ranges[r][0], hi = lo + gr->ranges[r][1];
      if (o->algorithm == OPT_SGD)
        MH_TRY(sgd_update_cuda(params, grads, m, lo, hi, scale, (float)gr->lr,
                               (float)gr->momentum, (float)gr->weight_decay, gr->nesterov,
                               o->step == 0));
      else
        MH_TRY(adam_update_cuda(params, grads, m, v, lo, hi, scale, (float)gr->lr, gr->beta1,
                                gr->beta2, (float)gr->eps, (float)gr->weight_decay,
                                o->algorithm == OPT_ADAMW, 1.0 - pow(gr->beta1, t),
                                1.0 - pow(gr->beta2, t)));
    }
  }
  o->step++;
  return MH_OK;
}
#else
int optim_step_cuda(Optimizer *o, float *params, const float *grads, float *m, float *v,
                    float scale) {
  return mh_errorf("optim_step_cuda: built without the CUDA backend");
}
#endif

/* optim.h - optimizers with PyTorch's update rules: SGD (momentum,
 * nesterov, weight decay), Adam and AdamW, with param groups as in the
 * original's YAML. State (momentum buffers, moment estimates, step count)
 * is kept so that checkpoints continue exactly.
 *
 * Param groups: each group of training.optimizers[0].param_groups names a
 * `module` and its own lr, momentum, weight decay, ... The module `model`
 * is the whole model; otherwise it names one of the model's parts
 * (Model.parts, e.g. "model.layers.2" or DLRM's "model.sparse_arch") or a
 * prefix of part names ("model.layers" = every layer). Parameters in no
 * group are not updated (frozen), like parameters missing from a PyTorch
 * optimizer; a part claimed by two groups is an error.
 * Does not schedule the learning rate (the trainer sets each group's lr). */
#ifndef MH_OPTIM_H
#define MH_OPTIM_H

#include <stdint.h>

#include "train/model.h"

#define OPTIM_MAX_GROUPS 8
#define OPTIM_NAME 128

/* What config/ fills from training.optimizers[0] (plain values). */
typedef struct {
  char module[OPTIM_NAME]; /* param group "module" (default "model") */
  double lr;             /* config.lr (required) */
  double momentum;       /* config.momentum, default 0 */
  double weight_decay;   /* config.weight_decay, default 0 */
  int nesterov;          /* config.nesterov, default false */
  double beta1, beta2;   /* config.betas [b1, b2] (Adam/AdamW), default [0.9, 0.999] */
  double eps;            /* config.eps (Adam/AdamW), default 1e-8 */
} ParamGroupConfig;

typedef struct {
  char name[OPTIM_NAME];      /* optimizers[i].name, default "default" */
  char algorithm[OPTIM_NAME]; /* SGD | Adam | AdamW */
  char source[OPTIM_NAME];    /* "PyTorch" accepted for compatibility; informational */
  int num_groups;
  ParamGroupConfig groups[OPTIM_MAX_GROUPS];
} OptimizerConfig;

typedef enum { OPT_SGD = 0, OPT_ADAM = 1, OPT_ADAMW = 2 } OptAlgorithm;

typedef struct {
  double lr;          /* current learning rate (the trainer's schedule sets it) */
  double lr0;         /* configured learning rate */
  double momentum, weight_decay, beta1, beta2, eps;
  int nesterov;
  int nranges;
  int64_t (*ranges)[2]; /* [nranges] (offset, length) into the flat parameters */
} OptGroup;

typedef struct {
  OptAlgorithm algorithm;
  int ngroups;
  OptGroup groups[OPTIM_MAX_GROUPS];
  int64_t n;      /* parameters */
  int64_t frozen; /* parameters in no group */
  int64_t step;   /* steps taken */
  float *m;       /* SGD momentum buffer / Adam first moment; [n] */
  float *v;       /* Adam second moment; [n] (NULL for SGD) */
} Optimizer;

/* From training.optimizers[0] for model m (whose parts the groups name);
 * m NULL: nparams parameters in one part called "model". Errors name the
 * group's field. */
int optim_init(Optimizer *o, const OptimizerConfig *cfg, const Model *m, int64_t nparams);
void optim_free(Optimizer *o);
/* Forget momentum/moments (a model that is not warm-started starts fresh). */
void optim_reset(Optimizer *o);
/* One update of every group: params -= f(grads) in place. */
void optim_step(Optimizer *o, float *params, const float *grads);
/* The same update on the GPU: params, grads and the state m, v (device
 * copies of o->m, o->v; v NULL for SGD) in device memory, the gradients
 * multiplied by scale first. */
int optim_step_cuda(Optimizer *o, float *params, const float *grads, float *m, float *v,
                    float scale);

#endif

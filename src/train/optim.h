/* optim.h - optimizers with PyTorch's update rules: SGD (momentum,
 * nesterov, weight decay), Adam and AdamW. State (momentum buffers, moment
 * estimates, step count) is kept so that checkpoints continue exactly.
 * Does not schedule the learning rate (the caller sets lr per step). */
#ifndef MH_OPTIM_H
#define MH_OPTIM_H

#include <stdint.h>

#include "config/pipeline.h"

typedef enum { OPT_SGD = 0, OPT_ADAM = 1, OPT_ADAMW = 2 } OptAlgorithm;

typedef struct {
  OptAlgorithm algorithm;
  double lr, momentum, weight_decay, beta1, beta2, eps;
  int nesterov;
  int64_t n;      /* parameters */
  int64_t step;   /* steps taken */
  float *m;       /* SGD momentum buffer / Adam first moment; [n] */
  float *v;       /* Adam second moment; [n] (NULL for SGD) */
} Optimizer;

/* From training.optimizers[0] (its first param group covers the model). */
int optim_init(Optimizer *o, const OptimizerConfig *cfg, int64_t nparams);
void optim_free(Optimizer *o);
/* Forget momentum/moments (a model that is not warm-started starts fresh). */
void optim_reset(Optimizer *o);
/* One update: params -= f(grads) in place. */
void optim_step(Optimizer *o, float *params, const float *grads);

#endif

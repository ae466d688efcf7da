/* sched.h - learning-rate schedules, under PyTorch's names, stepped per
 * batch or per epoch. Like the original's trainer, a schedule restarts at
 * every trigger (each trigger trains with a fresh optimizer and scheduler).
 *
 * training.lr_scheduler:
 *   name: StepLR | CosineAnnealingLR | LinearLR
 *   source: PyTorch            (accepted; informational)
 *   step_every: batch | epoch  (default epoch)
 *   optimizers: [default]      (accepted; there is one optimizer)
 *   config:
 *     StepLR:            step_size (required), gamma (0.1)
 *     CosineAnnealingLR: T_max (required), eta_min (0)
 *     LinearLR:          start_factor (1/3), end_factor (1), total_iters (5)
 *   step_size, T_max and total_iters may be the original's placeholders
 *   MODYN_NUM_BATCHES or MODYN_NUM_EPOCHS: the batches (optimizer steps)
 *   or epochs each trigger is expected to train, as the original's trainer
 *   computes them (sched_resolve, at the start of each trigger).
 * lr(t) after t scheduler steps, from the configured lr0:
 *   StepLR      lr0 * gamma^floor(t / step_size)
 *   Cosine      eta_min + (lr0 - eta_min) * (1 + cos(pi * t / T_max)) / 2
 *   LinearLR    lr0 * (start + (end - start) * min(t, total_iters) / total_iters) */
#ifndef MH_SCHED_H
#define MH_SCHED_H

#include <stdint.h>

#include "config/cfgtree.h"

typedef enum { SCHED_NONE = 0, SCHED_STEP, SCHED_COSINE, SCHED_LINEAR } SchedKind;

/* What an integer field holds: a number, or a placeholder. */
typedef enum { SCHED_FIXED = 0, SCHED_NUM_BATCHES, SCHED_NUM_EPOCHS } SchedValue;

typedef struct {
  SchedKind kind;
  int per_batch;      /* 1: step every batch; 0: every epoch */
  double step_size, gamma;
  double t_max, eta_min;
  double start_factor, end_factor, total_iters;
  SchedValue step_size_is, t_max_is, total_iters_is; /* placeholders (sched_resolve) */
} LrSchedule;

/* Parse training.lr_scheduler (absent = constant lr). */
int sched_parse(const CfgRef *cfg, LrSchedule *s);
/* s with its placeholders replaced by one trigger's expected batches and
 * epochs (each at least 1). */
LrSchedule sched_resolve(const LrSchedule *s, int64_t num_batches, int64_t num_epochs);
/* The learning rate after t scheduler steps. */
double sched_lr(const LrSchedule *s, double lr0, int64_t t);

#endif

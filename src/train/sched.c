/* sched.c - see sched.h. */
#include "train/sched.h"

#include <math.h>
#include <string.h>

#include "core/error.h"

int sched_parse(const CfgRef *cfg, LrSchedule *s) {
  static const char *const keys[] = {"name", "source", "step_every", "optimizers", "config", NULL};
  static const char *const names[] = {"StepLR", "CosineAnnealingLR", "LinearLR", NULL};
  static const char *const every[] = {"epoch", "batch", NULL};
  memset(s, 0, sizeof *s);
  if (!cfg_present(cfg) || cfg_is_null(cfg)) return MH_OK;
  MH_TRY(cfg_check_keys(cfg, keys));
  int name = 0, per = 0;
  MH_TRY(cfg_req_enum(cfg, "name", names, &name));
  MH_TRY(cfg_get_enum(cfg, "step_every", every, 0, &per));
  s->kind = (SchedKind)(name + 1);
  s->per_batch = per;
  CfgRef c;
  cfg_child(cfg, "config", &c);
  switch (s->kind) {
    case SCHED_STEP: {
      static const char *const k[] = {"step_size", "gamma", NULL};
      int64_t step = 0;
      MH_TRY(cfg_check_keys(&c, k));
      MH_TRY(cfg_req_int(&c, "step_size", 1, INT32_MAX, &step));
      s->step_size = (double)step;
      return cfg_get_double(&c, "gamma", 0.1, 0, 1e9, &s->gamma);
    }
    case SCHED_COSINE: {
      static const char *const k[] = {"T_max", "eta_min", NULL};
      int64_t tmax = 0;
      MH_TRY(cfg_check_keys(&c, k));
      MH_TRY(cfg_req_int(&c, "T_max", 1, INT32_MAX, &tmax));
      s->t_max = (double)tmax;
      return cfg_get_double(&c, "eta_min", 0, 0, 1e9, &s->eta_min);
    }
    case SCHED_LINEAR: {
      static const char *const k[] = {"start_factor", "end_factor", "total_iters", NULL};
      int64_t total = 0;
      MH_TRY(cfg_check_keys(&c, k));
      MH_TRY(cfg_get_double(&c, "start_factor", 1.0 / 3, 1e-12, 1, &s->start_factor));
      MH_TRY(cfg_get_double(&c, "end_factor", 1.0, 0, 1, &s->end_factor));
      MH_TRY(cfg_get_int(&c, "total_iters", 5, 1, INT32_MAX, &total));
      s->total_iters = (double)total;
      return MH_OK;
    }
    case SCHED_NONE: break;
  }
  return MH_OK;
}

double sched_lr(const LrSchedule *s, double lr0, int64_t t) {
  const double x = (double)t;
  switch (s->kind) {
    case SCHED_STEP: return lr0 * pow(s->gamma, floor(x / s->step_size));
    case SCHED_COSINE: return s->eta_min + (lr0 - s->eta_min) * (1 + cos(M_PI * x / s->t_max)) / 2;
    case SCHED_LINEAR: {
      double f = x < s->total_iters ? x / s->total_iters : 1.0;
      return lr0 * (s->start_factor + (s->end_factor - s->start_factor) * f);
    }
    case SCHED_NONE: break;
  }
  return lr0;
}

/* sched.c - see sched.h. */
#include "train/sched.h"

#include <math.h>
#include <string.h>

#include "core/error.h"

/* An integer field of the config that may be MODYN_NUM_BATCHES or
 * MODYN_NUM_EPOCHS (the original's placeholders). */
static int get_count(const CfgRef *c, const char *key, int required, int64_t def, double *out,
                     SchedValue *is) {
  static const char *const names[] = {"MODYN_NUM_BATCHES", "MODYN_NUM_EPOCHS", NULL};
  CfgRef at;
  *is = SCHED_FIXED;
  if (cfg_child(c, key, &at) && at.node && at.node->kind == CFG_SCALAR && at.node->value &&
      !strncmp(at.node->value, "MODYN_", 6)) {
    int k = 0;
    MH_TRY(cfg_req_enum(c, key, names, &k));
    *is = (SchedValue)(k + 1);
    *out = 0;
    return MH_OK;
  }
  int64_t v = 0;
  if (required) MH_TRY(cfg_req_int(c, key, 1, INT32_MAX, &v));
  else MH_TRY(cfg_get_int(c, key, def, 1, INT32_MAX, &v));
  *out = (double)v;
  return MH_OK;
}

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
      MH_TRY(cfg_check_keys(&c, k));
      MH_TRY(get_count(&c, "step_size", 1, 0, &s->step_size, &s->step_size_is));
      return cfg_get_double(&c, "gamma", 0.1, 0, 1e9, &s->gamma);
    }
    case SCHED_COSINE: {
      static const char *const k[] = {"T_max", "eta_min", NULL};
      MH_TRY(cfg_check_keys(&c, k));
      MH_TRY(get_count(&c, "T_max", 1, 0, &s->t_max, &s->t_max_is));
      return cfg_get_double(&c, "eta_min", 0, 0, 1e9, &s->eta_min);
    }
    case SCHED_LINEAR: {
      static const char *const k[] = {"start_factor", "end_factor", "total_iters", NULL};
      MH_TRY(cfg_check_keys(&c, k));
      MH_TRY(cfg_get_double(&c, "start_factor", 1.0 / 3, 1e-12, 1, &s->start_factor));
      MH_TRY(cfg_get_double(&c, "end_factor", 1.0, 0, 1, &s->end_factor));
      return get_count(&c, "total_iters", 0, 5, &s->total_iters, &s->total_iters_is);
    }
    case SCHED_NONE: break;
  }
  return MH_OK;
}

static double resolve(double v, SchedValue is, int64_t batches, int64_t epochs) {
  const int64_t n = is == SCHED_NUM_BATCHES ? batches : epochs;
  if (is == SCHED_FIXED) return v;
  return (double)(n > 1 ? n : 1);
}

LrSchedule sched_resolve(const LrSchedule *s, int64_t num_batches, int64_t num_epochs) {
  LrSchedule r = *s;
  r.step_size = resolve(s->step_size, s->step_size_is, num_batches, num_epochs);
  r.t_max = resolve(s->t_max, s->t_max_is, num_batches, num_epochs);
  r.total_iters = resolve(s->total_iters, s->total_iters_is, num_batches, num_epochs);
  r.step_size_is = r.t_max_is = r.total_iters_is = SCHED_FIXED;
  return r;
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

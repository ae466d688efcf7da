/* criterion.c - the criteria table, their creation and the window of
 * previous values the dynamic ones share (see criterion.h). */
#include "trigger/criterion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

extern const CriterionType criterion_threshold;
extern const CriterionType criterion_quantile;
extern const CriterionType criterion_rolling;

static const CriterionType *const criteria[] = {
    &criterion_threshold,
    &criterion_quantile,
    &criterion_rolling,
    NULL,
};

int criterion_create(const CfgRef *cfg, int perf, int lower, Criterion *c) {
  memset(c, 0, sizeof *c);
  c->lower = lower;
  c->last_threshold = NAN;
  MH_TRY(cfg_expect_map(cfg));
  char id[96];
  MH_TRY(cfg_req_string(cfg, "id", id, sizeof id));
  for (int i = 0; criteria[i]; i++) {
    const char *name = perf ? criteria[i]->perf_id : criteria[i]->drift_id;
    if (!name || strcmp(name, id)) continue;
    c->type = criteria[i];
    if (perf) MH_TRY(cfg_req_string(cfg, "metric", c->metric, sizeof c->metric));
    return criteria[i]->create(cfg, c);
  }
  char list[512] = "";
  for (int i = 0; criteria[i]; i++) {
    const char *name = perf ? criteria[i]->perf_id : criteria[i]->drift_id;
    if (!name) continue;
    if (list[0]) strncat(list, ", ", sizeof list - strlen(list) - 1);
    strncat(list, name, sizeof list - strlen(list) - 1);
  }
  if (perf) strncat(list, ", StaticNumberMisclassificationCriterion", sizeof list - strlen(list) - 1);
  CfgRef at;
  cfg_child(cfg, "id", &at);
  return cfg_errorf(&at, "unknown decision criterion \"%s\"; available: %s", id, list);
}

void criterion_free(Criterion *c) {
  free(c->obs);
  c->obs = NULL;
}

int criterion_decide(Criterion *c, double value) { return c->decide(c, value); }

int criterion_window_init(Criterion *c, int64_t window_size) {
  c->window_size = window_size;
  c->obs = mh_calloc((size_t)window_size, sizeof(double));
  return c->obs ? MH_OK : MH_ERR;
}

/* A bounded deque: the oldest value leaves when the window is full. */
void criterion_window_push(Criterion *c, double v) {
  if (c->nobs < c->window_size) {
    c->obs[(c->head + c->nobs) % c->window_size] = v;
    c->nobs++;
  } else {
    c->obs[c->head] = v;
    c->head = (c->head + 1) % c->window_size;
  }
}

void criterion_window_values(const Criterion *c, double *out) {
  for (int64_t i = 0; i < c->nobs; i++) out[i] = c->obs[(c->head + i) % c->window_size];
}

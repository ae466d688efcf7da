/* metric.c - registry lookup and shared metric operations. */
#include "eval/metric.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

extern const MetricType *const metric_registry[];

int metric_create(const CfgRef *cfg, int num_classes, Metric **out) {
  char name[128];
  *out = NULL;
  MH_TRY(cfg_req_string(cfg, "name", name, sizeof name));
  for (int i = 0; metric_registry[i]; i++) {
    if (!strcmp(metric_registry[i]->name, name)) {
      if (metric_registry[i]->create(cfg, num_classes, out)) {
        metric_free(*out);
        *out = NULL;
        return MH_ERR;
      }
      (*out)->type = metric_registry[i];
      metric_reset(*out);
      return MH_OK;
    }
  }
  char list[512] = "";
  for (int i = 0; metric_registry[i]; i++) {
    if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
    strncat(list, metric_registry[i]->name, sizeof list - strlen(list) - 1);
  }
  CfgRef at;
  cfg_child(cfg, "name", &at);
  return cfg_errorf(&at, "unknown metric \"%s\"; available: %s", name, list);
}

void metric_reset(Metric *m) { memset(m->state, 0, (size_t)m->state_len * sizeof(double)); }

int metric_allreduce(Metric *m) {
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, m->state, (int)m->state_len, MPI_DOUBLE, MPI_SUM,
                          MPI_COMM_WORLD));
  return MH_OK;
}

void metric_free(Metric *m) {
  if (!m) return;
  if (m->destroy) m->destroy(m);
  free(m->state);
  free(m->impl);
  free(m);
}

/* drift_aggregation.c - MajorityVote and AtLeastN (see drift_aggregation.h). */
#include "trigger/drift_aggregation.h"

#include "core/error.h"

int drift_aggregation_init(const CfgRef *cfg, int nmetrics, DriftAggregation *a) {
  static const char *const ids[] = {"MajorityVote", "AtLeastN", NULL};
  static const char *const mv_keys[] = {"id", NULL};
  static const char *const n_keys[] = {"id", "n", NULL};
  a->at_least = 0;
  if (!cfg_present(cfg) || cfg_is_null(cfg)) return MH_OK;
  MH_TRY(cfg_expect_map(cfg));
  int kind;
  MH_TRY(cfg_req_enum(cfg, "id", ids, &kind));
  MH_TRY(cfg_check_keys(cfg, kind ? n_keys : mv_keys));
  if (!kind) return MH_OK;
  int64_t n;
  MH_TRY(cfg_req_int(cfg, "n", 1, 1000000, &n));
  if (n > nmetrics) {
    CfgRef at;
    cfg_child(cfg, "n", &at);
    return cfg_errorf(&at, "is %lld but there are only %d metrics; the trigger could never fire",
                      (long long)n, nmetrics);
  }
  a->at_least = (int)n;
  return MH_OK;
}

int drift_aggregate(const DriftAggregation *a, const int *votes, int n) {
  int yes = 0;
  for (int i = 0; i < n; i++) yes += votes[i] != 0;
  return a->at_least ? yes >= a->at_least : 2 * yes > n;
}

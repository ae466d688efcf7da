/* drift_aggregation.h - how the decisions of a drift trigger's metrics
 * combine (aggregation_strategy): MajorityVote (the default: more than half
 * of the metrics say drift) or AtLeastN (at least n of them). */
#ifndef MH_DRIFT_AGGREGATION_H
#define MH_DRIFT_AGGREGATION_H

#include "config/cfgtree.h"

typedef struct {
  int at_least; /* AtLeastN's n; 0 = MajorityVote */
} DriftAggregation;

int drift_aggregation_init(const CfgRef *cfg, int nmetrics, DriftAggregation *a);
/* The combined decision of votes[n] (1 = drift). */
int drift_aggregate(const DriftAggregation *a, const int *votes, int n);

#endif

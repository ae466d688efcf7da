/* strategy.h - evaluation interval strategies (plug-ins).
 *
 * An interval is a half-open time range [start, end) of the evaluation data
 * plus the reference time used to pick the "currently active" model (the
 * interval start for slicing; other strategies set their own). Each strategy
 * is one file defining an EvalStrategyType plus one line in
 * strategy_registry.c. */
#ifndef MH_EVAL_STRATEGY_H
#define MH_EVAL_STRATEGY_H

#include <stdint.h>

#include "config/cfgtree.h"

typedef struct {
  int64_t start; /* first timestamp included */
  int64_t end;   /* first timestamp excluded */
  int64_t ref;   /* reference time for composite models */
} EvalInterval;

typedef struct {
  int64_t data_min_ts; /* smallest timestamp of the evaluation data */
  int64_t data_max_ts; /* largest */
} EvalContext;

typedef struct {
  const char *type; /* strategy.type in the YAML */
  /* Validate the strategy map and compute its intervals into *out (malloc'd). */
  int (*intervals)(const CfgRef *cfg, const EvalContext *ctx, EvalInterval **out, int *n);
} EvalStrategyType;

/* Validate cfg (its "type" names the strategy) and compute the intervals. */
int eval_strategy_intervals(const CfgRef *cfg, const EvalContext *ctx, EvalInterval **out,
                            int *n);

#endif

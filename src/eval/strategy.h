/* strategy.h - evaluation interval strategies (plug-ins).
 *
 * An interval is a half-open time range [start, end) of the evaluation data
 * plus the reference time used to pick the "currently active" model (the
 * interval start for slicing, the centre for periodic windows) and, for
 * intervals that belong to one model (OffsetEvalStrategy), that model.
 *
 * Two kinds of strategies:
 *   - fixed (Slicing, Periodic, Static): intervals depend only on the
 *     configuration and the evaluation data's time range;
 *   - per-model (BetweenTwoTriggers, Offset): intervals depend on the
 *     models' training intervals, given in EvalContext. BetweenTwoTriggers
 *     needs every trigger, so it is computed after the pipeline
 *     (`after_pipeline_only`); Offset can be computed per model right after
 *     its training.
 * Infinite bounds are clamped to the evaluation data (-inf = its first
 * timestamp, +inf = one past its last), so every interval is finite.
 * Each strategy is one file defining an EvalStrategyType plus one line in
 * strategy_registry.c. This module does not evaluate anything
 * (evaluation.h) nor pick composite models (composite.h). */
#ifndef MH_EVAL_STRATEGY_H
#define MH_EVAL_STRATEGY_H

#include <stdint.h>

#include "config/cfgtree.h"

typedef struct {
  int64_t start; /* first timestamp included */
  int64_t end;   /* first timestamp excluded (end >= start) */
  int64_t ref;   /* reference time for composite models */
  int owner;     /* -1: any model may be evaluated here; else the one model (index) it belongs to */
} EvalInterval;

typedef struct {
  int64_t data_min_ts;           /* smallest timestamp of the evaluation data */
  int64_t data_max_ts;           /* largest (< data_min_ts when the data is empty) */
  int nmodels;                   /* models given below (0 when validating) */
  const int64_t *model_first_ts; /* [nmodels] first timestamp of each model's trigger data */
  const int64_t *model_last_ts;  /* [nmodels] last timestamp ("trained up to") */
} EvalContext;

typedef struct {
  const char *type;        /* strategy.type in the YAML */
  int per_model;           /* 1: intervals come from ctx's models (owner may be set) */
  int after_pipeline_only; /* 1: needs every model; evaluated after the last trigger */
  /* Validate the strategy map and compute its intervals into *out (malloc'd,
   * may be NULL when *n is 0). Per-model strategies give no intervals when
   * ctx->nmodels is 0; owners index ctx's models. */
  int (*intervals)(const CfgRef *cfg, const EvalContext *ctx, EvalInterval **out, int *n);
} EvalStrategyType;

/* The strategy named by cfg's "type"; an unknown name is a file:line error
 * listing the available ones. */
int eval_strategy_find(const CfgRef *cfg, const EvalStrategyType **out);
/* Validate cfg and compute the intervals (eval_strategy_find + intervals). */
int eval_strategy_intervals(const CfgRef *cfg, const EvalContext *ctx, EvalInterval **out,
                            int *n);

/* Shared helpers for strategy files. */
/* Parse a signed duration "-25h", "+0", "0s", "3d"; also "inf", "+inf",
 * "-inf" (*inf = -1 / +1, *seconds unset). *sign is -1 for a leading '-',
 * +1 for '+', 0 for none (needed for -0 / +0 / 0). MH_ERR without a message
 * when the text is not one of these. */
int eval_parse_offset(const char *text, int *sign, int64_t *seconds, int *inf);
/* a + b saturating at the int64 range. */
int64_t eval_add_sat(int64_t a, int64_t b);

#endif

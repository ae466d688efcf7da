/* batched.h - the base of triggers that check every
 * `evaluation_interval_data_points` samples (drift, performance).
 *
 * The base buffers incoming samples and calls the trigger's check once a
 * batch of evaluation_interval_data_points samples is complete; when the
 * check decides to fire, the trigger owns the stream up to and including
 * the batch's last sample (the original Modyn fires at that sample too).
 * Samples of an incomplete batch wait for the next chunk, so the result
 * does not depend on how the stream is cut into chunks.
 *
 * Warmup (the original's BatchedTriggerConfig + WarmupTrigger): for the
 * first `warmup_intervals` checks a simpler `warmup_policy` trigger decides
 * (any trigger configuration, usually a TimeTrigger or DataAmountTrigger;
 * it sees only the checked batches and says "fire" when it fires anywhere
 * inside one) while the main policy calibrates. The very first check always
 * fires: there is no trained model before it. Without warmup_policy there
 * is no warmup (warmup_intervals is then ignored).
 *
 * A check that needs the model trained at the previous fire must come after
 * that training; batched_next_chunk_limit says how many samples may come
 * before the next check, for an orchestrator that cuts its chunks there.
 * This module does not know what a check computes. */
#ifndef MH_BATCHED_H
#define MH_BATCHED_H

#include <stdint.h>

#include "trigger/trigger.h"

/* The keys a batched trigger's map may hold besides its own. */
#define BATCHED_KEYS "evaluation_interval_data_points", "warmup_intervals", "warmup_policy"

typedef struct {
  StreamChunk batch;   /* the checked batch (n = evaluation_interval_data_points) */
  int64_t check;       /* 0-based index of this check */
  int64_t last_index;  /* stream position (0-based, over all chunks) of the batch's last sample */
} BatchedCheck;

typedef struct {
  int64_t interval;         /* evaluation_interval_data_points */
  int64_t warmup_intervals; /* checks decided by the warmup policy (0 without one) */
  Trigger *warmup;          /* warmup_policy, or NULL */
  int64_t delegated;        /* checks the warmup policy decided so far */
  int64_t *keys, *ts;       /* the batch being filled */
  int32_t *labels;
  int64_t fill;
  int64_t checks;           /* checks done */
  int64_t seen;             /* samples seen */
  void *owner;
  /* The check: *fire = 1 to fire at the batch's last sample. */
  int (*check)(void *owner, const BatchedCheck *c, int *fire);
} Batched;

/* Read the batched fields of cfg (create warmup_policy with env). */
int batched_init(Batched *b, const CfgRef *cfg, PluginEnv *env, void *owner,
                 int (*check)(void *owner, const BatchedCheck *c, int *fire));
void batched_free(Batched *b);
/* Feed a chunk; fired gets the chunk index of each firing check's last sample. */
int batched_inform(Batched *b, const StreamChunk *c, I64Vec *fired);
/* The warmup is over (always, without a warmup policy). */
int batched_warmup_completed(const Batched *b);
/* Let the warmup policy decide on the checked batch: *fire = it fired
 * inside the batch. Counts one warmup check. Without a warmup policy, or
 * once the warmup is over, *fire = 1 (only the first check asks then). */
int batched_delegate(Batched *b, const StreamChunk *batch, int *fire);
/* Samples that may arrive before the next check, that check's included. */
int64_t batched_next_chunk_limit(const Batched *b);

#endif

/* set_order.h - the order a strategy hands its training set over in.
 *
 * The original's strategies shuffle each partition of
 * maximum_keys_in_memory keys before storing it (Coreset, Freshness); the
 * trainer later reads the keys partition by partition. This module only
 * permutes a finished set; it does not choose keys. */
#ifndef MH_SET_ORDER_H
#define MH_SET_ORDER_H

#include <stdint.h>

#include "core/rng.h"
#include "select/selector.h"

/* Shuffle ts within consecutive partitions of `partition` keys (the last
 * may be shorter), weights (when there are as many) alongside. */
int set_shuffle_partitions(TrainingSet *ts, int64_t partition, Rng *rng);

#endif

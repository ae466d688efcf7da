/* selector.h - the selection-strategy interface and registry.
 *
 * A selection strategy sees every sample of the stream (inform, in order)
 * and, at each trigger, produces that trigger's training set: keys and
 * per-sample weights. It runs on rank 0; the orchestrator broadcasts the
 * set to the trainers in partitions of maximum_keys_in_memory keys. Each
 * strategy is a plug-in: one file that defines a SelectorType, plus one line
 * in selector_registry.c. Shared fields (SelectorCommon) are parsed by
 * selector_parse_common so every strategy spells them the same way. */
#ifndef MH_SELECTOR_H
#define MH_SELECTOR_H

#include <stdint.h>

#include "config/cfgtree.h"
#include "core/stream.h"
#include "core/vec.h"

typedef struct {
  I64Vec keys;     /* the training set, in the order the strategy chose */
  F32Vec weights;  /* same length when uses_weights, else empty */
} TrainingSet;

void training_set_clear(TrainingSet *ts);
void training_set_free(TrainingSet *ts);

typedef struct {
  int64_t maximum_keys_in_memory; /* partition size (keys); required, >= 1 */
  int64_t limit;                  /* -1 = no limit */
  int64_t tail_triggers;          /* -1 (null/absent) = all data; 0 = this trigger's data; N */
  int uses_weights;               /* weighted loss */
  char storage_backend[32];       /* "database" | "local": accepted, informational */
  int64_t seed;                   /* for randomised strategies; default 42 */
} SelectorCommon;

/* Keys every strategy accepts, to concatenate with its own in cfg_check_keys. */
extern const char *const selector_common_keys[];
int selector_parse_common(const CfgRef *cfg, SelectorCommon *c);

typedef struct Selector Selector;

typedef struct {
  const char *name; /* selection_strategy.name in the YAML */
  int (*create)(const CfgRef *cfg, Selector **out);
} SelectorType;

struct Selector {
  const SelectorType *type;
  SelectorCommon common;
  void *impl;
  /* New samples, in stream order; all of them belong to the next trigger. */
  int (*inform)(Selector *s, const StreamChunk *chunk);
  /* The trigger fired: build its training set into out (cleared first). */
  int (*select)(Selector *s, int64_t trigger, TrainingSet *out);
  void (*destroy)(Selector *s);
};

/* Create the strategy named by cfg's "name" (errors name file:line). */
int selector_create(const CfgRef *cfg, Selector **out);
void selector_free(Selector *s);

#endif

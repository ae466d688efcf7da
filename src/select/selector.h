/* selector.h - the selection-strategy interface and registry.
 *
 * A selection strategy sees every sample of the stream (inform, in order)
 * and, at each trigger, produces that trigger's training set: keys and
 * per-sample weights. It runs on rank 0; the orchestrator broadcasts the
 * set to the trainers in partitions of maximum_keys_in_memory keys. Each
 * strategy is a plug-in: one file that defines a SelectorType, plus one line
 * in selector_registry.c. Shared fields (SelectorCommon) are parsed by
 * selector_parse_common so every strategy spells them the same way.
 *
 * A strategy is created on every rank. Rank 0 feeds it the stream and asks
 * for each training set (it may ask env->pass for the model's view of the
 * data, orch/plugin_env.h). Every rank asks it for the trigger's batch
 * filter (batch-then-sample downsampling, trainer.h) and epoch hook
 * (sample-then-batch), which must therefore depend only on the
 * configuration and the trigger index. */
#ifndef MH_SELECTOR_H
#define MH_SELECTOR_H

#include <stdint.h>

#include "config/cfgtree.h"
#include "core/stream.h"
#include "core/vec.h"
#include "orch/plugin_env.h"
#include "train/trainer.h"

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
  /* env stays valid for the strategy's life (NULL when only validating). */
  int (*create)(const CfgRef *cfg, PluginEnv *env, Selector **out);
} SelectorType;

struct Selector {
  const SelectorType *type;
  SelectorCommon common;
  void *impl;
  PluginEnv *env;  /* set by selector_create */
  /* New samples, in stream order; all of them belong to the next trigger. */
  int (*inform)(Selector *s, const StreamChunk *chunk);
  /* The trigger fired: build its training set into out (cleared first). */
  int (*select)(Selector *s, int64_t trigger, TrainingSet *out);
  /* Every rank, before training trigger `trigger`: the batch filter to
   * train with (owned by the caller, batch_filter_free), or *out = NULL.
   * May be NULL: no filter. */
  int (*batch_filter)(Selector *s, int64_t trigger, BatchFilter **out);
  /* Every rank, before training trigger `trigger`: the epoch hook to train
   * with (owned by the caller, epoch_hook_free), or *out = NULL. It sees
   * the set select() made (sample-then-batch downsampling selects from it
   * at the start of epochs). May be NULL: no hook. */
  int (*epoch_hook)(Selector *s, int64_t trigger, EpochHook **out);
  void (*destroy)(Selector *s);
};

/* Create the strategy named by cfg's "name" (errors name file:line). env
 * may be NULL (`modyn validate`). */
int selector_create(const CfgRef *cfg, PluginEnv *env, Selector **out);
/* Add a strategy at run time (tests, embedding programs). At most 8. */
int selector_register(const SelectorType *t);
void selector_free(Selector *s);
/* What every strategy's create does first: check cfg's keys (the common
 * ones and own, NULL-terminated), allocate the Selector and impl_size
 * zeroed bytes of the strategy's own state (*impl, also s->impl), and parse
 * the common fields. On an error nothing stays allocated and *out is not
 * set (the strategies' creates return at once, before handing *out on). */
int selector_new(const CfgRef *cfg, const char *const *own, size_t impl_size, Selector **out,
                 void **impl);

#endif

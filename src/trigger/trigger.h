/* trigger.h - the trigger interface and registry.
 *
 * A trigger looks at the incoming samples in stream order and says where a
 * trigger fires. Time is the samples' timestamps, never the wall clock.
 * inform() gets consecutive chunks of the stream and appends, for each
 * trigger that fires inside the chunk, the index (into the chunk) of the
 * last sample that belongs to it; -1 means the trigger owns no sample of
 * this chunk (it fired on a boundary before the chunk's first sample).
 * Indices are nondecreasing; several triggers may share one index. The
 * result does not depend on how the stream is cut into chunks.
 * Each trigger is a plug-in: one file that defines a TriggerType, plus one
 * line in trigger_registry.c. A trigger that needs the model on data (drift,
 * performance) asks env->pass (orch/plugin_env.h) inside inform(); it runs
 * on rank 0, and the pass runs on every rank. */
#ifndef MH_TRIGGER_H
#define MH_TRIGGER_H

#include "config/cfgtree.h"
#include "core/stream.h"
#include "core/vec.h"
#include "orch/plugin_env.h"

typedef struct Trigger Trigger;

typedef struct {
  const char *id; /* trigger.id in the YAML */
  /* Validate the trigger map (including its "id" key) and create; env
   * stays valid for the trigger's life (NULL when only validating). */
  int (*create)(const CfgRef *cfg, PluginEnv *env, Trigger **out);
} TriggerType;

struct Trigger {
  const TriggerType *type;
  void *impl;
  PluginEnv *env;  /* set by trigger_create */
  int (*inform)(Trigger *t, const StreamChunk *chunk, I64Vec *fired);
  /* Optional (NULL: any chunk): the most samples the next inform() may get.
   * A trigger that checks the model on data says where its next check is,
   * so the orchestrator trains the model a fire asks for before that
   * check, as the original does. */
  int64_t (*max_chunk)(Trigger *t);
  void (*destroy)(Trigger *t);
};

/* Create the trigger named by cfg's "id" (errors name file:line). env may
 * be NULL (`modyn validate`: the configuration is checked, nothing runs). */
int trigger_create(const CfgRef *cfg, PluginEnv *env, Trigger **out);
/* Add a trigger type at run time (tests and embedding programs; the
 * built-in ones are in trigger_registry.c). At most 8. */
int trigger_register(const TriggerType *t);
void trigger_free(Trigger *t);

#endif

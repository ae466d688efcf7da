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
 * line in trigger_registry.c. */
#ifndef MH_TRIGGER_H
#define MH_TRIGGER_H

#include "config/cfgtree.h"
#include "core/stream.h"
#include "core/vec.h"

typedef struct Trigger Trigger;

typedef struct {
  const char *id; /* trigger.id in the YAML */
  /* Validate the trigger map (including its "id" key) and create. */
  int (*create)(const CfgRef *cfg, Trigger **out);
} TriggerType;

struct Trigger {
  const TriggerType *type;
  void *impl;
  int (*inform)(Trigger *t, const StreamChunk *chunk, I64Vec *fired);
  void (*destroy)(Trigger *t);
};

/* Create the trigger named by cfg's "id" (errors name file:line). */
int trigger_create(const CfgRef *cfg, Trigger **out);
void trigger_free(Trigger *t);

#endif

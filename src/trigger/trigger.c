/* trigger.c - registry lookup for triggers (see trigger.h). */
#include "trigger/trigger.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/plugin.h"

extern const TriggerType *const trigger_registry[];

int trigger_create(const CfgRef *cfg, Trigger **out) {
  char id[128];
  *out = NULL;
  MH_TRY(cfg_req_string(cfg, "id", id, sizeof id));
  for (int i = 0; trigger_registry[i]; i++) {
    if (!strcmp(trigger_registry[i]->id, id)) {
      if (trigger_registry[i]->create(cfg, out)) {
        trigger_free(*out);
        *out = NULL;
        return MH_ERR;
      }
      (*out)->type = trigger_registry[i];
      return MH_OK;
    }
  }
  char list[512];
  plugin_names((const void *const *)trigger_registry, list, sizeof list);
  CfgRef at;
  cfg_child(cfg, "id", &at);
  return cfg_errorf(&at, "unknown trigger \"%s\"; available: %s", id, list);
}

void trigger_free(Trigger *t) {
  if (!t) return;
  if (t->destroy) t->destroy(t);
  free(t->impl);
  free(t);
}

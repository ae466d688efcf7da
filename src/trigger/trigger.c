/* trigger.c - registry lookup for triggers (see trigger.h). */
#include "trigger/trigger.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/plugin.h"

extern const TriggerType *const trigger_registry[];

static const TriggerType *g_extra[9]; /* trigger_register's, NULL-terminated */

int trigger_register(const TriggerType *t) {
  int n = 0;
  while (g_extra[n]) n++;
  if (n >= 8) return mh_errorf("trigger_register: at most 8 extra triggers");
  g_extra[n] = t;
  return MH_OK;
}

static const TriggerType *find(const char *id) {
  for (int i = 0; trigger_registry[i]; i++)
    if (!strcmp(trigger_registry[i]->id, id)) return trigger_registry[i];
  for (int i = 0; g_extra[i]; i++)
    if (!strcmp(g_extra[i]->id, id)) return g_extra[i];
  return NULL;
}

int trigger_create(const CfgRef *cfg, PluginEnv *env, Trigger **out) {
  char id[128];
  *out = NULL;
  MH_TRY(cfg_req_string(cfg, "id", id, sizeof id));
  const TriggerType *type = find(id);
  if (type) {
    if (type->create(cfg, env, out)) {
      trigger_free(*out);
      *out = NULL;
      return MH_ERR;
    }
    (*out)->type = type;
    (*out)->env = env;
    return MH_OK;
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

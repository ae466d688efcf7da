/* trigger.c - registry lookup for triggers (see trigger.h). */
#include "trigger/trigger.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/plugin.h"

extern const TriggerType *const trigger_registry[];

static PluginExtra g_extra; /* trigger_register(): tests, embedding programs */

int trigger_register(const TriggerType *t) { return plugin_add(&g_extra, t, "triggers"); }

static const TriggerType *find(const char *name) {
  return plugin_find((const void *const *)trigger_registry, &g_extra, name);
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
  plugin_list((const void *const *)trigger_registry, &g_extra, list, sizeof list);
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

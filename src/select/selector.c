/* selector.c - registry lookup and shared fields (see selector.h). */
#include "select/selector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/plugin.h"

extern const SelectorType *const selector_registry[];

static PluginExtra g_extra; /* selector_register(): tests, embedding programs */

int selector_register(const SelectorType *t) { return plugin_add(&g_extra, t, "selection strategies"); }

static const SelectorType *find(const char *name) {
  return plugin_find((const void *const *)selector_registry, &g_extra, name);
}

/* processor_type: the original's metadata processor, which has no
 * counterpart here (accepted so its dumped pipelines load; ignored). */
const char *const selector_common_keys[] = {
    "name", "maximum_keys_in_memory", "limit", "tail_triggers", "uses_weights",
    "storage_backend", "seed", "processor_type", NULL};

void training_set_clear(TrainingSet *ts) {
  ts->keys.len = 0;
  ts->weights.len = 0;
}

void training_set_free(TrainingSet *ts) {
  i64vec_free(&ts->keys);
  f32vec_free(&ts->weights);
}

int selector_parse_common(const CfgRef *cfg, SelectorCommon *c) {
  static const char *const backends[] = {"database", "local", NULL};
  int backend = 0;
  MH_TRY(cfg_req_int(cfg, "maximum_keys_in_memory", 1, INT64_MAX, &c->maximum_keys_in_memory));
  MH_TRY(cfg_get_int(cfg, "limit", -1, -1, INT64_MAX, &c->limit));
  CfgRef tail;
  if (cfg_child(cfg, "tail_triggers", &tail) && !cfg_is_null(&tail))
    MH_TRY(cfg_as_int(&tail, 0, INT32_MAX, &c->tail_triggers));
  else
    c->tail_triggers = -1;
  MH_TRY(cfg_get_bool(cfg, "uses_weights", 0, &c->uses_weights));
  MH_TRY(cfg_get_enum(cfg, "storage_backend", backends, 0, &backend));
  snprintf(c->storage_backend, sizeof c->storage_backend, "%s", backends[backend]);
  MH_TRY(cfg_get_int(cfg, "seed", 42, INT64_MIN, INT64_MAX, &c->seed));
  return MH_OK;
}

int selector_new(const CfgRef *cfg, const char *const *own, size_t impl_size, Selector **out,
                 void **impl) {
  const char *keys[64];
  int k = 0;
  for (int i = 0; selector_common_keys[i]; i++) keys[k++] = selector_common_keys[i];
  for (int i = 0; own && own[i] && k < 63; i++) keys[k++] = own[i];
  keys[k] = NULL;
  MH_TRY(cfg_check_keys(cfg, keys));
  Selector *s = mh_calloc(1, sizeof *s);
  void *x = mh_calloc(1, impl_size);
  if (!s || !x) {
    free(s);
    free(x);
    return MH_ERR;
  }
  s->impl = x;
  /* On an error the caller gets nothing to free (its create returns before
   * it hands *out on), so nothing must stay allocated. */
  if (selector_parse_common(cfg, &s->common)) {
    free(s);
    free(x);
    return MH_ERR;
  }
  *impl = x;
  *out = s;
  return MH_OK;
}

int selector_create(const CfgRef *cfg, PluginEnv *env, Selector **out) {
  char name[128];
  *out = NULL;
  MH_TRY(cfg_req_string(cfg, "name", name, sizeof name));
  const SelectorType *type = find(name);
  if (type) {
    if (type->create(cfg, env, out)) {
      selector_free(*out);
      *out = NULL;
      return MH_ERR;
    }
    (*out)->type = type;
    (*out)->env = env;
    return MH_OK;
  }
  char list[512];
  plugin_list((const void *const *)selector_registry, &g_extra, list, sizeof list);
  CfgRef at;
  cfg_child(cfg, "name", &at);
  return cfg_errorf(&at, "unknown selection strategy \"%s\"; available: %s", name, list);
}

void selector_free(Selector *s) {
  if (!s) return;
  if (s->destroy) s->destroy(s);
  free(s->impl);
  free(s);
}

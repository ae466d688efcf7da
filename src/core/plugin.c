/* plugin.c - see plugin.h. */
#include "core/plugin.h"

#include <string.h>

#include "core/error.h"

/* A pointer to a type struct converts to a pointer to its first member,
 * the name. */
static const char *name_of(const void *type) { return *(const char *const *)type; }

const char *plugin_names(const void *const *registry, char *buf, size_t cap) {
  buf[0] = '\0';
  for (int i = 0; registry[i]; i++) {
    const char *name = name_of(registry[i]);
    if (i) strncat(buf, ", ", cap - strlen(buf) - 1);
    strncat(buf, name, cap - strlen(buf) - 1);
  }
  return buf;
}

int plugin_add(PluginExtra *extra, const void *type, const char *kind) {
  int n = 0;
  while (extra->types[n]) n++;
  if (n >= PLUGIN_MAX_EXTRA)
    return mh_errorf("at most %d %s can be added at run time", PLUGIN_MAX_EXTRA, kind);
  extra->types[n] = type;
  return MH_OK;
}

const void *plugin_find(const void *const *registry, const PluginExtra *extra, const char *name) {
  for (int i = 0; registry[i]; i++)
    if (!strcmp(name_of(registry[i]), name)) return registry[i];
  for (int i = 0; extra->types[i]; i++)
    if (!strcmp(name_of(extra->types[i]), name)) return extra->types[i];
  return NULL;
}

const char *plugin_list(const void *const *registry, const PluginExtra *extra, char *buf,
                        size_t cap) {
  plugin_names(registry, buf, cap);
  for (int i = 0; extra->types[i]; i++) {
    if (buf[0]) strncat(buf, ", ", cap - strlen(buf) - 1);
    strncat(buf, name_of(extra->types[i]), cap - strlen(buf) - 1);
  }
  return buf;
}

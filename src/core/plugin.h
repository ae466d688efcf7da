/* plugin.h - what every plug-in registry shares. Each registry is a
 * NULL-terminated array of pointers to a type struct whose FIRST member is
 * the plug-in's name (const char *), so the names can be listed the same
 * way for every kind of plug-in. */
#ifndef MH_PLUGIN_H
#define MH_PLUGIN_H

#include <stddef.h>

/* "A, B, C": the names of a registry, for "available: ..." messages. */
const char *plugin_names(const void *const *registry, char *buf, size_t cap);

/* Plug-ins added at run time (tests, programs that embed the library),
 * looked up after the built-in registry. */
#define PLUGIN_MAX_EXTRA 8
typedef struct {
  const void *types[PLUGIN_MAX_EXTRA + 1]; /* NULL-terminated */
} PluginExtra;

/* Add type to extra; an error past PLUGIN_MAX_EXTRA (kind names it). */
int plugin_add(PluginExtra *extra, const void *type, const char *kind);
/* "A, B, C": the built-in names, then the added ones. */
const char *plugin_list(const void *const *registry, const PluginExtra *extra, char *buf,
                        size_t cap);
/* The type named name in registry, else in extra; NULL when neither has it. */
const void *plugin_find(const void *const *registry, const PluginExtra *extra, const char *name);

#endif

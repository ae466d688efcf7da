/* plugin.h - what every plug-in registry shares. Each registry is a
 * NULL-terminated array of pointers to a type struct whose FIRST member is
 * the plug-in's name (const char *), so the names can be listed the same
 * way for every kind of plug-in. */
#ifndef MH_PLUGIN_H
#define MH_PLUGIN_H

#include <stddef.h>

/* "A, B, C": the names of a registry, for "available: ..." messages. */
const char *plugin_names(const void *const *registry, char *buf, size_t cap);

#endif

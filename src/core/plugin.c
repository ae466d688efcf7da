/* plugin.c - see plugin.h. */
#include "core/plugin.h"

#include <string.h>

const char *plugin_names(const void *const *registry, char *buf, size_t cap) {
  buf[0] = '\0';
  for (int i = 0; registry[i]; i++) {
    /* A pointer to a struct converts to a pointer to its first member. */
    const char *name = *(const char *const *)registry[i];
    if (i) strncat(buf, ", ", cap - strlen(buf) - 1);
    strncat(buf, name, cap - strlen(buf) - 1);
  }
  return buf;
}

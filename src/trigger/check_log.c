/* check_log.c - JSON lines of trigger checks (see check_log.h). */
#include "trigger/check_log.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void check_log_printf(CheckLog *l, const char *fmt, ...) {
  if (l->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = l->cap - l->len;
    int n = vsnprintf(l->s ? l->s + l->len : NULL, l->s ? room : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      l->failed = 1;
      return;
    }
    if (l->s && (size_t)n < room) {
      l->len += (size_t)n;
      return;
    }
    size_t cap = l->cap ? 2 * l->cap : 512;
    while (cap < l->len + (size_t)n + 1) cap *= 2;
    char *s = realloc(l->s, cap);
    if (!s) {
      l->failed = 1;
      return;
    }
    l->s = s;
    l->cap = cap;
  }
}

void check_log_num(CheckLog *l, double v) {
  if (isfinite(v)) check_log_printf(l, "%.9g", v);
  else check_log_printf(l, "null");
}

void check_log_free(CheckLog *l) {
  free(l->s);
  l->s = NULL;
  l->len = l->cap = 0;
}

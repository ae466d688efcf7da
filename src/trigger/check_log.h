/* check_log.h - building the JSON line a trigger check writes to the run's
 * events.jsonl (PluginEnv.event): a growable text buffer with printf-style
 * appends, and numbers that print NaN and infinities as null. */
#ifndef MH_CHECK_LOG_H
#define MH_CHECK_LOG_H

#include <stddef.h>

typedef struct {
  char *s;
  size_t len, cap;
  int failed; /* an allocation failed: the line is incomplete */
} CheckLog;

void check_log_printf(CheckLog *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A number as JSON: %.9g, or null when not finite. */
void check_log_num(CheckLog *l, double v);
void check_log_free(CheckLog *l);

#endif

/* duration.c - see duration.h. */
#include "core/duration.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "core/error.h"

int duration_parse(const char *text, int64_t *seconds) {
  static const struct {
    char unit;
    int64_t secs;
  } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}, {'y', 31536000}};
  const char *p = text;
  if (!isdigit((unsigned char)*p)) goto bad;
  errno = 0;
  char *end = NULL;
  long long n = strtoll(p, &end, 10);
  if (errno || end == p || end[0] == '\0' || end[1] != '\0') goto bad;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (units[i].unit == *end) {
      if (n > INT64_MAX / units[i].secs) goto bad;
      *seconds = n * units[i].secs;
      return MH_OK;
    }
  }
bad:
  return mh_errorf("expected a duration like 30d (<int> then one of s m h d w y), got \"%s\"", text);
}

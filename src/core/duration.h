/* duration.h - the original's duration syntax "<int>[s|m|h|d|w|y]".
 *
 * 1y is 365 days, as in Modyn. Timestamps throughout are int64 seconds. */
#ifndef MH_DURATION_H
#define MH_DURATION_H

#include <stdint.h>

/* Parse e.g. "30d" into seconds. Returns MH_OK, or MH_ERR with a message
 * saying what was expected. */
int duration_parse(const char *text, int64_t *seconds);

#endif

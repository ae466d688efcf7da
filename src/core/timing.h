/* timing.h - wall-clock time for stage timings and progress lines. */
#ifndef MH_TIMING_H
#define MH_TIMING_H

#include <time.h>

/* Monotonic seconds since an arbitrary origin. */
static inline double mh_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif

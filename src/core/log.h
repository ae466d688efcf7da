/* log.h - rank-aware console output.
 *
 * Only rank 0 prints progress (LOG0); every rank may print diagnostics that
 * name it (LOGR). stdout is made line-buffered by mh_log_init so batch logs
 * update live. Machine-readable logs go to the run directory (events.h),
 * never to the console. */
#ifndef MH_LOG_H
#define MH_LOG_H

#include <stdio.h>

/* Who prints: copied from the job's rank context (dist.h) by mh_log_init.
 * Only the print macros read these; code that talks to other ranks takes a
 * Dist. */
extern int mh_log_rank;
extern int mh_log_nranks;
extern int mh_log_quiet;  /* 1: LOG0 prints nothing (tests, --quiet) */

struct Dist;
/* Take rank/size from d (NULL: one process) and make stdout line-buffered. */
void mh_log_init(const struct Dist *d);

/* "s" unless n is 1: "%d shard%s", n, mh_plural(n). */
static inline const char *mh_plural(long long n) { return n == 1 ? "" : "s"; }

#define LOG0(...)                                                             \
  do {                                                                        \
    if (mh_log_rank == 0 && !mh_log_quiet) {                                  \
      printf(__VA_ARGS__);                                                    \
    }                                                                         \
  } while (0)

#define LOGR(...)                                                             \
  do {                                                                        \
    fprintf(stderr, "[rank %d] ", mh_log_rank);                               \
    fprintf(stderr, __VA_ARGS__);                                             \
  } while (0)

#endif

/* drift_windows.h - the reference and current windows of a drift trigger,
 * as (key, timestamp) pairs in stream order.
 *
 * The current window holds the newest data; the reference window the data
 * of the last trigger(s). At each check the trigger first adds the checked
 * batch (drift_windows_add), compares the two windows, and on a trigger
 * moves data into the reference window (drift_windows_on_trigger):
 *   AmountWindowingStrategy (amount_ref, amount_cur; 1000 each by default):
 *     current keeps the last amount_cur samples. Without overlap, samples
 *     pushed out of current wait in a reservoir (up to amount_ref -
 *     amount_cur of them), and a trigger moves reservoir + current into
 *     reference (which keeps its last amount_ref) and empties current. With
 *     allow_overlap, current is never emptied: a trigger moves the samples
 *     that arrived since the last trigger (at most amount_ref) into
 *     reference.
 *   TimeWindowingStrategy (limit_ref, limit_cur: durations): current keeps
 *     the samples no older than limit_cur before the newest one (without
 *     overlap, older ones wait in the reservoir while within limit_ref); a
 *     trigger moves them as above and then drops reference samples older
 *     than limit_ref before its newest.
 * These are the original Modyn's rules except for the amount reservoir:
 * here every sample that current pushes out goes to the reservoir. The
 * original moves only samples that were in current before the batch (a
 * batch longer than amount_cur loses its own overflow), and when a batch
 * does not fill current it copies all of current into the reservoir, so
 * the reference gets those samples twice.
 * This module does not sample windows or compute anything on them. */
#ifndef MH_DRIFT_WINDOWS_H
#define MH_DRIFT_WINDOWS_H

#include <stdint.h>

#include "config/cfgtree.h"

/* A deque of (key, timestamp) with an optional bound (maxlen < 0: none):
 * pushing onto a full one drops its oldest element. */
typedef struct {
  int64_t *key, *ts;
  int64_t cap, head, len;
  int64_t maxlen;
} KeyTsQueue;

int64_t kq_key(const KeyTsQueue *q, int64_t i); /* i-th oldest */
int64_t kq_ts(const KeyTsQueue *q, int64_t i);

typedef struct {
  int time_based;          /* TimeWindowingStrategy */
  int allow_overlap;
  int64_t amount_ref, amount_cur;  /* AmountWindowingStrategy */
  int64_t limit_ref, limit_cur;    /* TimeWindowingStrategy, seconds */
  KeyTsQueue current, reservoir, reference, exclusive;
  int64_t reference_version;       /* bumped whenever reference changes */
} DriftWindows;

/* Parse windowing_strategy (absent: AmountWindowingStrategy with defaults). */
int drift_windows_init(const CfgRef *cfg, DriftWindows *w);
void drift_windows_free(DriftWindows *w);
int drift_windows_add(DriftWindows *w, const int64_t *keys, const int64_t *ts, int64_t n);
int drift_windows_on_trigger(DriftWindows *w);
/* Copy a queue (e.g. the reference of a warmup interval). */
int kq_copy(const KeyTsQueue *src, KeyTsQueue *dst);
void kq_free(KeyTsQueue *q);

#endif

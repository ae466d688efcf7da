/* key_state.h - what the selection strategies remember about every sample
 * of the stream, on rank 0: one column per attribute (the original keeps a
 * row per key in its metadata database; columns keep a trigger's scan a
 * sequential read of a few arrays).
 *
 * Per key, 29 bytes: key and timestamp (8 each), label, the trigger it
 * arrived in and the trigger it was last used in (4 each, -1 = never), and
 * a used flag (1). Keys are appended in stream order, which is timestamp
 * order, so the index of a key is its rank by timestamp and a trigger's
 * keys, and any tail of triggers, are a contiguous suffix of the columns.
 *
 * The state is rebuilt by replaying the stream (resume replays it and asks
 * for every trigger's set again), so it is not saved; it is never sent to
 * the other ranks. This module does not choose anything (presamplers and
 * strategies do). */
#ifndef MH_KEY_STATE_H
#define MH_KEY_STATE_H

#include <stdint.h>

#include "core/stream.h"
#include "core/vec.h"

#define KEY_STATE_NEVER (-1) /* last_used of a key no trigger has used */

typedef struct {
  int64_t n;            /* keys appended */
  int64_t cap;          /* room in every column */
  int64_t *keys;        /* [n] sample keys, stream order */
  int64_t *timestamps;  /* [n] nondecreasing */
  int32_t *labels;      /* [n] */
  int32_t *trigger;     /* [n] trigger the key arrived in (nondecreasing) */
  int32_t *last_used;   /* [n] last trigger whose set held the key, KEY_STATE_NEVER */
  uint8_t *used;        /* [n] 1 once a set held the key (FreshnessSamplingStrategy) */
  int32_t min_label;    /* over all keys (0 while empty) */
  int32_t max_label;
  I64Vec trigger_begin; /* trigger_begin[t] = index of trigger t's first key; its last
                           entry is the open trigger's, the one new keys join */
} KeyState;

/* Empty state with room for `reserve` keys (0: grow as needed). */
int key_state_init(KeyState *ks, int64_t reserve);
void key_state_free(KeyState *ks);
/* Room for cap keys (never shrinks). */
int key_state_reserve(KeyState *ks, int64_t cap);
/* Append a chunk of the stream to the open trigger: used flag 0, last
 * used never. */
int key_state_append(KeyState *ks, const StreamChunk *c);
/* The open trigger fired; it must be trigger `trigger` (selection is asked
 * for every trigger in order). Its keys are [trigger_begin[trigger], n);
 * later keys join trigger + 1. */
int key_state_close_trigger(KeyState *ks, int64_t trigger);
/* The open trigger's index: the number of triggers closed so far. */
int64_t key_state_open_trigger(const KeyState *ks);
/* First index of the window of closed trigger t under tail_triggers: -1 =
 * every key seen, 0 = t's own keys, N = t's keys and the N triggers' before
 * (the original: arrival trigger >= t - N). The window ends at n. */
int64_t key_state_window_begin(const KeyState *ks, int64_t trigger, int64_t tail_triggers);
/* Bytes the columns take per key (29). */
int64_t key_state_bytes_per_key(void);

#endif

/* key_state.c - the selection strategies' per-key columns (see key_state.h). */
#include "select/key_state.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int64_t key_state_bytes_per_key(void) {
  return (int64_t)(2 * sizeof(int64_t) + 3 * sizeof(int32_t) + sizeof(uint8_t));
}

int key_state_init(KeyState *ks, int64_t reserve) {
  memset(ks, 0, sizeof *ks);
  MH_TRY(i64vec_push(&ks->trigger_begin, 0));
  return reserve > 0 ? key_state_reserve(ks, reserve) : MH_OK;
}

void key_state_free(KeyState *ks) {
  free(ks->keys);
  free(ks->timestamps);
  free(ks->labels);
  free(ks->trigger);
  free(ks->last_used);
  free(ks->used);
  i64vec_free(&ks->trigger_begin);
  memset(ks, 0, sizeof *ks);
}

/* Grow one column to cap elements of size sz (keeps the old one on failure). */
static int grow(void **col, int64_t cap, size_t sz) {
  void *p = mh_realloc(*col, (size_t)cap * sz);
  if (!p) return MH_ERR;
  *col = p;
  return MH_OK;
}

int key_state_reserve(KeyState *ks, int64_t cap) {
  if (cap <= ks->cap) return MH_OK;
  /* One column at a time: the transient peak is one column's old and new
   * copies, not the whole state twice (100M keys are 2.9 GB). */
  MH_TRY(grow((void **)&ks->keys, cap, sizeof(int64_t)));
  MH_TRY(grow((void **)&ks->timestamps, cap, sizeof(int64_t)));
  MH_TRY(grow((void **)&ks->labels, cap, sizeof(int32_t)));
  MH_TRY(grow((void **)&ks->trigger, cap, sizeof(int32_t)));
  MH_TRY(grow((void **)&ks->last_used, cap, sizeof(int32_t)));
  MH_TRY(grow((void **)&ks->used, cap, sizeof(uint8_t)));
  ks->cap = cap;
  return MH_OK;
}

int key_state_append(KeyState *ks, const StreamChunk *c) {
  if (c->n <= 0) return MH_OK;
  if (ks->n + c->n > ks->cap) {
    /* Grow by half: a growing stream costs amortised O(1) per key while
     * the over-allocation stays at most a third of the state. */
    int64_t cap = ks->cap + ks->cap / 2;
    if (cap < ks->n + c->n) cap = ks->n + c->n;
    if (cap < 1024) cap = 1024;
    MH_TRY(key_state_reserve(ks, cap));
  }
  const int64_t at = ks->n;
  const int32_t t = (int32_t)key_state_open_trigger(ks);
  memcpy(ks->keys + at, c->keys, (size_t)c->n * sizeof(int64_t));
  memcpy(ks->timestamps + at, c->timestamps, (size_t)c->n * sizeof(int64_t));
  memcpy(ks->labels + at, c->labels, (size_t)c->n * sizeof(int32_t));
  memset(ks->used + at, 0, (size_t)c->n);
  int32_t lo = ks->n ? ks->min_label : c->labels[0], hi = ks->n ? ks->max_label : c->labels[0];
  for (int64_t i = 0; i < c->n; i++) {
    ks->trigger[at + i] = t;
    ks->last_used[at + i] = KEY_STATE_NEVER;
    const int32_t l = c->labels[i];
    if (l < lo) lo = l;
    if (l > hi) hi = l;
  }
  ks->min_label = lo;
  ks->max_label = hi;
  ks->n += c->n;
  return MH_OK;
}

int64_t key_state_open_trigger(const KeyState *ks) { return ks->trigger_begin.len - 1; }

int key_state_close_trigger(KeyState *ks, int64_t trigger) {
  const int64_t open = key_state_open_trigger(ks);
  if (trigger != open)
    return mh_errorf("selection asked for trigger %lld, but the stream so far belongs to trigger "
                     "%lld (every trigger's set is asked for, in order)",
                     (long long)trigger, (long long)open);
  if (open + 1 > INT32_MAX) return mh_errorf("more than %d triggers", INT32_MAX);
  return i64vec_push(&ks->trigger_begin, ks->n);
}

int64_t key_state_window_begin(const KeyState *ks, int64_t trigger, int64_t tail_triggers) {
  if (tail_triggers < 0) return 0;
  int64_t first = trigger - tail_triggers;
  if (first < 0) first = 0;
  if (first >= ks->trigger_begin.len) return ks->n;
  return ks->trigger_begin.data[first];
}

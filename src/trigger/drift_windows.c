/* drift_windows.c - reference and current windows (see drift_windows.h). */
#include "trigger/drift_windows.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* ---- the bounded deque --------------------------------------------------------------- */

int64_t kq_key(const KeyTsQueue *q, int64_t i) { return q->key[(q->head + i) % q->cap]; }
int64_t kq_ts(const KeyTsQueue *q, int64_t i) { return q->ts[(q->head + i) % q->cap]; }

static void kq_init(KeyTsQueue *q, int64_t maxlen) {
  memset(q, 0, sizeof *q);
  q->maxlen = maxlen;
}

void kq_free(KeyTsQueue *q) {
  free(q->key);
  free(q->ts);
  q->key = q->ts = NULL;
  q->cap = q->head = q->len = 0;
}

static int kq_grow(KeyTsQueue *q) {
  int64_t cap = q->cap ? 2 * q->cap : 64;
  if (q->maxlen >= 0 && cap > q->maxlen) cap = q->maxlen;
  int64_t *k = mh_malloc((size_t)cap * sizeof *k), *t = mh_malloc((size_t)cap * sizeof *t);
  if (!k || !t) {
    free(k);
    free(t);
    return MH_ERR;
  }
  for (int64_t i = 0; i < q->len; i++) {
    k[i] = kq_key(q, i);
    t[i] = kq_ts(q, i);
  }
  free(q->key);
  free(q->ts);
  q->key = k;
  q->ts = t;
  q->cap = cap;
  q->head = 0;
  return MH_OK;
}

static void kq_pop_front(KeyTsQueue *q) {
  q->head = (q->head + 1) % q->cap;
  q->len--;
}

static void kq_clear(KeyTsQueue *q) { q->head = q->len = 0; }

/* Append; a full bounded queue drops its oldest first (maxlen 0 keeps nothing). */
static int kq_push(KeyTsQueue *q, int64_t key, int64_t ts) {
  if (q->maxlen == 0) return MH_OK;
  if (q->maxlen > 0 && q->len == q->maxlen) kq_pop_front(q);
  if (q->len == q->cap) MH_TRY(kq_grow(q));
  int64_t at = (q->head + q->len) % q->cap;
  q->key[at] = key;
  q->ts[at] = ts;
  q->len++;
  return MH_OK;
}

/* Append all of src (oldest first). */
static int kq_extend(KeyTsQueue *dst, const KeyTsQueue *src) {
  for (int64_t i = 0; i < src->len; i++) MH_TRY(kq_push(dst, kq_key(src, i), kq_ts(src, i)));
  return MH_OK;
}

int kq_copy(const KeyTsQueue *src, KeyTsQueue *dst) {
  kq_init(dst, -1);
  return kq_extend(dst, src);
}

/* ---- the windows ----------------------------------------------------------------------- */

int drift_windows_init(const CfgRef *cfg, DriftWindows *w) {
  static const char *const ids[] = {"AmountWindowingStrategy", "TimeWindowingStrategy", NULL};
  static const char *const amount_keys[] = {"id", "amount_ref", "amount_cur", "allow_overlap", NULL};
  static const char *const time_keys[] = {"id", "limit_ref", "limit_cur", "allow_overlap", NULL};
  memset(w, 0, sizeof *w);
  w->amount_ref = w->amount_cur = 1000;
  if (cfg_present(cfg) && !cfg_is_null(cfg)) {
    MH_TRY(cfg_expect_map(cfg));
    int kind;
    MH_TRY(cfg_get_enum(cfg, "id", ids, 0, &kind));
    w->time_based = kind == 1;
    MH_TRY(cfg_check_keys(cfg, w->time_based ? time_keys : amount_keys));
    MH_TRY(cfg_get_bool(cfg, "allow_overlap", 0, &w->allow_overlap));
    if (w->time_based) {
      MH_TRY(cfg_req_duration(cfg, "limit_ref", &w->limit_ref));
      MH_TRY(cfg_req_duration(cfg, "limit_cur", &w->limit_cur));
      const char *bad = w->limit_ref < 0 ? "limit_ref" : w->limit_cur < 0 ? "limit_cur" : NULL;
      if (bad) {
        CfgRef at;
        cfg_child(cfg, bad, &at);
        return cfg_errorf(&at, "must not be negative");
      }
    } else {
      MH_TRY(cfg_get_int(cfg, "amount_ref", 1000, 1, INT64_MAX / 4, &w->amount_ref));
      MH_TRY(cfg_get_int(cfg, "amount_cur", 1000, 1, INT64_MAX / 4, &w->amount_cur));
    }
  }
  if (w->time_based) {
    kq_init(&w->current, -1);
    kq_init(&w->reservoir, -1);
    kq_init(&w->reference, -1);
    kq_init(&w->exclusive, -1);
  } else {
    kq_init(&w->current, w->amount_cur);
    kq_init(&w->reservoir, w->amount_ref > w->amount_cur ? w->amount_ref - w->amount_cur : 0);
    kq_init(&w->reference, w->amount_ref);
    kq_init(&w->exclusive, w->allow_overlap ? w->amount_ref : 0);
  }
  return MH_OK;
}

void drift_windows_free(DriftWindows *w) {
  kq_free(&w->current);
  kq_free(&w->reservoir);
  kq_free(&w->reference);
  kq_free(&w->exclusive);
}

static int add_amount(DriftWindows *w, const int64_t *keys, const int64_t *ts, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    if (w->allow_overlap) {
      MH_TRY(kq_push(&w->exclusive, keys[i], ts[i]));
    } else if (w->current.len == w->amount_cur) {
      /* current is full: its oldest sample moves on to the reservoir */
      MH_TRY(kq_push(&w->reservoir, kq_key(&w->current, 0), kq_ts(&w->current, 0)));
    }
    MH_TRY(kq_push(&w->current, keys[i], ts[i]));
  }
  return MH_OK;
}

static int add_time(DriftWindows *w, const int64_t *keys, const int64_t *ts, int64_t n) {
  const int64_t last = ts[n - 1];
  for (int64_t i = 0; i < n; i++) MH_TRY(kq_push(&w->current, keys[i], ts[i]));
  if (w->allow_overlap) {
    while (w->current.len && kq_ts(&w->current, 0) < last - w->limit_cur) kq_pop_front(&w->current);
    for (int64_t i = 0; i < n; i++) MH_TRY(kq_push(&w->exclusive, keys[i], ts[i]));
    while (w->exclusive.len && kq_ts(&w->exclusive, 0) < last - w->limit_ref)
      kq_pop_front(&w->exclusive);
  } else {
    while (w->current.len && kq_ts(&w->current, 0) < last - w->limit_cur) {
      MH_TRY(kq_push(&w->reservoir, kq_key(&w->current, 0), kq_ts(&w->current, 0)));
      kq_pop_front(&w->current);
    }
    while (w->reservoir.len && kq_ts(&w->reservoir, 0) < last - w->limit_ref)
      kq_pop_front(&w->reservoir);
  }
  return MH_OK;
}

int drift_windows_add(DriftWindows *w, const int64_t *keys, const int64_t *ts, int64_t n) {
  if (n <= 0) return MH_OK;
  return w->time_based ? add_time(w, keys, ts, n) : add_amount(w, keys, ts, n);
}

int drift_windows_on_trigger(DriftWindows *w) {
  if (w->allow_overlap) {
    MH_TRY(kq_extend(&w->reference, &w->exclusive));
    kq_clear(&w->exclusive);
  } else {
    MH_TRY(kq_extend(&w->reference, &w->reservoir));
    kq_clear(&w->reservoir);
    MH_TRY(kq_extend(&w->reference, &w->current));
    kq_clear(&w->current);
  }
  if (w->time_based && w->reference.len) {
    const int64_t last = kq_ts(&w->reference, w->reference.len - 1);
    while (w->reference.len && kq_ts(&w->reference, 0) < last - w->limit_ref)
      kq_pop_front(&w->reference);
  }
  w->reference_version++;
  return MH_OK;
}

/* reader.c - see reader.h. */
#include "data/reader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/sort.h"
#include "core/timing.h"

#define DEFAULT_MAX_BYTES ((int64_t)4 << 20)

/* A partition being read or consumed. */
enum { SLOT_EMPTY = 0, SLOT_PLANNING, SLOT_READING, SLOT_READY };

typedef struct {
  int64_t part;        /* partition number held; -1 = empty */
  int state;           /* SLOT_* */
  int parts_done;      /* thread shares finished */
  int failed;          /* a share failed; msg holds why */
  char msg[1024];
  int64_t nlocal;      /* this rank's samples in the partition */
  float *x;            /* [cap * E] features in read (row) order */
  int64_t *where;      /* [cap] where[k] = position in x of training slot k */
  int32_t *labels;     /* [cap] */
  float *weights;      /* [cap] */
  int64_t *rows;       /* [cap] rows to read, sorted (per share) */
  int64_t *dest;       /* [cap] slot of each row */
  int64_t *tmp_a, *tmp_b; /* [cap] radix scratch */
} Slot;

struct Reader {
  Store *store;
  ReaderConfig cfg;
  int rank, nranks;
  int64_t E;             /* floats per sample */
  /* the pass */
  const int64_t *rows;
  const float *weights;
  int64_t B;             /* global batch size (the longest batch) */
  int whole;             /* 1: the batches are this rank's own, read whole */
  int64_t nbatches;      /* global batches in the pass, all epochs */
  int64_t *bstart;       /* [nbatches] first position (into rows) of each batch */
  int64_t *blen;         /* [nbatches] its length */
  int64_t *bepoch;       /* [nbatches] its epoch */
  int64_t first;         /* global batch number of bstart[0] (reader_start_at) */
  int64_t bpp;           /* batches per partition */
  int64_t nparts;
  int64_t cap;           /* samples a slot can hold */
  int gather;            /* small rows: slots hold read order, batches are gathered */
  float *bx;             /* [bcap * E] the current batch, in training order */
  int64_t bcap;
  /* consumer */
  int64_t batch;         /* next global batch */
  int64_t cur_part;      /* partition of the slot being consumed; -1 none */
  int64_t local_off;     /* this rank's offset of the next batch in the partition */
  double wait_s;
  /* slots and threads */
  int nslots;
  Slot *slots;
  int nthreads;
  pthread_t *threads;
  int threads_running;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int64_t next_task;     /* next (partition * nthreads + share) to read */
  int64_t consumed;      /* partitions released by the consumer */
  int stop;
};

/* ---- geometry ------------------------------------------------------------ */

static void rank_slice(const Reader *r, int64_t len, int64_t *lo, int64_t *hi) {
  if (r->whole) {
    *lo = 0;
    *hi = len;
    return;
  }
  *lo = len * r->rank / r->nranks;
  *hi = len * (r->rank + 1) / r->nranks;
}

/* Fill the slot's row list for partition p (training order), labels and
 * weights; rows are sorted later per share. */
static void part_plan(Reader *r, Slot *s, int64_t p) {
  int64_t first = p * r->bpp, last = first + r->bpp < r->nbatches ? first + r->bpp : r->nbatches;
  int64_t k = 0;
  for (int64_t bi = first; bi < last; bi++) {
    int64_t b0 = r->bstart[bi], lo, hi;
    rank_slice(r, r->blen[bi], &lo, &hi);
    for (int64_t i = b0 + lo; i < b0 + hi; i++, k++) {
      int64_t row = r->rows[i];
      s->rows[k] = row;
      s->dest[k] = k;
      if (r->weights) s->weights[k] = r->weights[i];
    }
  }
  s->nlocal = k;
}

/* Read share q (of nshares) of the slot's rows. The rows are grouped into
 * 2048 blocks of the store (a few hundred KB each) so the reads walk the
 * store forwards. Large rows (>= 2 KiB: whole pages) then go straight to
 * their training slots. Small rows land in x in read order, so both sides
 * stream, and reader_next restores the training order per batch (a gather
 * of one batch) instead of scattering every small row of the partition to
 * a random place, which costs a cache miss per row. */
static int read_share(Reader *r, Slot *s, int q, int nshares) {
  int64_t lo = s->nlocal * q / nshares, hi = s->nlocal * (q + 1) / nshares;
  if (hi <= lo) return MH_OK;
  sort_pairs_i64_blocks(s->rows + lo, s->dest + lo, hi - lo, r->store->n - 1, 11, s->tmp_a + lo,
                        s->tmp_b + lo);
  const int32_t *labels = r->store->labels;
  for (int64_t i = lo; i < hi; i++) s->labels[s->dest[i]] = labels[s->rows[i]];
  if (!r->gather) return store_read_features_to(r->store, s->rows + lo, s->dest + lo, hi - lo, s->x);
  for (int64_t i = lo; i < hi; i++) s->where[s->dest[i]] = i;
  return store_read_features_to(r->store, s->rows + lo, NULL, hi - lo, s->x + lo * r->E);
}

/* ---- threads ------------------------------------------------------------- */

static void *worker(void *arg) {
  Reader *r = arg;
  pthread_mutex_lock(&r->mu);
  for (;;) {
    int64_t task = r->next_task;
    int64_t p = task / r->nthreads;
    int q = (int)(task % r->nthreads);
    while (!r->stop && p < r->nparts && p >= r->consumed + r->nslots) {
      pthread_cond_wait(&r->cv, &r->mu);
      task = r->next_task;
      p = task / r->nthreads;
      q = (int)(task % r->nthreads);
    }
    if (r->stop || p >= r->nparts) break;
    r->next_task++;
    Slot *s = &r->slots[p % r->nslots];
    if (q == 0) {
      /* First share of a partition: the slot is free (the consumer released
       * it), so plan the partition; the other shares wait for the plan. */
      s->part = p;
      s->state = SLOT_PLANNING;
      s->parts_done = 0;
      s->failed = 0;
      pthread_mutex_unlock(&r->mu);
      part_plan(r, s, p);
      pthread_mutex_lock(&r->mu);
      s->state = SLOT_READING;
      pthread_cond_broadcast(&r->cv);
    }
    while (!r->stop && !(s->part == p && s->state == SLOT_READING))
      pthread_cond_wait(&r->cv, &r->mu);
    if (r->stop) break;
    pthread_mutex_unlock(&r->mu);
    int rc = read_share(r, s, q, r->nthreads);
    pthread_mutex_lock(&r->mu);
    if (rc && !s->failed) {
      s->failed = 1;
      snprintf(s->msg, sizeof s->msg, "%s", mh_error());
    }
    if (++s->parts_done == r->nthreads) s->state = SLOT_READY;
    pthread_cond_broadcast(&r->cv);
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

static void stop_threads(Reader *r) {
  if (!r->threads_running) return;
  pthread_mutex_lock(&r->mu);
  r->stop = 1;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  for (int i = 0; i < r->nthreads; i++) pthread_join(r->threads[i], NULL);
  r->threads_running = 0;
}

/* ---- public -------------------------------------------------------------- */

static void slot_free(Slot *s) {
  free(s->x);
  free(s->labels);
  free(s->weights);
  free(s->rows);
  free(s->dest);
  free(s->where);
  free(s->tmp_a);
  free(s->tmp_b);
  memset(s, 0, sizeof *s);
}

static int slot_alloc(Slot *s, int64_t cap, int64_t E) {
  s->part = -1;
  s->x = mh_malloc((size_t)(cap * E) * sizeof(float));
  s->labels = mh_malloc((size_t)cap * sizeof(int32_t));
  s->weights = mh_malloc((size_t)cap * sizeof(float));
  s->rows = mh_malloc((size_t)cap * sizeof(int64_t));
  s->dest = mh_malloc((size_t)cap * sizeof(int64_t));
  s->where = mh_malloc((size_t)cap * sizeof(int64_t));
  s->tmp_a = mh_malloc((size_t)cap * sizeof(int64_t));
  s->tmp_b = mh_malloc((size_t)cap * sizeof(int64_t));
  if (!s->x || !s->labels || !s->weights || !s->rows || !s->dest || !s->where || !s->tmp_a ||
      !s->tmp_b)
    return MH_ERR;
  return MH_OK;
}

int reader_create(Store *s, const ReaderConfig *cfg, int rank, int nranks, Reader **out) {
  Reader *r = mh_calloc(1, sizeof *r);
  if (!r) return MH_ERR;
  r->store = s;
  r->cfg = *cfg;
  if (r->cfg.partition_keys < 1) r->cfg.partition_keys = 1;
  r->E = s->feat_elems;
  r->gather = r->E * (int64_t)sizeof(float) < 2048;
  /* Partitions stay small enough to be cache-resident between being read
   * and being trained on: measured best on both benches (bench_read). */
  if (r->cfg.max_bytes <= 0) r->cfg.max_bytes = DEFAULT_MAX_BYTES;
  if (r->cfg.prefetched < 0) r->cfg.prefetched = 0;
  if (r->cfg.parallel < 1) r->cfg.parallel = 1;
  r->rank = rank;
  r->nranks = nranks;
  r->cur_part = -1;
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  *out = r;
  return MH_OK;
}

/* The pass's global batches: each epoch cut into batches of B (its partial
 * last batch dropped with drop_last), all cut off after limit samples. */
static int alloc_batches(Reader *r, int64_t cap) {
  free(r->bstart);
  free(r->blen);
  free(r->bepoch);
  r->bstart = mh_malloc((size_t)(cap + 1) * sizeof(int64_t));
  r->blen = mh_malloc((size_t)(cap + 1) * sizeof(int64_t));
  r->bepoch = mh_calloc((size_t)(cap + 1), sizeof(int64_t));
  return r->bstart && r->blen && r->bepoch ? MH_OK : MH_ERR;
}

static int plan_batches(Reader *r, int64_t n, int64_t epochs, int64_t B, int drop_last,
                        int64_t limit) {
  int64_t per_epoch = drop_last ? n / B : (n + B - 1) / B;
  MH_TRY(alloc_batches(r, per_epoch * epochs));
  int64_t k = 0, passed = 0;
  const int64_t n_eff = drop_last ? n / B * B : n;
  for (int64_t e = 0; e < epochs; e++) {
    for (int64_t b0 = 0; b0 < n_eff; b0 += B) {
      int64_t len = n_eff - b0 < B ? n_eff - b0 : B;
      if (limit >= 0 && passed + len > limit) len = limit - passed;
      if (len <= 0) break;
      r->bstart[k] = e * n + b0;
      r->blen[k] = len;
      r->bepoch[k] = e;
      k++;
      passed += len;
    }
  }
  r->nbatches = k;
  return MH_OK;
}

/* Partitions, slots and threads for the batches planned in r. */
static int start_planned(Reader *r) {
  const int64_t B = r->B;
  /* Partition: whole global batches, bounded by keys and by bytes. */
  int64_t by_keys = r->cfg.partition_keys / B;
  int64_t local_per_batch = r->whole ? B : (B + r->nranks - 1) / r->nranks;
  int64_t by_bytes = r->cfg.max_bytes / (local_per_batch * r->E * (int64_t)sizeof(float));
  int64_t batches = by_keys < by_bytes ? by_keys : by_bytes;
  if (batches < 1) batches = 1;
  r->bpp = batches;
  r->nparts = (r->nbatches + batches - 1) / batches;
  r->batch = 0;
  r->cur_part = -1;
  r->wait_s = 0;
  r->consumed = 0;
  r->next_task = 0;
  r->stop = 0;
  int64_t cap = batches * local_per_batch;
  if (r->bcap < local_per_batch) {
    free(r->bx);
    r->bx = mh_malloc((size_t)(local_per_batch * r->E) * sizeof(float));
    if (!r->bx) return MH_ERR;
    r->bcap = local_per_batch;
  }
  int nslots = r->cfg.prefetched > 0 ? r->cfg.prefetched + 1 : 1;
  if (nslots > r->nparts && r->nparts > 0) nslots = (int)r->nparts;
  if (nslots < 1) nslots = 1;
  /* Reuse the slots when they are big enough. */
  if (r->nslots != nslots || r->cap < cap) {
    for (int i = 0; i < r->nslots; i++) slot_free(&r->slots[i]);
    free(r->slots);
    r->slots = mh_calloc((size_t)nslots, sizeof(Slot));
    if (!r->slots) return MH_ERR;
    r->nslots = nslots;
    r->cap = cap;
    for (int i = 0; i < nslots; i++) MH_TRY(slot_alloc(&r->slots[i], cap, r->E));
  }
  for (int i = 0; i < r->nslots; i++) {
    r->slots[i].part = -1;
    r->slots[i].state = SLOT_EMPTY;
  }
  if (r->cfg.prefetched > 0 && r->nparts > 0) {
    r->nthreads = r->cfg.parallel;
    free(r->threads);
    r->threads = mh_calloc((size_t)r->nthreads, sizeof(pthread_t));
    if (!r->threads) return MH_ERR;
    for (int i = 0; i < r->nthreads; i++)
      if (pthread_create(&r->threads[i], NULL, worker, r) != 0) {
        r->nthreads = i;
        r->threads_running = i > 0;
        stop_threads(r);
        return mh_errorf("cannot start prefetch thread %d", i);
      }
    r->threads_running = 1;
  }
  return MH_OK;
}

int reader_start(Reader *r, const int64_t *rows, const float *weights, int64_t n, int64_t epochs,
                 int64_t B, int drop_last, int64_t limit) {
  return reader_start_at(r, rows, weights, n, epochs, B, drop_last, limit, 0);
}

int reader_start_at(Reader *r, const int64_t *rows, const float *weights, int64_t n,
                    int64_t epochs, int64_t B, int drop_last, int64_t limit, int64_t first) {
  reader_finish(r);
  r->rows = rows;
  r->weights = weights;
  r->B = B;
  r->whole = 0;
  MH_TRY(plan_batches(r, n, epochs, B, drop_last, limit));
  /* Skipped batches are simply not planned: partitions start at `first`. */
  if (first < 0 || first > r->nbatches)
    return mh_errorf("reader: cannot start at batch %lld of %lld", (long long)first,
                     (long long)r->nbatches);
  const int64_t left = r->nbatches - first;
  memmove(r->bstart, r->bstart + first, (size_t)left * sizeof(int64_t));
  memmove(r->blen, r->blen + first, (size_t)left * sizeof(int64_t));
  memmove(r->bepoch, r->bepoch + first, (size_t)left * sizeof(int64_t));
  r->nbatches = left;
  r->first = first;
  return start_planned(r);
}

int reader_start_batches(Reader *r, const int64_t *rows, const int64_t *start, const int64_t *len,
                         int64_t nbatches) {
  reader_finish(r);
  r->rows = rows;
  r->weights = NULL;
  r->whole = 1;
  r->first = 0;
  MH_TRY(alloc_batches(r, nbatches));
  r->B = 1;
  for (int64_t i = 0; i < nbatches; i++) {
    r->bstart[i] = start[i];
    r->blen[i] = len[i];
    if (len[i] > r->B) r->B = len[i];
  }
  r->nbatches = nbatches;
  return start_planned(r);
}

/* Make partition p available in its slot: read it now (no threads) or wait
 * for the threads. */
static int acquire(Reader *r, int64_t p, Slot **out) {
  Slot *s = &r->slots[p % r->nslots];
  double t0 = mh_now();
  if (!r->threads_running) {
    part_plan(r, s, p);
    s->part = p;
    int rc = read_share(r, s, 0, 1);
    r->wait_s += mh_now() - t0;
    MH_TRY(rc);
    *out = s;
    return MH_OK;
  }
  pthread_mutex_lock(&r->mu);
  while (!(s->part == p && s->state == SLOT_READY)) pthread_cond_wait(&r->cv, &r->mu);
  int failed = s->failed;
  pthread_mutex_unlock(&r->mu);
  r->wait_s += mh_now() - t0;
  if (failed) return mh_errorf("%s", s->msg);
  *out = s;
  return MH_OK;
}

static void release(Reader *r) {
  if (!r->threads_running) return;
  pthread_mutex_lock(&r->mu);
  r->consumed++;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

int reader_next(Reader *r, Batch *b) {
  if (r->batch >= r->nbatches) return 0;
  int64_t p = r->batch / r->bpp;
  if (p != r->cur_part) {
    if (r->cur_part >= 0) release(r);
    Slot *s;
    MH_TRY(acquire(r, p, &s));
    r->cur_part = p;
    r->local_off = 0;
  }
  Slot *s = &r->slots[p % r->nslots];
  int64_t off = r->local_off;
  int64_t len = r->blen[r->batch], lo, hi;
  rank_slice(r, len, &lo, &hi);
  b->index = r->first + r->batch;
  b->epoch = r->bepoch[r->batch];
  b->start = r->bstart[r->batch];
  b->n = hi - lo;
  b->global_len = len;
  if (!r->gather) {
    b->x = s->x + off * r->E;
    b->labels = s->labels + off;
    b->weights = r->weights ? s->weights + off : NULL;
    r->local_off += b->n;
    r->batch++;
    return 1;
  }
  /* Gather the batch into training order, prefetching a few rows ahead. */
  const size_t row_bytes = (size_t)r->E * sizeof(float);
  for (int64_t j = 0; j < b->n; j++) {
    if (j + 4 < b->n) {
      const char *p = (const char *)(s->x + s->where[off + j + 4] * r->E);
      for (size_t c = 0; c < row_bytes && c < 1024; c += 64) __builtin_prefetch(p + c, 0, 0);
    }
    memcpy(r->bx + j * r->E, s->x + s->where[off + j] * r->E, row_bytes);
  }
  b->x = r->bx;
  b->labels = s->labels + off;
  b->weights = r->weights ? s->weights + off : NULL;
  r->local_off += b->n;
  r->batch++;
  return 1;
}

void reader_finish(Reader *r) {
  stop_threads(r);
  r->cur_part = -1;
}

double reader_wait_seconds(const Reader *r) { return r->wait_s; }

void reader_free(Reader *r) {
  if (!r) return;
  reader_finish(r);
  for (int i = 0; i < r->nslots; i++) slot_free(&r->slots[i]);
  free(r->slots);
  free(r->threads);
  free(r->bx);
  free(r->bstart);
  free(r->blen);
  free(r->bepoch);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
  free(r);
}

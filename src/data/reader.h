/* reader.h - one pass over a training set as this rank's batches, read
 * ahead by prefetch threads.
 *
 * The caller gives the store rows of every epoch in visiting order (already
 * shuffled) and the global batch size. Each epoch is cut into global
 * batches of B positions; rank r of N gets positions [r*len/N, (r+1)*len/N)
 * of a batch of len, so the split depends on nothing but the rank count,
 * remainders spread over the ranks, and a rank may get nothing. Consecutive global batches are grouped
 * into partitions (at most partition_keys positions and at most max_bytes
 * of this rank's features); partitions run across epoch boundaries, so the
 * next epoch's first partition is read while the current epoch trains.
 * For each partition this rank's rows are sorted, read in row order (so the
 * store is walked forwards) and scattered into their batch slots.
 *
 * prefetched = 0 reads each partition when the trainer reaches it. With
 * prefetched = k >= 1, `parallel` threads read up to k partitions ahead
 * while the trainer works on the current one; each partition is split among
 * the threads. Threads only call store_read_features_to, which is
 * thread-safe. Errors in a thread are returned by reader_next. */
#ifndef MH_READER_H
#define MH_READER_H

#include <stdint.h>

#include "data/store.h"

typedef struct {
  int64_t partition_keys; /* maximum_keys_in_memory (>= 1) */
  int64_t max_bytes;      /* feature bytes per partition and rank; 0 = 4 MiB, which
                             keeps a partition cache-resident (at least one batch) */
  int prefetched;         /* num_prefetched_partitions (>= 0) */
  int parallel;           /* parallel_prefetch_requests (>= 1) */
} ReaderConfig;

typedef struct {
  int64_t index;          /* global batch number in this pass */
  int64_t epoch;          /* the epoch it belongs to */
  int64_t start;          /* position of its first sample in the pass's rows (e * n + i) */
  int64_t n;              /* this rank's samples (may be 0) */
  int64_t global_len;     /* samples in the global batch */
  const float *x;         /* [n * feat_elems] */
  const int32_t *labels;  /* [n] */
  const float *weights;   /* [n], or NULL when the pass has no weights */
} Batch;

typedef struct Reader Reader;

/* rank/nranks say which share this process reads. */
int reader_create(Store *s, const ReaderConfig *cfg, int rank, int nranks, Reader **out);
/* Start a pass of `epochs` epochs over n samples: rows[e * n + i] (and
 * weights, which may be NULL) is epoch e's visiting order. Global batch size
 * B; drop_last drops each epoch's partial last batch; limit (>= 0) stops
 * after that many samples, cutting the last batch short
 * (num_samples_to_pass). The arrays must stay valid until the pass ends. */
int reader_start(Reader *r, const int64_t *rows, const float *weights, int64_t n, int64_t epochs,
                 int64_t B, int drop_last, int64_t limit);
/* The same pass, begun at its global batch `first` (the batches before it
 * are not read): where a mid-trigger checkpoint left off. Batch.index and
 * Batch.start keep their values in the whole pass. */
int reader_start_at(Reader *r, const int64_t *rows, const float *weights, int64_t n,
                    int64_t epochs, int64_t B, int drop_last, int64_t limit, int64_t first);
/* Start a pass over batches this rank reads whole (no split across ranks):
 * batch i is rows[start[i] .. start[i] + len[i]), in that order. For
 * model-on-data passes such as evaluation, where the caller shares out whole
 * batches. No weights; Batch.epoch is 0. */
int reader_start_batches(Reader *r, const int64_t *rows, const int64_t *start, const int64_t *len,
                         int64_t nbatches);
/* 1 and the next batch, 0 at the end of the pass, MH_ERR on a read error.
 * The batch stays valid until the next call. */
int reader_next(Reader *r, Batch *b);
/* End the pass early (or after the end): stops and joins the threads. */
void reader_finish(Reader *r);
void reader_free(Reader *r);
/* Seconds the consumer spent waiting for data in this pass. */
double reader_wait_seconds(const Reader *r);

#endif

/* store.h - the sample store: a directory of HDF5 shard files.
 *
 * Layout (schema version 1), one file per shard, named shard_NNNNN.h5 and
 * ordered by name; within a shard rows are in timestamp order:
 *   /keys        int64   [N]        unique across the whole store
 *   /timestamps  int64   [N]        seconds (unix time or any int64 clock)
 *   /labels      int32   [N]
 *   /features    float32 | uint8 | int32  [N, d1, ..., dk]
 *   root attributes:
 *     modyn_schema_version  int32   = 1
 *     feature_type          string  "float32" | "uint8" | "int32"
 *     feature_shape         int64[k] per-sample shape (d1..dk)
 *     num_classes           int32
 *     modyn_checksum        uint64   (optional; see store_verify_shard)
 * Files are written to a temporary name and renamed, so a reader never sees
 * a half-written shard; new shards may appear while a pipeline runs.
 *
 * Store keeps keys, timestamps and labels of every sample in memory (the
 * metadata the orchestrator replays) and reads features on demand. It does
 * not shuffle, select or prefetch (see reader.h). */
#ifndef MH_STORE_H
#define MH_STORE_H

#include <stdint.h>

#define STORE_SCHEMA_VERSION 1
#define STORE_MAX_DIMS 4

typedef enum { FEAT_F32 = 0, FEAT_U8 = 1, FEAT_I32 = 2 } FeatType;

typedef struct {
  FeatType type;                    /* element type of /features */
  int ndims;                        /* per-sample dims (1..STORE_MAX_DIMS) */
  int64_t dims[STORE_MAX_DIMS];     /* per-sample shape */
  int num_classes;                  /* labels are in [0, num_classes) */
} StoreSchema;

typedef struct {
  char path[1024];    /* the shard file */
  int64_t nrows;      /* samples in the shard */
  int64_t first_row;  /* global row of the shard's first sample */
} StoreShard;

typedef struct {
  char dir[1024];         /* store directory */
  StoreSchema schema;
  int nshards;
  StoreShard *shards;
  int64_t n;              /* samples in all shards */
  int64_t *keys;          /* [n], global row order (shard by shard) */
  int64_t *timestamps;    /* [n] */
  int32_t *labels;        /* [n] */
  int64_t feat_elems;     /* elements per sample = product of dims */
  int64_t *key_order;     /* [n] rows sorted by key, for store_find_rows */
  void *priv;             /* open HDF5 handles */
} Store;

const char *feat_type_name(FeatType t);
int feat_type_size(FeatType t);

/* Open a store directory: finds shard_*.h5, checks every shard's schema
 * (same version, type, shape, class count; datasets present with matching
 * lengths) and loads keys, timestamps and labels. Errors say which file and
 * what is wrong, e.g. "data/x/shard_00002.h5: /labels has 99 rows but /keys
 * has 100; rewrite the shard with modyn ingest". Duplicate keys are errors. */
int store_open(const char *dir, Store *s);
void store_close(Store *s);
/* Pick up shard files that appeared since open (the dataset grew). Sets
 * *added to the number of new samples. */
int store_refresh(Store *s, int64_t *added);
/* The same, loading new shards only until s holds max_shards (so that every
 * rank of a job loads the shards rank 0 saw, even if more arrived since). */
int store_refresh_to(Store *s, int max_shards, int64_t *added);
/* Shard files in the directory that s has not loaded (they arrived after
 * open or the last refresh). */
int store_unloaded_shards(const Store *s, int *count);

/* Cap the staging buffer store_read_features_f32 reads through (default
 * 64 MiB; one sample is always staged). bytes <= 0 restores the default. */
void store_set_read_buffer(Store *s, int64_t bytes);

/* Sort rows[n] by (timestamp, key): the stream's replay order. */
void store_sort_rows_by_time(const Store *s, int64_t *rows, int64_t n);
/* Map keys to global rows. A key not in the store is an error naming it. */
int store_find_rows(const Store *s, const int64_t *keys, int64_t n, int64_t *rows);
/* Read the features of n global rows (any order, repeats allowed) as float32
 * into out[n * feat_elems]. uint8 features are scaled to [0, 1] (like
 * torchvision's ToTensor); int32 token ids are converted to float. */
int store_read_features_f32(Store *s, const int64_t *rows, int64_t n, float *out);
/* The same, writing row rows[i] to out[dest[i] * feat_elems] (dest NULL =
 * i), so a caller can read in sorted row order and land in any order.
 * Safe to call from several threads at once. */
int store_read_features_to(Store *s, const int64_t *rows, const int64_t *dest, int64_t n,
                           float *out);

/* How features are read. DIRECT copies rows from read-only memory mappings
 * of the shard files (used automatically when every shard's /features is
 * contiguous, unfiltered and in native byte order, as modyn writes them);
 * HDF5 reads coalesced runs of rows through hyperslab selections (any
 * layout: chunked, compressed, other byte order). Both return the same
 * bytes. */
typedef enum { STORE_READ_AUTO = 0, STORE_READ_HDF5 = 1 } StoreReadPath;
/* Force the HDF5 path (tests, benchmarks) or go back to AUTO. Returns 1 when
 * the direct path is available for this store. */
int store_set_read_path(Store *s, StoreReadPath path);

/* Checksums. Every shard modyn writes (ingest, synth) carries a root
 * attribute modyn_checksum (uint64) over its datasets and schema, computed
 * while writing (README, "Store layout"). Opening a store does not verify
 * it (no slowdown); `modyn check` and `modyn run --verify` do. Shards
 * written before checksums existed, or by other tools, have none and still
 * open. */
#define STORE_CHECKSUM_ATTR "modyn_checksum"
typedef enum {
  SHARD_UNCHECKED = 0, /* not verified (yet) */
  SHARD_OK = 1,        /* contents match the stored checksum */
  SHARD_NO_CHECKSUM = 2, /* no modyn_checksum attribute: contents not verified */
  SHARD_BAD = 3,       /* contents differ from the checksum, or unreadable */
} ShardCheck;

/* Verify shard i of an open store: read its features (keys, timestamps and
 * labels are the ones store_open loaded) and compare with the stored
 * checksum. *bytes gets the bytes of the shard's datasets. On SHARD_BAD
 * returns MH_ERR with a message naming the shard and what to do. Several
 * threads may verify different shards of one store at once. */
int store_verify_shard(Store *s, int i, ShardCheck *status, uint64_t *stored, uint64_t *computed,
                       int64_t *bytes);

/* Writing a store. */
typedef struct {
  char dir[1024];
  StoreSchema schema;
  int next_shard;     /* index of the next shard file */
  int64_t written;    /* samples written so far */
  int64_t max_key;    /* appending: the largest key already in the store; INT64_MIN none */
} StoreWriter;

/* Create dir if needed. Refuses to write into a directory that already has
 * shards unless append is 1 (then continues the numbering). */
int store_writer_open(const char *dir, const StoreSchema *schema, int append, StoreWriter *w);
/* Write one shard of n samples; features has n * feat_elems elements of
 * schema.type. Rows must be in nondecreasing timestamp order. */
int store_write_shard(StoreWriter *w, int64_t n, const int64_t *keys, const int64_t *timestamps,
                      const int32_t *labels, const void *features);

#endif

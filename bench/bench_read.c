/* bench_read.c - selected-subset reads against full sequential reads of the
 * same store (the original's "local" baseline), on 1..N MPI ranks.
 *
 *   bench_read --kind yearbook|criteo --dir DIR [--samples N] [--fraction F]
 *              [--partition K] [--prefetch P] [--threads T] [--batch B]
 *              [--max-bytes M] [--order global|partition] [--rounds R] [--mpio 0|1]
 *
 * --order partition (default) is training's order with `shuffle` (the
 * original Modyn's: store order cut into partitions of K keys, partitions
 * and their insides shuffled); global shuffles the whole subset. --max-bytes
 * sets the reader's partition size (0: its default). Each read is run in R
 * interleaved rounds and the best time kept. --mpio 1 (default) adds the
 * sequential read through HDF5's MPI-IO driver, independent and collective.
 *
 * Creates the store in DIR if it is missing (Yearbook-like: float32
 * 3x32x32, 2 classes; Criteo-like: 13 dense values + 26 categorical ids
 * per sample as float32 [39], the layout DLRM reads). Every rank then
 *   1. sequential: reads its contiguous 1/N of all rows in ~3 MB blocks
 *      through HDF5 (H5Dread of hyperslabs), converting to float32 as
 *      training would; and the same through the direct (mapped) path;
 *   2. subset: reads its share of every global batch of a random `fraction`
 *      of the keys in shuffled training order through the reader
 *      (partitions, sorted reads, prefetch threads) - what training does.
 * Throughput = samples / slowest rank's time. The page cache is warmed
 * first, so this measures the read path, not the disk. Prints a table with
 * the ratio subset / sequential. */
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/sort.h"
#include "core/timing.h"
#include "data/reader.h"
#include "data/store.h"

typedef struct {
  const char *kind, *dir;
  int64_t samples, partition, batch, max_bytes;
  double fraction;
  const char *order;
  int prefetch, threads, rounds, mpio;
} Args;

static void die(void) { mh_fatal_last(); }

static int create_store(const Args *a) {
  int yb = !strcmp(a->kind, "yearbook");
  StoreSchema sc = yb ? (StoreSchema){FEAT_F32, 3, {3, 32, 32, 0}, 2}
                      : (StoreSchema){FEAT_F32, 1, {39, 0, 0, 0}, 2};
  int64_t E = yb ? 3 * 32 * 32 : 39, shard = yb ? 25000 : 1000000;
  StoreWriter w;
  MH_TRY(store_writer_open(a->dir, &sc, 0, &w));
  int64_t *k = malloc(sizeof(int64_t) * shard), *t = malloc(sizeof(int64_t) * shard);
  int32_t *l = malloc(sizeof(int32_t) * shard);
  float *f = malloc(sizeof(float) * shard * E);
  Rng rng;
  rng_seed(&rng, 7);
  for (int64_t s0 = 0; s0 < a->samples; s0 += shard) {
    int64_t n = a->samples - s0 < shard ? a->samples - s0 : shard;
    for (int64_t i = 0; i < n; i++) {
      k[i] = s0 + i;
      t[i] = s0 + i;
      l[i] = (int32_t)(rng_next(&rng) & 1);
      /* Yearbook-like: pixels in [0, 1). Criteo-like: 13 dense values in
       * [0, 1), then 26 categorical ids in [0, 1000) (DLRM's default
       * table size), spread so that lookups hit the whole table. */
      for (int64_t j = 0; j < E; j++)
        f[i * E + j] = yb || j < 13 ? (float)((s0 + i + j) % 1000) * 0.001f
                                    : (float)((rng_next(&rng) >> 11) % 1000);
    }
    MH_TRY(store_write_shard(&w, n, k, t, l, f));
    printf("# wrote %lld / %lld samples\n", (long long)(s0 + n), (long long)a->samples);
  }
  free(k);
  free(t);
  free(l);
  free(f);
  return MH_OK;
}

/* The original's "local" baseline: plain H5Dread of consecutive ~3 MB
 * blocks of /features straight into the float32 buffer, shard by shard. */
/* How sequential_h5 reads: the POSIX driver on each rank's own files, or
 * every shard opened by all ranks through MPI-IO, independent or
 * collective transfers. */
enum { IO_POSIX, IO_MPIO_INDEPENDENT, IO_MPIO_COLLECTIVE };

static double sequential_h5(Store *s, int64_t lo, int64_t hi, float *buf, int64_t block, int io) {
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = mh_now();
  for (int sh = 0; sh < s->nshards; sh++) {
    int64_t a = s->shards[sh].first_row, b = a + s->shards[sh].nrows;
    /* With MPI-IO every rank opens every shard and makes the same number
     * of H5Dread calls (collective ones must match), reading nothing where
     * its range misses the shard. */
    int64_t rounds = 0;
    if (io != IO_POSIX)
      for (int r = 0; r < mh_log_nranks; r++) {
        int64_t ra = s->n * r / mh_log_nranks, rb = s->n * (r + 1) / mh_log_nranks;
        int64_t x = ra > s->shards[sh].first_row ? ra : s->shards[sh].first_row;
        int64_t y = rb < s->shards[sh].first_row + s->shards[sh].nrows
                        ? rb : s->shards[sh].first_row + s->shards[sh].nrows;
        if (y - x > 0 && (y - x + block - 1) / block > rounds) rounds = (y - x + block - 1) / block;
      }
    if (a < lo) a = lo;
    if (b > hi) b = hi;
    if (io == IO_POSIX && a >= b) continue;
    if (io == IO_POSIX) rounds = (b - a + block - 1) / block;
    /* The store already has the file open without file locking; HDF5
     * refuses a second open with other locking flags. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_file_locking(fapl, 0, 1);
    if (io != IO_POSIX) {
      H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
      H5Pset_dxpl_mpio(dxpl, io == IO_MPIO_COLLECTIVE ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT);
    }
    hid_t f = H5Fopen(s->shards[sh].path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) mh_fatal("%s: %s", s->shards[sh].path, (mh_h5_error("H5Fopen", __FILE__, __LINE__), mh_error()));
    hid_t d = H5Dopen2(f, "features", H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    for (int64_t k = 0; k < rounds; k++) {
      int64_t r0 = a + k * block;
      int64_t n = r0 < b ? (b - r0 < block ? b - r0 : block) : 0;
      hsize_t melems = (hsize_t)(n * s->feat_elems);
      hid_t ms = H5Screate_simple(1, &melems, NULL);
      if (n > 0) {
        /* Features are [N, d...]; select rows as a 2-D view of [N, elems]. */
        hsize_t fstart[STORE_MAX_DIMS + 1] = {(hsize_t)(r0 - s->shards[sh].first_row)};
        hsize_t fcount[STORE_MAX_DIMS + 1] = {(hsize_t)n};
        for (int i = 0; i < s->schema.ndims; i++) fcount[i + 1] = (hsize_t)s->schema.dims[i];
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, fstart, NULL, fcount, NULL);
      } else {
        H5Sselect_none(fs);
        H5Sselect_none(ms);
      }
      if (H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, dxpl, buf) < 0)
        mh_fatal("%s: %s", s->shards[sh].path,
                 (mh_h5_error("H5Dread", __FILE__, __LINE__), mh_error()));
      H5Sclose(ms);
    }
    H5Pclose(dxpl);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(f);
  }
  double t = mh_now() - t0, tmax;
  MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return tmax;
}

/* Rows [lo, hi) in blocks of about 3 MB through the store's read path. */
static double sequential(Store *s, int64_t lo, int64_t hi, float *buf, int64_t block,
                         StoreReadPath path) {
  store_set_read_path(s, path);
  int64_t *rows = malloc(sizeof(int64_t) * block);
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = mh_now();
  for (int64_t r0 = lo; r0 < hi; r0 += block) {
    int64_t n = hi - r0 < block ? hi - r0 : block;
    for (int64_t i = 0; i < n; i++) rows[i] = r0 + i;
    if (store_read_features_f32(s, rows, n, buf)) die();
  }
  double t = mh_now() - t0;
  free(rows);
  store_set_read_path(s, STORE_READ_AUTO);
  double tmax;
  MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return tmax;
}

static double subset(Store *s, const Args *a, const int64_t *rows, int64_t n, int prefetch,
                     int threads, volatile float *sink) {
  ReaderConfig cfg = {a->partition, a->max_bytes, prefetch, threads};
  Reader *rd;
  if (reader_create(s, &cfg, mh_log_rank, mh_log_nranks, &rd)) die();
  /* Two passes with one reader, as in a multi-epoch trigger: the first
   * (untimed) also faults in the reader's buffers. */
  double t = 0;
  float acc = 0;
  for (int pass = 0; pass < 2; pass++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = mh_now();
    if (reader_start(rd, rows, NULL, n, 1, a->batch, 0, -1)) die();
    Batch b;
    int more;
    while ((more = reader_next(rd, &b)) == 1)
      if (b.n) acc += b.x[0]; /* touch the batch like a consumer would */
    if (more < 0) die();
    t = mh_now() - t0;
  }
  *sink = acc;
  reader_free(rd);
  double tmax;
  MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return tmax;
}

/* The original's shuffle (rng_partition_order): the selected keys in store
 * order, cut into partitions of K keys, partitions visited in random order
 * and each one shuffled. */
static void partition_order(int64_t *keys, int64_t m, int64_t K, Rng *rng) {
  int64_t *v = malloc(sizeof(int64_t) * m), *tk = malloc(sizeof(int64_t) * m),
          *tv = malloc(sizeof(int64_t) * m);
  sort_pairs_i64(keys, v, m, tk, tv);
  if (rng_partition_order(rng, v, m, K)) die();
  for (int64_t i = 0; i < m; i++) tk[i] = keys[v[i]];
  memcpy(keys, tk, sizeof(int64_t) * m);
  free(v);
  free(tk);
  free(tv);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  Dist dist;
  if (dist_init(&dist, MPI_COMM_WORLD)) die();
  mh_log_init(&dist);
  mh_hdf5_quiet();
  Args a = {"yearbook", "bench_data/yearbook", 100000, 100000, 64, 0, 0.5, "partition", 0, 1, 3, 1};
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--kind")) a.kind = v;
    else if (!strcmp(k, "--dir")) a.dir = v;
    else if (!strcmp(k, "--samples")) a.samples = atoll(v);
    else if (!strcmp(k, "--fraction")) a.fraction = atof(v);
    else if (!strcmp(k, "--partition")) a.partition = atoll(v);
    else if (!strcmp(k, "--prefetch")) a.prefetch = atoi(v);
    else if (!strcmp(k, "--threads")) a.threads = atoi(v);
    else if (!strcmp(k, "--batch")) a.batch = atoll(v);
    else if (!strcmp(k, "--max-bytes")) a.max_bytes = atoll(v);
    else if (!strcmp(k, "--order")) a.order = v;
    else if (!strcmp(k, "--rounds")) a.rounds = atoi(v);
    else if (!strcmp(k, "--mpio")) a.mpio = atoi(v);
    else mh_fatal("unknown option %s (see the comment at the top of bench/bench_read.c)", k);
  }
  char probe[1100];
  snprintf(probe, sizeof probe, "%s/shard_00000.h5", a.dir);
  if (mh_log_rank == 0 && !mh_path_exists(probe) && create_store(&a)) die();
  MPI_Barrier(MPI_COMM_WORLD);
  Store s;
  if (store_open(a.dir, &s)) die();
  /* Warm the page cache (and the mappings) with one untimed direct pass. */
  int64_t block = (3 << 20) / (s.feat_elems * 4);
  if (block < 1) block = 1;
  float *buf = malloc(sizeof(float) * block * s.feat_elems);
  memset(buf, 0, sizeof(float) * block * s.feat_elems);
  int64_t lo = s.n * mh_log_rank / mh_log_nranks, hi = s.n * (mh_log_rank + 1) / mh_log_nranks;
  sequential(&s, 0, s.n, buf, block, STORE_READ_AUTO);

  /* The selected subset in training order: a random fraction of the keys,
   * in the --order (the same on every rank). */
  int64_t m = (int64_t)(a.fraction * (double)s.n);
  int64_t *all = malloc(sizeof(int64_t) * s.n);
  for (int64_t i = 0; i < s.n; i++) all[i] = i;
  Rng rng;
  rng_seed(&rng, 42);
  rng_shuffle_i64(&rng, all, s.n);
  if (!strcmp(a.order, "partition")) partition_order(all, m, a.partition, &rng);

  /* The machine is shared and noisy: run the reads in interleaved rounds
   * and keep each one's best time (and its worst, for the spread). */
  enum { H5, IND, COLL, DIRECT, SUB0, SUBP, NREAD };
  double best[NREAD], worst[NREAD];
  for (int i = 0; i < NREAD; i++) best[i] = 1e30, worst[i] = 0;
  volatile float sink = 0;
  for (int round = 0; round < a.rounds; round++) {
    double t[NREAD] = {0};
    t[H5] = sequential_h5(&s, lo, hi, buf, block, IO_POSIX);
    if (a.mpio) {
      t[IND] = sequential_h5(&s, lo, hi, buf, block, IO_MPIO_INDEPENDENT);
      t[COLL] = sequential_h5(&s, lo, hi, buf, block, IO_MPIO_COLLECTIVE);
    }
    t[DIRECT] = sequential(&s, lo, hi, buf, block, STORE_READ_AUTO);
    t[SUB0] = subset(&s, &a, all, m, 0, 1, &sink);
    t[SUBP] = subset(&s, &a, all, m, a.prefetch > 0 ? a.prefetch : 2, a.threads > 1 ? a.threads : 2,
                     &sink);
    for (int i = 0; i < NREAD; i++) best[i] = fmin(best[i], t[i]), worst[i] = fmax(worst[i], t[i]);
  }

  if (mh_log_rank == 0) {
    static const char *what[NREAD] = {"sequential full read, H5Dread 3 MB blocks",
                                      "sequential, H5Dread MPI-IO independent",
                                      "sequential, H5Dread MPI-IO collective",
                                      "sequential full read, direct (mapped)",
                                      "subset, training order, no prefetch",
                                      "subset, training order, prefetch threads"};
    printf("# %s store %s: %lld samples x %lld floats, %d rank(s), subset %.0f%%, partition %lld, batch %lld\n",
           a.kind, a.dir, (long long)s.n, (long long)s.feat_elems, mh_log_nranks,
           100 * a.fraction, (long long)a.partition, (long long)a.batch);
    printf("# best of %d interleaved rounds [min-max samples/s over the rounds]\n", a.rounds);
    printf("%-44s %14s %22s %10s %12s\n", "read", "samples/s", "[min-max]", "GB/s", "vs seq HDF5");
    const double bytes = (double)s.feat_elems * 4, seq = (double)s.n / best[H5];
    for (int i = 0; i < NREAD; i++) {
      if (!a.mpio && (i == IND || i == COLL)) continue;
      const double cnt = i >= SUB0 ? (double)m : (double)s.n, r = cnt / best[i];
      char sp[48];
      snprintf(sp, sizeof sp, "[%.0f-%.0f]", cnt / worst[i], r);
      printf("%-44s %14.0f %22s %10.2f %12.3f\n", what[i], r, sp, r * bytes / 1e9, r / seq);
    }
  }
  free(all);
  free(buf);
  store_close(&s);
  MPI_Finalize();
  return 0;
}

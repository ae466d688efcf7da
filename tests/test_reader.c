/* test_reader.c - every read path returns the same bytes, and the reader
 * hands each rank exactly its share of every global batch, in order, for
 * any partition size, prefetch depth and thread count. */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/reader.h"
#include "data/store.h"
#include "testutil.h"

#define N 1003
/* Features per sample: 12 (48-byte rows: the reader gathers batches) or
 * 600 (2400-byte rows: it reads into the batch slots directly). */
static int D = 12;

static void fill(int64_t *keys, int64_t *ts, int32_t *labels, float *f, unsigned char *u) {
  for (int i = 0; i < N; i++) {
    keys[i] = 10 * i + 3;
    ts[i] = i / 3;
    labels[i] = i % 5;
    for (int j = 0; j < D; j++) {
      f[i * D + j] = (float)i + 0.01f * (float)j;
      if (u) u[i * D + j] = (unsigned char)((i * 7 + j) % 256);
    }
  }
}

/* A store in 3 shards (one of a single row) with sparse keys 10*i + 3. */
static void write_store(const char *dir, FeatType type) {
  StoreSchema sc = {type, 2, {3, D / 3, 0, 0}, 5};
  StoreWriter w;
  CHECK_OK(store_writer_open(dir, &sc, 0, &w));
  int64_t keys[N], ts[N];
  int32_t labels[N];
  float *f = malloc(sizeof(float) * N * D);
  unsigned char *u = malloc(N * D);
  fill(keys, ts, labels, f, u);
  const int cut[4] = {0, 400, 401, N};
  for (int s = 0; s < 3; s++) {
    int a = cut[s], n = cut[s + 1] - cut[s];
    const void *feat = type == FEAT_F32 ? (const void *)(f + a * D) : (const void *)(u + a * D);
    CHECK_OK(store_write_shard(&w, n, keys + a, ts + a, labels + a, feat));
  }
  free(f);
  free(u);
}

static void write_attr_i32(hid_t f, const char *name, int32_t v) {
  hid_t sa = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, name, H5T_STD_I32LE, sa, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_INT32, &v);
  H5Aclose(a);
  H5Sclose(sa);
}

static void write_dset(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank,
                       const hsize_t *dims, hid_t dcpl, const void *data) {
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t d = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(d);
  H5Sclose(sp);
}

/* The same float32 data in one chunked, gzip-compressed shard, the way
 * h5py writes it. */
static void write_chunked_store(const char *dir) {
  char path[600];
  snprintf(path, sizeof path, "%s/shard_00000.h5", dir);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  int64_t keys[N], ts[N];
  int32_t labels[N];
  float *x = malloc(sizeof(float) * N * D);
  fill(keys, ts, labels, x, NULL);
  hsize_t d1[1] = {N}, d3[3] = {N, 3, 4}, c3[3] = {64, 3, 4};
  write_dset(f, "keys", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, d1, H5P_DEFAULT, keys);
  write_dset(f, "timestamps", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, d1, H5P_DEFAULT, ts);
  write_dset(f, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, d1, H5P_DEFAULT, labels);
  hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(pl, 3, c3);
  H5Pset_deflate(pl, 4);
  write_dset(f, "features", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d3, pl, x);
  H5Pclose(pl);
  write_attr_i32(f, "modyn_schema_version", 1);
  write_attr_i32(f, "num_classes", 5);
  hid_t sa = H5Screate(H5S_SCALAR), st = H5Tcopy(H5T_C_S1);
  H5Tset_size(st, 8);
  hid_t a = H5Acreate2(f, "feature_type", st, sa, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, st, "float32");
  H5Aclose(a);
  H5Tclose(st);
  H5Sclose(sa);
  hsize_t two = 2;
  hid_t s2 = H5Screate_simple(1, &two, NULL);
  int64_t shape[2] = {3, 4};
  a = H5Acreate2(f, "feature_shape", H5T_STD_I64LE, s2, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_INT64, shape);
  H5Aclose(a);
  H5Sclose(s2);
  H5Fclose(f);
  free(x);
}

static void test_paths(void) {
  const char *dir = test_tmpdir("reader_f32");
  write_store(dir, FEAT_F32);
  Store s;
  CHECK_OK(store_open(dir, &s));
  CHECK_EQ_INT(store_set_read_path(&s, STORE_READ_AUTO), 1); /* modyn writes contiguous */
  enum { M = 700 };
  int64_t rows[M];
  Rng rng;
  rng_seed(&rng, 3);
  for (int i = 0; i < M; i++) rows[i] = (int64_t)rng_below(&rng, N); /* random, with repeats */
  float *a = malloc(sizeof(float) * M * D), *b = malloc(sizeof(float) * M * D);
  CHECK_OK(store_read_features_f32(&s, rows, M, a));
  store_set_read_path(&s, STORE_READ_HDF5);
  CHECK_OK(store_read_features_f32(&s, rows, M, b));
  CHECK(memcmp(a, b, sizeof(float) * M * D) == 0);
  CHECK_NEAR(a[5 * D + 7], (float)rows[5] + 0.07f, 1e-6);
  /* Scattered destinations: row rows[i] lands at slot M-1-i, on both paths. */
  int64_t dest[M];
  for (int i = 0; i < M; i++) dest[i] = M - 1 - i;
  for (int path = 0; path < 2; path++) {
    store_set_read_path(&s, path ? STORE_READ_HDF5 : STORE_READ_AUTO);
    memset(b, 0, sizeof(float) * M * D);
    CHECK_OK(store_read_features_to(&s, rows, dest, M, b));
    int same = 1;
    for (int i = 0; i < M; i++) same &= !memcmp(a + i * D, b + (M - 1 - i) * D, sizeof(float) * D);
    CHECK(same);
  }
  store_close(&s);

  /* uint8 store: both paths scale by 1/255 identically. */
  dir = test_tmpdir("reader_u8");
  write_store(dir, FEAT_U8);
  CHECK_OK(store_open(dir, &s));
  CHECK_OK(store_read_features_f32(&s, rows, M, a));
  store_set_read_path(&s, STORE_READ_HDF5);
  CHECK_OK(store_read_features_f32(&s, rows, M, b));
  CHECK(memcmp(a, b, sizeof(float) * M * D) == 0);
  CHECK_NEAR(a[2 * D + 1], (float)((rows[2] * 7 + 1) % 256) / 255.0f, 1e-7);
  store_close(&s);

  /* Chunked + gzip: no direct path; the HDF5 path gives the exact values. */
  dir = test_tmpdir("reader_chunked");
  write_chunked_store(dir);
  CHECK_OK(store_open(dir, &s));
  CHECK_EQ_INT(store_set_read_path(&s, STORE_READ_AUTO), 0);
  CHECK_OK(store_read_features_f32(&s, rows, M, b));
  int ok = 1;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < D; j++) ok &= b[i * D + j] == (float)rows[i] + 0.01f * (float)j;
  CHECK(ok);
  store_close(&s);
  free(a);
  free(b);
}

/* For every rank of nranks, walk a pass and check each batch against the
 * expected rows, labels and weights. */
static void check_pass_epochs(Store *s, const ReaderConfig *cfg, int nranks, int64_t n,
                              int64_t epochs, int64_t B, int drop_last, int64_t limit,
                              const char *what) {
  int64_t *rows = malloc(sizeof(int64_t) * (size_t)(n * epochs + 1));
  float *w = malloc(sizeof(float) * (size_t)(n * epochs + 1));
  Rng rng;
  rng_seed(&rng, (uint64_t)n * 31 + (uint64_t)B);
  for (int64_t i = 0; i < n * epochs; i++) {
    rows[i] = (int64_t)rng_below(&rng, N);
    w[i] = (float)i;
  }
  /* The expected batches, epoch by epoch: (start position, length, epoch). */
  int64_t cap = epochs * (n / B + 1) + 1, want_batches = 0, passed = 0;
  int64_t *bs = malloc(sizeof(int64_t) * cap), *bl = malloc(sizeof(int64_t) * cap);
  int64_t *be = malloc(sizeof(int64_t) * cap);
  int64_t n_eff = drop_last ? n / B * B : n;
  for (int64_t e = 0; e < epochs; e++)
    for (int64_t b0 = 0; b0 < n_eff; b0 += B) {
      int64_t len = n_eff - b0 < B ? n_eff - b0 : B;
      if (limit >= 0 && passed + len > limit) len = limit - passed;
      if (len <= 0) break;
      bs[want_batches] = e * n + b0;
      bl[want_batches] = len;
      be[want_batches++] = e;
      passed += len;
    }
  float *expect = malloc(sizeof(float) * (size_t)(B * D));
  int bad = 0;
  for (int r = 0; r < nranks; r++) {
    Reader *rd = NULL;
    CHECK_OK(reader_create(s, cfg, r, nranks, &rd));
    CHECK_OK(reader_start(rd, rows, w, n, epochs, B, drop_last, limit));
    Batch bt;
    int64_t nb = 0;
    int more;
    while ((more = reader_next(rd, &bt)) == 1) {
      if (nb >= want_batches) {
        bad++;
        break;
      }
      int64_t b0 = bs[nb], len = bl[nb];
      int64_t lo = len * r / nranks, hi = len * (r + 1) / nranks;
      bad += bt.index != nb || bt.epoch != be[nb] || bt.global_len != len || bt.n != hi - lo;
      bad += bt.start != b0;
      if (bt.n == hi - lo && bt.n > 0) {
        store_read_features_f32(s, rows + b0 + lo, bt.n, expect);
        bad += memcmp(expect, bt.x, sizeof(float) * (size_t)(bt.n * D)) != 0;
        for (int64_t i = 0; i < bt.n; i++) {
          bad += bt.labels[i] != s->labels[rows[b0 + lo + i]];
          bad += bt.weights[i] != (float)(b0 + lo + i);
        }
      }
      nb++;
    }
    CHECK_EQ_INT(more, 0);
    if (nb != want_batches) {
      fprintf(stderr, "%s rank %d: %lld batches, want %lld\n", what, r, (long long)nb,
              (long long)want_batches);
      bad++;
    }
    /* A second pass with the same reader gives the same first batch. */
    CHECK_OK(reader_start(rd, rows, w, n, epochs, B, drop_last, limit));
    if (want_batches > 0) {
      CHECK_EQ_INT(reader_next(rd, &bt), 1);
      int64_t lo = bl[0] * r / nranks, hi = bl[0] * (r + 1) / nranks;
      CHECK_EQ_INT(bt.index, 0);
      CHECK_EQ_INT(bt.n, hi - lo);
      if (bt.n > 0) {
        store_read_features_f32(s, rows + bs[0] + lo, bt.n, expect);
        CHECK(memcmp(expect, bt.x, sizeof(float) * (size_t)(bt.n * D)) == 0);
      }
    }
    /* Begun at batch k (a mid-trigger checkpoint's reader position): the
     * batches k.. of the whole pass, with their indices and starts. */
    const int64_t k = want_batches / 2;
    CHECK_OK(reader_start_at(rd, rows, w, n, epochs, B, drop_last, limit, k));
    for (nb = k; (more = reader_next(rd, &bt)) == 1 && nb < want_batches; nb++) {
      int64_t lo = bl[nb] * r / nranks, hi = bl[nb] * (r + 1) / nranks;
      bad += bt.index != nb || bt.start != bs[nb] || bt.epoch != be[nb] || bt.n != hi - lo;
      if (bt.n == hi - lo && bt.n > 0) {
        store_read_features_f32(s, rows + bs[nb] + lo, bt.n, expect);
        bad += memcmp(expect, bt.x, sizeof(float) * (size_t)(bt.n * D)) != 0;
        bad += bt.weights[0] != (float)(bs[nb] + lo);
      }
    }
    CHECK_EQ_INT(nb, want_batches);
    CHECK(reader_start_at(rd, rows, w, n, epochs, B, drop_last, limit, want_batches + 1) ==
          MH_ERR);
    reader_free(rd);
  }
  if (bad) fprintf(stderr, "%s: %d mismatches\n", what, bad);
  CHECK_EQ_INT(bad, 0);
  free(expect);
  free(rows);
  free(w);
  free(bs);
  free(bl);
  free(be);
}

static void check_pass(Store *s, const ReaderConfig *cfg, int nranks, int64_t n, int64_t B,
                       int drop_last, int64_t limit, const char *what) {
  check_pass_epochs(s, cfg, nranks, n, 1, B, drop_last, limit, what);
}

/* Whole batches of uneven length chosen by the caller (evaluation's use):
 * each comes back complete, in order, with the right rows and labels. */
static void check_batches(Store *s, const ReaderConfig *cfg, const char *what) {
  enum { NB = 37 };
  int64_t start[NB], len[NB], total = 0;
  Rng rng;
  rng_seed(&rng, 5);
  for (int i = 0; i < NB; i++) {
    len[i] = 1 + (int64_t)rng_below(&rng, 23); /* 1..23 */
    start[i] = total + (int64_t)rng_below(&rng, 3); /* gaps of 0..2 positions */
    total = start[i] + len[i];
  }
  int64_t *rows = malloc(sizeof(int64_t) * (size_t)total);
  for (int64_t i = 0; i < total; i++) rows[i] = (int64_t)rng_below(&rng, N);
  float *expect = malloc(sizeof(float) * (size_t)(23 * D));
  Reader *rd = NULL;
  CHECK_OK(reader_create(s, cfg, 1, 3, &rd)); /* the rank does not split whole batches */
  CHECK_OK(reader_start_batches(rd, rows, start, len, NB));
  Batch bt;
  int bad = 0, nb = 0, more;
  while ((more = reader_next(rd, &bt)) == 1 && nb < NB) {
    bad += bt.n != len[nb] || bt.global_len != len[nb] || bt.index != nb || bt.weights != NULL;
    if (bt.n == len[nb]) {
      store_read_features_f32(s, rows + start[nb], bt.n, expect);
      bad += memcmp(expect, bt.x, sizeof(float) * (size_t)(bt.n * D)) != 0;
      for (int64_t i = 0; i < bt.n; i++) bad += bt.labels[i] != s->labels[rows[start[nb] + i]];
    }
    nb++;
  }
  CHECK_EQ_INT(more, 0);
  CHECK_EQ_INT(nb, NB);
  if (bad) fprintf(stderr, "%s: %d mismatches\n", what, bad);
  CHECK_EQ_INT(bad, 0);
  reader_free(rd);
  free(rows);
  free(expect);
}

static void test_reader(void) {
  const char *dir = test_tmpdir(D == 12 ? "reader_pass" : "reader_pass_wide");
  write_store(dir, FEAT_F32);
  Store s;
  CHECK_OK(store_open(dir, &s));
  const int64_t parts[] = {1, 7, 64, 250, 100000};
  const int pre[] = {0, 1, 3};
  const int par[] = {1, 2, 3};
  char what[128];
  for (int a = 0; a < 5; a++)
    for (int b = 0; b < 3; b++)
      for (int c = 0; c < 3; c++) {
        if (pre[b] == 0 && par[c] > 1) continue;
        ReaderConfig cfg = {parts[a], 0, pre[b], par[c]};
        for (int nr = 1; nr <= 3; nr++) {
          snprintf(what, sizeof what, "P=%lld pre=%d par=%d ranks=%d", (long long)parts[a],
                   pre[b], par[c], nr);
          check_pass(&s, &cfg, nr, 517, 10, 0, -1, what);
        }
      }
  ReaderConfig cfg = {64, 0, 2, 2};
  check_pass(&s, &cfg, 2, 517, 10, 1, -1, "drop_last");
  check_pass(&s, &cfg, 3, 517, 64, 0, 300, "limit 300");
  check_pass(&s, &cfg, 3, 5, 64, 0, -1, "fewer samples than ranks x batch");
  check_pass(&s, &cfg, 2, 5, 64, 1, -1, "drop_last, fewer than a batch");
  /* Several epochs in one pass: partitions run across epoch boundaries. */
  check_pass_epochs(&s, &cfg, 3, 517, 3, 10, 0, -1, "3 epochs");
  check_pass_epochs(&s, &cfg, 2, 517, 3, 64, 1, -1, "3 epochs, drop_last");
  check_pass_epochs(&s, &cfg, 2, 517, 4, 50, 0, 1200, "4 epochs, limit 1200");
  ReaderConfig one = {1, 0, 3, 2};
  check_pass_epochs(&s, &one, 3, 23, 5, 4, 0, -1, "5 epochs, one batch per partition");
  /* A small byte budget forces many partitions. */
  ReaderConfig tiny = {100000, 10 * D * (int64_t)sizeof(float), 2, 2};
  check_pass(&s, &tiny, 2, 517, 10, 0, -1, "byte-limited partitions");
  check_batches(&s, &cfg, "whole batches, prefetch");
  ReaderConfig plain = {100000, 0, 0, 1};
  check_batches(&s, &plain, "whole batches, no prefetch");
  check_batches(&s, &tiny, "whole batches, byte-limited partitions");
  /* The HDF5 path from prefetch threads (serialised by the store's lock). */
  store_set_read_path(&s, STORE_READ_HDF5);
  ReaderConfig threads = {50, 0, 3, 3};
  check_pass(&s, &threads, 2, 517, 10, 0, -1, "HDF5 path, 3 threads");
  store_close(&s);
}

int main(void) {
  mh_hdf5_quiet();
  test_paths();
  test_reader();
  D = 600;
  test_reader();
  return test_finish("test_reader");
}

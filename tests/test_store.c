/* test_store.c - the sample store: write/read round trips (float32, uint8,
 * int32; several shards; rows in random order with repeats), key lookup,
 * stores written by other tools (chunked, compressed, other integer types),
 * every schema error with its exact text, refresh, and write failures. */
#include <errno.h>
#include <hdf5.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/rng.h"
#include "data/store.h"
#include "testutil.h"

#define FIX "rewrite the shard (the layout is in the README, section Data)"

/* Deterministic test content of global row i. */
static int64_t key_of(int64_t i) { return 1000 - 3 * i; } /* unique, decreasing */
static int64_t ts_of(int64_t i) { return 100 + i / 2; }   /* nondecreasing, with ties */
static int32_t label_of(int64_t i) { return (int32_t)(i % 5); }
static float f32_of(int64_t i, int64_t j) { return (float)(i * 10 + j) + 0.25f; }
static uint8_t u8_of(int64_t i, int64_t j) { return (uint8_t)((i * 37 + j * 11) % 256); }
static int32_t i32_of(int64_t i, int64_t j) { return (int32_t)(i * 1000 - j); }

/* Write shards of the given sizes (global rows numbered across shards). */
static void write_store(const char *dir, const StoreSchema *sc, const int64_t *sizes, int nshards,
                        int append, int64_t row0) {
  StoreWriter w;
  CHECK_OK(store_writer_open(dir, sc, append, &w));
  int64_t E = 1;
  for (int i = 0; i < sc->ndims; i++) E *= sc->dims[i];
  int64_t r = row0;
  for (int s = 0; s < nshards; s++) {
    int64_t n = sizes[s];
    int64_t *k = malloc((size_t)n * 8), *t = malloc((size_t)n * 8);
    int32_t *l = malloc((size_t)n * 4);
    void *f = malloc((size_t)(n * E * 4));
    for (int64_t i = 0; i < n; i++) {
      k[i] = key_of(r + i);
      t[i] = ts_of(r + i);
      l[i] = label_of(r + i);
      for (int64_t j = 0; j < E; j++) {
        if (sc->type == FEAT_F32) ((float *)f)[i * E + j] = f32_of(r + i, j);
        if (sc->type == FEAT_U8) ((uint8_t *)f)[i * E + j] = u8_of(r + i, j);
        if (sc->type == FEAT_I32) ((int32_t *)f)[i * E + j] = i32_of(r + i, j);
      }
    }
    CHECK_OK(store_write_shard(&w, n, k, t, l, f));
    r += n;
    free(k);
    free(t);
    free(l);
    free(f);
  }
}

static float expected_f32(FeatType t, int64_t i, int64_t j) {
  if (t == FEAT_F32) return f32_of(i, j);
  if (t == FEAT_U8) return (float)u8_of(i, j) / 255.0f;
  return (float)i32_of(i, j);
}

/* Read rows in random order with repeats (and runs across shard borders)
 * and compare every value exactly. */
static void check_reads(Store *s, uint64_t seed) {
  const int64_t n = 3 * s->n + 7;
  int64_t *rows = malloc((size_t)n * 8);
  Rng r;
  rng_seed(&r, seed);
  for (int64_t i = 0; i < n; i++) rows[i] = (int64_t)rng_below(&r, (uint64_t)s->n);
  for (int64_t i = 0; i < s->n && i < n; i++) rows[i] = i; /* every row, in order */
  rng_shuffle_i64(&r, rows, n);
  float *out = malloc((size_t)(n * s->feat_elems) * sizeof(float));
  CHECK_OK(store_read_features_f32(s, rows, n, out));
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < s->feat_elems; j++)
      if (out[i * s->feat_elems + j] != expected_f32(s->schema.type, rows[i], j)) {
        if (!bad)
          fprintf(stderr, "row %lld elem %lld: got %.9g expected %.9g\n", (long long)rows[i],
                  (long long)j, out[i * s->feat_elems + j],
                  expected_f32(s->schema.type, rows[i], j));
        bad++;
      }
  CHECK_EQ_INT(bad, 0);
  free(out);
  free(rows);
}

static void check_meta(const Store *s, int64_t row0) {
  int64_t bad = 0;
  for (int64_t i = 0; i < s->n; i++)
    if (s->keys[i] != key_of(row0 + i) || s->timestamps[i] != ts_of(row0 + i) ||
        s->labels[i] != label_of(row0 + i))
      bad++;
  CHECK_EQ_INT(bad, 0);
}

static void test_roundtrip(FeatType type, int ndims, const int64_t *dims) {
  char sub[64];
  snprintf(sub, sizeof sub, "rt_%s", feat_type_name(type));
  const char *dir = path_in(sub);
  StoreSchema sc = {type, ndims, {0}, 5};
  for (int i = 0; i < ndims; i++) sc.dims[i] = dims[i];
  const int64_t sizes[] = {7, 1, 12};
  write_store(dir, &sc, sizes, 3, 0, 0);

  Store s;
  CHECK_OK(store_open(dir, &s));
  CHECK_EQ_INT(s.n, 20);
  CHECK_EQ_INT(s.nshards, 3);
  CHECK_EQ_INT(s.schema.type, type);
  CHECK_EQ_INT(s.schema.ndims, ndims);
  CHECK_EQ_INT(s.schema.num_classes, 5);
  int64_t E = 1;
  for (int i = 0; i < ndims; i++) {
    CHECK_EQ_INT(s.schema.dims[i], dims[i]);
    E *= dims[i];
  }
  CHECK_EQ_INT(s.feat_elems, E);
  CHECK_EQ_INT(s.shards[0].first_row, 0);
  CHECK_EQ_INT(s.shards[1].first_row, 7);
  CHECK_EQ_INT(s.shards[2].first_row, 8);
  CHECK_EQ_INT(s.shards[2].nrows, 12);
  char want[600];
  snprintf(want, sizeof want, "%s/shard_00002.h5", dir);
  CHECK_STR(s.shards[2].path, want);
  check_meta(&s, 0);
  check_reads(&s, 1);
  /* The staging buffer belongs to the HDF5 path (modyn's contiguous shards
   * would take the direct path). 3 samples: reads go in several blocks. */
  store_set_read_path(&s, STORE_READ_HDF5);
  store_set_read_buffer(&s, 3 * E * feat_type_size(type));
  check_reads(&s, 2);
  /* Less than one sample: still works, one row at a time. */
  store_set_read_buffer(&s, 1);
  check_reads(&s, 3);
  store_close(&s);
}

static void test_find_rows(void) {
  const char *dir = path_in("rt_float32");
  Store s;
  CHECK_OK(store_open(dir, &s));
  int64_t keys[] = {key_of(19), key_of(0), key_of(7), key_of(7)}, rows[4];
  CHECK_OK(store_find_rows(&s, keys, 4, rows));
  CHECK_EQ_INT(rows[0], 19);
  CHECK_EQ_INT(rows[1], 0);
  CHECK_EQ_INT(rows[2], 7);
  CHECK_EQ_INT(rows[3], 7);
  int64_t missing[] = {key_of(3), 999};
  CHECK(store_find_rows(&s, missing, 2, rows) == MH_ERR);
  char want[600];
  snprintf(want, sizeof want, "key 999 is not in store %s (20 samples)", dir);
  CHECK_STR(mh_error(), want);
  int64_t badrow[] = {20};
  float out[3];
  CHECK(store_read_features_f32(&s, badrow, 1, out) == MH_ERR);
  snprintf(want, sizeof want, "row 20 is outside store %s (20 samples)", dir);
  CHECK_STR(mh_error(), want);
  CHECK_OK(store_read_features_f32(&s, badrow, 0, out)); /* nothing to read */
  store_close(&s);
}

/* ---- Shards written without our writer ------------------------------- */

typedef struct {
  int n;              /* rows */
  int64_t key0;       /* keys key0.. */
  int version;        /* modyn_schema_version */
  int skip_labels;    /* no /labels */
  int keys_float;     /* /keys as float64 */
  int labels_n;       /* rows of /labels (0: n) */
  int feat_dim;       /* feature_shape [feat_dim] */
  int label_max;      /* labels are i % label_max (0: 3) */
  int chunked;        /* chunked + gzip, like h5py with compression="gzip" */
  int other_ints;     /* big-endian int64 keys, uint32 labels, int32 feature_shape */
  int fixed_str;      /* feature_type as a fixed-length string */
} Raw;

#define H5OK(call)                                                            \
  do {                                                                        \
    if ((long long)(call) < 0) {                                              \
      fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #call);      \
      exit(1);                                                                \
    }                                                                         \
  } while (0)

static void raw_dset(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank,
                     const hsize_t *dims, const void *buf, int chunked) {
  hid_t sp, dcpl, d;
  H5OK(sp = H5Screate_simple(rank, dims, NULL));
  H5OK(dcpl = H5Pcreate(H5P_DATASET_CREATE));
  if (chunked) {
    hsize_t ch[2] = {3, dims[rank - 1]};
    H5OK(H5Pset_chunk(dcpl, rank, ch));
    H5OK(H5Pset_deflate(dcpl, 4));
  }
  H5OK(d = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  H5OK(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
  H5OK(H5Dclose(d));
  H5OK(H5Pclose(dcpl));
  H5OK(H5Sclose(sp));
}

static void raw_attr(hid_t f, const char *name, hid_t ftype, hid_t mtype, int n, const void *v) {
  hsize_t d = (hsize_t)n;
  hid_t sp, a;
  H5OK(sp = n ? H5Screate_simple(1, &d, NULL) : H5Screate(H5S_SCALAR));
  H5OK(a = H5Acreate2(f, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT));
  H5OK(H5Awrite(a, mtype, v));
  H5OK(H5Aclose(a));
  H5OK(H5Sclose(sp));
}

static void raw_write(const char *path, const Raw *r) {
  int n = r->n, D = r->feat_dim ? r->feat_dim : 3;
  int64_t keys[64], ts[64];
  int32_t labels[64];
  double fkeys[64];
  float feats[64 * 8];
  for (int i = 0; i < n; i++) {
    keys[i] = r->key0 + i;
    fkeys[i] = (double)keys[i];
    ts[i] = 10 * i;
    labels[i] = i % (r->label_max ? r->label_max : 3);
    for (int j = 0; j < D; j++) feats[i * D + j] = (float)(i + 0.5 * j);
  }
  hid_t f;
  H5OK(f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  hsize_t dn[2] = {(hsize_t)n, (hsize_t)D}, dl[1] = {(hsize_t)(r->labels_n ? r->labels_n : n)};
  if (r->keys_float)
    raw_dset(f, "keys", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dn, fkeys, 0);
  else
    raw_dset(f, "keys", r->other_ints ? H5T_STD_I64BE : H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dn,
             keys, r->chunked);
  raw_dset(f, "timestamps", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dn, ts, r->chunked);
  if (!r->skip_labels)
    raw_dset(f, "labels", r->other_ints ? H5T_STD_U32LE : H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dl,
             labels, r->chunked);
  raw_dset(f, "features", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dn, feats, r->chunked);
  int32_t ver = r->version ? r->version : 1, ncls = 3, shape32 = D;
  int64_t shape = D;
  raw_attr(f, "modyn_schema_version", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, &ver);
  hid_t st;
  H5OK(st = H5Tcopy(H5T_C_S1));
  if (r->fixed_str) {
    H5OK(H5Tset_size(st, 7));
    H5OK(H5Tset_strpad(st, H5T_STR_NULLPAD));
    raw_attr(f, "feature_type", st, st, 0, "float32");
  } else {
    const char *v = "float32";
    H5OK(H5Tset_size(st, H5T_VARIABLE));
    raw_attr(f, "feature_type", st, st, 0, &v);
  }
  H5OK(H5Tclose(st));
  if (r->other_ints)
    raw_attr(f, "feature_shape", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, &shape32);
  else
    raw_attr(f, "feature_shape", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &shape);
  raw_attr(f, "num_classes", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, &ncls);
  H5OK(H5Fclose(f));
}

/* A fresh store directory with the given raw shards. */
static const char *raw_store(const char *sub, const Raw *shards, int count) {
  const char *dir = path_in(sub);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
  if (system(cmd) != 0) exit(1);
  for (int i = 0; i < count; i++) {
    char p[600];
    snprintf(p, sizeof p, "%s/shard_%05d.h5", dir, i);
    raw_write(p, &shards[i]);
  }
  return dir;
}

static void expect_open_error(const char *dir, const char *want) {
  Store s;
  int rc = store_open(dir, &s);
  CHECK(rc == MH_ERR);
  CHECK_STR(mh_error(), want);
  CHECK(s.priv == NULL && s.keys == NULL); /* cleaned up */
}

static void test_foreign_layouts(void) {
  /* Chunked + gzip, big-endian/unsigned integer types, fixed-length string. */
  Raw a = {.n = 10, .key0 = 0, .chunked = 1}, b = {.n = 5, .key0 = 10, .other_ints = 1, .fixed_str = 1};
  Raw both[2] = {a, b};
  const char *dir = raw_store("foreign", both, 2);
  Store s;
  CHECK_OK(store_open(dir, &s));
  CHECK_EQ_INT(s.n, 15);
  CHECK_EQ_INT(s.schema.dims[0], 3);
  CHECK_EQ_INT(s.keys[12], 12);
  CHECK_EQ_INT(s.timestamps[12], 20);
  CHECK_EQ_INT(s.labels[11], 1);
  int64_t rows[] = {14, 2, 3, 4, 9, 10, 2};
  float out[7 * 3];
  CHECK_OK(store_read_features_f32(&s, rows, 7, out));
  int bad = 0;
  for (int i = 0; i < 7; i++) {
    int64_t local = rows[i] < 10 ? rows[i] : rows[i] - 10;
    for (int j = 0; j < 3; j++)
      if (out[i * 3 + j] != (float)(local + 0.5 * j)) bad++;
  }
  CHECK_EQ_INT(bad, 0);
  store_close(&s);
}

static void test_schema_errors(void) {
  char want[2048], p0[600], p1[600];
  const char *dir;

  Raw missing = {.n = 10, .skip_labels = 1};
  dir = raw_store("bad_missing", &missing, 1);
  snprintf(p0, sizeof p0, "%s/shard_00000.h5", dir);
  snprintf(want, sizeof want,
           "%s: dataset /labels is missing (a shard needs /keys, /timestamps, /labels and "
           "/features); " FIX,
           p0);
  expect_open_error(dir, want);

  Raw dtype = {.n = 10, .keys_float = 1};
  dir = raw_store("bad_dtype", &dtype, 1);
  snprintf(p0, sizeof p0, "%s/shard_00000.h5", dir);
  snprintf(want, sizeof want, "%s: /keys has type float64 but must be a 64-bit integer; " FIX, p0);
  expect_open_error(dir, want);

  Raw version = {.n = 10, .version = 2};
  dir = raw_store("bad_version", &version, 1);
  snprintf(p0, sizeof p0, "%s/shard_00000.h5", dir);
  snprintf(want, sizeof want,
           "%s: attribute modyn_schema_version is 2 but this modyn reads version 1; convert the "
           "store to version 1 (see the README) or use a matching modyn",
           p0);
  expect_open_error(dir, want);

  Raw lengths = {.n = 10, .labels_n = 9};
  dir = raw_store("bad_lengths", &lengths, 1);
  snprintf(p0, sizeof p0, "%s/shard_00000.h5", dir);
  snprintf(want, sizeof want, "%s: /labels has 9 rows but /keys has 10; " FIX, p0);
  expect_open_error(dir, want);

  Raw shapes[2] = {{.n = 4, .key0 = 0, .feat_dim = 3}, {.n = 4, .key0 = 4, .feat_dim = 4}};
  dir = raw_store("bad_shapes", shapes, 2);
  snprintf(p0, sizeof p0, "%s/shard_00000.h5", dir);
  snprintf(p1, sizeof p1, "%s/shard_00001.h5", dir);
  snprintf(want, sizeof want,
           "%s: feature_shape is [4] but %s has [3]; all shards of a store must share one schema "
           "(feature_type, feature_shape, num_classes)",
           p1, p0);
  expect_open_error(dir, want);

  Raw dups[2] = {{.n = 8, .key0 = 0}, {.n = 4, .key0 = 5}};
  dir = raw_store("bad_dups", dups, 2);
  snprintf(p0, sizeof p0, "%s/shard_00000.h5", dir);
  snprintf(p1, sizeof p1, "%s/shard_00001.h5", dir);
  snprintf(want, sizeof want,
           "%s: key 5 appears twice: %s row 5 and %s row 0; keys must be unique across the store "
           "(modyn ingest --key-start sets the first key)",
           dir, p0, p1);
  expect_open_error(dir, want);

  Raw labels = {.n = 6, .label_max = 4}; /* labels up to 3, num_classes 3 */
  dir = raw_store("bad_labels", &labels, 1);
  snprintf(p0, sizeof p0, "%s/shard_00000.h5", dir);
  snprintf(want, sizeof want,
           "%s: /labels[3] is 3, outside [0, num_classes) with num_classes = 3; fix the labels or "
           "num_classes",
           p0);
  expect_open_error(dir, want);

  /* Not an HDF5 file. */
  dir = raw_store("bad_nothdf5", NULL, 0);
  snprintf(p0, sizeof p0, "%s/shard_00000.h5", dir);
  FILE *f = fopen(p0, "w");
  fputs("hello\n", f);
  fclose(f);
  snprintf(want, sizeof want, "%s is not an HDF5 file; remove it or " FIX, p0);
  expect_open_error(dir, want);

  /* Missing and empty directories. */
  snprintf(want, sizeof want, "cannot open store %s: No such file or directory", path_in("nope"));
  expect_open_error(path_in("nope"), want);
  dir = raw_store("empty", NULL, 0);
  snprintf(want, sizeof want,
           "cannot open store %s: no shard_*.h5 files in %s; create a store with 'modyn synth' "
           "or 'modyn ingest'",
           dir, dir);
  expect_open_error(dir, want);
}

static void test_refresh_and_append(void) {
  const char *dir = path_in("grow");
  StoreSchema sc = {FEAT_F32, 1, {2}, 5};
  const int64_t first[] = {6, 4};
  write_store(dir, &sc, first, 2, 0, 0);
  Store s;
  CHECK_OK(store_open(dir, &s));
  CHECK_EQ_INT(s.n, 10);
  int64_t added = -1;
  CHECK_OK(store_refresh(&s, &added));
  CHECK_EQ_INT(added, 0);

  /* Writing into a store without append is refused. */
  StoreWriter w;
  CHECK(store_writer_open(dir, &sc, 0, &w) == MH_ERR);
  char want[1200];
  snprintf(want, sizeof want,
           "%s already holds a store (2 shard files, e.g. shard_00000.h5); write to a new "
           "directory or remove its shard files",
           dir);
  CHECK_STR(mh_error(), want);
  /* Appending with another schema is refused. */
  StoreSchema other = {FEAT_F32, 1, {3}, 5};
  CHECK(store_writer_open(dir, &other, 1, &w) == MH_ERR);
  snprintf(want, sizeof want,
           "cannot append to %s: the new data: feature_shape is [3] but %s/shard_00000.h5 has "
           "[2]; all shards of a store must share one schema (feature_type, feature_shape, "
           "num_classes)",
           dir, dir);
  CHECK_STR(mh_error(), want);

  /* Append two shards; a stale .tmp file is ignored. */
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s/shard_00009.h5.tmp", dir);
  FILE *f = fopen(tmp, "w");
  fputs("half-written", f);
  fclose(f);
  const int64_t more[] = {3, 5};
  write_store(dir, &sc, more, 2, 1, 10);
  int unloaded = -1;
  CHECK_OK(store_unloaded_shards(&s, &unloaded));
  CHECK_EQ_INT(unloaded, 2);
  /* Up to 3 shards: the fourth waits (every rank of a followed run loads
   * the shards rank 0 saw, not one that came since). */
  CHECK_OK(store_refresh_to(&s, 3, &added));
  CHECK_EQ_INT(added, 3);
  CHECK_EQ_INT(s.nshards, 3);
  CHECK_OK(store_unloaded_shards(&s, &unloaded));
  CHECK_EQ_INT(unloaded, 1);
  CHECK_OK(store_refresh(&s, &added));
  CHECK_EQ_INT(added, 5);
  CHECK_EQ_INT(s.n, 18);
  CHECK_EQ_INT(s.nshards, 4);
  CHECK_OK(store_unloaded_shards(&s, &unloaded));
  CHECK_EQ_INT(unloaded, 0);
  /* More shards than there are: one was removed. */
  CHECK(store_refresh_to(&s, 5, &added) == MH_ERR);
  snprintf(want, sizeof want,
           "%s: 5 shard files were expected, but only 4 are there; was a shard removed while a "
           "pipeline ran?",
           dir);
  CHECK_STR(mh_error(), want);
  CHECK_EQ_INT(s.shards[3].first_row, 13);
  check_meta(&s, 0);
  check_reads(&s, 4);
  int64_t k = key_of(17), row = -1;
  CHECK_OK(store_find_rows(&s, &k, 1, &row));
  CHECK_EQ_INT(row, 17);

  /* A new shard that repeats a key: refresh fails and the store is unchanged. */
  StoreWriter w2;
  CHECK_OK(store_writer_open(dir, &sc, 1, &w2));
  CHECK_EQ_INT(w2.next_shard, 4);
  int64_t dk[1] = {key_of(3)}, dt[1] = {500};
  int32_t dl[1] = {0};
  float df[2] = {0, 0};
  CHECK_OK(store_write_shard(&w2, 1, dk, dt, dl, df));
  CHECK(store_refresh(&s, &added) == MH_ERR);
  snprintf(want, sizeof want,
           "%s: key %lld appears twice: %s/shard_00000.h5 row 3 and %s/shard_00004.h5 row 0; keys "
           "must be unique across the store (modyn ingest --key-start sets the first key)",
           dir, (long long)key_of(3), dir, dir);
  CHECK_STR(mh_error(), want);
  CHECK_EQ_INT(s.n, 18);
  CHECK_EQ_INT(s.nshards, 4);
  check_reads(&s, 5);
  store_close(&s);
}

/* A new shard must sort after the loaded ones; a loaded shard that is gone
 * from the directory is not an error (its rows stay). */
static void test_refresh_order(void) {
  const char *dir = path_in("order");
  StoreSchema sc = {FEAT_F32, 1, {2}, 5};
  const int64_t sizes[] = {2, 3, 4};
  write_store(dir, &sc, sizes, 3, 0, 0);
  char one[600], held[600], zero[600];
  snprintf(one, sizeof one, "%s/shard_00001.h5", dir);
  snprintf(held, sizeof held, "%s/held.h5", dir);
  snprintf(zero, sizeof zero, "%s/shard_00000.h5", dir);
  CHECK(rename(one, held) == 0);
  Store s;
  CHECK_OK(store_open(dir, &s));
  CHECK_EQ_INT(s.nshards, 2);
  CHECK(rename(held, one) == 0);
  int64_t added = -1;
  int unloaded = -1;
  CHECK_OK(store_unloaded_shards(&s, &unloaded));
  CHECK_EQ_INT(unloaded, 1);
  CHECK(store_refresh(&s, &added) == MH_ERR);
  char want[1200];
  snprintf(want, sizeof want,
           "%s: new shard shard_00001.h5 sorts before shard_00002.h5, which is already loaded; "
           "new shards must continue the numbering (modyn ingest --append does)",
           dir);
  CHECK_STR(mh_error(), want);
  CHECK(remove(one) == 0);
  CHECK(remove(zero) == 0);
  CHECK_OK(store_refresh(&s, &added));
  CHECK_EQ_INT(added, 0);
  CHECK_OK(store_unloaded_shards(&s, &unloaded));
  CHECK_EQ_INT(unloaded, 0);
  CHECK_EQ_INT(s.n, 6);
  store_close(&s);
}

static void test_writer_errors(void) {
  const char *dir = path_in("werr");
  StoreSchema sc = {FEAT_F32, 1, {1}, 2};
  StoreWriter w;
  CHECK_OK(store_writer_open(dir, &sc, 0, &w));
  int64_t k[3] = {0, 1, 2}, t[3] = {5, 4, 6};
  int32_t l[3] = {0, 1, 0};
  float f[3] = {0, 0, 0};
  char want[1200];
  CHECK(store_write_shard(&w, 3, k, t, l, f) == MH_ERR);
  snprintf(want, sizeof want,
           "%s: rows of a shard must be in timestamp order, but row 1 (4) follows row 0 (5)", dir);
  CHECK_STR(mh_error(), want);
  t[1] = 5;
  l[2] = 2;
  CHECK(store_write_shard(&w, 3, k, t, l, f) == MH_ERR);
  snprintf(want, sizeof want, "%s: label 2 of row 2 is outside [0, 2)", dir);
  CHECK_STR(mh_error(), want);
  StoreSchema bad = {FEAT_F32, 0, {0}, 2};
  CHECK(store_writer_open(dir, &bad, 0, &w) == MH_ERR);
  CHECK_STR(mh_error(), "store schema: features need 1 to 4 dims per sample, got 0");

  /* A full disk, simulated with a file size limit: the write fails with a
   * message naming the file, and neither the shard nor its .tmp is left. */
  const char *full = path_in("full");
  StoreSchema big = {FEAT_F32, 1, {1024}, 2};
  CHECK_OK(store_writer_open(full, &big, 0, &w));
  const int64_t n = 256; /* 1 MiB of features */
  int64_t *kk = calloc(n, 8), *tt = calloc(n, 8);
  int32_t *ll = calloc(n, 4);
  float *ff = calloc((size_t)n * 1024, 4);
  for (int64_t i = 0; i < n; i++) kk[i] = i;
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  lim = old;
  lim.rlim_cur = 64 * 1024;
  signal(SIGXFSZ, SIG_IGN);
  CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  int rc = store_write_shard(&w, n, kk, tt, ll, ff);
  setrlimit(RLIMIT_FSIZE, &old);
  CHECK(rc == MH_ERR);
  char prefix[700];
  snprintf(prefix, sizeof prefix, "cannot write %s/shard_00000.h5: ", full);
  CHECK(strncmp(mh_error(), prefix, strlen(prefix)) == 0);
  CHECK(strstr(mh_error(), "; the disk may be full or the directory not writable") != NULL);
  fprintf(stderr, "(full disk message: %s)\n", mh_error());
  char p[700];
  struct stat st;
  snprintf(p, sizeof p, "%s/shard_00000.h5", full);
  CHECK(stat(p, &st) != 0);
  snprintf(p, sizeof p, "%s/shard_00000.h5.tmp", full);
  CHECK(stat(p, &st) != 0);
  /* With room again the same writer succeeds. */
  CHECK_OK(store_write_shard(&w, n, kk, tt, ll, ff));
  free(kk);
  free(tt);
  free(ll);
  free(ff);
}

/* The documented checksum, built here from the test's own arrays: the
 * bytes of keys, timestamps, labels and features, then the schema as int64
 * {type code, num_classes, k, d1..dk}. */
static uint64_t expected_checksum(const StoreSchema *sc, int64_t n, int64_t row0) {
  int64_t E = 1;
  for (int i = 0; i < sc->ndims; i++) E *= sc->dims[i];
  int64_t *k = malloc((size_t)n * 8), *t = malloc((size_t)n * 8);
  int32_t *l = malloc((size_t)n * 4);
  float *f = malloc((size_t)(n * E * 4));
  for (int64_t i = 0; i < n; i++) {
    k[i] = key_of(row0 + i);
    t[i] = ts_of(row0 + i);
    l[i] = label_of(row0 + i);
    for (int64_t j = 0; j < E; j++) f[i * E + j] = f32_of(row0 + i, j);
  }
  uint64_t h = mh_checksum(k, (size_t)n * 8, 0);
  h = mh_checksum(t, (size_t)n * 8, h);
  h = mh_checksum(l, (size_t)n * 4, h);
  h = mh_checksum(f, (size_t)(n * E * 4), h);
  int64_t rec[3 + STORE_MAX_DIMS] = {sc->type, sc->num_classes, sc->ndims};
  for (int i = 0; i < sc->ndims; i++) rec[3 + i] = sc->dims[i];
  h = mh_checksum(rec, (size_t)(3 + sc->ndims) * 8, h);
  free(k);
  free(t);
  free(l);
  free(f);
  return h;
}

/* Verify every shard; statuses into st[], the stored sums into sum[]. */
static void verify_all(const char *dir, int n, ShardCheck *st, uint64_t *sum, char *first_err,
                       size_t cap) {
  Store s;
  CHECK_OK(store_open(dir, &s));
  CHECK_EQ_INT(s.nshards, n);
  first_err[0] = '\0';
  for (int i = 0; i < n && i < s.nshards; i++) {
    uint64_t computed;
    int64_t bytes;
    int rc = store_verify_shard(&s, i, &st[i], &sum[i], &computed, &bytes);
    CHECK_EQ_INT(rc, st[i] == SHARD_BAD ? MH_ERR : MH_OK);
    CHECK_EQ_INT(bytes, s.shards[i].nrows * (20 + 4 * s.feat_elems));
    if (st[i] == SHARD_OK) CHECK(computed == sum[i]);
    if (rc && !first_err[0]) snprintf(first_err, cap, "%s", mh_error());
  }
  store_close(&s);
}

/* Byte offset of a dataset's first element in a contiguous shard. */
static int64_t dset_offset(const char *path, const char *name) {
  hid_t f, d;
  H5OK(f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT));
  H5OK(d = H5Dopen2(f, name, H5P_DEFAULT));
  haddr_t off = H5Dget_offset(d);
  H5Dclose(d);
  H5Fclose(f);
  return (int64_t)off;
}

static void flip_byte(const char *path, int64_t off) {
  FILE *fp = fopen(path, "r+b");
  CHECK(fp != NULL);
  if (!fp) return;
  fseek(fp, (long)off, SEEK_SET);
  int c = fgetc(fp);
  fseek(fp, (long)off, SEEK_SET);
  fputc(c ^ 0x10, fp);
  fclose(fp);
}

/* Shard checksums: written with the documented value, verified on both
 * read paths, a flipped feature byte or a changed num_classes found and the
 * shard named, stores without the attribute still open. */
static void test_checksums(void) {
  StoreSchema sc = {.type = FEAT_F32, .ndims = 1, .dims = {3}, .num_classes = 6};
  const int64_t sizes[] = {4, 3};
  const char *dir = path_in("sums");
  char cmd[600], err[2048], p1[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
  write_store(dir, &sc, sizes, 2, 0, 0);
  ShardCheck st[2];
  uint64_t sum[2];
  verify_all(dir, 2, st, sum, err, sizeof err);
  CHECK_EQ_INT(st[0], SHARD_OK);
  CHECK_EQ_INT(st[1], SHARD_OK);
  CHECK(sum[0] == expected_checksum(&sc, 4, 0));
  CHECK(sum[1] == expected_checksum(&sc, 3, 4));

  /* A flipped bit in row 1 of shard 1's features: the store still opens
   * (features are not read at open), verification names the shard. */
  snprintf(p1, sizeof p1, "%s/shard_00001.h5", dir);
  flip_byte(p1, dset_offset(p1, "features") + 1 * 12 + 5);
  verify_all(dir, 2, st, sum, err, sizeof err);
  CHECK_EQ_INT(st[0], SHARD_OK);
  CHECK_EQ_INT(st[1], SHARD_BAD);
  char want[2048];
  snprintf(want, sizeof want, "%s is damaged: its contents give checksum", p1);
  CHECK(strncmp(err, want, strlen(want)) == 0);
  CHECK(strstr(err, "restore the file from a copy") != NULL);
  flip_byte(p1, dset_offset(p1, "features") + 1 * 12 + 5); /* undo */

  /* num_classes 6 -> 7 (labels still in range, so the store opens): the
   * schema is part of the checksum. */
  hid_t f, a;
  int32_t seven = 7;
  H5OK(f = H5Fopen(p1, H5F_ACC_RDWR, H5P_DEFAULT));
  H5OK(a = H5Aopen(f, "num_classes", H5P_DEFAULT));
  H5OK(H5Awrite(a, H5T_NATIVE_INT32, &seven));
  H5Aclose(a);
  H5Fclose(f);
  snprintf(cmd, sizeof cmd, "rm -f '%s/shard_00000.h5'", dir); /* the schemas differ now */
  CHECK(system(cmd) == 0);
  verify_all(dir, 1, st, sum, err, sizeof err);
  CHECK_EQ_INT(st[0], SHARD_BAD);

  /* No attribute (a store from before checksums): opens, not verified. */
  H5OK(f = H5Fopen(p1, H5F_ACC_RDWR, H5P_DEFAULT));
  H5OK(H5Adelete(f, STORE_CHECKSUM_ATTR));
  H5Fclose(f);
  verify_all(dir, 1, st, sum, err, sizeof err);
  CHECK_EQ_INT(st[0], SHARD_NO_CHECKSUM);

  /* Another tool's chunked, compressed shard (the HDF5 read path) with the
   * documented checksum added: verifies; a wrong value does not. */
  Raw r = {.n = 10, .key0 = 0, .chunked = 1};
  const char *rdir = raw_store("sums_raw", &r, 1);
  int64_t keys[10], ts[10];
  int32_t labels[10];
  float feats[30];
  for (int i = 0; i < 10; i++) {
    keys[i] = i;
    ts[i] = 10 * i;
    labels[i] = i % 3;
    for (int j = 0; j < 3; j++) feats[i * 3 + j] = (float)(i + 0.5 * j);
  }
  uint64_t h = mh_checksum(keys, sizeof keys, 0);
  h = mh_checksum(ts, sizeof ts, h);
  h = mh_checksum(labels, sizeof labels, h);
  h = mh_checksum(feats, sizeof feats, h);
  int64_t rec[4] = {FEAT_F32, 3, 1, 3};
  h = mh_checksum(rec, sizeof rec, h);
  char rp[700];
  snprintf(rp, sizeof rp, "%s/shard_00000.h5", rdir);
  H5OK(f = H5Fopen(rp, H5F_ACC_RDWR, H5P_DEFAULT));
  raw_attr(f, STORE_CHECKSUM_ATTR, H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &h);
  H5Fclose(f);
  verify_all(rdir, 1, st, sum, err, sizeof err);
  CHECK_EQ_INT(st[0], SHARD_OK);
  CHECK(sum[0] == h);
  h ^= 1;
  H5OK(f = H5Fopen(rp, H5F_ACC_RDWR, H5P_DEFAULT));
  H5OK(a = H5Aopen(f, STORE_CHECKSUM_ATTR, H5P_DEFAULT));
  H5OK(H5Awrite(a, H5T_NATIVE_UINT64, &h));
  H5Aclose(a);
  H5Fclose(f);
  verify_all(rdir, 1, st, sum, err, sizeof err);
  CHECK_EQ_INT(st[0], SHARD_BAD);
}

int main(void) {
  mh_hdf5_quiet();
  test_set_root(test_tmpdir("store"));
  const int64_t d1[] = {3}, d3[] = {1, 2, 3}, d2[] = {2, 2};
  test_roundtrip(FEAT_F32, 1, d1);
  test_roundtrip(FEAT_U8, 3, d3);
  test_roundtrip(FEAT_I32, 2, d2);
  test_find_rows();
  test_foreign_layouts();
  test_schema_errors();
  test_refresh_and_append();
  test_refresh_order();
  test_writer_errors();
  test_checksums();
  return test_finish("test_store");
}

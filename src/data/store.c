/* store.c - see store.h.
 *
 * Reading: every shard is opened once (read-only) and stays open; its
 * /features dataset and dataspace are kept in priv so that feature reads are
 * one hyperslab selection + H5Dread per run of consecutive rows. The arrays
 * of the small per-sample metadata (keys, timestamps, labels) are loaded
 * whole. Any HDF5 layout works for reading (contiguous, chunked, compressed
 * with a filter HDF5 has built in, e.g. gzip from h5py).
 *
 * Writing: each shard goes to NAME.tmp, is flushed to disk and renamed, so a
 * reader (possibly another job following the store) never sees a
 * half-written shard. We write /features contiguous (no chunking): a later
 * fast read path locates rows with H5Dget_offset and reads them with pread.
 * Each shard records a checksum of its contents (modyn_checksum), computed
 * from the buffers as they are written; store_verify_shard checks it. */
#include "data/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/sort.h"

/* What users are told to do about a malformed shard. */
#define SHARD_FIX "rewrite the shard (the layout is in the README, section Data)"
/* Feature reads go through a staging buffer of at most this many bytes. */
#define STAGING_BYTES ((int64_t)64 << 20)

/* ------------------------------------------------------------------------ */
/* Types                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
  hid_t file;  /* shard file, opened read-only */
  hid_t feats; /* its /features dataset */
  hid_t space; /* dataspace of /features (reused for hyperslab selections) */
  /* Direct path: for contiguous, unfiltered /features in native byte order,
   * the file is mapped read-only and rows are copied straight from the
   * mapping (no HDF5 call per read). NULL when the shard needs HDF5. */
  const unsigned char *map; /* whole file */
  size_t map_len;
  const unsigned char *feat; /* map + offset of /features */
} ShardHandles;

typedef struct {
  ShardHandles *h;       /* [nshards], parallel to Store.shards */
  int64_t staging_bytes; /* cap on the feature read buffer */
  int direct;            /* 1 when every shard has the direct path */
  int dense;             /* keys are exactly key_min .. key_min + n - 1 */
  int64_t *sorted_keys;  /* [n] keys in key order, when not dense (lookups) */
  int64_t key_min;       /* smallest key */
  int force_hdf5;        /* store_set_read_path(s, STORE_READ_HDF5) */
} StorePriv;

/* The Debian HDF5 build is not thread-safe: reads through HDF5 from
 * prefetch threads take this lock. The direct path needs none. */
static pthread_mutex_t g_h5_lock = PTHREAD_MUTEX_INITIALIZER;

/* One shard read and checked on its own, before it joins a store. */
typedef struct {
  char path[1024];
  ShardHandles h;
  StoreSchema schema;
  int64_t n;
  int64_t *keys;
  int64_t *timestamps;
  int32_t *labels;
} ShardLoad;

const char *feat_type_name(FeatType t) {
  switch (t) {
    case FEAT_F32: return "float32";
    case FEAT_U8: return "uint8";
    case FEAT_I32: return "int32";
  }
  return "?";
}

int feat_type_size(FeatType t) {
  switch (t) {
    case FEAT_F32: return 4;
    case FEAT_U8: return 1;
    case FEAT_I32: return 4;
  }
  return 0;
}

static int feat_type_parse(const char *s, FeatType *t) {
  for (int i = 0; i <= FEAT_I32; i++) {
    if (!strcmp(s, feat_type_name((FeatType)i))) {
      *t = (FeatType)i;
      return MH_OK;
    }
  }
  return MH_ERR;
}

static void handles_close(ShardHandles *h) {
  if (h->map) munmap((void *)h->map, h->map_len);
  h->map = h->feat = NULL;
  /* Reverse order of opening. */
  if (h->space >= 0) H5Sclose(h->space);
  if (h->feats >= 0) H5Dclose(h->feats);
  if (h->file >= 0) H5Fclose(h->file);
  h->space = h->feats = h->file = -1;
}

static void shard_load_free(ShardLoad *L) {
  handles_close(&L->h);
  free(L->keys);
  free(L->timestamps);
  free(L->labels);
  L->keys = L->timestamps = NULL;
  L->labels = NULL;
}

/* "[1, 28, 28]" */
static void dims_str(const int64_t *d, int n, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = '\0';
  len += (size_t)snprintf(buf + len, cap - len, "[");
  for (int i = 0; i < n && len < cap; i++)
    len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? ", " : "", (long long)d[i]);
  if (len < cap) snprintf(buf + len, cap - len, "]");
}

/* A short name for an HDF5 datatype, for error messages. */
static void type_desc(hid_t t, char *buf, size_t cap) {
  size_t bits = H5Tget_size(t) * 8;
  switch (H5Tget_class(t)) {
    case H5T_INTEGER:
      snprintf(buf, cap, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", bits);
      break;
    case H5T_FLOAT: snprintf(buf, cap, "float%zu", bits); break;
    case H5T_STRING: snprintf(buf, cap, "string"); break;
    case H5T_COMPOUND: snprintf(buf, cap, "compound"); break;
    case H5T_ENUM: snprintf(buf, cap, "enum"); break;
    case H5T_ARRAY: snprintf(buf, cap, "array"); break;
    default: snprintf(buf, cap, "an unsupported type"); break;
  }
}

/* ------------------------------------------------------------------------ */
/* Reading one shard                                                        */
/* ------------------------------------------------------------------------ */

/* Open an attribute that must exist; *a < 0 with an error recorded if not. */
static int attr_open(hid_t file, const char *path, const char *name, hid_t *a) {
  *a = -1;
  htri_t ex = H5Aexists(file, name);
  if (ex < 0) {
    mh_h5_error("H5Aexists", __FILE__, __LINE__);
    return mh_error_context("%s", path);
  }
  if (ex == 0)
    return mh_errorf("%s: root attribute %s is missing; %s", path, name, SHARD_FIX);
  *a = H5Aopen(file, name, H5P_DEFAULT);
  if (*a < 0) {
    mh_h5_error("H5Aopen", __FILE__, __LINE__);
    return mh_error_context("%s", path);
  }
  return MH_OK;
}

/* An integer attribute (scalar or 1-D, any integer type) read as int64. */
static int attr_read_ints(hid_t file, const char *path, const char *name, int64_t *vals, int maxn,
                          int *count) {
  hid_t a, t = -1, sp = -1;
  MH_TRY(attr_open(file, path, name, &a));
  int rc = MH_OK;
  char td[32];
  if ((t = H5Aget_type(a)) < 0 || (sp = H5Aget_space(a)) < 0) {
    rc = mh_h5_error("H5Aget_type/H5Aget_space", __FILE__, __LINE__);
    mh_error_context("%s: attribute %s", path, name);
    goto done;
  }
  if (H5Tget_class(t) != H5T_INTEGER) {
    type_desc(t, td, sizeof td);
    rc = mh_errorf("%s: attribute %s has type %s but must be an integer; %s", path, name, td,
                   SHARD_FIX);
    goto done;
  }
  hssize_t np = H5Sget_simple_extent_npoints(sp);
  int nd = H5Sget_simple_extent_ndims(sp);
  if (np < 0 || nd < 0 || nd > 1) {
    rc = mh_errorf("%s: attribute %s must be a scalar or a 1-D array; %s", path, name, SHARD_FIX);
    goto done;
  }
  if (np > maxn) {
    rc = mh_errorf("%s: attribute %s has %lld values, at most %d are allowed; %s", path, name,
                   (long long)np, maxn, SHARD_FIX);
    goto done;
  }
  if (np > 0 && H5Aread(a, H5T_NATIVE_INT64, vals) < 0) {
    rc = mh_h5_error("H5Aread", __FILE__, __LINE__);
    mh_error_context("%s: attribute %s", path, name);
    goto done;
  }
  *count = (int)np;
done:
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  H5Aclose(a);
  return rc;
}

/* A string attribute, fixed-length (C writers, numpy bytes) or
 * variable-length (h5py's default for str). */
static int attr_read_string(hid_t file, const char *path, const char *name, char *out,
                            size_t cap) {
  hid_t a, t = -1, mt = -1;
  MH_TRY(attr_open(file, path, name, &a));
  int rc = MH_OK;
  char td[32];
  if ((t = H5Aget_type(a)) < 0) {
    rc = mh_h5_error("H5Aget_type", __FILE__, __LINE__);
    goto done;
  }
  if (H5Tget_class(t) != H5T_STRING) {
    type_desc(t, td, sizeof td);
    rc = mh_errorf("%s: attribute %s has type %s but must be a string; %s", path, name, td,
                   SHARD_FIX);
    goto done;
  }
  htri_t vl = H5Tis_variable_str(t);
  if (vl < 0 || (mt = H5Tcopy(H5T_C_S1)) < 0) {
    rc = mh_h5_error("H5Tis_variable_str/H5Tcopy", __FILE__, __LINE__);
    goto done;
  }
  if (H5Tset_cset(mt, H5Tget_cset(t)) < 0) {
    rc = mh_h5_error("H5Tset_cset", __FILE__, __LINE__);
    goto done;
  }
  if (vl > 0) {
    char *s = NULL;
    if (H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Aread(a, mt, &s) < 0) {
      rc = mh_h5_error("H5Aread", __FILE__, __LINE__);
      goto done;
    }
    snprintf(out, cap, "%s", s ? s : "");
    H5free_memory(s);
  } else {
    size_t sz = H5Tget_size(t);
    char *buf = mh_malloc(sz + 1);
    if (!buf) {
      rc = MH_ERR;
      goto done;
    }
    if (H5Tset_size(mt, sz + 1) < 0 || H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0 ||
        H5Aread(a, mt, buf) < 0) {
      rc = mh_h5_error("H5Aread", __FILE__, __LINE__);
      free(buf);
      goto done;
    }
    buf[sz] = '\0';
    snprintf(out, cap, "%s", buf);
    free(buf);
  }
done:
  if (rc) mh_error_context("%s: attribute %s", path, name);
  if (mt >= 0) H5Tclose(mt);
  if (t >= 0) H5Tclose(t);
  H5Aclose(a);
  return rc;
}

/* The datatype a dataset must have. */
typedef struct {
  H5T_class_t cls;
  size_t size;
  int need_unsigned; /* 1: must be unsigned (uint8 features) */
  const char *desc;  /* "a 64-bit integer" */
} TypeRule;

/* Open a required dataset and check its type; returns its dims. */
static int dset_open(hid_t file, const char *path, const char *name, const TypeRule *rule,
                     hid_t *d, int *rank, hsize_t *dims) {
  *d = -1;
  htri_t ex = H5Lexists(file, name, H5P_DEFAULT);
  if (ex < 0) {
    mh_h5_error("H5Lexists", __FILE__, __LINE__);
    return mh_error_context("%s", path);
  }
  if (ex == 0)
    return mh_errorf("%s: dataset %s is missing (a shard needs /keys, /timestamps, /labels "
                     "and /features); %s",
                     path, name, SHARD_FIX);
  *d = H5Dopen2(file, name, H5P_DEFAULT);
  if (*d < 0) {
    mh_h5_error("H5Dopen2", __FILE__, __LINE__);
    return mh_error_context("%s: %s is not a readable dataset", path, name);
  }
  hid_t t = H5Dget_type(*d), sp = H5Dget_space(*d);
  int rc = MH_OK;
  if (t < 0 || sp < 0) {
    rc = mh_h5_error("H5Dget_type/H5Dget_space", __FILE__, __LINE__);
    mh_error_context("%s: %s", path, name);
  } else if (H5Tget_class(t) != rule->cls || H5Tget_size(t) != rule->size ||
             (rule->need_unsigned && H5Tget_sign(t) != H5T_SGN_NONE)) {
    char td[32];
    type_desc(t, td, sizeof td);
    rc = mh_errorf("%s: %s has type %s but must be %s; %s", path, name, td, rule->desc,
                   SHARD_FIX);
  } else {
    *rank = H5Sget_simple_extent_ndims(sp);
    if (*rank < 1 || *rank > STORE_MAX_DIMS + 1 ||
        H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
      rc = mh_errorf("%s: %s has %d dimensions; at most %d are supported; %s", path, name, *rank,
                     STORE_MAX_DIMS + 1, SHARD_FIX);
    }
  }
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  if (rc) {
    H5Dclose(*d);
    *d = -1;
  }
  return rc;
}

/* Read a 1-D metadata dataset (keys, timestamps, labels) of length n. */
static int read_meta(hid_t file, const char *path, const char *name, const TypeRule *rule,
                     hid_t memtype, size_t elem, int64_t want_n, int64_t *got_n, void **buf) {
  hid_t d;
  int rank = 0;
  hsize_t dims[STORE_MAX_DIMS + 1] = {0};
  MH_TRY(dset_open(file, path, name, rule, &d, &rank, dims));
  int rc = MH_OK;
  *buf = NULL;
  if (rank != 1) {
    rc = mh_errorf("%s: %s has %d dimensions but must be 1-D [N]; %s", path, name, rank,
                   SHARD_FIX);
  } else if (want_n >= 0 && (int64_t)dims[0] != want_n) {
    rc = mh_errorf("%s: %s has %lld rows but /keys has %lld; %s", path, name,
                   (long long)dims[0], (long long)want_n, SHARD_FIX);
  } else if (!(*buf = mh_malloc((size_t)dims[0] * elem))) {
    rc = MH_ERR;
  } else if (dims[0] > 0 && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *buf) < 0) {
    rc = mh_h5_error("H5Dread", __FILE__, __LINE__);
    mh_error_context("%s: reading %s", path, name);
  }
  if (rc) {
    free(*buf);
    *buf = NULL;
  }
  *got_n = (int64_t)dims[0];
  H5Dclose(d);
  return rc;
}

/* Open one shard, read its attributes and metadata, and check everything
 * that can be checked without the other shards. */
/* Set up the direct path when /features is contiguous, unfiltered and
 * stored in this machine's byte order; otherwise leave it to HDF5. Only a
 * failing mmap of a file that qualifies is an error. */
static int shard_map(ShardLoad *L) {
  hid_t dcpl = H5Dget_create_plist(L->h.feats);
  if (dcpl < 0) return mh_h5_error("H5Dget_create_plist", __FILE__, __LINE__);
  int contiguous = H5Pget_layout(dcpl) == H5D_CONTIGUOUS && H5Pget_nfilters(dcpl) == 0;
  H5Pclose(dcpl);
  hid_t ft = H5Dget_type(L->h.feats);
  hid_t native = L->schema.type == FEAT_F32  ? H5T_NATIVE_FLOAT
                 : L->schema.type == FEAT_U8 ? H5T_NATIVE_UCHAR
                                             : H5T_NATIVE_INT32;
  int same_type = ft >= 0 && H5Tequal(ft, native) > 0;
  if (ft >= 0) H5Tclose(ft);
  haddr_t off = H5Dget_offset(L->h.feats);
  H5Eclear2(H5E_DEFAULT);
  if (!contiguous || !same_type || off == HADDR_UNDEF || L->n == 0) return MH_OK;
  int fd = open(L->path, O_RDONLY);
  if (fd < 0) return mh_errorf("cannot open %s: %s", L->path, strerror(errno));
  struct stat st;
  int rc = MH_OK;
  int64_t bytes = L->n * feat_type_size(L->schema.type);
  for (int i = 0; i < L->schema.ndims; i++) bytes *= L->schema.dims[i];
  if (fstat(fd, &st) != 0) {
    rc = mh_errorf("cannot stat %s: %s", L->path, strerror(errno));
  } else if ((int64_t)off + bytes > (int64_t)st.st_size) {
    rc = mh_errorf("%s: /features extends past the end of the file (truncated copy?); %s",
                   L->path, SHARD_FIX);
  } else {
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
      rc = mh_errorf("cannot map %s: %s", L->path, strerror(errno));
    } else {
      L->h.map = m;
      L->h.map_len = (size_t)st.st_size;
      L->h.feat = L->h.map + off;
    }
  }
  close(fd);
  return rc;
}

static int shard_load(const char *path, ShardLoad *L) {
  static const TypeRule key_rule = {H5T_INTEGER, 8, 0, "a 64-bit integer"};
  static const TypeRule label_rule = {H5T_INTEGER, 4, 0, "a 32-bit integer"};
  static const TypeRule feat_rules[] = {
      {H5T_FLOAT, 4, 0, "float32 (feature_type is float32)"},
      {H5T_INTEGER, 1, 1, "uint8 (feature_type is uint8)"},
      {H5T_INTEGER, 4, 0, "a 32-bit integer (feature_type is int32)"},
  };
  memset(L, 0, sizeof *L);
  L->h.file = L->h.feats = L->h.space = -1;
  L->h.map = L->h.feat = NULL;
  snprintf(L->path, sizeof L->path, "%s", path);

  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0) return mh_h5_error("H5Pcreate", __FILE__, __LINE__);
#if (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7) || H5_VERSION_GE(1, 12, 1)
  /* Shards are immutable once renamed into place, so read-only opens need
   * no lock; file locks fail on some parallel file systems. */
  H5Pset_file_locking(fapl, 0, 1);
#endif
  L->h.file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (L->h.file < 0) {
    H5Eclear2(H5E_DEFAULT);
    FILE *fp = fopen(path, "rb");
    if (!fp) return mh_errorf("cannot open %s: %s", path, strerror(errno));
    fclose(fp);
    return mh_errorf("%s is not an HDF5 file; remove it or %s", path, SHARD_FIX);
  }
  hid_t f = L->h.file;
  int rc = MH_OK;

  /* Attributes. */
  int64_t v[STORE_MAX_DIMS];
  int cnt = 0;
  char tname[64];
  if ((rc = attr_read_ints(f, path, "modyn_schema_version", v, 1, &cnt))) goto fail;
  if (cnt != 1 || v[0] != STORE_SCHEMA_VERSION) {
    rc = mh_errorf("%s: attribute modyn_schema_version is %lld but this modyn reads version %d; "
                   "convert the store to version %d (see the README) or use a matching modyn",
                   path, cnt ? (long long)v[0] : -1LL, STORE_SCHEMA_VERSION,
                   STORE_SCHEMA_VERSION);
    goto fail;
  }
  if ((rc = attr_read_string(f, path, "feature_type", tname, sizeof tname))) goto fail;
  if (feat_type_parse(tname, &L->schema.type) != MH_OK) {
    rc = mh_errorf("%s: attribute feature_type is \"%s\" but must be float32, uint8 or int32; %s",
                   path, tname, SHARD_FIX);
    goto fail;
  }
  if ((rc = attr_read_ints(f, path, "feature_shape", L->schema.dims, STORE_MAX_DIMS, &cnt)))
    goto fail;
  if (cnt < 1) {
    rc = mh_errorf("%s: attribute feature_shape is empty; it needs 1 to %d dims; %s", path,
                   STORE_MAX_DIMS, SHARD_FIX);
    goto fail;
  }
  L->schema.ndims = cnt;
  for (int i = 0; i < cnt; i++) {
    if (L->schema.dims[i] < 1) {
      char ds[128];
      dims_str(L->schema.dims, cnt, ds, sizeof ds);
      rc = mh_errorf("%s: attribute feature_shape is %s; every dimension must be >= 1; %s", path,
                     ds, SHARD_FIX);
      goto fail;
    }
  }
  if ((rc = attr_read_ints(f, path, "num_classes", v, 1, &cnt))) goto fail;
  if (cnt != 1 || v[0] < 1 || v[0] > INT32_MAX) {
    rc = mh_errorf("%s: attribute num_classes must be one integer >= 1, got %lld; %s", path,
                   cnt ? (long long)v[0] : -1LL, SHARD_FIX);
    goto fail;
  }
  L->schema.num_classes = (int)v[0];

  /* Metadata datasets. */
  void *p = NULL;
  int64_t n2 = 0;
  if ((rc = read_meta(f, path, "/keys", &key_rule, H5T_NATIVE_INT64, 8, -1, &L->n, &p))) goto fail;
  L->keys = p;
  if ((rc = read_meta(f, path, "/timestamps", &key_rule, H5T_NATIVE_INT64, 8, L->n, &n2, &p)))
    goto fail;
  L->timestamps = p;
  if ((rc = read_meta(f, path, "/labels", &label_rule, H5T_NATIVE_INT32, 4, L->n, &n2, &p)))
    goto fail;
  L->labels = p;

  /* Features: [N, feature_shape...] of feature_type. Kept open. */
  int rank = 0;
  hsize_t fd[STORE_MAX_DIMS + 1] = {0};
  if ((rc = dset_open(f, path, "/features", &feat_rules[L->schema.type], &L->h.feats, &rank, fd)))
    goto fail;
  int shape_ok = rank == L->schema.ndims + 1;
  for (int i = 1; shape_ok && i < rank; i++) shape_ok = (int64_t)fd[i] == L->schema.dims[i - 1];
  if (!shape_ok || (int64_t)fd[0] != L->n) {
    int64_t d64[STORE_MAX_DIMS + 1] = {0};
    for (int i = 0; i < rank; i++) d64[i] = (int64_t)fd[i];
    char got[160], want[160];
    dims_str(d64, rank, got, sizeof got);
    dims_str(L->schema.dims, L->schema.ndims, want, sizeof want);
    if (!shape_ok)
      rc = mh_errorf("%s: /features has shape %s but feature_shape is %s (expected [N] + "
                     "feature_shape); %s",
                     path, got, want, SHARD_FIX);
    else
      rc = mh_errorf("%s: /features has %lld rows but /keys has %lld; %s", path,
                     (long long)fd[0], (long long)L->n, SHARD_FIX);
    goto fail;
  }
  if ((L->h.space = H5Dget_space(L->h.feats)) < 0) {
    rc = mh_h5_error("H5Dget_space", __FILE__, __LINE__);
    goto fail;
  }

  if ((rc = shard_map(L))) goto fail;

  /* Values. */
  for (int64_t i = 0; i < L->n; i++) {
    if (L->labels[i] < 0 || L->labels[i] >= L->schema.num_classes) {
      rc = mh_errorf("%s: /labels[%lld] is %d, outside [0, num_classes) with num_classes = %d; "
                     "fix the labels or num_classes",
                     path, (long long)i, (int)L->labels[i], L->schema.num_classes);
      goto fail;
    }
    if (i > 0 && L->timestamps[i] < L->timestamps[i - 1]) {
      rc = mh_errorf("%s: /timestamps are not sorted: row %lld has %lld after %lld; rows of a "
                     "shard must be in timestamp order; %s",
                     path, (long long)i, (long long)L->timestamps[i],
                     (long long)L->timestamps[i - 1], SHARD_FIX);
      goto fail;
    }
  }
  return MH_OK;
fail:
  shard_load_free(L);
  return MH_ERR;
}

/* ------------------------------------------------------------------------ */
/* Listing shard files                                                      */
/* ------------------------------------------------------------------------ */

static int is_shard_name(const char *s) {
  size_t n = strlen(s);
  return n > 9 && !strncmp(s, "shard_", 6) && !strcmp(s + n - 3, ".h5");
}

/* The number in shard_NNNNN.h5, or -1 if the middle is not all digits. */
static long long shard_number(const char *name) {
  const char *p = name + 6;
  size_t len = strlen(p) - 3;
  if (len == 0 || len > 18) return -1;
  long long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    v = v * 10 + (p[i] - '0');
  }
  return v;
}

/* Numbered shards in numeric order (shard_99999 < shard_100000), then any
 * other shard_*.h5 by name. */
static int shard_name_cmp(const void *a, const void *b) {
  const char *x = *(const char *const *)a, *y = *(const char *const *)b;
  long long nx = shard_number(x), ny = shard_number(y);
  if (nx >= 0 && ny >= 0 && nx != ny) return nx < ny ? -1 : 1;
  if ((nx >= 0) != (ny >= 0)) return nx >= 0 ? -1 : 1;
  return strcmp(x, y);
}

static void free_names(char **names, int n) {
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* The shard file names (not paths) in dir, sorted. */
static int list_shards(const char *dir, char ***names_out, int *count) {
  *names_out = NULL;
  *count = 0;
  DIR *d = opendir(dir);
  if (!d) return mh_errorf("cannot open store %s: %s", dir, strerror(errno));
  char **names = NULL;
  int n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!is_shard_name(e->d_name)) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      char **nn = mh_realloc(names, (size_t)cap * sizeof *nn);
      if (!nn) goto oom;
      names = nn;
    }
    if (!(names[n] = mh_strdup(e->d_name))) goto oom;
    n++;
  }
  closedir(d);
  if (n > 1) qsort(names, (size_t)n, sizeof *names, shard_name_cmp);
  *names_out = names;
  *count = n;
  return MH_OK;
oom:
  closedir(d);
  free_names(names, n);
  return MH_ERR;
}

static int join_path(char *out, size_t cap, const char *dir, const char *name) {
  if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap)
    return mh_errorf("path %s/%s is too long", dir, name);
  return MH_OK;
}

/* ------------------------------------------------------------------------ */
/* Store                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
  int64_t key;
  int64_t row;
} KeyRow;

static int keyrow_cmp(const void *a, const void *b) {
  const KeyRow *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->row < y->row ? -1 : x->row > y->row;
}

/* Shard holding global row r (shards are in row order). */
static int shard_of_row(const StoreShard *sh, int nshards, int64_t r) {
  int lo = 0, hi = nshards - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (sh[mid].first_row <= r) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

static int schema_equal(const StoreSchema *a, const StoreSchema *b) {
  if (a->type != b->type || a->ndims != b->ndims || a->num_classes != b->num_classes) return 0;
  for (int i = 0; i < a->ndims; i++)
    if (a->dims[i] != b->dims[i]) return 0;
  return 1;
}

/* "feature_shape is [8] but X has [16]" for the first field that differs. */
static int schema_mismatch(const char *path, const StoreSchema *got, const char *ref_path,
                           const StoreSchema *ref) {
  char what[400];
  if (got->type != ref->type) {
    snprintf(what, sizeof what, "feature_type is %s but %s has %s", feat_type_name(got->type),
             ref_path, feat_type_name(ref->type));
  } else if (got->num_classes != ref->num_classes) {
    snprintf(what, sizeof what, "num_classes is %d but %s has %d", got->num_classes, ref_path,
             ref->num_classes);
  } else {
    char g[160], r[160];
    dims_str(got->dims, got->ndims, g, sizeof g);
    dims_str(ref->dims, ref->ndims, r, sizeof r);
    snprintf(what, sizeof what, "feature_shape is %s but %s has %s", g, ref_path, r);
  }
  return mh_errorf("%s: %s; all shards of a store must share one schema (feature_type, "
                   "feature_shape, num_classes)",
                   path, what);
}

/* Sort rows by key into *order_out and reject duplicate keys. Radix sort
 * on key - min (10M keys in well under a second); qsort when the key range
 * does not fit. Also notes whether the keys are one dense range, which
 * makes lookups O(1). */
static int build_key_order(Store *s, int64_t n, const int64_t *keys, const StoreShard *sh,
                           int nshards, int64_t **order_out) {
  int64_t *k = mh_malloc((size_t)n * sizeof *k);
  int64_t *order = mh_malloc((size_t)n * sizeof *order);
  int64_t *t1 = mh_malloc((size_t)n * sizeof *t1);
  int64_t *t2 = mh_malloc((size_t)n * sizeof *t2);
  if (!k || !order || !t1 || !t2) {
    free(k);
    free(order);
    free(t1);
    free(t2);
    return MH_ERR;
  }
  int64_t kmin = INT64_MAX, kmax = INT64_MIN;
  for (int64_t i = 0; i < n; i++) {
    kmin = keys[i] < kmin ? keys[i] : kmin;
    kmax = keys[i] > kmax ? keys[i] : kmax;
  }
  int radix = n == 0 || !(kmin < 0 && kmax > INT64_MAX + kmin);
  if (radix) {
    for (int64_t i = 0; i < n; i++) {
      k[i] = keys[i] - kmin;
      order[i] = i;
    }
    sort_pairs_i64(k, order, n, t1, t2);
  } else {
    KeyRow *all = mh_malloc((size_t)n * sizeof *all);
    if (!all) {
      free(k);
      free(order);
      free(t1);
      free(t2);
      return MH_ERR;
    }
    for (int64_t i = 0; i < n; i++) all[i] = (KeyRow){keys[i], i};
    qsort(all, (size_t)n, sizeof *all, keyrow_cmp);
    for (int64_t i = 0; i < n; i++) order[i] = all[i].row;
    free(all);
  }
  free(k);
  free(t1);
  free(t2);
  for (int64_t i = 1; i < n; i++) {
    if (keys[order[i]] == keys[order[i - 1]]) {
      int a = shard_of_row(sh, nshards, order[i - 1]), b = shard_of_row(sh, nshards, order[i]);
      mh_errorf("%s: key %lld appears twice: %s row %lld and %s row %lld; keys must be unique "
                "across the store (modyn ingest --key-start sets the first key)",
                s->dir, (long long)keys[order[i]], sh[a].path,
                (long long)(order[i - 1] - sh[a].first_row), sh[b].path,
                (long long)(order[i] - sh[b].first_row));
      free(order);
      return MH_ERR;
    }
  }
  /* Unique keys spanning exactly n values are the dense range kmin..kmax;
   * otherwise keep the keys in key order for searching. */
  StorePriv *pv = s->priv;
  int dense = n > 0 && kmax - kmin == n - 1;
  int64_t *sorted = NULL;
  if (!dense) {
    sorted = mh_malloc((size_t)n * sizeof *sorted);
    if (!sorted) {
      free(order);
      return MH_ERR;
    }
    for (int64_t i = 0; i < n; i++) sorted[i] = keys[order[i]];
  }
  free(pv->sorted_keys);
  pv->sorted_keys = sorted;
  pv->dense = dense;
  pv->key_min = kmin;
  *order_out = order;
  return MH_OK;
}

/* Load shard files names[0..count) (sorted, all new) and append them to s.
 * On error s is left as it was. */
static int add_shards(Store *s, char **names, int count) {
  StorePriv *pv = s->priv;
  ShardLoad *L = mh_calloc((size_t)count, sizeof *L);
  if (!L) return MH_ERR;
  int loaded = 0, rc = MH_OK;
  int64_t add = 0;
  for (; loaded < count; loaded++) {
    char path[1024];
    if ((rc = join_path(path, sizeof path, s->dir, names[loaded]))) break;
    if ((rc = shard_load(path, &L[loaded]))) break;
    const StoreSchema *ref = s->nshards ? &s->schema : &L[0].schema;
    const char *ref_path = s->nshards ? s->shards[0].path : L[0].path;
    if (!schema_equal(&L[loaded].schema, ref)) {
      rc = schema_mismatch(path, &L[loaded].schema, ref_path, ref);
      loaded++; /* so that it is freed below */
      break;
    }
    add += L[loaded].n;
  }
  if (rc) goto fail;

  /* Grow the arrays; old contents stay valid if a later step fails. */
  int64_t n_old = s->n, n_new = s->n + add;
  int ns = s->nshards + count;
  void *p;
  if (!(p = mh_realloc(s->keys, (size_t)n_new * 8))) goto fail;
  s->keys = p;
  if (!(p = mh_realloc(s->timestamps, (size_t)n_new * 8))) goto fail;
  s->timestamps = p;
  if (!(p = mh_realloc(s->labels, (size_t)n_new * 4))) goto fail;
  s->labels = p;
  if (!(p = mh_realloc(s->shards, (size_t)ns * sizeof *s->shards))) goto fail;
  s->shards = p;
  if (!(p = mh_realloc(pv->h, (size_t)ns * sizeof *pv->h))) goto fail;
  pv->h = p;
  int64_t row = n_old;
  for (int i = 0; i < count; i++) {
    StoreShard *sh = &s->shards[s->nshards + i];
    memcpy(sh->path, L[i].path, sizeof sh->path);
    sh->nrows = L[i].n;
    sh->first_row = row;
    memcpy(s->keys + row, L[i].keys, (size_t)L[i].n * 8);
    memcpy(s->timestamps + row, L[i].timestamps, (size_t)L[i].n * 8);
    memcpy(s->labels + row, L[i].labels, (size_t)L[i].n * 4);
    row += L[i].n;
  }
  int64_t *order = NULL;
  if (build_key_order(s, n_new, s->keys, s->shards, ns, &order)) goto fail;

  /* Commit. */
  if (s->nshards == 0) {
    s->schema = L[0].schema;
    s->feat_elems = 1;
    for (int i = 0; i < s->schema.ndims; i++) s->feat_elems *= s->schema.dims[i];
  }
  for (int i = 0; i < count; i++) {
    pv->h[s->nshards + i] = L[i].h;
    L[i].h.file = L[i].h.feats = L[i].h.space = -1; /* now owned by the store */
    L[i].h.map = L[i].h.feat = NULL;
    shard_load_free(&L[i]);
  }
  free(L);
  free(s->key_order);
  s->key_order = order;
  s->nshards = ns;
  s->n = n_new;
  pv->direct = 1;
  for (int i = 0; i < ns; i++) pv->direct &= pv->h[i].feat != NULL;
  return MH_OK;
fail:
  for (int i = 0; i < loaded && i < count; i++) shard_load_free(&L[i]);
  free(L);
  return MH_ERR;
}

int store_open(const char *dir, Store *s) {
  memset(s, 0, sizeof *s);
  if (strlen(dir) >= sizeof s->dir) return mh_errorf("store path %s is too long", dir);
  snprintf(s->dir, sizeof s->dir, "%s", dir);
  /* Drop trailing slashes so that file names in messages read well. */
  for (size_t l = strlen(s->dir); l > 1 && s->dir[l - 1] == '/'; l--) s->dir[l - 1] = '\0';
  struct stat st;
  if (stat(s->dir, &st) != 0) return mh_errorf("cannot open store %s: %s", dir, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return mh_errorf("cannot open store %s: not a directory (a store is a directory of "
                     "shard_*.h5 files)",
                     dir);
  StorePriv *pv = mh_calloc(1, sizeof(StorePriv));
  if (!pv) return MH_ERR;
  pv->staging_bytes = STAGING_BYTES;
  s->priv = pv;
  char **names;
  int count;
  if (list_shards(s->dir, &names, &count)) {
    store_close(s);
    return MH_ERR;
  }
  int rc = MH_OK;
  if (count == 0)
    rc = mh_errorf("cannot open store %s: no shard_*.h5 files in %s; create a store with "
                   "'modyn synth' or 'modyn ingest'",
                   s->dir, s->dir);
  else
    rc = add_shards(s, names, count);
  free_names(names, count);
  if (rc) store_close(s);
  return rc;
}

void store_close(Store *s) {
  StorePriv *pv = s->priv;
  if (pv) {
    if (pv->h)
      for (int i = s->nshards - 1; i >= 0; i--) handles_close(&pv->h[i]);
    free(pv->h);
    free(pv->sorted_keys);
    free(pv);
  }
  free(s->shards);
  free(s->keys);
  free(s->timestamps);
  free(s->labels);
  free(s->key_order);
  memset(s, 0, sizeof *s);
}

void store_set_read_buffer(Store *s, int64_t bytes) {
  StorePriv *pv = s->priv;
  if (pv) pv->staging_bytes = bytes > 0 ? bytes : STAGING_BYTES;
}

int store_refresh(Store *s, int64_t *added) { return store_refresh_to(s, INT_MAX, added); }

/* Whether shard file `name` is loaded. Both lists are in shard order, so
 * one pass over them (*j: the loaded shard to compare next) does it, not a
 * search per name: a store of 10^4 shards is looked at every few seconds
 * when a run follows it. */
static int shard_loaded(const Store *s, int *j, const char *name) {
  const char *have = NULL;
  while (*j < s->nshards) {
    have = strrchr(s->shards[*j].path, '/') + 1;
    if (shard_name_cmp(&have, &name) >= 0) break;
    (*j)++; /* a loaded shard that is gone from the directory */
  }
  if (*j == s->nshards || strcmp(have, name)) return 0;
  (*j)++;
  return 1;
}

int store_refresh_to(Store *s, int max_shards, int64_t *added) {
  *added = 0;
  char **names;
  int count;
  MH_TRY(list_shards(s->dir, &names, &count));
  /* Loaded shards are a sorted prefix-by-name of what is there now; new
   * files must sort after the last one we have. */
  int first_new = 0, rc = MH_OK;
  const char *last = s->nshards ? strrchr(s->shards[s->nshards - 1].path, '/') + 1 : NULL;
  for (int i = 0, j = 0; i < count; i++) {
    if (shard_loaded(s, &j, names[i])) {
      first_new = i + 1;
      continue;
    }
    if (last && shard_name_cmp(&names[i], &last) < 0) {
      rc = mh_errorf("%s: new shard %s sorts before %s, which is already loaded; new shards "
                     "must continue the numbering (modyn ingest --append does)",
                     s->dir, names[i], last);
      break;
    }
  }
  int upto = count;
  if (!rc && max_shards < INT_MAX) {
    /* shards that arrived since the caller counted them wait for the next call */
    upto = first_new + (max_shards - s->nshards);
    if (upto > count)
      rc = mh_errorf("%s: %d shard files were expected, but only %d are there; was a shard "
                     "removed while a pipeline ran?",
                     s->dir, max_shards, s->nshards + count - first_new);
    if (upto < first_new) upto = first_new;
  }
  if (!rc && first_new < upto) {
    int64_t before = s->n;
    rc = add_shards(s, names + first_new, upto - first_new);
    if (!rc) *added = s->n - before;
  }
  free_names(names, count);
  return rc;
}

int store_unloaded_shards(const Store *s, int *count) {
  *count = 0;
  char **names;
  int n;
  MH_TRY(list_shards(s->dir, &names, &n));
  for (int i = 0, j = 0; i < n; i++) *count += !shard_loaded(s, &j, names[i]);
  free_names(names, n);
  return MH_OK;
}

static int key_missing(const Store *s, int64_t key) {
  return mh_errorf("key %lld is not in store %s (%lld samples)", (long long)key, s->dir,
                   (long long)s->n);
}

/* Position of key in sorted_keys, or -1. */
static int64_t search_key(const StorePriv *pv, int64_t n, int64_t key) {
  int64_t lo = 0, hi = n - 1;
  while (lo <= hi) {
    int64_t mid = lo + (hi - lo) / 2;
    int64_t k = pv->sorted_keys[mid];
    if (k == key) return mid;
    if (k < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/* Lookups: O(1) for a dense key range; otherwise many keys at once are
 * radix-sorted and merged against the sorted keys (about 0.1 us a key),
 * and a few keys are binary-searched. */
int store_find_rows(const Store *s, const int64_t *keys, int64_t n, int64_t *rows) {
  const StorePriv *pv = s->priv;
  if (pv->dense) {
    for (int64_t i = 0; i < n; i++) {
      uint64_t off = (uint64_t)keys[i] - (uint64_t)pv->key_min;
      if (off >= (uint64_t)s->n) return key_missing(s, keys[i]);
      rows[i] = s->key_order[off];
    }
    return MH_OK;
  }
  if (n < 4096 || s->n == 0) {
    for (int64_t i = 0; i < n; i++) {
      int64_t pos = s->n ? search_key(pv, s->n, keys[i]) : -1;
      if (pos < 0) return key_missing(s, keys[i]);
      rows[i] = s->key_order[pos];
    }
    return MH_OK;
  }
  int64_t *q = mh_malloc((size_t)n * sizeof *q), *idx = mh_malloc((size_t)n * sizeof *idx);
  int64_t *t1 = mh_malloc((size_t)n * sizeof *t1), *t2 = mh_malloc((size_t)n * sizeof *t2);
  int rc = (!q || !idx || !t1 || !t2) ? MH_ERR : MH_OK;
  const int64_t kmax = pv->sorted_keys[s->n - 1];
  for (int64_t i = 0; !rc && i < n; i++) {
    if (keys[i] < pv->key_min || keys[i] > kmax) rc = key_missing(s, keys[i]);
    q[i] = keys[i] - pv->key_min; /* >= 0: radix-sortable */
    idx[i] = i;
  }
  if (!rc) sort_pairs_i64(q, idx, n, t1, t2);
  for (int64_t i = 0, j = 0; !rc && i < n; i++) {
    int64_t key = q[i] + pv->key_min;
    while (j < s->n && pv->sorted_keys[j] < key) j++;
    if (j == s->n || pv->sorted_keys[j] != key) rc = key_missing(s, key);
    else rows[idx[i]] = s->key_order[j];
  }
  free(q);
  free(idx);
  free(t1);
  free(t2);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Reading features                                                         */
/* ------------------------------------------------------------------------ */

/* Read rows [r0, r0 + len) of one shard (shard-local) into buf. */
static int read_run(Store *s, int sh, int64_t r0, int64_t len, void *buf) {
  StorePriv *pv = s->priv;
  ShardHandles *h = &pv->h[sh];
  hsize_t start[STORE_MAX_DIMS + 1] = {0}, count[STORE_MAX_DIMS + 1];
  start[0] = (hsize_t)r0;
  count[0] = (hsize_t)len;
  for (int i = 0; i < s->schema.ndims; i++) count[i + 1] = (hsize_t)s->schema.dims[i];
  hsize_t melems = (hsize_t)(len * s->feat_elems);
  hid_t mt = s->schema.type == FEAT_F32  ? H5T_NATIVE_FLOAT
             : s->schema.type == FEAT_U8 ? H5T_NATIVE_UCHAR
                                         : H5T_NATIVE_INT32;
  if (H5Sselect_hyperslab(h->space, H5S_SELECT_SET, start, NULL, count, NULL) < 0) {
    mh_h5_error("H5Sselect_hyperslab", __FILE__, __LINE__);
    return mh_error_context("%s: reading /features rows %lld..%lld", s->shards[sh].path,
                            (long long)r0, (long long)(r0 + len - 1));
  }
  hid_t ms = H5Screate_simple(1, &melems, NULL);
  if (ms < 0) return mh_h5_error("H5Screate_simple", __FILE__, __LINE__);
  int rc = MH_OK;
  if (H5Dread(h->feats, mt, ms, h->space, H5P_DEFAULT, buf) < 0) {
    rc = mh_h5_error("H5Dread", __FILE__, __LINE__);
    mh_error_context("%s: reading /features rows %lld..%lld", s->shards[sh].path, (long long)r0,
                     (long long)(r0 + len - 1));
  }
  H5Sclose(ms);
  return rc;
}

static void to_f32(FeatType t, const void *src, int64_t n, float *dst) {
  switch (t) {
    case FEAT_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case FEAT_U8: {
      const uint8_t *u = src;
      for (int64_t i = 0; i < n; i++) dst[i] = (float)u[i] / 255.0f;
      break;
    }
    case FEAT_I32: {
      const int32_t *v = src;
      for (int64_t i = 0; i < n; i++) dst[i] = (float)v[i];
      break;
    }
  }
}

/* Address of global row r's features in the mapping; *sh caches the shard. */
static inline const unsigned char *row_src(const Store *s, const StorePriv *pv, int64_t r,
                                           int64_t row_bytes, int *sh) {
  const StoreShard *x = &s->shards[*sh];
  if (r < x->first_row || r >= x->first_row + x->nrows) {
    *sh = shard_of_row(s->shards, s->nshards, r);
    x = &s->shards[*sh];
  }
  return pv->h[*sh].feat + (r - x->first_row) * row_bytes;
}

/* Direct path: copy each requested row from the mapped files. Reads are
 * memory-latency bound when rows are scattered, so the first KiB of the
 * source row AHEAD requests ahead is prefetched: many cache misses then
 * overlap instead of being paid one after another. Prefetching the
 * destination too, or the whole of long rows, measured slower (bench_read). */
#define AHEAD 8
static void read_direct(const Store *s, const int64_t *rows, const int64_t *dest, int64_t n,
                        float *out) {
  const StorePriv *pv = s->priv;
  const int64_t E = s->feat_elems;
  const int64_t row_bytes = E * feat_type_size(s->schema.type);
  int sh = 0, shp = 0;
  for (int64_t i = 0; i < n; i++) {
    if (i + AHEAD < n) {
      const char *p = (const char *)row_src(s, pv, rows[i + AHEAD], row_bytes, &shp);
      for (int64_t b = 0; b < row_bytes && b < 1024; b += 64) __builtin_prefetch(p + b, 0, 0);
    }
    const unsigned char *src = row_src(s, pv, rows[i], row_bytes, &sh);
    float *dst = out + (dest ? dest[i] : i) * E;
    if (s->schema.type == FEAT_F32) memcpy(dst, src, (size_t)row_bytes);
    else to_f32(s->schema.type, src, E, dst);
  }
}

int store_set_read_path(Store *s, StoreReadPath path) {
  StorePriv *pv = s->priv;
  pv->force_hdf5 = path == STORE_READ_HDF5;
  return pv->direct;
}

static int read_hdf5(Store *s, const int64_t *rows, const int64_t *dest, int64_t n, float *out);

int store_read_features_f32(Store *s, const int64_t *rows, int64_t n, float *out) {
  return store_read_features_to(s, rows, NULL, n, out);
}

int store_read_features_to(Store *s, const int64_t *rows, const int64_t *dest, int64_t n,
                           float *out) {
  if (n <= 0) return MH_OK;
  for (int64_t i = 0; i < n; i++)
    if (rows[i] < 0 || rows[i] >= s->n)
      return mh_errorf("row %lld is outside store %s (%lld samples)", (long long)rows[i], s->dir,
                       (long long)s->n);
  StorePriv *pv = s->priv;
  if (pv->direct && !pv->force_hdf5) {
    read_direct(s, rows, dest, n, out);
    return MH_OK;
  }
  return read_hdf5(s, rows, dest, n, out);
}

/* HDF5 path: sort the request, coalesce consecutive rows into runs, read
 * each run with a hyperslab selection into a staging buffer, then convert
 * and scatter to the requested positions. Works for any layout. Only the
 * HDF5 calls hold the library's lock, so prefetch threads sort and scatter
 * in parallel. */
static int read_hdf5(Store *s, const int64_t *rows, const int64_t *dest, int64_t n, float *out) {
  const int64_t E = s->feat_elems;
  const size_t esz = (size_t)feat_type_size(s->schema.type);
  const int64_t row_bytes = E * (int64_t)esz;

  /* Sort the request by row (repeats end up adjacent), then list the
   * distinct rows. */
  int64_t *row = mh_malloc((size_t)n * sizeof *row), *pos = mh_malloc((size_t)n * sizeof *pos);
  int64_t *tmp_a = mh_malloc((size_t)n * sizeof *tmp_a), *tmp_b = mh_malloc((size_t)n * sizeof *tmp_b);
  int64_t cap_rows = ((StorePriv *)s->priv)->staging_bytes / row_bytes;
  if (cap_rows < 1) cap_rows = 1;
  if (cap_rows > n) cap_rows = n;
  unsigned char *stage = mh_malloc((size_t)(cap_rows * row_bytes));
  int rc = MH_OK;
  if (!row || !pos || !tmp_a || !tmp_b || !stage) {
    rc = MH_ERR;
    goto done;
  }
  for (int64_t i = 0; i < n; i++) {
    row[i] = rows[i];
    pos[i] = dest ? dest[i] : i;
  }
  sort_pairs_i64(row, pos, n, tmp_a, tmp_b);
  int64_t *uniq = tmp_a, nu = 0;
  for (int64_t i = 0; i < n; i++)
    if (i == 0 || row[i] != row[i - 1]) uniq[nu++] = row[i];

  /* Blocks of at most cap_rows distinct rows: read runs into the staging
   * buffer, then convert and scatter to the requested positions. */
  int64_t k = 0; /* next entry of row/pos to scatter */
  for (int64_t u0 = 0; u0 < nu && !rc; u0 += cap_rows) {
    int64_t u1 = u0 + cap_rows < nu ? u0 + cap_rows : nu;
    pthread_mutex_lock(&g_h5_lock);
    for (int64_t u = u0; u < u1 && !rc;) {
      int sh = shard_of_row(s->shards, s->nshards, uniq[u]);
      int64_t end = s->shards[sh].first_row + s->shards[sh].nrows;
      int64_t len = 1;
      while (u + len < u1 && uniq[u + len] == uniq[u] + len && uniq[u + len] < end) len++;
      rc = read_run(s, sh, uniq[u] - s->shards[sh].first_row, len,
                    stage + (size_t)((u - u0) * row_bytes));
      u += len;
    }
    pthread_mutex_unlock(&g_h5_lock);
    for (int64_t u = u0; u < u1 && !rc; u++) {
      const unsigned char *src = stage + (size_t)((u - u0) * row_bytes);
      for (; k < n && row[k] == uniq[u]; k++) to_f32(s->schema.type, src, E, out + pos[k] * E);
    }
  }
done:
  free(stage);
  free(row);
  free(pos);
  free(tmp_a);
  free(tmp_b);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Verifying                                                                */
/* ------------------------------------------------------------------------ */

static uint64_t checksum_schema(const StoreSchema *sc, uint64_t h);

/* The stored checksum of an open shard: 1 found, 0 none, MH_ERR. */
static int read_checksum(hid_t file, const char *path, uint64_t *v) {
  htri_t ex = H5Aexists(file, STORE_CHECKSUM_ATTR);
  if (ex < 0) {
    mh_h5_error("H5Aexists", __FILE__, __LINE__);
    return mh_error_context("%s", path);
  }
  if (ex == 0) return 0;
  hid_t a = H5Aopen(file, STORE_CHECKSUM_ATTR, H5P_DEFAULT), t = a < 0 ? -1 : H5Aget_type(a);
  hid_t sp = a < 0 ? -1 : H5Aget_space(a);
  int rc = 1;
  if (a < 0 || t < 0 || sp < 0) {
    rc = mh_h5_error("H5Aopen", __FILE__, __LINE__);
  } else if (H5Tget_class(t) != H5T_INTEGER || H5Tget_size(t) != 8 ||
             H5Sget_simple_extent_npoints(sp) != 1) {
    rc = mh_errorf("attribute %s must be one 64-bit integer", STORE_CHECKSUM_ATTR);
  } else if (H5Aread(a, H5T_NATIVE_UINT64, v) < 0) {
    rc = mh_h5_error("H5Aread", __FILE__, __LINE__);
  }
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  if (a >= 0) H5Aclose(a);
  if (rc < 0) mh_error_context("%s", path);
  return rc;
}

int store_verify_shard(Store *s, int i, ShardCheck *status, uint64_t *stored, uint64_t *computed,
                       int64_t *bytes) {
  StorePriv *pv = s->priv;
  ShardHandles *h = &pv->h[i];
  const StoreShard *sh = &s->shards[i];
  const int64_t n = sh->nrows, r0 = sh->first_row;
  const int64_t row_bytes = s->feat_elems * feat_type_size(s->schema.type);
  *status = SHARD_BAD;
  *stored = *computed = 0;
  *bytes = n * (8 + 8 + 4 + row_bytes);
  pthread_mutex_lock(&g_h5_lock);
  int has = read_checksum(h->file, sh->path, stored);
  pthread_mutex_unlock(&g_h5_lock);
  if (has < 0) return MH_ERR;
  if (has == 0) {
    *status = SHARD_NO_CHECKSUM;
    return MH_OK;
  }
  uint64_t c = mh_checksum(s->keys + r0, (size_t)n * 8, 0);
  c = mh_checksum(s->timestamps + r0, (size_t)n * 8, c);
  c = mh_checksum(s->labels + r0, (size_t)n * 4, c);
  if (h->feat) {
    /* Direct path: the features are in the mapping already. */
    c = mh_checksum(h->feat, (size_t)(n * row_bytes), c);
  } else {
    /* Any layout: blocks of rows through HDF5, in their stored type. */
    int64_t block = STAGING_BYTES / row_bytes;
    if (block < 1) block = 1;
    if (block > n) block = n;
    unsigned char *buf = mh_malloc((size_t)(block * row_bytes));
    if (!buf) return MH_ERR;
    int rc = MH_OK;
    for (int64_t a = 0; a < n && !rc; a += block) {
      int64_t len = n - a < block ? n - a : block;
      pthread_mutex_lock(&g_h5_lock);
      rc = read_run(s, i, a, len, buf);
      pthread_mutex_unlock(&g_h5_lock);
      if (!rc) c = mh_checksum(buf, (size_t)(len * row_bytes), c);
    }
    free(buf);
    if (rc) return mh_error_context("verifying %s", sh->path);
  }
  c = checksum_schema(&s->schema, c);
  *computed = c;
  if (c != *stored)
    return mh_errorf("%s is damaged: its contents give checksum %016llx but the shard records "
                     "%016llx; restore the file from a copy or write the store again (modyn "
                     "ingest / modyn synth)",
                     sh->path, (unsigned long long)c, (unsigned long long)*stored);
  *status = SHARD_OK;
  return MH_OK;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

static int schema_check(const StoreSchema *sc) {
  if (sc->type < FEAT_F32 || sc->type > FEAT_I32)
    return mh_errorf("store schema: unknown feature type %d", (int)sc->type);
  if (sc->ndims < 1 || sc->ndims > STORE_MAX_DIMS)
    return mh_errorf("store schema: features need 1 to %d dims per sample, got %d",
                     STORE_MAX_DIMS, sc->ndims);
  for (int i = 0; i < sc->ndims; i++)
    if (sc->dims[i] < 1)
      return mh_errorf("store schema: feature dim %d is %lld, must be >= 1", i,
                       (long long)sc->dims[i]);
  if (sc->num_classes < 1)
    return mh_errorf("store schema: num_classes must be >= 1, got %d", sc->num_classes);
  return MH_OK;
}

int store_writer_open(const char *dir, const StoreSchema *schema, int append, StoreWriter *w) {
  memset(w, 0, sizeof *w);
  MH_TRY(schema_check(schema));
  if (strlen(dir) >= sizeof w->dir) return mh_errorf("store path %s is too long", dir);
  snprintf(w->dir, sizeof w->dir, "%s", dir);
  for (size_t l = strlen(w->dir); l > 1 && w->dir[l - 1] == '/'; l--) w->dir[l - 1] = '\0';
  w->schema = *schema;
  w->max_key = INT64_MIN;
  MH_TRY(mh_mkdir_p(w->dir));
  char **names;
  int count;
  MH_TRY(list_shards(w->dir, &names, &count));
  int rc = MH_OK;
  if (count > 0 && !append) {
    rc = mh_errorf("%s already holds a store (%d shard file%s, e.g. %s); write to a new "
                   "directory or remove its shard files",
                   w->dir, count, count == 1 ? "" : "s", names[0]);
  } else if (count > 0) {
    /* Appending: the existing shards must be valid and share our schema. */
    Store old;
    if (store_open(w->dir, &old)) {
      rc = mh_error_context("cannot append to %s", w->dir);
    } else {
      if (!schema_equal(&old.schema, schema)) {
        char ours[64];
        snprintf(ours, sizeof ours, "the new data");
        rc = schema_mismatch(ours, schema, old.shards[0].path, &old.schema);
        mh_error_context("cannot append to %s", w->dir);
      }
      if (old.n > 0) w->max_key = old.keys[old.key_order[old.n - 1]];
      store_close(&old);
    }
    long long maxnum = -1;
    for (int i = 0; i < count; i++)
      if (shard_number(names[i]) > maxnum) maxnum = shard_number(names[i]);
    w->next_shard = (int)(maxnum + 1);
  }
  free_names(names, count);
  return rc;
}

static int h5_write_attr(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int n,
                         const void *val) {
  hsize_t d = (hsize_t)n;
  hid_t sp = n == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &d, NULL);
  if (sp < 0) return mh_h5_error("H5Screate", __FILE__, __LINE__);
  hid_t a = H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
  int rc = MH_OK;
  if (a < 0) rc = mh_h5_error("H5Acreate2", __FILE__, __LINE__);
  else if (H5Awrite(a, mtype, val) < 0) rc = mh_h5_error("H5Awrite", __FILE__, __LINE__);
  if (a >= 0 && H5Aclose(a) < 0 && !rc) rc = mh_h5_error("H5Aclose", __FILE__, __LINE__);
  H5Sclose(sp);
  return rc;
}

static int h5_write_dset(hid_t file, const char *name, hid_t ftype, hid_t mtype, int rank,
                         const hsize_t *dims, const void *buf) {
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  if (sp < 0) return mh_h5_error("H5Screate_simple", __FILE__, __LINE__);
  /* Contiguous layout, no filters (the default), and no modification times
   * in the object headers, so the same data gives byte-identical files. */
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (dcpl < 0 || H5Pset_obj_track_times(dcpl, 0) < 0) {
    if (dcpl >= 0) H5Pclose(dcpl);
    H5Sclose(sp);
    return mh_h5_error("H5Pcreate/H5Pset_obj_track_times", __FILE__, __LINE__);
  }
  hid_t d = H5Dcreate2(file, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Pclose(dcpl);
  int rc = MH_OK;
  if (d < 0) rc = mh_h5_error("H5Dcreate2", __FILE__, __LINE__);
  else if (H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    rc = mh_h5_error("H5Dwrite", __FILE__, __LINE__);
  if (d >= 0 && H5Dclose(d) < 0 && !rc) rc = mh_h5_error("H5Dclose", __FILE__, __LINE__);
  H5Sclose(sp);
  if (rc) mh_error_context("dataset %s", name);
  return rc;
}

/* Reserve the bulk of a new file's blocks before HDF5 writes to it. A write
 * error inside HDF5 1.10 leaves the library in a state that crashes at exit
 * (when it closes the file again), so a full disk is better found here, by
 * us. The reservation stays below HDF5's end of file: HDF5 writes past it
 * and the file comes out byte-identical to one written without it. */
static int reserve_space(const char *path, int64_t bytes) {
#ifdef __linux__
  int fd = open(path, O_WRONLY);
  if (fd < 0) return mh_errorf("cannot open %s: %s", path, strerror(errno));
  int r = fallocate(fd, 0, 0, (off_t)bytes);
  int err = errno;
  close(fd);
  if (r != 0 && err != EOPNOTSUPP && err != ENOSYS && err != EINVAL) {
    errno = 0;
    return mh_errorf("cannot reserve %.1f MiB for it: %s", (double)bytes / (1 << 20),
                     strerror(err));
  }
#else
  (void)path;
  (void)bytes;
#endif
  return MH_OK;
}

/* ------------------------------------------------------------------------ */
/* Checksums                                                                */
/* ------------------------------------------------------------------------ */

/* The shard checksum (README, "Store layout"): mh_checksum chained over the
 * bytes of /keys, /timestamps, /labels and /features as stored (little
 * endian; this code assumes a little-endian host, as does the direct read
 * path), then over the schema as int64 values {feature type code, num_classes,
 * k, d1..dk}. The schema is included so that a flipped num_classes or shape
 * attribute is caught too. The writer computes it from the buffers it writes
 * (no second pass over the file). */
static uint64_t checksum_schema(const StoreSchema *sc, uint64_t h) {
  int64_t rec[3 + STORE_MAX_DIMS] = {(int64_t)sc->type, sc->num_classes, sc->ndims};
  for (int i = 0; i < sc->ndims; i++) rec[3 + i] = sc->dims[i];
  return mh_checksum(rec, (size_t)(3 + sc->ndims) * sizeof rec[0], h);
}

static uint64_t checksum_rows(const StoreSchema *sc, int64_t n, const int64_t *keys,
                              const int64_t *ts, const int32_t *labels, const void *features) {
  int64_t elems = 1;
  for (int i = 0; i < sc->ndims; i++) elems *= sc->dims[i];
  uint64_t h = mh_checksum(keys, (size_t)n * 8, 0);
  h = mh_checksum(ts, (size_t)n * 8, h);
  h = mh_checksum(labels, (size_t)n * 4, h);
  h = mh_checksum(features, (size_t)(n * elems * feat_type_size(sc->type)), h);
  return checksum_schema(sc, h);
}

/* Everything HDF5 does for one shard file. */
static int write_shard_file(const char *tmp, const StoreSchema *sc, int64_t n, const int64_t *keys,
                            const int64_t *ts, const int32_t *labels, const void *features,
                            uint64_t checksum) {
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) return mh_h5_error("H5Fcreate", __FILE__, __LINE__);
  hsize_t dims[STORE_MAX_DIMS + 1];
  dims[0] = (hsize_t)n;
  int64_t elems = 1;
  for (int i = 0; i < sc->ndims; i++) {
    dims[i + 1] = (hsize_t)sc->dims[i];
    elems *= sc->dims[i];
  }
  if (reserve_space(tmp, n * (8 + 8 + 4 + elems * feat_type_size(sc->type))) != MH_OK) {
    H5Fclose(f); /* nothing written yet but the superblock */
    return MH_ERR;
  }
  hid_t feat_ft = sc->type == FEAT_F32 ? H5T_IEEE_F32LE
                  : sc->type == FEAT_U8 ? H5T_STD_U8LE
                                        : H5T_STD_I32LE;
  hid_t feat_mt = sc->type == FEAT_F32  ? H5T_NATIVE_FLOAT
                  : sc->type == FEAT_U8 ? H5T_NATIVE_UCHAR
                                        : H5T_NATIVE_INT32;
  int rc = MH_OK;
  int32_t version = STORE_SCHEMA_VERSION, ncls = sc->num_classes;
  /* A variable-length UTF-8 string: h5py reads it back as str. */
  hid_t st = H5Tcopy(H5T_C_S1);
  const char *tname = feat_type_name(sc->type);
  if (st < 0 || H5Tset_size(st, H5T_VARIABLE) < 0 || H5Tset_cset(st, H5T_CSET_UTF8) < 0)
    rc = mh_h5_error("H5Tcopy/H5Tset_size", __FILE__, __LINE__);
  if (!rc) rc = h5_write_dset(f, "keys", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, keys);
  if (!rc) rc = h5_write_dset(f, "timestamps", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, ts);
  if (!rc) rc = h5_write_dset(f, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dims, labels);
  if (!rc) rc = h5_write_dset(f, "features", feat_ft, feat_mt, sc->ndims + 1, dims, features);
  if (!rc)
    rc = h5_write_attr(f, "modyn_schema_version", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, &version);
  if (!rc) rc = h5_write_attr(f, "feature_type", st, st, 0, &tname);
  if (!rc)
    rc = h5_write_attr(f, "feature_shape", H5T_STD_I64LE, H5T_NATIVE_INT64, sc->ndims, sc->dims);
  if (!rc) rc = h5_write_attr(f, "num_classes", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, &ncls);
  if (!rc)
    rc = h5_write_attr(f, STORE_CHECKSUM_ATTR, H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &checksum);
  if (st >= 0) H5Tclose(st);
  /* Closing flushes what HDF5 still buffers; a full disk may show here. */
  if (H5Fclose(f) < 0 && !rc) rc = mh_h5_error("H5Fclose", __FILE__, __LINE__);
  return rc;
}

int store_write_shard(StoreWriter *w, int64_t n, const int64_t *keys, const int64_t *timestamps,
                      const int32_t *labels, const void *features) {
  if (n < 1) return mh_errorf("%s: a shard needs at least one sample, got %lld", w->dir, (long long)n);
  for (int64_t i = 0; i < n; i++) {
    if (i > 0 && timestamps[i] < timestamps[i - 1])
      return mh_errorf("%s: rows of a shard must be in timestamp order, but row %lld (%lld) "
                       "follows row %lld (%lld)",
                       w->dir, (long long)i, (long long)timestamps[i], (long long)(i - 1),
                       (long long)timestamps[i - 1]);
    if (labels[i] < 0 || labels[i] >= w->schema.num_classes)
      return mh_errorf("%s: label %d of row %lld is outside [0, %d)", w->dir, (int)labels[i],
                       (long long)i, w->schema.num_classes);
  }
  char path[1024 + 32], tmp[1024 + 40];
  snprintf(path, sizeof path, "%s/shard_%05d.h5", w->dir, w->next_shard);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  errno = 0;
  uint64_t sum = checksum_rows(&w->schema, n, keys, timestamps, labels, features);
  if (write_shard_file(tmp, &w->schema, n, keys, timestamps, labels, features, sum) != MH_OK) {
    int err = errno, no_space = mh_error_no_space();
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", mh_error());
    if (err && strstr(detail, strerror(err))) err = 0; /* already said */
    unlink(tmp);
    mh_errorf("cannot write %s: %s%s%s; the disk may be full or the directory not writable",
              path, detail, err ? ": " : "", err ? strerror(err) : "");
    mh_error_mark_no_space(no_space ? ENOSPC : err);
    return MH_ERR;
  }
  if (mh_fsync_path(tmp, 0) != 0) {
    int err = errno;
    unlink(tmp);
    mh_errorf("cannot write %s: fsync failed: %s; the disk may be full", path, strerror(err));
    mh_error_mark_no_space(err);
    return MH_ERR;
  }
  if (rename(tmp, path) != 0) {
    int err = errno;
    unlink(tmp);
    return mh_errorf("cannot rename %s to %s: %s", tmp, path, strerror(err));
  }
  mh_fsync_path(w->dir, 1); /* best effort: makes the rename durable */
  w->next_shard++;
  w->written += n;
  return MH_OK;
}

/* ---- replay order ---------------------------------------------------------------- */

static int cmp_rows_by_time(const void *a, const void *b, void *ctx) {
  const Store *s = ctx;
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  if (s->timestamps[x] != s->timestamps[y]) return s->timestamps[x] < s->timestamps[y] ? -1 : 1;
  return (s->keys[x] > s->keys[y]) - (s->keys[x] < s->keys[y]);
}

void store_sort_rows_by_time(const Store *s, int64_t *rows, int64_t n) {
  qsort_r(rows, (size_t)n, sizeof(int64_t), cmp_rows_by_time, (void *)s);
}

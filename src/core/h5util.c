/* h5util.c - see h5util.h. */
#include "core/h5util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"

hid_t h5_create_tmp(const char *path) {
  char tmp[2048];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) {
    mh_h5_error("H5Fcreate", __FILE__, __LINE__);
    unlink(tmp); /* H5Fcreate may have made the file before its first write failed */
    mh_error_context("cannot create %s (is the directory writable, is the disk full?)", tmp);
  }
  return f;
}

void h5_abandon(hid_t file, const char *path) {
  char tmp[2048];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  H5Fclose(file);
  H5Eclear2(H5E_DEFAULT);
  unlink(tmp);
}

int h5_commit(hid_t file, const char *path) {
  char tmp[2048];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (H5Fclose(file) < 0) {
    mh_h5_error("H5Fclose", __FILE__, __LINE__);
    unlink(tmp);
    return mh_error_context("cannot finish writing %s (is the disk full?)", tmp);
  }
  /* durable before it takes the real name, and the name durable after */
  if (mh_fsync_path(tmp, 0) != 0) {
    int err = errno;
    unlink(tmp);
    mh_errorf("cannot write %s: fsync failed: %s%s", tmp, strerror(err),
              err == ENOSPC ? " (is the disk full?)" : "");
    mh_error_mark_no_space(err);
    return MH_ERR;
  }
  if (rename(tmp, path) != 0) {
    int err = errno;
    unlink(tmp);
    return mh_errorf("cannot rename %s to %s: %s", tmp, path, strerror(err));
  }
  char dir[2048];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = '\0';
  mh_fsync_path(slash ? dir : ".", 1); /* best effort, as for shards */
  return MH_OK;
}

hid_t h5_open_ro(const char *path) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    H5Eclear2(H5E_DEFAULT);
    FILE *fp = fopen(path, "rb");
    if (!fp) return mh_errorf("cannot open %s: %s", path, strerror(errno));
    fclose(fp);
    return mh_errorf("cannot open %s: not an HDF5 file", path);
  }
  return f;
}

static int write_1d(hid_t loc, const char *name, hid_t type, int64_t n, const void *data) {
  hsize_t dims[1] = {(hsize_t)n};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  if (sp < 0) return mh_h5_error("H5Screate_simple", __FILE__, __LINE__);
  hid_t ds = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int rc = MH_OK;
  if (ds < 0) rc = mh_h5_error("H5Dcreate2", __FILE__, __LINE__);
  else if (n > 0 && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    rc = mh_h5_error("H5Dwrite", __FILE__, __LINE__);
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(sp);
  if (rc) mh_error_context("writing dataset %s (is the disk full?)", name);
  return rc;
}

int h5_write_f32(hid_t loc, const char *name, int64_t n, const float *data) {
  return write_1d(loc, name, H5T_NATIVE_FLOAT, n, data);
}
int h5_write_i64(hid_t loc, const char *name, int64_t n, const int64_t *data) {
  return write_1d(loc, name, H5T_NATIVE_INT64, n, data);
}

int h5_len(hid_t loc, const char *name, int64_t *n) {
  if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return mh_errorf("dataset %s is missing", name);
  hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
  if (ds < 0) return mh_h5_error("H5Dopen2", __FILE__, __LINE__);
  hid_t sp = H5Dget_space(ds);
  hsize_t dims[8] = {0};
  int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
  H5Sclose(sp);
  H5Dclose(ds);
  if (nd != 1) return mh_errorf("dataset %s has %d dimensions, expected 1", name, nd);
  *n = (int64_t)dims[0];
  return MH_OK;
}

static int read_1d(hid_t loc, const char *name, hid_t type, int64_t n, void *data) {
  int64_t have = 0;
  MH_TRY(h5_len(loc, name, &have));
  if (have != n) return mh_errorf("dataset %s has %lld elements, expected %lld", name,
                                  (long long)have, (long long)n);
  hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
  if (ds < 0) return mh_h5_error("H5Dopen2", __FILE__, __LINE__);
  int rc = MH_OK;
  if (n > 0 && H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    rc = mh_h5_error("H5Dread", __FILE__, __LINE__);
  H5Dclose(ds);
  return rc;
}

int h5_read_f32(hid_t loc, const char *name, int64_t n, float *data) {
  return read_1d(loc, name, H5T_NATIVE_FLOAT, n, data);
}
int h5_read_i64(hid_t loc, const char *name, int64_t n, int64_t *data) {
  return read_1d(loc, name, H5T_NATIVE_INT64, n, data);
}

static int attr_write(hid_t loc, const char *name, hid_t type, const void *v) {
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  int rc = MH_OK;
  if (a < 0 || H5Awrite(a, type, v) < 0) rc = mh_h5_error("H5Awrite", __FILE__, __LINE__);
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  return rc;
}

static int attr_read(hid_t loc, const char *name, hid_t type, void *v) {
  if (H5Aexists(loc, name) <= 0) return mh_errorf("attribute %s is missing", name);
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  int rc = MH_OK;
  if (a < 0 || H5Aread(a, type, v) < 0) rc = mh_h5_error("H5Aread", __FILE__, __LINE__);
  if (a >= 0) H5Aclose(a);
  return rc;
}

int h5_attr_write_i64(hid_t loc, const char *name, int64_t v) {
  return attr_write(loc, name, H5T_NATIVE_INT64, &v);
}
int h5_attr_write_f64(hid_t loc, const char *name, double v) {
  return attr_write(loc, name, H5T_NATIVE_DOUBLE, &v);
}
int h5_attr_read_i64(hid_t loc, const char *name, int64_t *v) {
  return attr_read(loc, name, H5T_NATIVE_INT64, v);
}
int h5_attr_read_f64(hid_t loc, const char *name, double *v) {
  return attr_read(loc, name, H5T_NATIVE_DOUBLE, v);
}

int h5_attr_write_str(hid_t loc, const char *name, const char *v) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(v) + 1);
  H5Tset_strpad(t, H5T_STR_NULLTERM);
  int rc = attr_write(loc, name, t, v);
  H5Tclose(t);
  return rc;
}

int h5_attr_read_str(hid_t loc, const char *name, char *out, size_t cap) {
  if (H5Aexists(loc, name) <= 0) return mh_errorf("attribute %s is missing", name);
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return mh_h5_error("H5Aopen", __FILE__, __LINE__);
  hid_t ft = H5Aget_type(a);
  int rc = MH_OK;
  if (H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) > 0) {
    rc = mh_errorf("attribute %s is not a fixed-length string", name);
  } else {
    size_t sz = H5Tget_size(ft);
    char buf[4096];
    if (sz >= sizeof buf || sz + 1 > cap) {
      rc = mh_errorf("attribute %s is too long (%zu bytes)", name, sz);
    } else {
      hid_t mt = H5Tcopy(H5T_C_S1);
      H5Tset_size(mt, sz);
      if (H5Aread(a, mt, buf) < 0) rc = mh_h5_error("H5Aread", __FILE__, __LINE__);
      buf[sz] = '\0';
      H5Tclose(mt);
      if (!rc) snprintf(out, cap, "%s", buf);
    }
  }
  H5Tclose(ft);
  H5Aclose(a);
  return rc;
}

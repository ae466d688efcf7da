/* hostile_h5.c - damage one object of an HDF5 shard in place, for the
 * hostile-input sweep (tests/hostile.sh): the wrong-schema cases a store
 * written by another tool could have. Not a test by itself.
 *
 *   hostile_h5 FILE del-dset NAME          remove a dataset
 *   hostile_h5 FILE del-attr NAME          remove a root attribute
 *   hostile_h5 FILE attr-int NAME V        root attribute NAME = int64 V (replaced)
 *   hostile_h5 FILE attr-ints NAME V,V,..  root attribute NAME = int64 array
 *   hostile_h5 FILE attr-str NAME S        root attribute NAME = string S
 *   hostile_h5 FILE attr-f64 NAME V        root attribute NAME = float64 V
 *   hostile_h5 FILE dset TYPE NAME D0[,D1..]  replace dataset NAME by one of
 *                                          TYPE (i8 i32 i64 u64 f32 f64 str)
 *                                          and that shape, filled with i % 7
 */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hid_t type_of(const char *t) {
  if (!strcmp(t, "i8")) return H5T_NATIVE_INT8;
  if (!strcmp(t, "i32")) return H5T_NATIVE_INT32;
  if (!strcmp(t, "i64")) return H5T_NATIVE_INT64;
  if (!strcmp(t, "u64")) return H5T_NATIVE_UINT64;
  if (!strcmp(t, "f32")) return H5T_NATIVE_FLOAT;
  if (!strcmp(t, "f64")) return H5T_NATIVE_DOUBLE;
  if (!strcmp(t, "str")) {
    hid_t s = H5Tcopy(H5T_C_S1);
    H5Tset_size(s, 8);
    return s;
  }
  fprintf(stderr, "hostile_h5: unknown type %s\n", t);
  exit(2);
}

static void put_attr(hid_t f, const char *name, hid_t type, int n, const void *v) {
  if (H5Aexists(f, name) > 0) H5Adelete(f, name);
  hsize_t d = (hsize_t)n;
  hid_t sp = n ? H5Screate_simple(1, &d, NULL) : H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || H5Awrite(a, type, v) < 0) exit(3);
  H5Aclose(a);
  H5Sclose(sp);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: hostile_h5 FILE OP ARGS (see the source)\n");
    return 2;
  }
  hid_t f = H5Fopen(argv[1], H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) return 3;
  const char *op = argv[2];
  int rc = 0;
  if (!strcmp(op, "del-dset")) {
    rc = H5Ldelete(f, argv[3], H5P_DEFAULT) < 0;
  } else if (!strcmp(op, "del-attr")) {
    rc = H5Adelete(f, argv[3]) < 0;
  } else if (!strcmp(op, "attr-int") && argc > 4) {
    int64_t v = strtoll(argv[4], NULL, 10);
    put_attr(f, argv[3], H5T_NATIVE_INT64, 0, &v);
  } else if (!strcmp(op, "attr-ints") && argc > 4) {
    int64_t v[8];
    int n = 0;
    for (char *p = argv[4]; *p && n < 8; p++) {
      v[n++] = strtoll(p, &p, 10);
      if (!*p) break;
    }
    put_attr(f, argv[3], H5T_NATIVE_INT64, n, v);
  } else if (!strcmp(op, "attr-str") && argc > 4) {
    hid_t s = H5Tcopy(H5T_C_S1);
    H5Tset_size(s, strlen(argv[4]) + 1);
    put_attr(f, argv[3], s, 0, argv[4]);
    H5Tclose(s);
  } else if (!strcmp(op, "attr-f64") && argc > 4) {
    double v = strtod(argv[4], NULL);
    put_attr(f, argv[3], H5T_NATIVE_DOUBLE, 0, &v);
  } else if (!strcmp(op, "dset") && argc > 5) {
    hid_t t = type_of(argv[3]);
    hsize_t dims[5];
    int rank = 0;
    for (char *p = argv[5]; *p && rank < 5; p++) {
      dims[rank++] = (hsize_t)strtoull(p, &p, 10);
      if (!*p) break;
    }
    hsize_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    size_t sz = H5Tget_size(t);
    unsigned char *buf = calloc(n ? n : 1, sz);
    for (hsize_t i = 0; i < n; i++) {
      if (t == H5T_NATIVE_INT8) ((int8_t *)buf)[i] = (int8_t)(i % 7);
      else if (t == H5T_NATIVE_INT32) ((int32_t *)buf)[i] = (int32_t)(i % 7);
      else if (t == H5T_NATIVE_INT64 || t == H5T_NATIVE_UINT64)
        ((int64_t *)buf)[i] = (int64_t)(i % 7);
      else if (t == H5T_NATIVE_FLOAT) ((float *)buf)[i] = (float)(i % 7);
      else if (t == H5T_NATIVE_DOUBLE) ((double *)buf)[i] = (double)(i % 7);
      else buf[i * sz] = 'a';
    }
    if (H5Lexists(f, argv[4], H5P_DEFAULT) > 0) H5Ldelete(f, argv[4], H5P_DEFAULT);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, argv[4], t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    rc = d < 0 || H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    free(buf);
  } else {
    fprintf(stderr, "hostile_h5: unknown operation %s\n", op);
    rc = 2;
  }
  H5Fclose(f);
  return rc;
}

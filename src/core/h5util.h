/* h5util.h - small checked helpers for the HDF5 files we write ourselves
 * (checkpoints, run state): whole 1-D datasets and scalar attributes, and
 * atomic file creation (write to NAME.tmp, rename on close). */
#ifndef MH_H5UTIL_H
#define MH_H5UTIL_H

#include <hdf5.h>
#include <stdint.h>

/* Create path.tmp for writing; h5_commit closes it and renames it to path
 * (on failure path.tmp is removed: a full disk leaves no temporary file);
 * h5_abandon closes and removes it after an error while writing. */
hid_t h5_create_tmp(const char *path);
int h5_commit(hid_t file, const char *path);
void h5_abandon(hid_t file, const char *path);
hid_t h5_open_ro(const char *path);

int h5_write_f32(hid_t loc, const char *name, int64_t n, const float *data);
int h5_write_i64(hid_t loc, const char *name, int64_t n, const int64_t *data);
/* Read a whole 1-D dataset; its length must be n. */
int h5_read_f32(hid_t loc, const char *name, int64_t n, float *data);
int h5_read_i64(hid_t loc, const char *name, int64_t n, int64_t *data);
/* Length of a 1-D dataset (MH_ERR if missing). */
int h5_len(hid_t loc, const char *name, int64_t *n);

int h5_attr_write_i64(hid_t loc, const char *name, int64_t v);
int h5_attr_write_f64(hid_t loc, const char *name, double v);
int h5_attr_write_str(hid_t loc, const char *name, const char *v);
int h5_attr_read_i64(hid_t loc, const char *name, int64_t *v);
int h5_attr_read_f64(hid_t loc, const char *name, double *v);
int h5_attr_read_str(hid_t loc, const char *name, char *out, size_t cap);

#endif

/* checkpoint.c - see checkpoint.h. */
#include "train/checkpoint.h"

#include <string.h>

#include "core/error.h"
#include "core/h5util.h"

int checkpoint_write(const char *path, const Model *m, const Optimizer *o,
                     const CheckpointMeta *meta) {
  hid_t f = h5_create_tmp(path);
  if (f < 0) return MH_ERR;
  int rc = h5_attr_write_str(f, "model_id", m->type->id);
  if (!rc) rc = h5_attr_write_i64(f, "trigger", meta->trigger);
  if (!rc) rc = h5_attr_write_i64(f, "first_timestamp", meta->first_timestamp);
  if (!rc) rc = h5_attr_write_i64(f, "last_timestamp", meta->last_timestamp);
  if (!rc) rc = h5_attr_write_i64(f, "parent", meta->parent);
  if (!rc) rc = h5_attr_write_i64(f, "num_samples", meta->num_samples);
  if (!rc) rc = h5_write_f32(f, "params", m->nparams, m->params);
  if (!rc) rc = h5_write_f32(f, "buffers", m->nbuffers, m->buffers);
  if (!rc && o) {
    hid_t g = H5Gcreate2(f, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) rc = mh_h5_error("H5Gcreate2", __FILE__, __LINE__);
    if (!rc) rc = h5_attr_write_i64(g, "step", o->step);
    if (!rc) rc = h5_write_f32(g, "m", o->n, o->m);
    if (!rc && o->v) rc = h5_write_f32(g, "v", o->n, o->v);
    if (g >= 0) H5Gclose(g);
  }
  if (rc) {
    H5Fclose(f);
    return mh_error_context("writing checkpoint %s", path);
  }
  if (h5_commit(f, path)) return mh_error_context("writing checkpoint %s", path);
  return MH_OK;
}

int checkpoint_read(const char *path, Model *m, Optimizer *o, CheckpointMeta *meta) {
  hid_t f = h5_open_ro(path);
  if (f < 0) return MH_ERR;
  char id[128] = "";
  int rc = h5_attr_read_str(f, "model_id", id, sizeof id);
  if (!rc && strcmp(id, m->type->id))
    rc = mh_errorf("holds a %s model, expected %s", id, m->type->id);
  if (!rc) rc = h5_attr_read_i64(f, "trigger", &meta->trigger);
  if (!rc) rc = h5_attr_read_i64(f, "first_timestamp", &meta->first_timestamp);
  if (!rc) rc = h5_attr_read_i64(f, "last_timestamp", &meta->last_timestamp);
  if (!rc) rc = h5_attr_read_i64(f, "parent", &meta->parent);
  if (!rc) rc = h5_attr_read_i64(f, "num_samples", &meta->num_samples);
  if (!rc) rc = h5_read_f32(f, "params", m->nparams, m->params);
  if (!rc) rc = h5_read_f32(f, "buffers", m->nbuffers, m->buffers);
  if (!rc && o) {
    hid_t g = H5Gopen2(f, "optimizer", H5P_DEFAULT);
    if (g < 0) rc = mh_errorf("has no optimizer state");
    if (!rc) rc = h5_attr_read_i64(g, "step", &o->step);
    if (!rc) rc = h5_read_f32(g, "m", o->n, o->m);
    if (!rc && o->v) rc = h5_read_f32(g, "v", o->n, o->v);
    if (g >= 0) H5Gclose(g);
  }
  H5Fclose(f);
  if (rc) return mh_error_context("checkpoint %s", path);
  return MH_OK;
}

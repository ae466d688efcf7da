/* checkpoint.c - see checkpoint.h. */
#include "train/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/h5util.h"

/* A 1-D dataset, chunked and deflated when compress is set. */
static int write_weights(hid_t f, const char *name, hid_t type, int64_t n, const void *data,
                         int compress) {
  if (!compress || n == 0) {
    if (type == H5T_NATIVE_FLOAT) return h5_write_f32(f, name, n, data);
  }
  hsize_t dims[1] = {(hsize_t)n}, chunk[1] = {(hsize_t)(n < (1 << 20) ? n : (1 << 20))};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
  int rc = MH_OK;
  if (sp < 0 || pl < 0) rc = mh_h5_error("H5Screate/H5Pcreate", __FILE__, __LINE__);
  /* Shuffle groups the bytes of each word by significance, so the
   * sign/exponent bytes that neighbouring weights (and small differences)
   * share become long runs for deflate. */
  if (!rc && compress &&
      (H5Pset_chunk(pl, 1, chunk) < 0 || H5Pset_shuffle(pl) < 0 || H5Pset_deflate(pl, 6) < 0))
    rc = mh_h5_error("H5Pset_deflate", __FILE__, __LINE__);
  hid_t ds = rc ? -1 : H5Dcreate2(f, name, type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
  if (!rc && ds < 0) rc = mh_h5_error("H5Dcreate2", __FILE__, __LINE__);
  if (!rc && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    rc = mh_h5_error("H5Dwrite", __FILE__, __LINE__);
  if (ds >= 0) H5Dclose(ds);
  if (pl >= 0) H5Pclose(pl);
  if (sp >= 0) H5Sclose(sp);
  return rc;
}

/* models/trigger_NNNN.h5 beside path, for trigger t. */
static void sibling_path(const char *path, int64_t t, char *out, size_t cap) {
  const char *slash = strrchr(path, '/');
  int dir_len = slash ? (int)(slash - path + 1) : 0;
  snprintf(out, cap, "%.*strigger_%04lld.h5", dir_len, path, (long long)t);
}

/* Checksums of what a checkpoint restores: the weights (params as the model
 * holds them, whatever the file's encoding) with the buffers, and the
 * optimizer state. Stored as attributes, verified on every read. */
static uint64_t weights_checksum(const float *params, int64_t np, const float *buffers,
                                 int64_t nb) {
  uint64_t h = mh_checksum(params, (size_t)np * sizeof(float), 0);
  return mh_checksum(buffers, (size_t)nb * sizeof(float), h);
}

static uint64_t optimizer_checksum(int64_t step, const float *m, const float *v, int64_t n) {
  uint64_t h = mh_checksum(&step, sizeof step, 0);
  h = mh_checksum(m, (size_t)n * sizeof(float), h);
  return v ? mh_checksum(v, (size_t)n * sizeof(float), h) : h;
}

/* The metadata a result depends on (evaluation intervals use the
 * timestamps, triggers.csv the statistics), with the model id: a flipped
 * byte in an attribute would otherwise pass unnoticed. */
static uint64_t meta_checksum(const CheckpointMeta *meta, const char *model_id) {
  const int64_t v[9] = {meta->trigger,      meta->first_timestamp, meta->last_timestamp,
                        meta->parent,       meta->num_samples,     meta->stream_index,
                        meta->new_samples,  meta->samples_trained, meta->epochs};
  const double d[3] = {meta->loss_first, meta->loss_last, meta->train_seconds};
  uint64_t h = mh_checksum(model_id, strlen(model_id), 0);
  h = mh_checksum(v, sizeof v, h);
  return mh_checksum(d, sizeof d, h);
}

/* A stored checksum must match (files written before checksums have none).
 * *checked (may be NULL) counts the checksums that were present. */
static int verify(hid_t loc, const char *name, uint64_t got, int *checked) {
  if (H5Aexists(loc, name) <= 0) return MH_OK;
  if (checked) (*checked)++;
  int64_t want = 0;
  MH_TRY(h5_attr_read_i64(loc, name, &want));
  if ((uint64_t)want != got)
    return mh_errorf("damaged file: its %s (%016llx) does not match what was read (%016llx); "
                     "restore it from a copy, or delete it and every later checkpoint and run "
                     "`modyn resume` to train them again",
                     name, (unsigned long long)want, (unsigned long long)got);
  return MH_OK;
}

/* ---- mid-trigger checkpoints: /train_point ------------------------------------ */

/* The point's scalars (train_point_pack's order) as stored, one attribute each. */
static const char *const point_i_names[TRAIN_POINT_NI] = {
    "steps", "samples", "scored", "epochs", "epoch", "visited", "batches", "ranks", "waiting",
    "rng_streams"};
static const char *const point_f_names[TRAIN_POINT_NF] = {
    "loss_first_epoch", "loss_last_epoch", "train_seconds", "epoch_loss", "epoch_wsum"};

static uint64_t point_checksum(const int64_t *iv, const double *fv, uint64_t set_checksum,
                               const TrainPoint *p, const int64_t *owner) {
  uint64_t h = mh_checksum(iv, TRAIN_POINT_NI * sizeof *iv, 0);
  h = mh_checksum(fv, TRAIN_POINT_NF * sizeof *fv, h);
  h = mh_checksum(&set_checksum, sizeof set_checksum, h);
  h = mh_checksum(p->acc_rows, (size_t)p->nacc * sizeof *p->acc_rows, h);
  h = mh_checksum(p->acc_weights, (size_t)p->nacc * sizeof *p->acc_weights, h);
  h = mh_checksum(owner, (size_t)p->nacc * sizeof *owner, h);
  return mh_checksum(p->rng, (size_t)(p->ranks * p->nrng * 4) * sizeof *p->rng, h);
}

static int write_point(hid_t f, const TrainPoint *p, uint64_t set_checksum) {
  int64_t iv[TRAIN_POINT_NI];
  double fv[TRAIN_POINT_NF];
  train_point_pack(p, iv, fv);
  int64_t *owner = mh_malloc((size_t)(p->nacc + 1) * sizeof *owner);
  if (!owner) return MH_ERR;
  for (int64_t i = 0; i < p->nacc; i++) owner[i] = p->acc_owner[i];
  hid_t g = H5Gcreate2(f, "train_point", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int rc = g < 0 ? mh_h5_error("H5Gcreate2", __FILE__, __LINE__) : MH_OK;
  for (int i = 0; !rc && i < TRAIN_POINT_NI; i++)
    rc = h5_attr_write_i64(g, point_i_names[i], iv[i]);
  for (int i = 0; !rc && i < TRAIN_POINT_NF; i++)
    rc = h5_attr_write_f64(g, point_f_names[i], fv[i]);
  if (!rc) rc = h5_attr_write_i64(g, "set_checksum", (int64_t)set_checksum);
  if (!rc) rc = h5_write_i64(g, "acc_rows", p->nacc, p->acc_rows);
  if (!rc) rc = h5_write_f32(g, "acc_weights", p->nacc, p->acc_weights);
  if (!rc) rc = h5_write_i64(g, "acc_owner", p->nacc, owner);
  if (!rc) rc = h5_write_i64(g, "rng", p->ranks * p->nrng * 4, (const int64_t *)p->rng);
  if (!rc)
    rc = h5_attr_write_i64(g, "point_checksum",
                           (int64_t)point_checksum(iv, fv, set_checksum, p, owner));
  if (g >= 0) H5Gclose(g);
  free(owner);
  return rc;
}

static int read_point(hid_t f, TrainPoint *p, uint64_t *set_checksum) {
  memset(p, 0, sizeof *p);
  hid_t g = H5Gopen2(f, "train_point", H5P_DEFAULT);
  if (g < 0) return mh_errorf("has no /train_point (not a mid-trigger checkpoint)");
  int64_t iv[TRAIN_POINT_NI], *owner = NULL, sum = 0;
  double fv[TRAIN_POINT_NF];
  int rc = MH_OK;
  for (int i = 0; !rc && i < TRAIN_POINT_NI; i++)
    rc = h5_attr_read_i64(g, point_i_names[i], &iv[i]);
  for (int i = 0; !rc && i < TRAIN_POINT_NF; i++)
    rc = h5_attr_read_f64(g, point_f_names[i], &fv[i]);
  if (!rc) rc = h5_attr_read_i64(g, "set_checksum", &sum);
  if (!rc) rc = h5_len(g, "acc_rows", &p->nacc);
  if (!rc && (p->nacc != iv[8] || p->nacc > ((int64_t)1 << 40)))
    rc = mh_errorf("/train_point/acc_rows has %lld values, %lld waiting samples",
                   (long long)p->nacc, (long long)iv[8]);
  if (!rc) {
    p->acc_rows = mh_malloc((size_t)(p->nacc + 1) * sizeof *p->acc_rows);
    p->acc_weights = mh_malloc((size_t)(p->nacc + 1) * sizeof *p->acc_weights);
    p->acc_owner = mh_malloc((size_t)(p->nacc + 1) * sizeof *p->acc_owner);
    owner = mh_malloc((size_t)(p->nacc + 1) * sizeof *owner);
    if (!p->acc_rows || !p->acc_weights || !p->acc_owner || !owner) rc = MH_ERR;
  }
  if (!rc) rc = h5_read_i64(g, "acc_rows", p->nacc, p->acc_rows);
  if (!rc) rc = h5_read_f32(g, "acc_weights", p->nacc, p->acc_weights);
  if (!rc) rc = h5_read_i64(g, "acc_owner", p->nacc, owner);
  const int64_t nrng = iv[9] * 4 * iv[7]; /* streams x 4 words x ranks */
  if (!rc && (iv[9] < 0 || iv[9] > 1024 || iv[7] < 1 || iv[7] > (1 << 24)))
    rc = mh_errorf("/train_point: %lld random streams of %lld ranks", (long long)iv[9],
                   (long long)iv[7]);
  if (!rc) {
    p->rng = mh_malloc((size_t)(nrng + 1) * sizeof *p->rng);
    if (!p->rng) rc = MH_ERR;
  }
  if (!rc) rc = h5_read_i64(g, "rng", nrng, (int64_t *)p->rng);
  if (!rc) {
    train_point_unpack(p, iv, fv);
    *set_checksum = (uint64_t)sum;
    rc = verify(g, "point_checksum", point_checksum(iv, fv, *set_checksum, p, owner), NULL);
  }
  for (int64_t i = 0; !rc && i < p->nacc; i++) {
    if (owner[i] < 0 || owner[i] >= p->ranks)
      rc = mh_errorf("/train_point/acc_owner names rank %lld of %d", (long long)owner[i], p->ranks);
    else p->acc_owner[i] = (int32_t)owner[i];
  }
  free(owner);
  H5Gclose(g);
  if (rc) train_point_free(p);
  return rc;
}

/* ---- writing and reading ------------------------------------------------------- */

static int write_file(const char *path, const Model *m, const Optimizer *o,
                      const CheckpointMeta *meta, const ModelStorage *ms, const float *base,
                      int64_t *bytes, const TrainPoint *point, uint64_t set_checksum,
                      const uint64_t *rng, int64_t rng_words) {
  hid_t f = h5_create_tmp(path);
  if (f < 0) return MH_ERR;
  int delta = ms && base && model_storage_is_delta(ms, meta->trigger);
  int rc = h5_attr_write_str(f, "model_id", m->type->id);
  if (!rc) rc = h5_attr_write_i64(f, "trigger", meta->trigger);
  if (!rc) rc = h5_attr_write_i64(f, "first_timestamp", meta->first_timestamp);
  if (!rc) rc = h5_attr_write_i64(f, "last_timestamp", meta->last_timestamp);
  if (!rc) rc = h5_attr_write_i64(f, "parent", meta->parent);
  if (!rc) rc = h5_attr_write_i64(f, "num_samples", meta->num_samples);
  if (!rc) rc = h5_attr_write_i64(f, "stream_index", meta->stream_index);
  if (!rc) rc = h5_attr_write_i64(f, "new_samples", meta->new_samples);
  if (!rc) rc = h5_attr_write_i64(f, "samples_trained", meta->samples_trained);
  if (!rc) rc = h5_attr_write_i64(f, "samples_scored", meta->samples_scored);
  if (!rc) rc = h5_attr_write_i64(f, "epochs", meta->epochs);
  if (!rc) rc = h5_attr_write_f64(f, "loss_first_epoch", meta->loss_first);
  if (!rc) rc = h5_attr_write_f64(f, "loss_last_epoch", meta->loss_last);
  if (!rc) rc = h5_attr_write_f64(f, "train_seconds", meta->train_seconds);
  if (!rc) rc = h5_attr_write_i64(f, "meta_checksum", (int64_t)meta_checksum(meta, m->type->id));
  if (!rc && delta) {
    uint32_t *d = mh_malloc((size_t)m->nparams * sizeof *d);
    if (!d) rc = MH_ERR;
    if (!rc) {
      model_storage_delta(ms->op, m->params, base, m->nparams, d);
      rc = write_weights(f, "params_delta", H5T_NATIVE_UINT32, m->nparams, d, 1);
    }
    free(d);
    if (!rc) rc = h5_attr_write_str(f, "delta_operator", ms->op == DELTA_XOR ? "xor" : "sub");
    if (!rc) rc = h5_attr_write_i64(f, "base_trigger", meta->trigger - 1);
  } else if (!rc) {
    rc = write_weights(f, "params", H5T_NATIVE_FLOAT, m->nparams, m->params, ms && ms->zip);
  }
  if (!rc) rc = h5_write_f32(f, "buffers", m->nbuffers, m->buffers);
  if (!rc)
    rc = h5_attr_write_i64(f, "weights_checksum",
                           (int64_t)weights_checksum(m->params, m->nparams, m->buffers,
                                                     m->nbuffers));
  if (!rc && o) {
    hid_t g = H5Gcreate2(f, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) rc = mh_h5_error("H5Gcreate2", __FILE__, __LINE__);
    if (!rc) rc = h5_attr_write_i64(g, "step", o->step);
    if (!rc) rc = h5_write_f32(g, "m", o->n, o->m);
    if (!rc && o->v) rc = h5_write_f32(g, "v", o->n, o->v);
    if (!rc)
      rc = h5_attr_write_i64(g, "optimizer_checksum",
                             (int64_t)optimizer_checksum(o->step, o->m, o->v, o->n));
    if (g >= 0) H5Gclose(g);
  }
  if (!rc && point) rc = write_point(f, point, set_checksum);
  if (!rc && rng_words > 0) {
    rc = h5_write_i64(f, "rng", rng_words, (const int64_t *)rng);
    if (!rc)
      rc = h5_attr_write_i64(f, "rng_checksum",
                             (int64_t)mh_checksum(rng, (size_t)rng_words * sizeof *rng, 0));
  }
  if (rc) {
    h5_abandon(f, path);
    return mh_error_context("writing checkpoint %s", path);
  }
  if (h5_commit(f, path)) return mh_error_context("writing checkpoint %s", path);
  if (bytes) {
    struct stat st;
    *bytes = stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
  }
  return MH_OK;
}

int checkpoint_write(const char *path, const Model *m, const Optimizer *o,
                     const CheckpointMeta *meta, const ModelStorage *ms, const float *base,
                     int64_t *bytes) {
  return write_file(path, m, o, meta, ms, base, bytes, NULL, 0, NULL, 0);
}

int checkpoint_write_rng(const char *path, const Model *m, const Optimizer *o,
                         const CheckpointMeta *meta, const ModelStorage *ms, const float *base,
                         int64_t *bytes, const uint64_t *rng, int64_t rng_words) {
  return write_file(path, m, o, meta, ms, base, bytes, NULL, 0, rng, rng_words);
}

int checkpoint_read_rng(const char *path, uint64_t **rng, int64_t *rng_words) {
  *rng = NULL;
  *rng_words = 0;
  hid_t f = h5_open_ro(path);
  if (f < 0) return MH_ERR;
  int rc = MH_OK;
  if (H5Lexists(f, "rng", H5P_DEFAULT) > 0) {
    rc = h5_len(f, "rng", rng_words);
    if (!rc && (*rng_words < 0 || *rng_words > (1 << 26)))
      rc = mh_errorf("/rng has %lld values", (long long)*rng_words);
    if (!rc) *rng = mh_malloc((size_t)(*rng_words + 1) * sizeof **rng);
    if (!rc && !*rng) rc = MH_ERR;
    if (!rc) rc = h5_read_i64(f, "rng", *rng_words, (int64_t *)*rng);
    if (!rc)
      rc = verify(f, "rng_checksum", mh_checksum(*rng, (size_t)*rng_words * sizeof **rng, 0),
                  NULL);
  }
  H5Fclose(f);
  if (rc) {
    free(*rng);
    *rng = NULL;
    *rng_words = 0;
    return mh_error_context("checkpoint %s", path);
  }
  return MH_OK;
}

int checkpoint_write_point(const char *path, const Model *m, const Optimizer *o,
                           const CheckpointMeta *meta, const TrainPoint *p,
                           uint64_t set_checksum) {
  return write_file(path, m, o, meta, NULL, NULL, NULL, p, set_checksum, NULL, 0);
}

int checkpoint_read_point(const char *path, Model *m, Optimizer *o, CheckpointMeta *meta,
                          TrainPoint *p, uint64_t *set_checksum) {
  MH_TRY(checkpoint_read(path, m, o, meta, NULL));
  hid_t f = h5_open_ro(path);
  if (f < 0) return MH_ERR;
  int rc = read_point(f, p, set_checksum);
  H5Fclose(f);
  if (rc) return mh_error_context("checkpoint %s", path);
  return MH_OK;
}

/* The attributes every checkpoint has, and the statistics (files without
 * them read as 0), checked against meta_checksum. */
static int read_meta(hid_t f, char *id, size_t cap, CheckpointMeta *meta, int *checked) {
  MH_TRY(h5_attr_read_str(f, "model_id", id, cap));
  MH_TRY(h5_attr_read_i64(f, "trigger", &meta->trigger));
  MH_TRY(h5_attr_read_i64(f, "first_timestamp", &meta->first_timestamp));
  MH_TRY(h5_attr_read_i64(f, "last_timestamp", &meta->last_timestamp));
  MH_TRY(h5_attr_read_i64(f, "parent", &meta->parent));
  MH_TRY(h5_attr_read_i64(f, "num_samples", &meta->num_samples));
  /* Statistics are informational: files without them read as 0. */
  meta->stream_index = meta->new_samples = meta->samples_trained = meta->epochs = 0;
  meta->samples_scored = 0;
  meta->loss_first = meta->loss_last = meta->train_seconds = 0;
  h5_attr_read_i64(f, "stream_index", &meta->stream_index);
  h5_attr_read_i64(f, "new_samples", &meta->new_samples);
  h5_attr_read_i64(f, "samples_trained", &meta->samples_trained);
  h5_attr_read_i64(f, "samples_scored", &meta->samples_scored);
  h5_attr_read_i64(f, "epochs", &meta->epochs);
  h5_attr_read_f64(f, "loss_first_epoch", &meta->loss_first);
  h5_attr_read_f64(f, "loss_last_epoch", &meta->loss_last);
  h5_attr_read_f64(f, "train_seconds", &meta->train_seconds);
  return verify(f, "meta_checksum", meta_checksum(meta, id), checked);
}

/* The arrays a checkpoint's weights are read into. n < 0 on entry: take
 * the file's length, allocating the array here (freed by weights_free);
 * otherwise the array has that many elements and the file must agree. */
typedef struct {
  float *params, *buffers;
  int64_t np, nb;
  int own_params, own_buffers; /* allocated here */
  int checked;                 /* checksums present (and matching) */
  int delta;                   /* 1: stored as a difference */
} Weights;

static void weights_free(Weights *w) {
  if (w->own_params) free(w->params);
  if (w->own_buffers) free(w->buffers);
  w->params = w->buffers = NULL;
  w->own_params = w->own_buffers = 0;
}

/* Room for the file's length of dataset name when *n < 0. */
static int size_array(hid_t f, const char *name, int64_t *n, float **data, int *own) {
  if (*n >= 0) return MH_OK;
  MH_TRY(h5_len(f, name, n));
  if (!(*data = mh_malloc((size_t)(*n > 0 ? *n : 1) * sizeof(float)))) return MH_ERR;
  *own = 1;
  return MH_OK;
}

static int read_file(const char *path, int64_t expect_trigger, const char *expect_id, Weights *w,
                     Optimizer *o, CheckpointMeta *meta, const float *prev, char *id,
                     size_t id_cap);

/* /params, or /params_delta applied to the base model's weights. The base
 * must hold trigger base_trigger (< this trigger), so a chain of
 * differences strictly descends and ends. prev: the previous trigger's
 * weights when the caller holds them. */
static int read_params(hid_t f, const char *path, const CheckpointMeta *meta, const char *id,
                       Weights *w, const float *prev) {
  if (H5Lexists(f, "params_delta", H5P_DEFAULT) <= 0) {
    MH_TRY(size_array(f, "params", &w->np, &w->params, &w->own_params));
    return h5_read_f32(f, "params", w->np, w->params);
  }
  /* Difference model: load the base (recursively), then apply. */
  w->delta = 1;
  int64_t base_t = -1, len = 0;
  char op[8] = "", base_path[2048];
  MH_TRY(h5_attr_read_i64(f, "base_trigger", &base_t));
  MH_TRY(h5_attr_read_str(f, "delta_operator", op, sizeof op));
  if (base_t < 0 || base_t >= meta->trigger)
    return mh_errorf("base_trigger %lld is not an earlier trigger", (long long)base_t);
  MH_TRY(size_array(f, "params_delta", &w->np, &w->params, &w->own_params));
  MH_TRY(h5_len(f, "params_delta", &len));
  if (len != w->np)
    return mh_errorf("params_delta has %lld values, the model %lld", (long long)len,
                     (long long)w->np);
  if (prev && base_t == meta->trigger - 1) {
    memmove(w->params, prev, (size_t)w->np * sizeof(float));
  } else {
    sibling_path(path, base_t, base_path, sizeof base_path);
    /* The base's params land in ours; its buffers (needed only for its
     * checksum) in a scratch array. */
    Weights bw = {w->params, NULL, w->np, -1, 0, 0, 0, 0};
    CheckpointMeta bm;
    char bid[128];
    int rc = read_file(base_path, base_t, id, &bw, NULL, &bm, NULL, bid, sizeof bid);
    weights_free(&bw);
    MH_TRY(rc);
  }
  uint32_t *d = mh_malloc((size_t)(w->np > 0 ? w->np : 1) * sizeof *d);
  if (!d) return MH_ERR;
  int rc = MH_OK;
  hid_t ds = H5Dopen2(f, "params_delta", H5P_DEFAULT);
  if (ds < 0 ||
      (w->np > 0 && H5Dread(ds, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, d) < 0))
    rc = mh_h5_error("H5Dread", __FILE__, __LINE__);
  if (ds >= 0) H5Dclose(ds);
  if (!rc) model_storage_apply(strcmp(op, "xor") ? DELTA_SUB : DELTA_XOR, d, w->params, w->np);
  free(d);
  return rc;
}

/* One checkpoint file: metadata, weights, optimizer state (o may be NULL),
 * every stored checksum verified. expect_trigger >= 0: the file must hold
 * that trigger (a difference model's base); expect_id: the model id it
 * must hold (NULL: any). id gets the file's model id. */
static int read_file(const char *path, int64_t expect_trigger, const char *expect_id, Weights *w,
                     Optimizer *o, CheckpointMeta *meta, const float *prev, char *id,
                     size_t id_cap) {
  hid_t f = h5_open_ro(path);
  if (f < 0) return MH_ERR;
  id[0] = '\0';
  int rc = read_meta(f, id, id_cap, meta, &w->checked);
  if (!rc && expect_id && strcmp(id, expect_id))
    rc = mh_errorf("holds a %s model, expected %s", id, expect_id);
  if (!rc && expect_trigger >= 0 && meta->trigger != expect_trigger)
    rc = mh_errorf("holds trigger %lld, expected %lld (the base of a difference model)",
                   (long long)meta->trigger, (long long)expect_trigger);
  if (!rc) rc = read_params(f, path, meta, id, w, prev);
  if (!rc) rc = size_array(f, "buffers", &w->nb, &w->buffers, &w->own_buffers);
  if (!rc) rc = h5_read_f32(f, "buffers", w->nb, w->buffers);
  if (!rc)
    rc = verify(f, "weights_checksum", weights_checksum(w->params, w->np, w->buffers, w->nb),
                &w->checked);
  if (!rc && o) {
    hid_t g = H5Gopen2(f, "optimizer", H5P_DEFAULT);
    if (g < 0) rc = mh_errorf("has no optimizer state");
    if (!rc) rc = h5_attr_read_i64(g, "step", &o->step);
    if (!rc) rc = h5_read_f32(g, "m", o->n, o->m);
    if (!rc && o->v) rc = h5_read_f32(g, "v", o->n, o->v);
    if (!rc)
      rc = verify(g, "optimizer_checksum", optimizer_checksum(o->step, o->m, o->v, o->n),
                  &w->checked);
    if (g >= 0) H5Gclose(g);
  }
  H5Fclose(f);
  if (rc) return mh_error_context("checkpoint %s", path);
  return MH_OK;
}

int checkpoint_read(const char *path, Model *m, Optimizer *o, CheckpointMeta *meta,
                    const float *prev) {
  Weights w = {m->params, m->buffers, m->nparams, m->nbuffers, 0, 0, 0, 0};
  char id[128];
  return read_file(path, -1, m->type->id, &w, o, meta, prev, id, sizeof id);
}

int checkpoint_verify(const char *path, CheckpointInfo *info) {
  memset(info, 0, sizeof *info);
  /* The optimizer state's stored size (m, and v when present), so that it
   * is read and its checksum verified the way a load does. */
  Optimizer o;
  memset(&o, 0, sizeof o);
  int rc = MH_OK, has_opt = 0;
  hid_t f = h5_open_ro(path);
  if (f < 0) return mh_error_context("checkpoint %s", path);
  if (H5Lexists(f, "optimizer", H5P_DEFAULT) > 0) {
    has_opt = 1;
    hid_t g = H5Gopen2(f, "optimizer", H5P_DEFAULT);
    if (g < 0) rc = mh_h5_error("H5Gopen2", __FILE__, __LINE__);
    if (!rc) rc = h5_len(g, "m", &o.n);
    if (!rc && !(o.m = mh_malloc((size_t)(o.n > 0 ? o.n : 1) * sizeof(float)))) rc = MH_ERR;
    if (!rc && H5Lexists(g, "v", H5P_DEFAULT) > 0 &&
        !(o.v = mh_malloc((size_t)(o.n > 0 ? o.n : 1) * sizeof(float))))
      rc = MH_ERR;
    if (g >= 0) H5Gclose(g);
  }
  H5Fclose(f);
  if (rc) mh_error_context("checkpoint %s", path);
  Weights w = {NULL, NULL, -1, -1, 0, 0, 0, 0};
  if (!rc)
    rc = read_file(path, -1, NULL, &w, has_opt ? &o : NULL, &info->meta, NULL, info->model_id,
                   sizeof info->model_id);
  if (!rc) { /* a mid-trigger checkpoint's training point, and any saved RNG state */
    hid_t pf = h5_open_ro(path);
    if (pf < 0) rc = MH_ERR;
    if (!rc && H5Lexists(pf, "train_point", H5P_DEFAULT) > 0) {
      TrainPoint p;
      uint64_t set_checksum = 0;
      info->partial = 1;
      rc = read_point(pf, &p, &set_checksum);
      if (!rc) train_point_free(&p);
    }
    if (pf >= 0) H5Fclose(pf);
    if (rc) mh_error_context("checkpoint %s", path);
    uint64_t *rng = NULL;
    int64_t rng_words = 0;
    if (!rc) rc = checkpoint_read_rng(path, &rng, &rng_words);
    free(rng);
  }
  info->nparams = w.np;
  info->nbuffers = w.nb;
  info->noptim = o.n;
  info->checksums = w.checked;
  info->delta = w.delta;
  weights_free(&w);
  free(o.m);
  free(o.v);
  return rc;
}

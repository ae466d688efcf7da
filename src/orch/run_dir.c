/* run_dir.c - rank 0's files in the run directory (DESIGN.md "Run
 * directory"): config.yaml, events.jsonl, triggers.csv, selection/ and the
 * evaluation outputs (written by eval/evaluation.h), and what a resumed run
 * finds there. Every file but events.jsonl is written atomically. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/h5util.h"
#include "core/log.h"
#include "orch/orch.h"

void run_dir_event(Orch *o, const char *fmt, ...) {
  if (!o->events) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(o->events, fmt, ap);
  va_end(ap);
  fputc('\n', o->events);
  fflush(o->events);
}

void run_dir_model_path(const Orch *o, int64_t trigger, char *path, size_t cap) {
  snprintf(path, cap, "%s/models/trigger_%04lld.h5", o->dir, (long long)trigger);
}

void run_dir_partial_path(const Orch *o, int64_t trigger, char *path, size_t cap) {
  const char *dir = o->cfg->training.ckpt_path;
  if (!dir[0]) snprintf(path, cap, "%s/models/trigger_%04lld_partial.h5", o->dir, (long long)trigger);
  else if (dir[0] == '/') snprintf(path, cap, "%s/trigger_%04lld_partial.h5", dir, (long long)trigger);
  else snprintf(path, cap, "%s/%s/trigger_%04lld_partial.h5", o->dir, dir, (long long)trigger);
}

/* The folder of the mid-trigger checkpoints (training.checkpointing.path). */
static int make_partial_dir(const Orch *o) {
  char path[1100];
  run_dir_partial_path(o, 0, path, sizeof path);
  char *slash = strrchr(path, '/');
  if (slash) *slash = '\0';
  return mh_mkdir_p(path);
}

/* Completed triggers of an interrupted run: its checkpoints
 * trigger_0000.h5, trigger_0001.h5, ... without a gap. */
static int64_t completed_triggers(const Orch *o) {
  char path[1100];
  for (int64_t k = 0;; k++) {
    run_dir_model_path(o, k, path, sizeof path);
    if (!mh_path_exists(path)) return k;
  }
}

/* RUN_DIR/follow: a followed run's poll interval and idle limit (seconds),
 * so that `modyn resume` follows the store again. */
static int write_follow(const Orch *o, const char *run_dir) {
  if (!o->run.follow) return MH_OK;
  char path[1100];
  snprintf(path, sizeof path, "%s/follow", run_dir);
  AtomicFile f;
  MH_TRY(atomic_open(&f, path));
  fprintf(f.fp, "%g %g\n", o->run.poll_s, o->run.idle_s);
  return atomic_commit(&f);
}

/* Temporary files (NAME.tmp) that a run killed mid-write left in dir and
 * its subdirectories (one level: models/, selection/, eval/, ...). Every
 * file is written to NAME.tmp and renamed, so none of them is a result. */
static int remove_stale_tmp(const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int removed = 0;
  struct dirent *e;
  char path[2200];
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(path, &st) != 0) continue;
    size_t n = strlen(e->d_name);
    if (S_ISDIR(st.st_mode) && depth > 0) removed += remove_stale_tmp(path, depth - 1);
    else if (S_ISREG(st.st_mode) && n > 4 && !strcmp(e->d_name + n - 4, ".tmp"))
      removed += unlink(path) == 0;
  }
  closedir(d);
  return removed;
}

int run_dir_prepare(Orch *o, const char *run_dir, int resume, int64_t *done) {
  char path[1100];
  snprintf(o->dir, sizeof o->dir, "%s", run_dir);
  snprintf(path, sizeof path, "%s/config.yaml", run_dir);
  /* A run that never completed a trigger (a failed start, a crash in
   * trigger 0) holds nothing to keep: the same command may start it again. */
  if (!resume && mh_path_exists(path) && completed_triggers(o) > 0)
    return mh_errorf("run directory %s already holds a run; choose another --out, or continue "
                     "it with 'modyn resume %s'", run_dir, run_dir);
  if (resume) {
    if (!mh_path_exists(path))
      return mh_errorf("%s is not a run directory (no config.yaml)", run_dir);
    *done = completed_triggers(o);
    int stale = remove_stale_tmp(run_dir, 1);
    if (o->cfg->training.ckpt_path[0]) { /* the folder may be outside the run directory */
      char tmp[1200];
      run_dir_partial_path(o, *done, path, sizeof path);
      snprintf(tmp, sizeof tmp, "%s.tmp", path);
      stale += unlink(tmp) == 0;
    }
    if (stale)
      LOG0("# removed %d temporary file%s left by the interrupted run\n", stale, mh_plural(stale));
    snprintf(path, sizeof path, "%s/events.jsonl", run_dir);
    o->events = fopen(path, "a");
    if (!o->events) return mh_errorf("cannot append to %s", path);
    MH_TRY(make_partial_dir(o));
    return write_follow(o, run_dir);
  }
  static const char *const sub[] = {"models", "eval", "selection"};
  for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", run_dir, sub[i]);
    MH_TRY(mh_mkdir_p(path));
  }
  snprintf(path, sizeof path, "%s/config.yaml", run_dir);
  MH_TRY(cfg_write_yaml(&o->cfg->doc, path));
  /* where the data was, so that `modyn resume` needs no --data-dir */
  snprintf(path, sizeof path, "%s/data_dir", run_dir);
  AtomicFile df;
  MH_TRY(atomic_open(&df, path));
  fprintf(df.fp, "%s\n", o->cfg->data_dir);
  MH_TRY(atomic_commit(&df));
  snprintf(path, sizeof path, "%s/events.jsonl", run_dir);
  o->events = fopen(path, "w");
  if (!o->events) return mh_errorf("cannot write %s", path);
  MH_TRY(make_partial_dir(o));
  return write_follow(o, run_dir);
}

/* selection/trigger_NNNN.h5: the trigger's training set as the strategy
 * chose it (/keys, and /weights for weighted strategies). */
int run_dir_write_selection(const Orch *o, int64_t trigger, const TrainingSet *set, int weighted) {
  char path[1100];
  snprintf(path, sizeof path, "%s/selection/trigger_%04lld.h5", o->dir, (long long)trigger);
  hid_t f = h5_create_tmp(path);
  if (f < 0) return MH_ERR;
  int rc = h5_attr_write_i64(f, "trigger", trigger);
  if (!rc) rc = h5_attr_write_str(f, "strategy", o->cfg->selection_name);
  if (!rc) rc = h5_write_i64(f, "keys", set->keys.len, set->keys.data);
  if (!rc && weighted) rc = h5_write_f32(f, "weights", set->weights.len, set->weights.data);
  if (rc) {
    h5_abandon(f, path);
    return mh_error_context("writing %s", path);
  }
  return h5_commit(f, path);
}

/* selection/trigger_NNNN_epoch_EEEE.h5: a selection made inside training. */
int run_dir_write_epoch_selection(const Orch *o, int64_t trigger, int64_t epoch, const char *by,
                                  const int64_t *keys, const float *weights, int64_t n) {
  char path[1100];
  snprintf(path, sizeof path, "%s/selection/trigger_%04lld_epoch_%04lld.h5", o->dir,
           (long long)trigger, (long long)epoch);
  hid_t f = h5_create_tmp(path);
  if (f < 0) return MH_ERR;
  int rc = h5_attr_write_i64(f, "trigger", trigger);
  if (!rc) rc = h5_attr_write_i64(f, "epoch", epoch);
  if (!rc) rc = h5_attr_write_str(f, "strategy", o->cfg->selection_name);
  if (!rc) rc = h5_attr_write_str(f, "downsampling", by);
  if (!rc) rc = h5_write_i64(f, "keys", n, keys);
  if (!rc) rc = h5_write_f32(f, "weights", n, weights);
  if (rc) {
    H5Fclose(f);
    return mh_error_context("writing %s", path);
  }
  return h5_commit(f, path);
}

int run_dir_write_triggers(const Orch *o) {
  char path[1100];
  snprintf(path, sizeof path, "%s/triggers.csv", o->dir);
  AtomicFile f;
  MH_TRY(atomic_open(&f, path));
  fprintf(f.fp, "trigger,stream_index,first_timestamp,last_timestamp,new_samples,"
                "trained_samples,scored_samples,epochs,loss_first_epoch,loss_last_epoch,"
                "train_seconds,eval_seconds\n");
  for (int i = 0; i < o->nmodels; i++) {
    const CheckpointMeta *t = &o->meta[i];
    fprintf(f.fp, "%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%.6f,%.6f,%.4f,%.4f\n",
            (long long)t->trigger, (long long)t->stream_index, (long long)t->first_timestamp,
            (long long)t->last_timestamp, (long long)t->new_samples,
            (long long)t->samples_trained, (long long)t->samples_scored, (long long)t->epochs,
            t->loss_first, t->loss_last, t->train_seconds, o->eval_s[i]);
  }
  return atomic_commit(&f);
}

int run_dir_write_matrix(const Orch *o) {
  char path[1100];
  snprintf(path, sizeof path, "%s/eval/matrix.csv", o->dir);
  return evaluation_write_matrix(&o->ev, o->meta, o->nmodels, path);
}

int run_dir_write_composite(const Orch *o, EvalScore *score) {
  char cpath[1100], spath[1100];
  snprintf(cpath, sizeof cpath, "%s/eval/composite.csv", o->dir);
  snprintf(spath, sizeof spath, "%s/eval/score.csv", o->dir);
  return evaluation_write_composite(&o->ev, o->meta, o->nmodels, cpath, spath, score);
}

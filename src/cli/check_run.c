/* check_run.c - `modyn check RUN_DIR`: verify what `modyn resume` (and
 * `modyn eval`) would read from a run directory, before a resume trusts it:
 * config.yaml parses, data_dir and follow are well-formed, and every
 * checkpoint (models/trigger_NNNN.h5, the .h5 files in aux/) loads with every stored
 * checksum matching (checkpoint_verify: the code a load uses). Rank 0 reads
 * the files; the verdict reaches every rank. Names the first damaged file
 * and what to do about it. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "config/pipeline.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "train/checkpoint.h"

int check_is_run_dir(const char *dir) {
  char p[1200];
  struct stat st;
  snprintf(p, sizeof p, "%s/config.yaml", dir);
  if (stat(p, &st) == 0) return 1;
  snprintf(p, sizeof p, "%s/models", dir);
  if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) return 1;
  snprintf(p, sizeof p, "%s/triggers.csv", dir);
  return stat(p, &st) == 0;
}

typedef struct {
  const char *dir;
  int table;
  int ok, bad, notes;
  char first[4096]; /* the first damaged file's message ("" none) */
} RunCheck;

static void verdict(RunCheck *c, const char *rel, const char *what) {
  if (c->table) printf("%-34s %s\n", rel, what);
}

/* rel is damaged (the reason is the recorded error); todo says what to do. */
static void damaged(RunCheck *c, const char *rel, const char *todo) {
  c->bad++;
  /* The reason without what the load's message adds (the file's path, its
   * own advice): this message names the file and says what to do. */
  char why[2048], prefix[1300];
  snprintf(why, sizeof why, "%s", mh_error());
  snprintf(prefix, sizeof prefix, "checkpoint %s/%s: ", c->dir, rel);
  const char *r = strncmp(why, prefix, strlen(prefix)) ? why : why + strlen(prefix);
  char *advice = strstr(why, "; restore it from a copy");
  if (advice) *advice = '\0';
  if (!c->first[0])
    snprintf(c->first, sizeof c->first, "%s/%s is damaged: %s; %s", c->dir, rel, r, todo);
  verdict(c, rel, "DAMAGED");
  if (c->table) printf("    %s\n", r);
}

static void good(RunCheck *c, const char *rel, const char *what) {
  c->ok++;
  verdict(c, rel, what);
}

static void note(RunCheck *c, const char *rel, const char *what) {
  c->notes++;
  verdict(c, rel, what);
}

/* NAME in dir matching prefix + digits + suffix: the number, or -1. */
static long long numbered(const char *name, const char *prefix, const char *suffix) {
  size_t lp = strlen(prefix), ls = strlen(suffix), n = strlen(name);
  if (n <= lp + ls || strncmp(name, prefix, lp) || strcmp(name + n - ls, suffix)) return -1;
  long long v = 0;
  for (size_t i = lp; i < n - ls; i++) {
    if (name[i] < '0' || name[i] > '9' || v > 100000000) return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

/* The names in RUN/sub (sorted), or 0 entries when it does not exist. */
static int list_dir(const char *dir, const char *sub, char ***names) {
  char p[1200];
  snprintf(p, sizeof p, "%s/%s", dir, sub);
  struct dirent **ents = NULL;
  int n = scandir(p, &ents, NULL, alphasort);
  *names = NULL;
  if (n <= 0) return 0;
  char **out = calloc((size_t)n, sizeof *out);
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (out && ents[i]->d_name[0] != '.') out[k++] = strdup(ents[i]->d_name);
    free(ents[i]);
  }
  free(ents);
  *names = out;
  return out ? k : 0;
}

static void free_names(char **names, int n) {
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* config.yaml, data_dir, follow. cfg is filled when config.yaml parses. */
static int check_config(RunCheck *c, PipelineConfig *cfg) {
  char path[1200], data_dir[1100] = "";
  int have_dd = 0;
  snprintf(path, sizeof path, "%s/data_dir", c->dir);
  char *text = NULL;
  size_t len = 0;
  if (mh_path_exists(path)) {
    if (mh_read_file(path, &text, &len) != MH_OK) {
      damaged(c, "data_dir", "it names the data directory for `modyn resume`: write that path "
                             "into it, or delete it and pass --data-dir to modyn resume");
    } else {
      size_t line = strcspn(text, "\n");
      if (line == 0 || line >= sizeof data_dir || memchr(text, '\0', len) ||
          (line < len && line + 1 != len)) {
        mh_errorf("expected one line with a directory, got %zu bytes", len);
        damaged(c, "data_dir", "it names the data directory for `modyn resume`: write that "
                               "path into it, or delete it and pass --data-dir to modyn resume");
      } else {
        memcpy(data_dir, text, line);
        data_dir[line] = '\0';
        have_dd = 1;
        struct stat st;
        if (stat(data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
          char what[1300];
          snprintf(what, sizeof what, "ok (but %.1100s is not a directory here: pass --data-dir "
                                      "to modyn resume)", data_dir);
          note(c, "data_dir", what);
        } else {
          good(c, "data_dir", "ok");
        }
      }
    }
    free(text);
    text = NULL;
  }

  snprintf(path, sizeof path, "%s/follow", c->dir);
  if (mh_path_exists(path)) {
    double poll = -1, idle = -1;
    char extra = 0;
    if (mh_read_file(path, &text, &len) != MH_OK) {
      damaged(c, "follow", "delete it and pass --follow to modyn resume");
    } else if (sscanf(text, "%lf %lf %c", &poll, &idle, &extra) != 2 || !(poll >= 0) ||
               !(idle >= 0)) {
      mh_errorf("expected two numbers (poll and idle seconds)");
      damaged(c, "follow", "delete it and pass --follow (with --poll/--idle) to modyn resume");
    } else {
      good(c, "follow", "ok");
    }
    free(text);
    text = NULL;
  }

  snprintf(path, sizeof path, "%s/config.yaml", c->dir);
  int rc = MH_ERR;
  if (mh_read_file(path, &text, &len) == MH_OK) {
    rc = pipeline_parse(path, text, NULL, 0, have_dd ? data_dir : NULL, cfg);
    free(text);
  }
  if (rc) {
    damaged(c, "config.yaml", "it is the run's resolved configuration, which `modyn resume` "
                              "reads: restore it from a copy (or rerun the pipeline into a new "
                              "directory)");
    return MH_ERR;
  }
  good(c, "config.yaml", "ok");
  return MH_OK;
}

/* models/: trigger_0000.h5, trigger_0001.h5, ... as resume takes them (up to
 * the first gap); aux/: the downsamplers' models. */
static void check_models(RunCheck *c, const PipelineConfig *cfg) {
  char **names = NULL;
  int n = list_dir(c->dir, "models", &names);
  int64_t expect = 0, nparams = -1, checked = 0, gap = -1;
  char rel[600], what[600];
  static const char todo_fmt[] =
      "delete it and every later checkpoint (models/trigger_%04lld.h5 onwards); `modyn resume "
      "%s` then trains those triggers again (or restore the files from a copy)";
  for (int i = 0; i < n; i++) {
    snprintf(rel, sizeof rel, "models/%.500s", names[i]);
    long long t = numbered(names[i], "trigger_", ".h5");
    long long pt = numbered(names[i], "trigger_", "_partial.h5");
    if (pt >= 0) { /* a mid-trigger checkpoint: resume continues trigger pt from it */
      char path[1200];
      snprintf(path, sizeof path, "%s/%s", c->dir, rel);
      CheckpointInfo info;
      int rc = checkpoint_verify(path, &info);
      if (!rc && (!info.partial || info.meta.trigger != pt))
        rc = mh_errorf("it is not the mid-trigger checkpoint of trigger %lld", pt);
      if (rc) {
        damaged(c, rel, "delete it: `modyn resume` then trains this trigger again from its "
                        "start (or restore it from a copy)");
        continue;
      }
      checked += info.checksums;
      snprintf(what, sizeof what, "ok (mid-trigger checkpoint of trigger %lld: resume "
                                  "continues from it)", pt);
      good(c, rel, what);
      continue;
    }
    if (t < 0) {
      size_t l = strlen(names[i]);
      if (l > 4 && !strcmp(names[i] + l - 4, ".tmp"))
        note(c, rel, "leftover of an interrupted write (resume removes it)");
      continue;
    }
    if (gap < 0 && t != expect) gap = expect;
    if (gap >= 0) {
      snprintf(what, sizeof what, "not read by resume: trigger_%04lld.h5 is missing, so resume "
                                  "trains from trigger %lld and overwrites this file",
               (long long)gap, (long long)gap);
      note(c, rel, what);
      continue;
    }
    expect++;
    char path[1200], todo[1400];
    snprintf(path, sizeof path, "%s/%s", c->dir, rel);
    snprintf(todo, sizeof todo, todo_fmt, t, c->dir);
    CheckpointInfo info;
    int rc = checkpoint_verify(path, &info);
    if (!rc && info.meta.trigger != t)
      rc = mh_errorf("it holds trigger %lld", (long long)info.meta.trigger);
    if (!rc && cfg && strcmp(info.model_id, cfg->model_id))
      rc = mh_errorf("it holds a %s model, but config.yaml trains %s", info.model_id,
                     cfg->model_id);
    if (!rc && nparams >= 0 && info.nparams != nparams)
      rc = mh_errorf("it holds %lld parameters, the earlier checkpoints %lld",
                     (long long)info.nparams, (long long)nparams);
    if (!rc && (info.meta.parent < -1 || info.meta.parent >= t))
      rc = mh_errorf("its parent trigger %lld is not an earlier one", (long long)info.meta.parent);
    if (rc) {
      damaged(c, rel, todo);
      continue;
    }
    if (nparams < 0) nparams = info.nparams;
    checked += info.checksums;
    snprintf(what, sizeof what, "ok (%lld parameters%s, %d checksum%s)", (long long)info.nparams,
             info.delta ? ", stored as a difference" : "", info.checksums,
             mh_plural(info.checksums));
    good(c, rel, info.checksums ? what : "ok (no checksums: written before modyn recorded them)");
  }
  free_names(names, n);

  n = list_dir(c->dir, "aux", &names);
  for (int i = 0; i < n; i++) {
    snprintf(rel, sizeof rel, "aux/%.500s", names[i]);
    size_t l = strlen(names[i]);
    if (l > 4 && !strcmp(names[i] + l - 4, ".tmp")) {
      note(c, rel, "leftover of an interrupted write (resume removes it)");
      continue;
    }
    if (l < 3 || strcmp(names[i] + l - 3, ".h5")) continue;
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", c->dir, rel);
    CheckpointInfo info;
    if (checkpoint_verify(path, &info)) {
      damaged(c, rel, "delete it: `modyn resume` trains this model of the downsampler again "
                      "(or restore it from a copy)");
      continue;
    }
    checked += info.checksums;
    snprintf(what, sizeof what, "ok (%s, %lld parameters, %d checksum%s)", info.model_id,
             (long long)info.nparams, info.checksums, mh_plural(info.checksums));
    good(c, rel, what);
  }
  free_names(names, n);
  if (c->table)
    printf("# %s: %lld checkpoint%s in order for resume, %lld checksum%s verified\n", c->dir,
           (long long)expect, mh_plural(expect), (long long)checked, mh_plural(checked));
}

int check_run_dir(const Dist *d, const char *dir, int verbose, int table) {
  RunCheck c;
  memset(&c, 0, sizeof c);
  c.dir = dir;
  c.table = table && d->rank == 0;
  int rc = MH_OK;
  if (d->rank == 0) {
    PipelineConfig *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
      rc = mh_errorf("out of memory");
    } else {
      if (c.table) printf("# run directory %s\n", dir);
      int parsed = check_config(&c, cfg) == MH_OK;
      check_models(&c, parsed ? cfg : NULL);
      pipeline_free(cfg);
      free(cfg);
      if (verbose) {
        printf("# %s: %d file%s verified ok", dir, c.ok, mh_plural(c.ok));
        if (c.notes) printf(", %d note%s", c.notes, mh_plural(c.notes));
        if (c.bad) printf(", %d DAMAGED", c.bad);
        printf("\n");
      }
      fflush(stdout);
      if (c.bad) rc = mh_errorf("%s", c.first);
    }
  }
  return dist_agree_or_report(d, rc);
}

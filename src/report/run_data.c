/* run_data.c - see run_data.h. */
#include "report/run_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "core/fsutil.h"

#define MAX_FIELDS 16

/* Split a CSV line (no quoting: run files never quote) in place. */
static int split(char *line, char **f, int max) {
  int n = 0;
  line[strcspn(line, "\r\n")] = '\0';
  for (char *p = line;;) {
    if (n == max) return n;
    f[n++] = p;
    char *c = strchr(p, ',');
    if (!c) break;
    *c = '\0';
    p = c + 1;
  }
  return n;
}

static double num(const char *s) {
  if (!strcmp(s, "nan") || !strcmp(s, "-nan") || !*s) return NAN;
  return strtod(s, NULL);
}

/* Value of "key": in a JSON line (numbers only), 0 when absent. */
static double json_num(const char *line, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(line, pat);
  return p ? strtod(p + strlen(pat), NULL) : 0.0;
}

static int load_name(RunData *r) {
  char path[1100];
  snprintf(path, sizeof path, "%s/config.yaml", r->dir);
  CfgDoc doc;
  const char *base = strrchr(r->dir, '/');
  snprintf(r->name, sizeof r->name, "%.120s", base ? base + 1 : r->dir);
  if (cfg_load_file(path, &doc)) return MH_ERR;
  CfgRef root = cfg_root(&doc), p;
  cfg_child(&root, "pipeline", &p);
  char def[128];
  snprintf(def, sizeof def, "%s", r->name);
  int rc = cfg_get_string(&p, "name", def, r->name, sizeof r->name);
  cfg_doc_free(&doc);
  return rc;
}

static int load_triggers(RunData *r) {
  char path[1100], line[4096];
  snprintf(path, sizeof path, "%s/triggers.csv", r->dir);
  FILE *fp = fopen(path, "r");
  if (!fp) {
    /* a run that never fired a trigger has a config but no triggers.csv */
    snprintf(path, sizeof path, "%s/config.yaml", r->dir);
    if (mh_path_exists(path)) return MH_OK;
    snprintf(path, sizeof path, "%s/triggers.csv", r->dir);
    return mh_errorf("cannot read %s: is %s a run directory?", path, r->dir);
  }
  int cap = 0, ln = 0;
  while (fgets(line, sizeof line, fp)) {
    if (++ln == 1) continue;
    char *f[MAX_FIELDS];
    int n = split(line, f, MAX_FIELDS);
    if (n < 6) {
      fclose(fp);
      return mh_errorf("%s:%d: expected at least 6 columns, got %d", path, ln, n);
    }
    if (r->ntriggers == cap) {
      cap = cap * 2 + 16;
      RunTrigger *t = mh_realloc(r->triggers, (size_t)cap * sizeof *t);
      if (!t) {
        fclose(fp);
        return MH_ERR;
      }
      r->triggers = t;
    }
    RunTrigger *t = &r->triggers[r->ntriggers++];
    memset(t, 0, sizeof *t);
    t->trigger = strtoll(f[0], NULL, 10);
    t->first_ts = strtoll(f[2], NULL, 10);
    t->last_ts = strtoll(f[3], NULL, 10);
    t->samples_trained = strtoll(f[5], NULL, 10);
    r->samples_trained += t->samples_trained;
  }
  fclose(fp);
  /* Stage timings from events.jsonl (optional). */
  snprintf(path, sizeof path, "%s/events.jsonl", r->dir);
  char *text = NULL;
  if (mh_read_file(path, &text, NULL) == MH_OK) {
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
      if (!strstr(l, "\"event\":\"trigger\"")) continue;
      int64_t k = (int64_t)json_num(l, "trigger");
      for (int i = 0; i < r->ntriggers; i++)
        if (r->triggers[i].trigger == k) {
          RunTrigger *t = &r->triggers[i];
          t->selection_s = json_num(l, "selection_s");
          t->train_s = json_num(l, "train_s");
          t->checkpoint_s = json_num(l, "checkpoint_s");
          t->eval_s = json_num(l, "eval_s");
        }
    }
  } else {
    mh_error_clear();
  }
  free(text);
  return MH_OK;
}

static int load_composite(RunData *r) {
  char path[1100], line[4096];
  snprintf(path, sizeof path, "%s/eval/composite.csv", r->dir);
  FILE *fp = fopen(path, "r");
  if (!fp) return MH_OK; /* a run without evaluation */
  int cap = 0, ln = 0;
  double sum = 0, wsum = 0, w = 0;
  while (fgets(line, sizeof line, fp)) {
    if (++ln == 1) continue;
    char *f[MAX_FIELDS];
    int n = split(line, f, MAX_FIELDS);
    if (n < 11) {
      fclose(fp);
      return mh_errorf("%s:%d: expected 11 columns, got %d", path, ln, n);
    }
    if (!r->handler[0]) {
      snprintf(r->handler, sizeof r->handler, "%s", f[0]);
      snprintf(r->dataset, sizeof r->dataset, "%s", f[1]);
      snprintf(r->metric, sizeof r->metric, "%s", f[2]);
    }
    if (strcmp(f[0], r->handler) || strcmp(f[1], r->dataset) || strcmp(f[2], r->metric)) continue;
    if (r->nintervals == cap) {
      cap = cap * 2 + 16;
      RunInterval *x = mh_realloc(r->intervals, (size_t)cap * sizeof *x);
      if (!x) {
        fclose(fp);
        return MH_ERR;
      }
      r->intervals = x;
    }
    RunInterval *x = &r->intervals[r->nintervals++];
    x->start = strtoll(f[3], NULL, 10);
    x->end = strtoll(f[4], NULL, 10);
    x->ref = strtoll(f[5], NULL, 10);
    x->num_samples = strtoll(f[6], NULL, 10);
    x->active = atoi(f[7]);
    x->active_value = num(f[8]);
    x->trained = atoi(f[9]);
    x->trained_value = num(f[10]);
    if (x->num_samples > 0 && x->active >= 0 && isfinite(x->active_value)) {
      double d = (double)(x->end - x->start);
      sum += x->active_value;
      wsum += x->active_value * d;
      w += d;
      r->scored++;
    }
  }
  fclose(fp);
  r->score_mean = r->scored ? sum / r->scored : NAN;
  r->score_tw = w > 0 ? wsum / w : NAN;
  return MH_OK;
}

static int load_matrix(RunData *r) {
  r->nmodels = r->ntriggers;
  r->matrix = mh_malloc((size_t)(r->nmodels * r->nintervals + 1) * sizeof(double));
  if (!r->matrix) return MH_ERR;
  for (int64_t i = 0; i < (int64_t)r->nmodels * r->nintervals; i++) r->matrix[i] = NAN;
  char path[1100], line[4096];
  snprintf(path, sizeof path, "%s/eval/matrix.csv", r->dir);
  FILE *fp = fopen(path, "r");
  if (!fp) return MH_OK;
  int ln = 0, hint = 0;
  while (fgets(line, sizeof line, fp)) {
    if (++ln == 1) continue;
    char *f[MAX_FIELDS];
    int n = split(line, f, MAX_FIELDS);
    if (n < 10) {
      fclose(fp);
      return mh_errorf("%s:%d: expected 10 columns, got %d", path, ln, n);
    }
    if (strcmp(f[3], r->handler) || strcmp(f[4], r->dataset) || strcmp(f[8], r->metric)) continue;
    int m = atoi(f[0]);
    int64_t s = strtoll(f[5], NULL, 10), e = strtoll(f[6], NULL, 10);
    if (m < 0 || m >= r->nmodels) continue;
    /* Intervals usually come in order: try the one after the last hit. */
    int col = -1;
    for (int k = 0; k < r->nintervals && col < 0; k++) {
      int i = (hint + k) % r->nintervals;
      if (r->intervals[i].start == s && r->intervals[i].end == e) col = i;
    }
    if (col < 0) continue;
    hint = col + 1;
    r->matrix[(int64_t)m * r->nintervals + col] = num(f[9]);
  }
  fclose(fp);
  return MH_OK;
}

/* Split a CSV line whose fields may be double-quoted ("" for a quote),
 * in place. */
static int split_quoted(char *line, char **f, int max) {
  int n = 0;
  line[strcspn(line, "\r\n")] = '\0';
  char *p = line;
  while (n < max) {
    char *out = p;
    f[n++] = out;
    if (*p == '"') {
      for (p++; *p; p++) {
        if (*p == '"' && p[1] == '"') *out++ = *++p;
        else if (*p == '"') {
          p++;
          break;
        } else *out++ = *p;
      }
    } else {
      while (*p && *p != ',') *out++ = *p++;
    }
    int more = *p == ',';
    *out = '\0';
    if (!more) break;
    p++;
  }
  return n;
}

/* A sweep point's values, when DIR/../points.csv (written by modyn sweep)
 * lists DIR: the axes' values, shortened for labels (a trigger map loses
 * its braces and "id: "), joined by " · ". */
static void load_label(RunData *r) {
  char path[1100], line[4096], head[4096];
  snprintf(path, sizeof path, "%s/../points.csv", r->dir);
  FILE *fp = fopen(path, "r");
  if (!fp) return;
  const char *base = strrchr(r->dir, '/');
  base = base ? base + 1 : r->dir;
  char *hf[32], *f[32];
  int nh = fgets(head, sizeof head, fp) ? split_quoted(head, hf, 32) : 0;
  while (nh > 2 && fgets(line, sizeof line, fp)) {
    int n = split_quoted(line, f, 32);
    const char *b = n > 1 ? strrchr(f[1], '/') : NULL;
    if (n < 2 || strcmp(b ? b + 1 : f[1], base)) continue;
    size_t len = 0;
    for (int a = 2; a < n && a < nh; a++) {
      char v[512];
      size_t k = 0;
      for (const char *c = f[a]; *c && k + 1 < sizeof v; c++) {
        if (*c == '{' || *c == '}') continue;
        if (!strncmp(c, "id: ", 4)) {
          c += 3;
          continue;
        }
        v[k++] = *c;
      }
      v[k] = '\0';
      const char *axis = strrchr(hf[a], '.');
      axis = axis ? axis + 1 : hf[a];
      /* names and maps speak for themselves; a scalar gets its field's name */
      const char *hb = strchr(hf[a], '[');
      if (strchr(f[a], '{') || (hb && !strncmp(hb, "[name]", 6)))
        len += (size_t)snprintf(r->label + len, sizeof r->label - len, "%s%s", len ? " · " : "", v);
      else
        len += (size_t)snprintf(r->label + len, sizeof r->label - len, "%s%s %s",
                                len ? " · " : "", axis, v);
      if (len >= sizeof r->label) break;
    }
    break;
  }
  fclose(fp);
}

int run_data_load(const char *dir, RunData *r) {
  memset(r, 0, sizeof *r);
  r->score_mean = r->score_tw = NAN;
  snprintf(r->dir, sizeof r->dir, "%s", dir);
  size_t len = strlen(r->dir);
  while (len > 1 && r->dir[len - 1] == '/') r->dir[--len] = '\0';
  if (load_name(r) || load_triggers(r) || load_composite(r) || load_matrix(r))
    return mh_error_context("run %s", dir);
  load_label(r);
  return MH_OK;
}

void run_data_free(RunData *r) {
  free(r->triggers);
  free(r->intervals);
  free(r->matrix);
  memset(r, 0, sizeof *r);
}

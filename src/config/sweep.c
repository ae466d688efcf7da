/* sweep.c - see sweep.h. */
#include "config/sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"

#define VALUE_CAP 4096

static char *assignment(const char *path, const char *value) {
  size_t n = strlen(path) + strlen(value) + 2;
  char *s = mh_malloc(n);
  if (s) snprintf(s, n, "%s=%s", path, value);
  return s;
}

/* The `set` map: PATH: VALUE pairs. */
static int parse_set(const CfgRef *set, Sweep *sw) {
  if (!cfg_present(set)) return MH_OK;
  MH_TRY(cfg_expect_map(set));
  const CfgNode *m = set->node;
  sw->set = mh_calloc((size_t)m->n + 1, sizeof(char *));
  if (!sw->set) return MH_ERR;
  char value[VALUE_CAP];
  for (int i = 0; i < m->n; i++) {
    CfgRef v;
    cfg_child(set, m->keys[i], &v);
    if (cfg_flow_text(m->items[i], value, sizeof value)) return cfg_errorf(&v, "%s", mh_error());
    if (!(sw->set[sw->nset++] = assignment(m->keys[i], value))) return MH_ERR;
  }
  return MH_OK;
}

/* The `grid` map: PATH: [VALUE, ...] per axis. */
static int parse_grid(const CfgRef *grid, Sweep *sw) {
  if (!cfg_present(grid)) return cfg_errorf(grid, "missing required field");
  MH_TRY(cfg_expect_map(grid));
  const CfgNode *m = grid->node;
  if (m->n == 0) return cfg_errorf(grid, "needs at least one field with a list of values");
  if (m->n > SWEEP_MAX_AXES)
    return cfg_errorf(grid, "%d fields; at most %d", m->n, SWEEP_MAX_AXES);
  sw->npoints = 1;
  char value[VALUE_CAP];
  for (int a = 0; a < m->n; a++) {
    CfgRef axis;
    cfg_child(grid, m->keys[a], &axis);
    if ((axis.node->kind != CFG_SEQ && axis.node->kind != CFG_MAP) || axis.node->n == 0)
      return cfg_errorf(&axis, "expected a non-empty list of values, or a map of named values");
    SweepAxis *x = &sw->axes[sw->naxes++];
    x->named = axis.node->kind == CFG_MAP;
    if (snprintf(x->path, sizeof x->path, "%s", m->keys[a]) >= (int)sizeof x->path)
      return cfg_errorf(&axis, "field path too long");
    x->assign = mh_calloc((size_t)axis.node->n, sizeof(char *));
    x->value = mh_calloc((size_t)axis.node->n, sizeof(char *));
    if (!x->assign || !x->value) return MH_ERR;
    for (int k = 0; k < axis.node->n; k++) {
      CfgRef item;
      if (x->named) {
        cfg_child(&axis, axis.node->keys[k], &item);
        if (!cfg_is_safe_name(axis.node->keys[k]))
          return cfg_errorf(&item, "the name \"%s\" may hold only letters, digits, '.', '_' and "
                                   "'-' (it labels the point in reports)",
                            axis.node->keys[k]);
      } else {
        item = cfg_item(&axis, k);
      }
      if (cfg_flow_text(item.node, value, sizeof value)) return cfg_errorf(&item, "%s", mh_error());
      x->value[x->n] = mh_strdup(x->named ? axis.node->keys[k] : value);
      x->assign[x->n] = assignment(x->path, value);
      if (!x->value[x->n] || !x->assign[x->n]) return MH_ERR;
      x->n++;
    }
    if (sw->npoints > INT64_MAX / x->n) return cfg_errorf(&axis, "too many points");
    sw->npoints *= x->n;
  }
  if (sw->npoints > 100000)
    return cfg_errorf(grid, "%lld points; at most 100000 per sweep", (long long)sw->npoints);
  return MH_OK;
}

static int parse_slurm(const CfgRef *sl, Sweep *sw) {
  static const char *const keys[] = {"ranks", "nodes", "cpus_per_task", "time", "partition", NULL};
  sw->ranks = 1;
  if (!cfg_present(sl)) return MH_OK;
  MH_TRY(cfg_check_keys(sl, keys));
  MH_TRY(cfg_get_int(sl, "ranks", 1, 1, 1 << 20, &sw->ranks));
  MH_TRY(cfg_get_int(sl, "nodes", 0, 0, 1 << 20, &sw->nodes));
  MH_TRY(cfg_get_int(sl, "cpus_per_task", 0, 0, 1 << 16, &sw->cpus_per_task));
  MH_TRY(cfg_get_string(sl, "time", "", sw->time, sizeof sw->time));
  return cfg_get_string(sl, "partition", "", sw->partition, sizeof sw->partition);
}

/* Name of the file without folder and .yaml/.yml. */
static void stem(const char *path, char *out, size_t cap) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  snprintf(out, cap, "%s", b);
  char *dot = strrchr(out, '.');
  if (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml"))) *dot = 0;
}

int sweep_parse(const char *name, const char *text, Sweep *sw) {
  static const char *const keys[] = {"name", "pipeline", "out", "set", "grid", "slurm", NULL};
  memset(sw, 0, sizeof *sw);
  snprintf(sw->file, sizeof sw->file, "%s", name);
  CfgDoc doc;
  MH_TRY(cfg_load_string(name, text, &doc));
  CfgRef root = cfg_root(&doc), x;
  int rc = MH_OK;
  if (!doc.root) rc = mh_errorf("%s: empty sweep file; see `modyn sweep --help`", name);
  if (!rc) rc = cfg_check_keys(&root, keys);
  char def[128];
  stem(name, def, sizeof def);
  if (!rc) rc = cfg_get_string(&root, "name", def, sw->name, sizeof sw->name);
  if (!rc && !cfg_is_safe_name(sw->name)) {
    cfg_child(&root, "name", &x);
    rc = cfg_errorf(&x, "\"%s\" may hold only letters, digits, '.', '_' and '-', and not start "
                        "with '.' (it names the sweep's folder runs/<name>)",
                    sw->name);
  }
  char pipe[1024] = "";
  if (!rc) rc = cfg_req_string(&root, "pipeline", pipe, sizeof pipe);
  if (!rc) {
    /* Relative to the sweep file, so that the file works from any cwd. */
    const char *slash = strrchr(name, '/');
    int len = slash && pipe[0] != '/' ? (int)(slash - name) : 0;
    if (snprintf(sw->pipeline, sizeof sw->pipeline, "%.*s%s%s", len, name, len ? "/" : "", pipe) >=
        (int)sizeof sw->pipeline)
      rc = mh_errorf("%s: pipeline path too long", name);
  }
  char out[1024];
  snprintf(out, sizeof out, "runs/%s", sw->name);
  if (!rc) rc = cfg_get_string(&root, "out", out, sw->out, sizeof sw->out);
  if (!rc) {
    cfg_child(&root, "set", &x);
    rc = parse_set(&x, sw);
  }
  if (!rc) {
    cfg_child(&root, "grid", &x);
    rc = parse_grid(&x, sw);
  }
  if (!rc) {
    cfg_child(&root, "slurm", &x);
    rc = parse_slurm(&x, sw);
  }
  cfg_doc_free(&doc);
  if (rc) sweep_free(sw);
  return rc;
}

void sweep_free(Sweep *sw) {
  for (int i = 0; i < sw->nset; i++) free(sw->set[i]);
  free(sw->set);
  for (int a = 0; a < sw->naxes; a++) {
    for (int k = 0; k < sw->axes[a].n; k++) {
      free(sw->axes[a].assign[k]);
      free(sw->axes[a].value[k]);
    }
    free(sw->axes[a].assign);
    free(sw->axes[a].value);
  }
  sw->nset = sw->naxes = 0;
  sw->set = NULL;
}

/* Index of point i on axis a (the last axis varies fastest). */
static int axis_index(const Sweep *sw, int64_t i, int a) {
  for (int b = sw->naxes - 1; b > a; b--) i /= sw->axes[b].n;
  return (int)(i % sw->axes[a].n);
}

int sweep_point(const Sweep *sw, int64_t i, const char **sets, int cap, int *n) {
  if (i < 0 || i >= sw->npoints)
    return mh_errorf("point %lld does not exist: %s has points 0..%lld", (long long)i, sw->file,
                     (long long)sw->npoints - 1);
  if (cap < sw->nset + sw->naxes) return mh_errorf("too many overrides");
  *n = 0;
  for (int k = 0; k < sw->nset; k++) sets[(*n)++] = sw->set[k];
  for (int a = 0; a < sw->naxes; a++) sets[(*n)++] = sw->axes[a].assign[axis_index(sw, i, a)];
  return MH_OK;
}

const char *sweep_value(const Sweep *sw, int64_t i, int a) {
  return sw->axes[a].value[axis_index(sw, i, a)];
}

void sweep_point_dir(const Sweep *sw, int64_t i, char *out, size_t cap) {
  snprintf(out, cap, "%s/%03lld", sw->out, (long long)i);
}

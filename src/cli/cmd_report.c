/* cmd_report.c - `modyn report RUN_DIR [RUN_DIR...] --out DIR`: an HTML
 * page with SVG figures and CSV tables of runs (report/report.h). Rank 0
 * writes; under mpirun the other ranks only wait for the verdict. */
#include <glob.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cliopt.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "report/report.h"

static const CliOpt report_opts[] = {
    {"out", "DIR", "where index.html and the CSV files go (required; created if missing)"},
    {NULL, NULL, NULL},
};

static const CliSpec report_spec = {
    "modyn report", "RUN_DIR|SWEEP_DIR [...]",
    "Write one self-contained HTML page (DIR/index.html, inline SVG figures) and the same\n"
    "numbers as CSV for one or more run directories: per run the evaluation matrix heatmap,\n"
    "the composite metric over time with trigger times, samples trained and time per stage\n"
    "per trigger; across runs a table and scatter plots of triggers and samples trained vs\n"
    "the pipeline score. A sweep's folder (modyn sweep) stands for its point runs.",
    report_opts};

static int on_opt(void *ctx, const char *name, const char *value) {
  if (!strcmp(name, "out")) *(const char **)ctx = value;
  return 0;
}

static int64_t point_of(const char *dir) {
  const char *b = strrchr(dir, '/');
  return strtoll(b ? b + 1 : dir, NULL, 10);
}

static int by_point(const void *a, const void *b) {
  int64_t x = point_of(*(char *const *)a), y = point_of(*(char *const *)b);
  return x < y ? -1 : x > y;
}

/* The run directories: each argument as given, except a sweep's folder
 * (points.csv and no config.yaml), which stands for its point runs that have
 * started (NNN/config.yaml), in point order. *out is malloc'ed, its strings
 * too. */
static int expand_runs(char **args, int n, char ***out, int *nout) {
  char **list = NULL, path[1200];
  int len = 0, rc = MH_OK;
  for (int i = 0; i < n && !rc; i++) {
    snprintf(path, sizeof path, "%s/config.yaml", args[i]);
    int is_run = mh_path_exists(path);
    snprintf(path, sizeof path, "%s/points.csv", args[i]);
    glob_t g = {0};
    if (!is_run && mh_path_exists(path)) {
      snprintf(path, sizeof path, "%s/[0-9][0-9][0-9]*/config.yaml", args[i]);
      if (glob(path, 0, NULL, &g) != 0 || g.gl_pathc == 0)
        rc = mh_errorf("sweep folder %s has no runs yet", args[i]);
    }
    size_t add = g.gl_pathc ? g.gl_pathc : 1;
    char **grown = rc ? NULL : realloc(list, sizeof(char *) * (size_t)(len + (int)add));
    if (!rc && !grown) rc = mh_errorf("out of memory");
    if (grown) list = grown;
    for (size_t k = 0; !rc && k < add; k++) {
      list[len] = mh_strdup(g.gl_pathc ? g.gl_pathv[k] : args[i]);
      if (!list[len]) rc = MH_ERR;
      else if (g.gl_pathc) *strrchr(list[len], '/') = 0; /* drop /config.yaml */
      if (list[len]) len++;
    }
    globfree(&g);
    /* Point order: glob sorts NNN as text, which puts 1000 before 101. */
    if (!rc && add > 1) qsort(list + len - (int)add, add, sizeof *list, by_point);
  }
  *out = list;
  *nout = len;
  return rc;
}

int cmd_report(const Dist *d, int argc, char **argv) {
  const char *out = NULL;
  int first = 0;
  int rc = cli_parse(&report_spec, argc, argv, on_opt, &out, &first);
  if (rc == CLI_HELP) return 0;
  if (rc != CLI_OK) return 2;
  if (first >= argc || !out)
    return cli_arg_error("modyn report", "%s",
                         !out ? "--out DIR is required" : "expected at least one run directory") + 1;
  int ok = 1;
  if (d->rank == 0) {
    char **runs = NULL;
    int nruns = 0;
    ok = expand_runs(argv + first, argc - first, &runs, &nruns) == MH_OK;
    if (ok) ok = report_write((const char *const *)runs, nruns, out) == MH_OK;
    if (!ok) mh_print_error(stderr, mh_error());
    else printf("wrote %s/index.html (%d run%s) and CSV tables\n", out, nruns, nruns == 1 ? "" : "s");
    for (int i = 0; i < nruns; i++) free(runs[i]);
    free(runs);
  }
  if (dist_bcast(d, &ok, 1, MPI_INT)) mh_fatal_last();
  return ok ? 0 : 1;
}

/* cmd_sweep.c - `modyn sweep SWEEP.yaml`: run a grid of pipelines (one run
 * directory per point), here on all ranks one after another, or as a SLURM
 * job array with one array task per point. See config/sweep.h. */
#include <errno.h>
#include <mpi.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cliopt.h"
#include "cli/commands.h"
#include "cli/load_config.h"
#include "cli/runner.h"
#include "config/sweep.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"

static const CliOpt sweep_opts[] = {
    {"list", NULL, "print the points (index, run directory, values) and exit"},
    {"set", "PATH=VALUE", "override a field in every point, after the sweep's own values (repeatable)"},
    {"index", "I", "run only point I"},
    {"array-task", NULL, "run point $SLURM_ARRAY_TASK_ID (what each task of a submitted sweep does)"},
    {"submit", NULL, "write OUT/sweep.sbatch (one array task per point) and submit it with sbatch"},
    {"sbatch", "ARGS", "extra sbatch options for --submit, e.g. --sbatch=--wait"},
    {"out", "DIR", "folder of the run directories (default: the file's `out`, or runs/<name>)"},
    {"data-dir", "DIR", "where data.dataset_id names are looked up (default: $MODYN_DATA_DIR or ./data)"},
    {"quiet", NULL, "print only the results tables"},
    {NULL, NULL, NULL},
};

static const CliSpec sweep_spec = {
    "modyn sweep", "SWEEP.yaml",
    "Run every point of a sweep: a base pipeline with one combination of the grid's\n"
    "values each (see jobs/ and the README). Point i runs in OUT/NNN. Without options\n"
    "the points run one after another on all ranks of this job; a point whose run\n"
    "directory exists is resumed (a finished one trains nothing), so a stopped sweep\n"
    "continues where it was. With --submit, each point becomes one task of a SLURM\n"
    "job array with the file's slurm: ranks, nodes, time and partition. Compare the\n"
    "results with `modyn report OUT --out REPORT_DIR`.",
    sweep_opts};

typedef struct {
  CliCommon common;
  int list, array_task, submit;
  int64_t index; /* -1 = all */
  const char *sbatch;
} SweepArgs;

static int sweep_opt(void *ctx, const char *name, const char *value) {
  SweepArgs *a = ctx;
  if (!strcmp(name, "list")) a->list = 1;
  else if (!strcmp(name, "array-task")) a->array_task = 1;
  else if (!strcmp(name, "submit")) a->submit = 1;
  else if (!strcmp(name, "sbatch")) a->sbatch = value;
  else if (!strcmp(name, "index")) {
    if (cli_parse_i64("modyn sweep", name, value, &a->index)) return 1;
    if (a->index < 0) return cli_arg_error("modyn sweep", "--index: expected a point number >= 0, got \"%s\"", value);
  } else {
    return cli_common_opt(&a->common, name, value);
  }
  return 0;
}

/* " path=value" for each axis of point i. */
static const char *values_text(const Sweep *sw, int64_t i, char *buf, size_t cap) {
  size_t off = 0;
  buf[0] = 0;
  for (int a = 0; a < sw->naxes && off < cap; a++)
    off += (size_t)snprintf(buf + off, cap - off, " %s=%s", sw->axes[a].path, sweep_value(sw, i, a));
  return buf;
}

/* PATH, made absolute against cwd. */
static void absolute(const char *cwd, const char *path, char *out, size_t cap) {
  snprintf(out, cap, "%s%s%s", path[0] == '/' ? "" : cwd, path[0] == '/' ? "" : "/", path);
}

/* Rank 0: OUT/points.csv, the values of every point. */
static int write_points(const Sweep *sw) {
  char path[1100], dir[1100];
  snprintf(path, sizeof path, "%s/points.csv", sw->out);
  AtomicFile f;
  MH_TRY(atomic_open(&f, path));
  fprintf(f.fp, "point,run_dir");
  /* A named axis's column says so: its values are names, not YAML. */
  for (int a = 0; a < sw->naxes; a++)
    fprintf(f.fp, ",%s%s", sw->axes[a].path, sw->axes[a].named ? "[name]" : "");
  fprintf(f.fp, "\n");
  for (int64_t i = 0; i < sw->npoints; i++) {
    sweep_point_dir(sw, i, dir, sizeof dir);
    fprintf(f.fp, "%lld,%s", (long long)i, dir);
    for (int a = 0; a < sw->naxes; a++) {
      /* CSV: quote values holding commas or quotes. */
      const char *v = sweep_value(sw, i, a);
      if (strpbrk(v, ",\"")) {
        fputs(",\"", f.fp);
        for (const char *c = v; *c; c++) fputs(*c == '"' ? "\"\"" : (char[]){*c, 0}, f.fp);
        fputc('"', f.fp);
      } else {
        fprintf(f.fp, ",%s", v);
      }
    }
    fprintf(f.fp, "\n");
  }
  return atomic_commit(&f);
}

static void list_points(const Sweep *sw) {
  char dir[1100], vals[4096];
  printf("# sweep %s: %lld points over %s; runs in %s/NNN\n", sw->name, (long long)sw->npoints,
         sw->pipeline, sw->out);
  for (int64_t i = 0; i < sw->npoints; i++) {
    sweep_point_dir(sw, i, dir, sizeof dir);
    printf("%-6lld %-28s%s\n", (long long)i, dir, values_text(sw, i, vals, sizeof vals));
  }
}

/* sbatch --parsable [EXTRA] SCRIPT with the environment modyn started with
 * (not this MPI singleton's runtime variables, which would confuse mpirun
 * in the job); the job id goes to id. */
static int run_sbatch(const char *extra, const char *script, char *id, size_t cap) {
  char *argv[40];
  int n = 0;
  char *copy = mh_strdup(extra ? extra : "");
  if (!copy) return MH_ERR;
  argv[n++] = "sbatch";
  argv[n++] = "--parsable";
  for (char *t = strtok(copy, " "); t && n < 37; t = strtok(NULL, " ")) argv[n++] = t;
  argv[n++] = (char *)script;
  argv[n] = NULL;
  printf("#");
  for (int i = 0; i < n; i++) printf(" %s", argv[i]);
  printf("\n");
  fflush(stdout);
  int fd[2];
  if (pipe(fd) != 0) {
    free(copy);
    return mh_errorf("cannot run sbatch: %s", strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
  posix_spawn_file_actions_addclose(&fa, fd[0]);
  pid_t pid;
  int err = posix_spawnp(&pid, "sbatch", &fa, NULL, argv,
                         mh_startup_environ ? mh_startup_environ : environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fd[1]);
  free(copy);
  if (err) {
    close(fd[0]);
    return mh_errorf("cannot run sbatch: %s; is SLURM installed (apt-get install slurm-client)?",
                     strerror(err));
  }
  size_t got = 0;
  ssize_t r;
  while (got + 1 < cap && (r = read(fd[0], id + got, cap - 1 - got)) > 0) got += (size_t)r;
  id[got] = 0;
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  id[strcspn(id, "\n")] = 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return mh_errorf("sbatch failed (exit status %d)%s%s; the script is %s",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1, id[0] ? ": " : "", id, script);
  return MH_OK;
}

/* The array tasks whose log (LOGS/point-I.out) shows an error: "task 0
 * (LOGS/point-0.out: FIRST ERROR LINE), ..." into out ("" when none). */
static void failed_tasks(const char *logs, int64_t npoints, char *out, size_t cap) {
  size_t len = 0;
  int shown = 0;
  for (int64_t i = 0; i < npoints && len + 1 < cap; i++) {
    char path[1200], line[512];
    snprintf(path, sizeof path, "%s/point-%lld.out", logs, (long long)i);
    FILE *fp = fopen(path, "r");
    if (!fp) continue;
    int found = 0;
    while (!found && fgets(line, sizeof line, fp))
      found = strcasestr(line, "error") || strstr(line, "as root");
    fclose(fp);
    if (!found) continue;
    line[strcspn(line, "\n")] = 0;
    if (shown++ == 8) {
      len += (size_t)snprintf(out + len, cap - len, ", ...");
      break;
    }
    len += (size_t)snprintf(out + len, cap - len, "%stask %lld (%s: %s)",
                            len ? ", " : "failed array tasks: ", (long long)i, path, line);
  }
  if (len >= cap) out[cap - 1] = 0;
}

/* Rank 0: write OUT/sweep.sbatch and hand it to sbatch. */
static int submit(const Sweep *sw, const SweepArgs *a) {
  char exe[1024], cwd[1024], file[2200], script[1100];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return mh_errorf("cannot find the modyn binary (/proc/self/exe)");
  exe[n] = 0;
  if (!getcwd(cwd, sizeof cwd)) return mh_errorf("cannot read the current directory");
  absolute(cwd, sw->file, file, sizeof file);
  snprintf(script, sizeof script, "%s/sweep.sbatch", sw->out);
  char logs[1100], abs_logs[2200];
  snprintf(logs, sizeof logs, "%s/logs", sw->out);
  MH_TRY(mh_mkdir_p(logs));
  AtomicFile f;
  MH_TRY(atomic_open(&f, script));
  fprintf(f.fp, "#!/usr/bin/env bash\n");
  fprintf(f.fp, "#SBATCH --job-name=%s\n#SBATCH --array=0-%lld\n#SBATCH --ntasks=%lld\n", sw->name,
          (long long)sw->npoints - 1, (long long)sw->ranks);
  if (sw->nodes > 0) fprintf(f.fp, "#SBATCH --nodes=%lld\n", (long long)sw->nodes);
  if (sw->time[0]) fprintf(f.fp, "#SBATCH --time=%s\n", sw->time);
  if (sw->partition[0]) fprintf(f.fp, "#SBATCH --partition=%s\n", sw->partition);
  if (sw->cpus_per_task > 0) fprintf(f.fp, "#SBATCH --cpus-per-task=%lld\n", (long long)sw->cpus_per_task);
  absolute(cwd, logs, abs_logs, sizeof abs_logs);
  fprintf(f.fp, "#SBATCH --output=%s/point-%%a.out\n", abs_logs);
  fprintf(f.fp,
          "# Written by `modyn sweep %s --submit`: one array task per point of the sweep.\n"
          "# Resubmit with `sbatch %s`; a task whose point already ran resumes it (and a\n"
          "# finished point trains nothing). MODYN_MPIRUN_ARGS adds mpirun options.\n"
          "set -euo pipefail\ncd '%s'\n"
          "# what scripts/env.sh sets: Open MPI as root (containers), plain shared memory\n"
          "if [ \"$(id -u)\" -eq 0 ]; then\n"
          "  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1\n"
          "fi\n"
          "export OMPI_MCA_btl_vader_single_copy_mechanism=none\n"
          "# each rank bound to its task's cores (mpirun's default is one core)\n"
          "bind=\"--map-by slot:PE=${SLURM_CPUS_PER_TASK:-1}\"\n",
          sw->file, script, cwd);
  fprintf(f.fp, "exec mpirun -np \"$SLURM_NTASKS\" $bind ${MODYN_MPIRUN_ARGS:-} '%s' sweep '%s' --array-task --out '%s'",
          exe, file, sw->out);
  if (a->common.data_dir) fprintf(f.fp, " --data-dir '%s'", a->common.data_dir);
  for (int k = 0; k < a->common.nsets; k++) {
    fputs(" --set '", f.fp);
    for (const char *c = a->common.sets[k]; *c; c++) fputs(*c == '\'' ? "'\\''" : (char[]){*c, 0}, f.fp);
    fputc('\'', f.fp);
  }
  if (a->common.quiet) fprintf(f.fp, " --quiet");
  fprintf(f.fp, "\n");
  MH_TRY(atomic_commit(&f));
  char id[256] = "";
  if (run_sbatch(a->sbatch, script, id, sizeof id)) {
    /* with --wait, the tasks have run: say which failed and where to look */
    char failed[2048] = "";
    failed_tasks(logs, sw->npoints, failed, sizeof failed);
    if (!failed[0]) return MH_ERR;
    char *msg = mh_strdup(mh_error());
    int rc = mh_errorf("%s; %s", msg ? msg : "sbatch failed", failed);
    free(msg);
    return rc;
  }
  printf("# submitted job array %s: %lld points x %lld rank(s); logs in %s/point-N.out; "
         "results: modyn report %s --out REPORT_DIR\n",
         id, (long long)sw->npoints, (long long)sw->ranks, logs, sw->out);
  return MH_OK;
}

#define MAX_POINT_SETS (CLI_MAX_SETS + SWEEP_MAX_AXES + 64)

/* Point i's overrides: its name (so that reports tell the points apart; a
 * pipeline.name in the sweep wins), the sweep's, then the command line's.
 * name is the caller's buffer for the first one. */
static int point_sets(const Sweep *sw, int64_t i, const SweepArgs *a, const char **sets,
                      int *nsets, char *name, size_t cap) {
  snprintf(name, cap, "pipeline.name=%s-%03lld", sw->name, (long long)i);
  sets[0] = name;
  MH_TRY(sweep_point(sw, i, sets + 1, MAX_POINT_SETS - 1 - CLI_MAX_SETS, nsets));
  ++*nsets;
  for (int k = 0; k < a->common.nsets; k++) sets[(*nsets)++] = a->common.sets[k];
  return MH_OK;
}

/* Rank 0: parse every point's configuration, so that a bad value in the
 * grid stops the sweep before any point runs (or is submitted). */
static int check_points(const Sweep *sw, const SweepArgs *a) {
  char *text = NULL;
  MH_TRY(mh_read_file(sw->pipeline, &text, NULL));
  const char *sets[MAX_POINT_SETS];
  char name[200];
  int rc = MH_OK;
  for (int64_t i = 0; i < sw->npoints && !rc; i++) {
    int n = 0;
    PipelineConfig cfg;
    rc = point_sets(sw, i, a, sets, &n, name, sizeof name);
    if (!rc) rc = pipeline_parse(sw->pipeline, text, sets, n, a->common.data_dir, &cfg);
    if (!rc) pipeline_free(&cfg);
    else mh_error_context("%s, point %lld", sw->file, (long long)i);
  }
  free(text);
  return rc;
}

/* Point i on every rank: run it, or resume it when its directory exists. */
static int run_point(const Dist *d, const Sweep *sw, int64_t i, const SweepArgs *a, RunSummary *sum) {
  const char *sets[MAX_POINT_SETS];
  int nsets = 0;
  char dir[1100], cfgpath[1200], name[200];
  if (point_sets(sw, i, a, sets, &nsets, name, sizeof name)) {
    if (d->rank == 0) mh_print_error(stderr, mh_error());
    return 1;
  }
  sweep_point_dir(sw, i, dir, sizeof dir);
  snprintf(cfgpath, sizeof cfgpath, "%s/config.yaml", dir);
  int resume = 0;
  if (d->rank == 0) resume = mh_path_exists(cfgpath);
  if (dist_bcast(d, &resume, 1, MPI_INT)) mh_fatal_last();
  char vals[4096];
  LOG0("# sweep %s: point %lld of %lld%s:%s\n", sw->name, (long long)i, (long long)sw->npoints,
       resume ? " (resuming its run directory)" : "", values_text(sw, i, vals, sizeof vals));
  PipelineConfig cfg;
  /* A resumed point reads the configuration its run was started with. */
  int rc = resume ? cli_load_pipeline(d, cfgpath, NULL, 0, a->common.data_dir, &cfg)
                  : cli_load_pipeline(d, sw->pipeline, sets, nsets, a->common.data_dir, &cfg);
  if (rc) return 1;
  rc = cli_run_and_report(d, &cfg, dir, resume, a->common.quiet, sum);
  pipeline_free(&cfg);
  return rc;
}

int cmd_sweep(const Dist *d, int argc, char **argv) {
  SweepArgs a = {.common = {.command = "modyn sweep"}, .index = -1};
  int first = 0;
  int rc = cli_parse(&sweep_spec, argc, argv, sweep_opt, &a, &first);
  if (rc == CLI_HELP) return 0;
  if (rc != CLI_OK) return 2;
  if (first != argc - 1)
    return cli_arg_error("modyn sweep", "expected one sweep file, got %d arguments", argc - first) + 1;
  if ((a.index >= 0) + a.array_task + a.submit + a.list > 1)
    return cli_arg_error("modyn sweep", "--list, --index, --array-task and --submit exclude each other") + 1;
  if (a.array_task) {
    const char *t = getenv("SLURM_ARRAY_TASK_ID");
    char *end = NULL;
    long long v = t ? strtoll(t, &end, 10) : -1;
    if (!t || !*t || *end || v < 0)
      return cli_arg_error("modyn sweep", "--array-task: SLURM_ARRAY_TASK_ID is %s%s%s; run it from "
                           "a job array (modyn sweep --submit)", t ? "\"" : "not set", t ? t : "",
                           t ? "\"" : "") + 1;
    a.index = v;
  }
  char *text = NULL;
  if (cli_read_shared(d, argv[first], &text)) return 1;
  Sweep sw;
  rc = sweep_parse(argv[first], text, &sw);
  free(text);
  if (rc) {
    if (d->rank == 0) mh_print_error(stderr, mh_error());
    return 1;
  }
  if (a.common.out) snprintf(sw.out, sizeof sw.out, "%s", a.common.out);
  int code = 0;
  if (a.list || a.submit) {
    if (d->rank == 0) {
      if (a.list) list_points(&sw);
      else if (d->size > 1) code = cli_arg_error("modyn sweep", "--submit runs without mpirun (one process)") + 1;
      else if (check_points(&sw, &a) || mh_mkdir_p(sw.out) || write_points(&sw) || submit(&sw, &a)) {
        mh_print_error(stderr, mh_error());
        code = 1;
      }
    }
    if (dist_bcast(d, &code, 1, MPI_INT)) mh_fatal_last();
    sweep_free(&sw);
    return code;
  }
  if (a.index >= sw.npoints) {
    if (d->rank == 0)
      fprintf(stderr, "modyn: error: point %lld does not exist: %s has points 0..%lld\n",
              (long long)a.index, argv[first], (long long)sw.npoints - 1);
    sweep_free(&sw);
    return 1;
  }
  /* A single point (an array task) leaves the whole-sweep checks and
   * points.csv to the run or submission that covers every point: array
   * tasks would all write the same file at once. */
  if (d->rank == 0 && a.index < 0 &&
      (check_points(&sw, &a) || mh_mkdir_p(sw.out) || write_points(&sw))) {
    mh_print_error(stderr, mh_error());
    code = 1;
  }
  if (dist_bcast(d, &code, 1, MPI_INT)) mh_fatal_last();
  if (code) {
    sweep_free(&sw);
    return code;
  }
  int64_t lo = a.index >= 0 ? a.index : 0, hi = a.index >= 0 ? a.index + 1 : sw.npoints;
  RunSummary *sums = mh_calloc((size_t)(hi - lo), sizeof *sums);
  if (!sums) mh_fatal_last();
  for (int64_t i = lo; i < hi && !code; i++) code = run_point(d, &sw, i, &a, &sums[i - lo]);
  if (!code && hi - lo > 1 && d->rank == 0) {
    printf("\n# results of sweep %s (%lld points, %d rank%s); compare with: modyn report %s --out REPORT_DIR\n",
           sw.name, (long long)sw.npoints, d->size, d->size > 1 ? "s" : "", sw.out);
    printf("%-6s %8s %16s %17s %18s  %s\n", "point", "triggers", "samples_trained",
           "composite_active", "composite_trained", "values");
    char vals[4096];
    for (int64_t i = lo; i < hi; i++) {
      const RunSummary *s = &sums[i - lo];
      printf("%-6lld %8d %16lld %17.4f %18.4f ", (long long)i, s->triggers,
             (long long)s->samples_trained, s->mean_active, s->mean_trained);
      printf("%s\n", values_text(&sw, i, vals, sizeof vals));
    }
  }
  free(sums);
  sweep_free(&sw);
  return code;
}

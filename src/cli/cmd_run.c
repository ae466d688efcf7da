/* cmd_run.c - `modyn run pipeline.yaml`: run a pipeline on all ranks. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cliopt.h"
#include "cli/commands.h"
#include "cli/load_config.h"
#include "core/error.h"
#include "core/log.h"
#include "orch/pipeline.h"


static const CliOpt run_opts[] = {
    {"set", "PATH=VALUE", "override a config field, e.g. --set training.batch_size=128 (repeatable)"},
    {"out", "DIR", "run directory (default: runs/<pipeline.name>-<UTC date-time>)"},
    {"data-dir", "DIR", "where data.dataset_id names are looked up (default: $MODYN_DATA_DIR or ./data)"},
    {"quiet", NULL, "print only the final table"},
    {NULL, NULL, NULL},
};

static const CliSpec run_spec = {
    "modyn run", "pipeline.yaml",
    "Replay the training store in timestamp order, fire triggers, select each trigger's\n"
    "training set, train data-parallel on all MPI ranks, checkpoint and evaluate every\n"
    "model. Writes the run directory (config.yaml, events.jsonl, triggers.csv, models/,\n"
    "eval/matrix.csv, eval/composite.csv) and prints one line per trigger.\n"
    "Multi-process: mpirun -np N modyn run pipeline.yaml",
    run_opts};

static void print_summary(const PipelineConfig *cfg, const RunSummary *s, const char *dir) {
  if (mh_log_rank != 0) return;
  printf("\n# results of pipeline %s (%d rank%s)\n", cfg->name, mh_log_nranks,
         mh_log_nranks > 1 ? "s" : "");
  printf("%-10s %16s %18s %19s %16s %10s\n", "triggers", "samples_trained", "composite_active",
         "composite_trained", "active_weighted", "wall_s");
  printf("%-10d %16lld %18.4f %19.4f %16.4f %10.2f\n", s->triggers, (long long)s->samples_trained,
         s->mean_active, s->mean_trained, s->tw_active, s->wall_seconds);
  printf("# composite = mean over %d evaluation intervals of the first metric of the first\n"
         "# evaluation handler (currently active / currently trained model); see %s/eval/\n",
         s->intervals_scored, dir);
}

/* A write failed for lack of space (or a file size limit). */
static int out_of_space(const char *msg) {
  return strstr(msg, "No space left on device") || strstr(msg, "Disk quota exceeded") ||
         strstr(msg, "File too large");
}

/* Run (or resume) on every rank, then print the results table. */
static int run_and_report(PipelineConfig *cfg, const char *dir, int resume, int quiet) {
  int quiet_before = mh_log_quiet;
  if (quiet) mh_log_quiet = 1;
  RunSummary sum;
  int rc = pipeline_run(cfg, dir, resume, &sum);
  mh_log_quiet = quiet_before;
  if (rc == PIPELINE_REPORTED) return 1;
  if (rc != MH_OK && out_of_space(mh_error()))
    mh_fatal("%s\nFree some space, then continue the run with 'modyn resume %s': the completed "
             "triggers are kept", mh_error(), dir);
  if (rc != MH_OK) mh_fatal_last();
  print_summary(cfg, &sum, dir);
  return 0;
}

int cmd_run(int argc, char **argv) {
  CliCommon a = {.command = "modyn run"};
  int first = 0;
  int rc = cli_parse(&run_spec, argc, argv, cli_common_opt, &a, &first);
  if (rc == CLI_HELP) return 0;
  if (rc != CLI_OK) return 2;
  if (first != argc - 1) {
    if (mh_log_rank == 0)
      fprintf(stderr, "modyn run: expected one pipeline file, got %d arguments\n"
                      "run 'modyn run --help' for the options\n", argc - first);
    return 2;
  }
  PipelineConfig cfg;
  if (cli_load_pipeline(argv[first], a.sets, a.nsets, a.data_dir, &cfg)) return 1;

  /* Rank 0 names the run directory (clocks of ranks may differ). */
  char dir[1024] = "";
  if (mh_log_rank == 0) {
    if (a.out) {
      snprintf(dir, sizeof dir, "%s", a.out);
    } else {
      char stamp[32];
      time_t now = time(NULL);
      struct tm tm;
      gmtime_r(&now, &tm);
      strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
      snprintf(dir, sizeof dir, "runs/%s-%s", cfg.name, stamp);
    }
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  rc = run_and_report(&cfg, dir, 0, a.quiet);
  pipeline_free(&cfg);
  return rc;
}

/* ---- modyn resume ---------------------------------------------------------- */

static const CliOpt resume_opts[] = {
    {"data-dir", "DIR", "where data.dataset_id names are looked up (default: $MODYN_DATA_DIR or ./data); use the same as for the run"},
    {"quiet", NULL, "print only the final table"},
    {NULL, NULL, NULL},
};

static const CliSpec resume_spec = {
    "modyn resume", "RUN_DIR",
    "Continue a run that stopped (a crash, a killed job, a full disk) from its last\n"
    "completed trigger. Reads RUN_DIR/config.yaml (the resolved configuration of the\n"
    "run), replays the stream, restores the triggers whose checkpoints exist, and\n"
    "trains from the first missing one, writing into RUN_DIR. Selection and triggers\n"
    "are deterministic, so the result equals an uninterrupted run. Any rank count.",
    resume_opts};

int cmd_resume(int argc, char **argv) {
  CliCommon a = {.command = "modyn resume"};
  int first = 0;
  int rc = cli_parse(&resume_spec, argc, argv, cli_common_opt, &a, &first);
  if (rc == CLI_HELP) return 0;
  if (rc != CLI_OK) return 2;
  if (first != argc - 1) {
    if (mh_log_rank == 0)
      fprintf(stderr, "modyn resume: expected one run directory\n"
                      "run 'modyn resume --help' for the options\n");
    return 2;
  }
  char path[1100];
  snprintf(path, sizeof path, "%s/config.yaml", argv[first]);
  PipelineConfig cfg;
  if (cli_load_pipeline(path, NULL, 0, a.data_dir, &cfg)) return 1;
  rc = run_and_report(&cfg, argv[first], 1, a.quiet);
  pipeline_free(&cfg);
  return rc;
}

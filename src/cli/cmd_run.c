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
#include "cli/runner.h"
#include "core/error.h"
#include "core/log.h"
#include "orch/run.h"


static const CliOpt run_opts[] = {
    {"set", "PATH=VALUE", "override a config field, e.g. --set training.batch_size=128 (repeatable)"},
    {"out", "DIR", "run directory (default: runs/<pipeline.name>-<UTC date-time>)"},
    {"data-dir", "DIR", "where data.dataset_id names are looked up (default: $MODYN_DATA_DIR or ./data)"},
    {"quiet", NULL, "print only the final table"},
    {"follow", NULL, "keep running on a growing store: replay new shards as they arrive, until stopped (a signal, --follow-until-idle, experiment.maximum_triggers)"},
    {"poll", "SECONDS", "with --follow: seconds between looks for new shards (default 2)"},
    {"follow-until-idle", "SECONDS", "with --follow: end the run when no shard arrived for SECONDS (default: never)"},
    {"stall-timeout", "SECONDS", "end the job, naming the rank, when a rank has not responded for SECONDS (default $MODYN_STALL_TIMEOUT, else 300; 0: off)"},
    {"verify", NULL, "first verify the checksum of every shard of the stores the pipeline reads (as modyn check does; the ranks share the work)"},
    {NULL, NULL, NULL},
};

/* The shared options, and the run's own. */
typedef struct {
  CliCommon common;
  CliRunOptions run;
} RunArgs;

/* < 0: not given on the command line (the default, or what a resumed run recorded) */
#define RUN_ARGS_UNSET {.run = {.poll_s = -1, .idle_s = -1}, .stall_s = -1}

static int run_opt(void *ctx, const char *name, const char *value) {
  RunArgs *a = ctx;
  int rc = cli_run_opt(a->common.command, &a->run, name, value);
  return rc >= 0 ? rc : cli_common_opt(&a->common, name, value);
}

static const CliSpec run_spec = {
    "modyn run", "pipeline.yaml",
    "Replay the training store in timestamp order, fire triggers, select each trigger's\n"
    "training set, train data-parallel on all MPI ranks, checkpoint and evaluate every\n"
    "model. Writes the run directory (config.yaml, events.jsonl, triggers.csv, models/,\n"
    "eval/matrix.csv, eval/composite.csv) and prints one line per trigger.\n"
    "With --follow it keeps waiting for new shards and trains on them as they come.\n"
    "Multi-process: mpirun -np N modyn run pipeline.yaml",
    run_opts};

/* --verify: the training store and every evaluation store, before the run
 * starts (a damaged shard ends it here, named). */
static int verify_stores(const Dist *d, const PipelineConfig *cfg, int quiet) {
  const char *dirs[1 + EVAL_MAX_DATASETS];
  int n = 0;
  dirs[n++] = cfg->data.path;
  for (int i = 0; i < cfg->evaluation.num_datasets && n < 1 + EVAL_MAX_DATASETS; i++)
    dirs[n++] = cfg->evaluation.datasets[i].path;
  return check_stores(d, dirs, n, !quiet, 0);
}

int cmd_run(const Dist *d, int argc, char **argv) {
  RunArgs ra = {.common = {.command = "modyn run"}, .run = RUN_ARGS_UNSET};
  int first = 0;
  int rc = cli_parse(&run_spec, argc, argv, run_opt, &ra, &first);
  if (rc == CLI_HELP) return 0;
  if (rc != CLI_OK) return 2;
  if (first != argc - 1)
    return cli_arg_error("modyn run", "expected one pipeline file, got %d arguments", argc - first) + 1;
  PipelineConfig cfg;
  if (cli_load_pipeline(d, argv[first], ra.common.sets, ra.common.nsets, ra.common.data_dir,
                        &cfg))
    return 1;
  if (ra.common.verify && verify_stores(d, &cfg, ra.common.quiet)) {
    pipeline_free(&cfg);
    return 1;
  }

  /* Rank 0 names the run directory (clocks of ranks may differ). */
  char dir[1024] = "";
  if (d->rank == 0) {
    if (ra.common.out) {
      snprintf(dir, sizeof dir, "%s", ra.common.out);
    } else {
      char stamp[32];
      time_t now = time(NULL);
      struct tm tm;
      gmtime_r(&now, &tm);
      strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
      snprintf(dir, sizeof dir, "runs/%s-%s", cfg.name, stamp);
    }
  }
  if (dist_bcast(d, dir, sizeof dir, MPI_CHAR)) mh_fatal_last();
  if ((ra.run.run.poll_s > 0 || ra.run.run.idle_s >= 0) && !ra.run.run.follow)
    LOG0("# note: --poll and --follow-until-idle apply only with --follow\n");
  rc = cli_run_and_report_with(d, &cfg, dir, 0, ra.common.quiet, &ra.run, NULL);
  pipeline_free(&cfg);
  return rc;
}

/* ---- modyn resume ---------------------------------------------------------- */

static const CliOpt resume_opts[] = {
    {"data-dir", "DIR", "where data.dataset_id names are looked up (default: $MODYN_DATA_DIR, else the folder the run used, recorded in RUN_DIR/data_dir)"},
    {"quiet", NULL, "print only the final table"},
    {"follow", NULL, "follow the store after the replay (the default for a run started with --follow, recorded in RUN_DIR/follow)"},
    {"no-follow", NULL, "do not follow, even if the run did"},
    {"poll", "SECONDS", "with --follow: seconds between looks for new shards (default: the run's, else 2)"},
    {"follow-until-idle", "SECONDS", "with --follow: end when no shard arrived for SECONDS (default: the run's)"},
    {"stall-timeout", "SECONDS", "end the job, naming the rank, when a rank has not responded for SECONDS (default $MODYN_STALL_TIMEOUT, else 300; 0: off)"},
    {"verify", NULL, "first verify the checksum of every shard of the stores the pipeline reads"},
    {NULL, NULL, NULL},
};

static const CliSpec resume_spec = {
    "modyn resume", "RUN_DIR",
    "Continue a run that stopped (a crash, a killed job, a full disk) from its last\n"
    "completed trigger. Reads RUN_DIR/config.yaml (the resolved configuration of the\n"
    "run), replays the stream, restores the triggers whose checkpoints exist, and\n"
    "trains from the first missing one, writing into RUN_DIR. Selection and triggers\n"
    "are deterministic, so the result equals an uninterrupted run. Any rank count.\n"
    "A run started with --follow follows the store again after the replay.",
    resume_opts};

/* A followed run's options (RUN_DIR/follow: poll and idle seconds) under
 * what the command line gave. */
static void recorded_follow(const char *run_dir, int argc, char **argv, CliRunOptions *ro) {
  int told = 0;
  for (int i = 1; i < argc; i++)
    told |= !strcmp(argv[i], "--follow") || !strcmp(argv[i], "--no-follow");
  char path[1100];
  snprintf(path, sizeof path, "%s/follow", run_dir);
  FILE *fp = fopen(path, "r");
  if (!fp) return;
  double poll = 0, idle = 0;
  if (fscanf(fp, "%lf %lf", &poll, &idle) == 2) {
    if (!told) ro->run.follow = 1;
    if (ro->run.poll_s < 0) ro->run.poll_s = poll; /* < 0: not on the command line */
    if (ro->run.idle_s < 0) ro->run.idle_s = idle;
  }
  fclose(fp);
}

int cmd_resume(const Dist *d, int argc, char **argv) {
  RunArgs ra = {.common = {.command = "modyn resume"}, .run = RUN_ARGS_UNSET};
  CliCommon *a = &ra.common;
  int first = 0;
  int rc = cli_parse(&resume_spec, argc, argv, run_opt, &ra, &first);
  if (rc == CLI_HELP) return 0;
  if (rc != CLI_OK) return 2;
  if (first != argc - 1) return cli_arg_error("modyn resume", "expected one run directory") + 1;
  recorded_follow(argv[first], argc, argv, &ra.run);
  char path[1100];
  /* without --data-dir or $MODYN_DATA_DIR: where the run found its data */
  char recorded[1100] = "";
  const char *env = getenv("MODYN_DATA_DIR");
  if (!a->data_dir && !(env && *env)) {
    snprintf(path, sizeof path, "%s/data_dir", argv[first]);
    FILE *fp = fopen(path, "r");
    if (fp) {
      if (fgets(recorded, sizeof recorded, fp)) recorded[strcspn(recorded, "\n")] = 0;
      fclose(fp);
    }
  }
  snprintf(path, sizeof path, "%s/config.yaml", argv[first]);
  PipelineConfig cfg;
  if (cli_load_pipeline(d, path, NULL, 0, a->data_dir ? a->data_dir : recorded[0] ? recorded : NULL,
                        &cfg))
    return 1;
  if (a->verify && verify_stores(d, &cfg, a->quiet)) {
    pipeline_free(&cfg);
    return 1;
  }
  rc = cli_run_and_report_with(d, &cfg, argv[first], 1, a->quiet, &ra.run, NULL);
  pipeline_free(&cfg);
  return rc;
}

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
    {"verify", NULL, "first verify the checksum of every shard of the stores the pipeline reads (as modyn check does; the ranks share the work)"},
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
  CliCommon a = {.command = "modyn run"};
  int first = 0;
  int rc = cli_parse(&run_spec, argc, argv, cli_common_opt, &a, &first);
  if (rc == CLI_HELP) return 0;
  if (rc != CLI_OK) return 2;
  if (first != argc - 1)
    return cli_arg_error("modyn run", "expected one pipeline file, got %d arguments", argc - first) + 1;
  PipelineConfig cfg;
  if (cli_load_pipeline(d, argv[first], a.sets, a.nsets, a.data_dir, &cfg)) return 1;
  if (a.verify && verify_stores(d, &cfg, a.quiet)) {
    pipeline_free(&cfg);
    return 1;
  }

  /* Rank 0 names the run directory (clocks of ranks may differ). */
  char dir[1024] = "";
  if (d->rank == 0) {
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
  if (dist_bcast(d, dir, sizeof dir, MPI_CHAR)) mh_fatal_last();
  rc = cli_run_and_report(d, &cfg, dir, 0, a.quiet, NULL);
  pipeline_free(&cfg);
  return rc;
}

/* ---- modyn resume ---------------------------------------------------------- */

static const CliOpt resume_opts[] = {
    {"data-dir", "DIR", "where data.dataset_id names are looked up (default: $MODYN_DATA_DIR, else the folder the run used, recorded in RUN_DIR/data_dir)"},
    {"quiet", NULL, "print only the final table"},
    {"verify", NULL, "first verify the checksum of every shard of the stores the pipeline reads"},
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

int cmd_resume(const Dist *d, int argc, char **argv) {
  CliCommon a = {.command = "modyn resume"};
  int first = 0;
  int rc = cli_parse(&resume_spec, argc, argv, cli_common_opt, &a, &first);
  if (rc == CLI_HELP) return 0;
  if (rc != CLI_OK) return 2;
  if (first != argc - 1) return cli_arg_error("modyn resume", "expected one run directory") + 1;
  char path[1100];
  /* without --data-dir or $MODYN_DATA_DIR: where the run found its data */
  char recorded[1100] = "";
  const char *env = getenv("MODYN_DATA_DIR");
  if (!a.data_dir && !(env && *env)) {
    snprintf(path, sizeof path, "%s/data_dir", argv[first]);
    FILE *fp = fopen(path, "r");
    if (fp) {
      if (fgets(recorded, sizeof recorded, fp)) recorded[strcspn(recorded, "\n")] = 0;
      fclose(fp);
    }
  }
  snprintf(path, sizeof path, "%s/config.yaml", argv[first]);
  PipelineConfig cfg;
  if (cli_load_pipeline(d, path, NULL, 0, a.data_dir ? a.data_dir : recorded[0] ? recorded : NULL,
                        &cfg))
    return 1;
  if (a.verify && verify_stores(d, &cfg, a.quiet)) {
    pipeline_free(&cfg);
    return 1;
  }
  rc = cli_run_and_report(d, &cfg, argv[first], 1, a.quiet, NULL);
  pipeline_free(&cfg);
  return rc;
}

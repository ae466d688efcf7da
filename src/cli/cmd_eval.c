/* cmd_eval.c - `modyn eval RUN_DIR`: recompute the evaluation matrix of a
 * finished run from its checkpoints (new metrics, intervals or datasets,
 * without retraining). The work is in eval/rerun.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cliopt.h"
#include "cli/commands.h"
#include "cli/load_config.h"
#include "core/error.h"
#include "core/log.h"
#include "orch/reeval.h"


static const CliOpt eval_opts[] = {
    {"config", "FILE", "pipeline file to take the evaluation section from (default: RUN_DIR/config.yaml)"},
    {"set", "PATH=VALUE", "override a config field, e.g. --set evaluation.handlers[0].models=active (repeatable)"},
    {"handler", "NAME", "evaluate only this handler, e.g. an execution_time: manual one (repeatable); the other handlers' rows in --out stay"},
    {"out", "DIR", "where matrix.csv, composite.csv and score.csv go (default: RUN_DIR/eval)"},
    {"data-dir", "DIR", "where dataset ids are looked up (default: $MODYN_DATA_DIR or ./data)"},
    {"quiet", NULL, "print only the final table"},
    {NULL, NULL, NULL},
};

static const CliSpec eval_spec = {
    "modyn eval", "RUN_DIR",
    "Evaluate every checkpoint of a run (RUN_DIR/models/trigger_NNNN.h5) with the\n"
    "evaluation section of its configuration, e.g. with a new metric or interval set,\n"
    "without retraining. Every handler runs as after_pipeline (execution_time: manual\n"
    "ones too, which a run skips): each interval's data is read once for all models,\n"
    "split over all MPI ranks. Writes matrix.csv, composite.csv and score.csv (same\n"
    "columns as a run's eval/ files).\n"
    "Multi-process: mpirun -np N modyn eval RUN_DIR",
    eval_opts};

typedef struct {
  CliCommon common;
  const char *handlers[EVAL_MAX_HANDLERS]; /* --handler, in order */
  int nhandlers;
} EvalArgs;

static int eval_opt(void *ctx, const char *name, const char *value) {
  EvalArgs *e = ctx;
  if (strcmp(name, "handler") != 0) return cli_common_opt(&e->common, name, value);
  if (e->nhandlers == EVAL_MAX_HANDLERS)
    return cli_arg_error("modyn eval", "at most %d --handler options", EVAL_MAX_HANDLERS);
  e->handlers[e->nhandlers++] = value;
  return 0;
}

int cmd_eval(const Dist *d, int argc, char **argv) {
  EvalArgs e = {.common = {.command = "modyn eval"}};
  int first = 0;
  int rc = cli_parse(&eval_spec, argc, argv, eval_opt, &e, &first);
  const CliCommon a = e.common;
  if (rc == CLI_HELP) return 0;
  if (rc != CLI_OK) return 2;
  if (first != argc - 1)
    return cli_arg_error("modyn eval", "expected one run directory, got %d arguments", argc - first) + 1;
  const char *run_dir = argv[first];
  char config[1100], out[1100];
  if (a.config) snprintf(config, sizeof config, "%s", a.config);
  else snprintf(config, sizeof config, "%s/config.yaml", run_dir);
  if (a.out) snprintf(out, sizeof out, "%s", a.out);
  else snprintf(out, sizeof out, "%s/eval", run_dir);
  PipelineConfig cfg;
  if (cli_load_pipeline(d, config, a.sets, a.nsets, a.data_dir, &cfg)) return 1;
  int quiet_before = mh_log_quiet;
  if (a.quiet) mh_log_quiet = 1;
  EvalRerunSummary sum;
  rc = evaluation_rerun(d, &cfg, run_dir, out, e.handlers, e.nhandlers, &sum);
  mh_log_quiet = quiet_before;
  if (rc == EVAL_RERUN_REPORTED) {
    pipeline_free(&cfg);
    return 1;
  }
  if (rc != MH_OK) mh_fatal_last();
  if (d->rank == 0) {
    printf("\n# evaluation of %s (%d rank%s), written to %s\n", run_dir, d->size,
           d->size > 1 ? "s" : "", out);
    printf("%-8s %10s %18s %19s %21s\n", "models", "cells", "composite_active",
           "composite_trained", "active_time_weighted");
    printf("%-8d %10lld %18.4f %19.4f %21.4f\n", sum.models, (long long)sum.cells,
           sum.score.mean_active, sum.score.mean_trained, sum.score.tw_active);
  }
  pipeline_free(&cfg);
  return 0;
}

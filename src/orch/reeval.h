/* reeval.h - recompute the evaluation of a finished run from its stored
 * checkpoints (`modyn eval`): every handler of the given configuration
 * (the run's config.yaml, possibly with new metrics or intervals; manual
 * ones too) runs as if after the pipeline, on every models/trigger_NNNN.h5
 * of the run. No
 * training, no trigger replay. It does not parse command lines
 * (cli/cmd_eval.c). It sets the model and the evaluation up the way a run
 * does (orch/run.c), with the input shape of the first evaluation store. */
#ifndef MH_ORCH_REEVAL_H
#define MH_ORCH_REEVAL_H

#include "config/pipeline.h"
#include "core/dist.h"
#include "eval/evaluation.h"

/* Returned when setup failed and one rank already printed the message;
 * every rank returns it (exit code 1 without MPI_Abort). */
#define EVAL_RERUN_REPORTED 2

typedef struct {
  int models;       /* checkpoints evaluated */
  int64_t cells;    /* (model, interval) cells computed */
  EvalScore score;  /* first handler's first metric */
} EvalRerunSummary;

/* Collective. Writes OUT_DIR/matrix.csv, composite.csv and score.csv
 * (created if missing). Every handler runs, `execution_time: manual` ones
 * included; with handlers[0..nhandlers-1] (`--handler`) only those, and the
 * other handlers' rows already in the three files stay (the picked ones'
 * are replaced), so evaluating a manual handler adds it to a run's eval/
 * files. The model's input shape comes from the first evaluation dataset.
 * Returns MH_OK, EVAL_RERUN_REPORTED (also for a name no handler has), or
 * MH_ERR (the caller ends the job with mh_fatal_last). */
int evaluation_rerun(const Dist *d, const PipelineConfig *cfg, const char *run_dir, const char *out_dir,
                     const char *const *handlers, int nhandlers, EvalRerunSummary *sum);

#endif

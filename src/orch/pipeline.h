/* pipeline.h - running a pipeline: the rank-0 orchestrator loop and the
 * worker loop, over one MPI job.
 *
 * Rank 0 replays the training store in (timestamp, key) order, feeds the
 * trigger and the selection strategy, and at each trigger broadcasts a
 * command and the training set (in partitions of maximum_keys_in_memory
 * keys). All ranks then train data-parallel, rank 0 writes the checkpoint,
 * all ranks evaluate the new model, and rank 0 writes the evaluation matrix,
 * triggers.csv and events.jsonl. At the end rank 0 writes the composite
 * models and prints the summary. See DESIGN.md "Run directory". */
#ifndef MH_ORCH_PIPELINE_H
#define MH_ORCH_PIPELINE_H

#include "config/pipeline.h"

typedef struct {
  int triggers;              /* triggers fired */
  int64_t samples_trained;   /* sum over triggers of training-set sizes x passes */
  double mean_active;        /* mean over intervals of the currently active model's first metric */
  double mean_trained;       /* same for the currently trained model */
  double tw_active;          /* mean_active weighted by interval length */
  int intervals_scored;      /* intervals with an active model and data */
  double wall_seconds;
} RunSummary;

/* Returned when setup failed and the message was already printed once;
 * every rank returns it, so the job can end cleanly with exit code 1. */
#define PIPELINE_REPORTED 2

/* Every rank calls this with the same (parsed) configuration. run_dir must
 * not hold a previous run, unless resume is 1: then the stream is replayed
 * from the start, the triggers whose checkpoints exist (trigger_0000.h5 on,
 * without a gap) are restored instead of trained (and evaluated again), and
 * training goes on from the first missing one. Selection and triggers are
 * deterministic, so the result equals an uninterrupted run. Returns MH_OK, PIPELINE_REPORTED, or MH_ERR; on
 * MH_ERR the caller ends the job with mh_fatal (the error may have happened
 * on one rank only, while the others wait in a collective). */
int pipeline_run(const PipelineConfig *cfg, const char *run_dir, int resume, RunSummary *summary);

/* Create every plug-in the configuration names (model, trigger, selection
 * strategy, evaluation strategies and metrics) and open every store, so that
 * configuration errors surface before any work. Used by `modyn validate`. */
int pipeline_check(const PipelineConfig *cfg);

#endif

/* run.h - running a pipeline over one MPI job: `modyn run`, `modyn resume`,
 * `modyn sweep` and `modyn validate` call this.
 *
 * Rank 0 replays the training store in (timestamp, key) order, feeds the
 * trigger and the selection strategy, and at each trigger issues commands
 * (orch/protocol.h) that every rank carries out: train on the trigger's
 * training set, evaluate the new model, run the model over data for a
 * plug-in. Rank 0 writes the run directory (orch/run_dir.h). The
 * orchestrator's internals are in orch/orch.h. */
#ifndef MH_ORCH_RUN_H
#define MH_ORCH_RUN_H

#include "config/pipeline.h"
#include "core/dist.h"

typedef struct {
  int triggers;              /* triggers fired */
  int64_t samples_trained;   /* sum over triggers of the samples trained on, all epochs
                                (after a batch filter: the kept ones) */
  double mean_active;        /* mean over intervals of the currently active model's first metric */
  double mean_trained;       /* same for the currently trained model */
  double tw_active;          /* mean_active weighted by interval length */
  int intervals_scored;      /* intervals with an active model and data */
  double wall_seconds;
  int stopped_by;            /* a followed run that a signal ended while it waited: the signal */
  int unused_shards;         /* shards that appeared during a run without follow (not used) */
} RunSummary;

/* How a run treats a store that grows while it runs. */
typedef struct {
  int follow;          /* 1: when the replay reaches the end of the store, wait for new
                          shards (--follow) and replay them; else stop there */
  double poll_s;       /* seconds between looks at the store directory (<= 0: the default) */
  double idle_s;       /* > 0: end the run when no shard arrived for this long; <= 0: never */
} RunOptions;

/* --poll's default, seconds. */
#define RUN_DEFAULT_POLL 2.0

/* Returned when setup failed and the message was already printed once;
 * every rank returns it, so the job can end cleanly with exit code 1. */
#define PIPELINE_REPORTED 2

/* Every rank calls this with the same (parsed) configuration. run_dir must
 * not hold a previous run, unless resume is 1: then the stream is replayed
 * from the start, the triggers whose checkpoints exist (trigger_0000.h5 on,
 * without a gap) are restored instead of trained (and evaluated again), and
 * training goes on from the first missing one. Selection and triggers are
 * deterministic, so the result equals an uninterrupted run. Returns MH_OK,
 * PIPELINE_REPORTED, or MH_ERR; on MH_ERR the caller ends the job with
 * mh_fatal (every rank returns it, with the failing rank's message). */
int pipeline_run(const Dist *d, const PipelineConfig *cfg, const char *run_dir, int resume,
                 RunSummary *summary);
/* The same with options (NULL: a run that does not follow the store).
 *
 * Following (opt->follow): after the replay reaches the end of the store,
 * rank 0 looks for new shard files every poll_s seconds; every rank loads
 * them (CMD_REFRESH), and their samples are replayed in (timestamp, key)
 * order, feeding the trigger and the strategy as if they had been there
 * from the start. Samples that sort before the last one replayed cannot be
 * placed in the stream: they are skipped, with a warning on the console
 * and a "late_samples" line in events.jsonl. The run ends when a stop
 * signal arrives between triggers (cleanly: summary->stopped_by), when no
 * shard arrived for idle_s seconds, or at experiment.maximum_triggers.
 * RUN_DIR/follow records the options, so `modyn resume` follows again. */
int pipeline_run_with(const Dist *d, const PipelineConfig *cfg, const char *run_dir, int resume,
                      const RunOptions *opt, RunSummary *summary);

/* Create every plug-in the configuration names (model, trigger, selection
 * strategy, evaluation strategies and metrics) and open every store, so that
 * configuration errors surface before any work. Used by `modyn validate`. */
int pipeline_check(const Dist *d, const PipelineConfig *cfg);

#endif

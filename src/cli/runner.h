/* runner.h - run (or resume) one pipeline on every rank and print its
 * results table: shared by `modyn run`, `modyn resume` and `modyn sweep`. */
#ifndef MH_RUNNER_H
#define MH_RUNNER_H

#include "orch/run.h"

/* Collective. Returns the exit code (0, or 1 when setup failed and the
 * message was printed); other failures end the job with mh_fatal, adding
 * what to do when a write ran out of space. The summary goes to *sum when
 * sum is not NULL. */
int cli_run_and_report(const Dist *d, PipelineConfig *cfg, const char *dir, int resume, int quiet,
                       RunSummary *sum);

#endif

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

/* What `modyn run` and `modyn resume` add. */
typedef struct {
  RunOptions run;   /* following a growing store (orch/run.h) */
  double stall_s;   /* --stall-timeout: end the job when a rank stops (core/watchdog.h);
                       < 0: $MODYN_STALL_TIMEOUT, else WATCHDOG_DEFAULT_TIMEOUT; 0: off */
} CliRunOptions;

/* The same with options (NULL: the defaults). */
int cli_run_and_report_with(const Dist *d, PipelineConfig *cfg, const char *dir, int resume,
                            int quiet, const CliRunOptions *opt, RunSummary *sum);
/* "--follow", "--poll", "--follow-until-idle", "--stall-timeout" (and
 * "--no-follow" for resume) into *opt, a CliHandler's part; 1 on a bad
 * value (message printed). Returns -1 for a name it does not know. */
int cli_run_opt(const char *command, CliRunOptions *opt, const char *name, const char *value);

#endif

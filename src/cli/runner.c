/* runner.c - see runner.h. */
#include "cli/runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cliopt.h"
#include "core/error.h"
#include "core/log.h"
#include "core/signals.h"
#include "core/watchdog.h"

static void print_summary(const Dist *d, const PipelineConfig *cfg, const RunSummary *s, const char *dir) {
  if (d->rank != 0) return;
  printf("\n# results of pipeline %s (%d rank%s)\n", cfg->name, d->size,
         d->size > 1 ? "s" : "");
  printf("%-10s %16s %18s %19s %16s %10s\n", "triggers", "samples_trained", "composite_active",
         "composite_trained", "active_weighted", "wall_s");
  /* a value no interval contributed to is "-", not nan */
  char act[32], tr[32], tw[32];
  const double v[3] = {s->mean_active, s->mean_trained, s->tw_active};
  char *out[3] = {act, tr, tw};
  for (int i = 0; i < 3; i++) {
    if (isfinite(v[i])) snprintf(out[i], sizeof act, "%.4f", v[i]);
    else snprintf(out[i], sizeof act, "-");
  }
  printf("%-10d %16lld %18s %19s %16s %10.2f\n", s->triggers, (long long)s->samples_trained, act, tr,
         tw, s->wall_seconds);
  printf("# composite = mean over %d evaluation interval%s of the first metric of the first\n"
         "# evaluation handler (currently active / currently trained model); see %s/eval/\n",
         s->intervals_scored, mh_plural(s->intervals_scored), dir);
}

static double stall_default(void) {
  const char *e = getenv("MODYN_STALL_TIMEOUT");
  char *end;
  double v = e && *e ? strtod(e, &end) : -1;
  return e && *e && !*end && v >= 0 ? v : WATCHDOG_DEFAULT_TIMEOUT;
}

/* Seconds: a number >= 0 (fractions allowed). */
static int parse_seconds(const char *command, const char *name, const char *value, double *out) {
  char *end;
  double v = strtod(value, &end);
  if (end == value || *end || !(v >= 0) || v > 1e9)
    return cli_arg_error(command, "--%s expects seconds (a number >= 0), got \"%s\"", name,
                         value);
  *out = v;
  return 0;
}

int cli_run_opt(const char *command, CliRunOptions *opt, const char *name, const char *value) {
  if (!strcmp(name, "follow")) {
    opt->run.follow = 1;
  } else if (!strcmp(name, "no-follow")) {
    opt->run.follow = 0;
  } else if (!strcmp(name, "poll")) {
    if (parse_seconds(command, name, value, &opt->run.poll_s)) return 1;
    if (opt->run.poll_s <= 0) return cli_arg_error(command, "--poll must be > 0");
  } else if (!strcmp(name, "follow-until-idle")) {
    if (parse_seconds(command, name, value, &opt->run.idle_s)) return 1;
  } else if (!strcmp(name, "stall-timeout")) {
    if (parse_seconds(command, name, value, &opt->stall_s)) return 1;
  } else {
    return -1;
  }
  return 0;
}

int cli_run_and_report(const Dist *d, PipelineConfig *cfg, const char *dir, int resume, int quiet,
                       RunSummary *out) {
  return cli_run_and_report_with(d, cfg, dir, resume, quiet, NULL, out);
}

int cli_run_and_report_with(const Dist *d, PipelineConfig *cfg, const char *dir, int resume,
                            int quiet, const CliRunOptions *opt, RunSummary *out) {
  int quiet_before = mh_log_quiet;
  if (quiet) mh_log_quiet = 1;
  mh_signals_install(); /* a signal stops at the next safe point, not mid-write */
  RunSummary sum;
  const double stall = opt && opt->stall_s >= 0 ? opt->stall_s : stall_default();
  char hint[1200];
  snprintf(hint, sizeof hint,
           "The completed triggers are kept: continue the run with 'modyn resume %s'", dir);
  if (watchdog_start(d, stall, "--stall-timeout", hint)) mh_fatal_last();
  int rc = pipeline_run_with(d, cfg, dir, resume, opt ? &opt->run : NULL, &sum);
  /* a failed run ends the job below (MPI_Abort); a watchdog that stopped
   * beating first could name a rank that is merely on its way there */
  if (rc == MH_OK || rc == PIPELINE_REPORTED) watchdog_stop(d);
  mh_log_quiet = quiet_before;
  if (rc == PIPELINE_REPORTED) return 1;
  /* one line: where it stopped (a mid-trigger checkpoint names its file)
   * and how to go on */
  if (rc != MH_OK && mh_stop_signal())
    mh_fatal("%s; the completed triggers are kept: continue the run with 'modyn resume %s'",
             mh_error(), dir);
  if (rc != MH_OK && mh_error_no_space())
    mh_fatal("%s\nFree some space, then continue the run with 'modyn resume %s': the completed "
             "triggers are kept", mh_error(), dir);
  if (rc != MH_OK) mh_fatal_last();
  print_summary(d, cfg, &sum, dir);
  if (d->rank == 0 && sum.unused_shards > 0)
    fprintf(stderr,
            "modyn: warning: %d shard%s arrived in %s after the start and %s not used; rerun "
            "with --follow to train on them\n",
            sum.unused_shards, mh_plural(sum.unused_shards), cfg->data.path,
            sum.unused_shards == 1 ? "was" : "were");
  if (d->rank == 0 && sum.stopped_by)
    printf("# stopped by %s while following %s; continue following with 'modyn resume %s'\n",
           mh_signal_name(sum.stopped_by), cfg->data.path, dir);
  if (out) *out = sum;
  return 0;
}


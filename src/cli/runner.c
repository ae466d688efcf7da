/* runner.c - see runner.h. */
#include "cli/runner.h"

#include <math.h>
#include <stdio.h>

#include "core/error.h"
#include "core/log.h"
#include "core/signals.h"

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

int cli_run_and_report(const Dist *d, PipelineConfig *cfg, const char *dir, int resume, int quiet,
                       RunSummary *out) {
  int quiet_before = mh_log_quiet;
  if (quiet) mh_log_quiet = 1;
  mh_signals_install(); /* a signal stops at the next safe point, not mid-write */
  RunSummary sum;
  int rc = pipeline_run(d, cfg, dir, resume, &sum);
  mh_log_quiet = quiet_before;
  if (rc == PIPELINE_REPORTED) return 1;
  if (rc != MH_OK && mh_stop_signal())
    mh_fatal("%s\nThe completed triggers are kept: continue the run with 'modyn resume %s'",
             mh_error(), dir);
  if (rc != MH_OK && mh_error_no_space())
    mh_fatal("%s\nFree some space, then continue the run with 'modyn resume %s': the completed "
             "triggers are kept", mh_error(), dir);
  if (rc != MH_OK) mh_fatal_last();
  print_summary(d, cfg, &sum, dir);
  if (out) *out = sum;
  return 0;
}


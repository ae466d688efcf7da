/* progress.c - see progress.h. */
#include "core/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/timing.h"

/* Open MPI hands every rank a pseudo-terminal as stdout, even when mpirun's
 * own output goes to a file or a pipe, so isatty() alone cannot tell. Inside
 * a SLURM job the output is a log file; MODYN_PROGRESS=live|lines decides
 * where neither guess fits. */
static int progress_live(void) {
  const char *m = getenv("MODYN_PROGRESS");
  if (m && strcmp(m, "live") == 0) return 1;
  if (m && strcmp(m, "lines") == 0) return 0;
  return isatty(fileno(stdout)) && !getenv("SLURM_JOB_ID");
}

void progress_begin(Progress *p, const char *label, const char *unit, int64_t total) {
  memset(p, 0, sizeof *p);
  p->active = label && mh_log_rank == 0 && !mh_log_quiet;
  if (!p->active) return;
  snprintf(p->label, sizeof p->label, "%s", label);
  p->unit = unit;
  p->total = total;
  p->t0 = p->last = mh_now();
  p->live = progress_live();
}

static void seconds_text(double s, char *out, size_t cap) {
  if (s < 90) snprintf(out, cap, "%.0f s", s);
  else if (s < 5400) snprintf(out, cap, "%.0f min", s / 60);
  else snprintf(out, cap, "%.1f h", s / 3600);
}

void progress_update(Progress *p, int64_t done) {
  if (!p->active) return;
  const double now = mh_now(), el = now - p->t0;
  static double every = -1;
  if (every < 0) {
    const char *e = getenv("MODYN_PROGRESS_EVERY");
    every = e && *e ? atof(e) : 10.0;
  }
  if (el < 1.0 && every >= 1.0) return; /* short work stays quiet */
  if (now - p->last < (p->live && every > 0.2 ? 0.2 : every)) return;
  p->last = now;
  const double rate = el > 0 ? (double)done / el : 0.0;
  char line[256], left[32] = "";
  int n = snprintf(line, sizeof line, "%s: %lld", p->label, (long long)done);
  if (p->total > 0) {
    n += snprintf(line + n, sizeof line - (size_t)n, "/%lld %s (%.0f%%)", (long long)p->total,
                  p->unit, 100.0 * (double)done / (double)p->total);
    if (rate > 0) {
      seconds_text((double)(p->total - done) / rate, left, sizeof left);
      snprintf(line + n, sizeof line - (size_t)n, ", %.0f %s/s, %s left", rate, p->unit, left);
    }
  } else {
    snprintf(line + n, sizeof line - (size_t)n, " %s, %.0f %s/s", p->unit, rate, p->unit);
  }
  if (p->live) {
    printf("\r%s\033[K", line);
    p->drawn = 1;
  } else {
    printf("# %s\n", line);
  }
  fflush(stdout);
}

void progress_end(Progress *p) {
  if (!p->active || !p->drawn) return;
  printf("\r\033[K");
  fflush(stdout);
  p->drawn = 0;
}

/* progress.h - progress of long work (a trigger's training, synth, a model
 * pass): done/total, rate and time left. On a terminal one live line,
 * redrawn at most 5 times a second and erased at the end; otherwise (a
 * batch log, SLURM) a '#' line every $MODYN_PROGRESS_EVERY seconds (10),
 * so the log shows that work goes on. Inside a SLURM job it always writes
 * lines; MODYN_PROGRESS=live|lines overrides the guess. Only rank 0 prints, and nothing with
 * --quiet (log.h). Work shorter than a second prints nothing. */
#ifndef MH_PROGRESS_H
#define MH_PROGRESS_H

#include <stdint.h>

typedef struct {
  char label[96];   /* "trigger 3: training" */
  const char *unit; /* "samples" */
  int64_t total;    /* 0: unknown */
  double t0, last;  /* start, last print */
  int active;       /* prints at all (rank 0, not quiet, a label) */
  int live;         /* redraw one line in place */
  int drawn;        /* a live line is on screen */
} Progress;

/* label NULL: inactive (every call is a no-op). */
void progress_begin(Progress *p, const char *label, const char *unit, int64_t total);
void progress_update(Progress *p, int64_t done);
/* Erase the live line (the caller prints its own result line next). */
void progress_end(Progress *p);

#endif

/* signals.h - a clean stop on SIGTERM, SIGINT, SIGHUP and SIGUSR1 (what
 * SLURM sends before a time limit with `#SBATCH --signal=B:USR1@120`, and
 * what a scheduler's preemption or Ctrl-C send). The handler only records
 * the signal; long work polls mh_stop_signal() at safe points (the trainer
 * before each step's allreduce, the replay between chunks) and ends with an
 * error that every rank agrees on, so completed triggers stay on disk and
 * `modyn resume` continues from the last one. A second signal ends the
 * process at once. */
#ifndef MH_SIGNALS_H
#define MH_SIGNALS_H

/* Install the handlers (once, before the work starts). */
void mh_signals_install(void);
/* Back to the default actions (the fatal path: a rank waiting to be
 * killed by MPI_Abort must die of the SIGTERM that Open MPI sends). */
void mh_signals_default(void);
/* The signal that asked to stop, or 0. */
int mh_stop_signal(void);
/* This rank learned from the others that a signal stopped the work (a
 * signal reached another rank first): mh_stop_signal() is then -1 (unless
 * one came here too), so every rank ends alike. */
void mh_stop_learned(void);
/* "SIGTERM", ... for messages. */
const char *mh_signal_name(int sig);

#endif

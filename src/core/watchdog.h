/* watchdog.h - ends a job one of whose ranks stopped running.
 *
 * Ranks wait for each other inside MPI collectives, and Open MPI busy-polls
 * there: one stopped rank (SIGSTOP, a frozen node, a process the system no
 * longer schedules) would leave every other rank spinning at full CPU until
 * the batch time limit, with no word. The watchdog is one thread per rank
 * that exchanges a 16-byte heartbeat with rank 0 on a communicator of its
 * own, every timeout/10 seconds (at most once a second): rank 0 with every
 * rank, every rank with rank 0 (a star: rank 0's cost grows with the rank
 * count, the others' does not). Rank 0 names the ranks it has not heard from
 * for the timeout (rank, host, pid), and the job ends with MPI_Abort; a rank
 * that has not heard from rank 0 names rank 0. The main thread pays nothing:
 * the watchdog never touches its work.
 *
 * It watches processes, not what their main thread does: a live process
 * whose main thread is stuck (an endless loop, a hung read) keeps beating.
 * It needs MPI_THREAD_MULTIPLE (main.c asks for it); without it, or with
 * one rank, or with timeout 0, it does nothing. */
#ifndef MH_WATCHDOG_H
#define MH_WATCHDOG_H

#include "core/dist.h"

/* The default of --stall-timeout, seconds. */
#define WATCHDOG_DEFAULT_TIMEOUT 300.0

/* Collective. Start the heartbeat thread on every rank of d with rank 0's
 * timeout_s (<= 0: off). Returns MH_OK, or an error (every rank agrees) when it cannot start.
 * what names the option in messages ("--stall-timeout"); hint (may be NULL)
 * is a line added to the message: what the user can do next. */
int watchdog_start(const Dist *d, double timeout_s, const char *what, const char *hint);
/* Collective. Meet every rank, then stop the thread (nothing when off). */
void watchdog_stop(const Dist *d);

#endif

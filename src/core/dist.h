/* dist.h - the rank context and the collectives every layer shares.
 *
 * A Dist says who this process is in the job: its rank and the job's size,
 * its rank and count on its node (which GPU it takes), and the
 * communicator. It is made once by the command's entry (main.c) and passed
 * explicitly to whatever talks to other ranks: the trainer, the model
 * pass, evaluation, the orchestrator and the plug-ins. The logging globals
 * (log.h) only decide who prints.
 *
 * dist_agree is the one "did every rank succeed" handshake: a failure on
 * any rank becomes a failure on every rank, carrying the failing rank's own
 * message, so that whichever rank reports it, the user reads the cause.
 *
 * Buffers longer than an int are sent in chunks. This module does not
 * decide what to do with a failure (error.h: only the top level stops). */
#ifndef MH_DIST_H
#define MH_DIST_H

#include <mpi.h>
#include <stdint.h>

typedef struct Dist {
  int rank;        /* this process's rank in comm */
  int size;        /* ranks in comm */
  int local_rank;  /* rank among the processes of this node */
  int local_size;  /* processes of this job on this node */
  MPI_Comm comm;   /* MPI_COMM_WORLD for a modyn command */
} Dist;

/* Fill d for comm (rank, size, node-local rank through a shared-memory
 * split). MPI must be initialised. */
int dist_init(Dist *d, MPI_Comm comm);
/* A one-process context (rank 0 of 1 on MPI_COMM_SELF), for tools and tests
 * that run without a job. */
Dist dist_self(void);

/* Collective. rc is this rank's status (MH_OK or not). Returns MH_OK when
 * every rank succeeded; otherwise MH_ERR on every rank, and every rank's
 * recorded error becomes the lowest failing rank's message, marked as
 * coming from that rank and host (mh_fatal names them), with its
 * full-disk mark. */
int dist_agree(const Dist *d, int rc);
/* Collective. Like dist_agree, for setup: when some rank failed, the lowest
 * failing rank prints "modyn: error: MSG" to stderr and every rank returns
 * 1 (the caller ends cleanly with exit code 1); 0 when all succeeded. */
int dist_agree_or_report(const Dist *d, int rc);

/* Root's buffer to every rank, any length. */
int dist_bcast(const Dist *d, void *buf, int64_t n, MPI_Datatype type);
int dist_bcast_f32(const Dist *d, float *buf, int64_t n);
int dist_bcast_f64(const Dist *d, double *buf, int64_t n);
int dist_bcast_i64(const Dist *d, int64_t *buf, int64_t n);
/* The same for a short message that ranks may wait long for (rank 0's next
 * command): a non-blocking broadcast that the waiting ranks test with
 * growing pauses (none in the first millisecond, then up to 20 ms), so an
 * idle rank does not burn a core the way a blocking one (busy-polling)
 * does. Every rank must call this one for the same message (a non-blocking
 * collective never matches a blocking one). n must fit an int. */
int dist_bcast_i64_idle(const Dist *d, int64_t *buf, int64_t n);
/* In-place sum over ranks. */
int dist_allreduce_sum_f32(const Dist *d, float *buf, int64_t n);
int dist_allreduce_sum_f64(const Dist *d, double *buf, int64_t n);
/* Concatenate every rank's `mine` values, in rank order, into `all` on
 * rank 0 (all may be NULL elsewhere); elem_bytes per value. Rank 0 must
 * know the total (*total gets it there). Any count, chunked past 2^31 bytes. */
int dist_gather_bytes(const Dist *d, const void *mine, int64_t n, size_t elem_bytes, void *all,
                      int64_t *total);
/* Every rank's `mine` (counts[rank] records of elem_bytes, counts known
 * on every rank, e.g. from dist_allgather_i64) concatenated in rank order
 * into `all` on every rank. For small per-batch data (a global batch's
 * scores): the total must fit an int. */
int dist_allgatherv(const Dist *d, const void *mine, const int64_t *counts, size_t elem_bytes,
                    void *all);
/* Counts of every rank, in rank order, on every rank (counts[size]). */
int dist_allgather_i64(const Dist *d, int64_t mine, int64_t *counts);
/* Every rank's n doubles at mine, in rank order, into all[size * n] on
 * every rank (batchnorm's statistics). */
int dist_allgather_f64(const Dist *d, const double *mine, int n, double *all);

/* Wait for a request of d's: poll it for the first $MODYN_SPIN_US
 * microseconds (default 100; negative: poll until it completes, as a
 * blocking MPI call does), then sleep between polls, pauses of 5% of the
 * time waited so far (20 us to 1 ms). A rank whose peers are late then
 * does not burn the core (or its job's CPU share on a shared machine)
 * that a peer could use. dist_agree, the allreduces and
 * dist_allgather_f64 wait this way (they are non-blocking collectives
 * underneath: every rank must call them alike, which they do). */
int dist_wait(const Dist *d, MPI_Request *req);

/* Wall seconds this process has spent inside dist_agree, the allreduces
 * and dist_allgather_f64 (waiting for the other ranks included), for
 * profiles: a caller reads it before and after a stretch of work. */
double dist_comm_seconds(void);
/* The training thread's CPU seconds spent in dist_wait's polling and
 * sleeping (the same collectives; a wait that ended at its first poll
 * counts nothing), for profiles. */
double dist_comm_cpu_seconds(void);

#endif

/* watchdog.c - see watchdog.h. */
#include "core/watchdog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/timing.h"

#define TAG_BEAT 1
#define HOST_CAP 64

typedef struct {
  int pid;
  char host[HOST_CAP];
} Peer;

typedef struct {
  MPI_Comm comm;        /* a duplicate of the job's: beats never meet the work's messages */
  int rank, size;
  double timeout;       /* seconds without a beat that end the job */
  double period;        /* seconds between beats */
  const char *what;     /* the option, for messages */
  char hint[1200];      /* what to do next, for the message */
  Peer *peers;          /* [size] who each rank is, for the message */
  double *heard;        /* [size] when a beat from each rank last came (mh_now) */
  MPI_Request *sreq;    /* [size] the beat in flight to each rank */
  int64_t *sbuf;        /* [size] its payload (a sequence number) */
  pthread_t thread;
  atomic_int stop;      /* set by watchdog_stop */
  int running;
} Watchdog;

static Watchdog g_wd; /* one per process: the run in progress */

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

/* The job is over: say who stopped, then end every rank. */
static _Noreturn void stalled(Watchdog *w, const int *late, int nlate, double now) {
  char who[1024] = "";
  size_t len = 0;
  for (int i = 0; i < nlate && len < sizeof who - 100; i++) {
    const Peer *p = &w->peers[late[i]];
    len += (size_t)snprintf(who + len, sizeof who - len, "%srank %d (pid %d on %s)",
                            i == 0 ? "" : i == nlate - 1 ? " and " : ", ", late[i], p->pid,
                            p->host);
  }
  double silent = now - w->heard[late[0]];
  fflush(stdout);
  fprintf(stderr,
          "modyn: error [rank %d of %d on %s]: %s %s not responded for %.0f s (stopped, "
          "frozen, or its node hung): ending the job (%s %g)%s%s\n",
          w->rank, w->size, w->peers[w->rank].host, who, nlate == 1 ? "has" : "have", silent,
          w->what, w->timeout, *w->hint ? "\n" : "", w->hint);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  _exit(1);
}

static void beat(Watchdog *w, int peer, int64_t seq) {
  int done = 1;
  if (w->sreq[peer] != MPI_REQUEST_NULL) MPI_Test(&w->sreq[peer], &done, MPI_STATUS_IGNORE);
  if (!done) return; /* the last beat is still on its way: that peer is not listening */
  w->sbuf[peer] = seq;
  MPI_Isend(&w->sbuf[peer], 1, MPI_INT64_T, peer, TAG_BEAT, w->comm, &w->sreq[peer]);
}

static void *watch(void *arg) {
  Watchdog *w = arg;
  double next = 0.0;
  int64_t seq = 0;
  int *late = malloc((size_t)w->size * sizeof *late);
  /* The lowest rank speaks first when rank 0 is the one that stopped: the
   * others wait a little longer, so the user reads one message. */
  const double grace = w->rank > 1 ? 2.0 * w->period : 0.0;
  double last = mh_now();
  while (!atomic_load(&w->stop)) {
    double now = mh_now();
    /* This process itself did not run for a while (it was stopped, and the
     * job is ending it now; or the system starved it): the silence of the
     * others says nothing then. */
    if (now - last > 3 * w->period + 1.0)
      for (int r = 0; r < w->size; r++) w->heard[r] = now;
    last = now;
    if (now >= next) {
      seq++;
      if (w->rank == 0)
        for (int r = 1; r < w->size; r++) beat(w, r, seq);
      else
        beat(w, 0, seq);
      next = now + w->period;
    }
    for (;;) {
      int flag = 0;
      MPI_Status st;
      if (MPI_Iprobe(MPI_ANY_SOURCE, TAG_BEAT, w->comm, &flag, &st) != MPI_SUCCESS || !flag)
        break;
      int64_t v;
      MPI_Recv(&v, 1, MPI_INT64_T, st.MPI_SOURCE, TAG_BEAT, w->comm, MPI_STATUS_IGNORE);
      w->heard[st.MPI_SOURCE] = mh_now();
    }
    now = mh_now();
    int nlate = 0;
    for (int r = 0; r < w->size && late; r++) {
      if (r == w->rank || (w->rank != 0 && r != 0)) continue;
      if (now - w->heard[r] > w->timeout + grace) late[nlate++] = r;
    }
    if (nlate > 0 && !atomic_load(&w->stop)) stalled(w, late, nlate, now);
    sleep_s(w->period / 4);
  }
  free(late);
  return NULL;
}

int watchdog_start(const Dist *d, double timeout_s, const char *what, const char *hint) {
  Watchdog *w = &g_wd;
  if (w->running || d->size == 1) return MH_OK;
  /* rank 0's value: an environment variable may not reach every node */
  MH_TRY(dist_bcast_f64(d, &timeout_s, 1));
  if (timeout_s <= 0) return MH_OK;
  int level = MPI_THREAD_SINGLE;
  MPI_CHECK(MPI_Query_thread(&level));
  if (level < MPI_THREAD_MULTIPLE) { /* the same answer on every rank */
    LOG0("# note: this MPI library does not run threads that call MPI "
         "(MPI_THREAD_MULTIPLE), so %s is off: a stopped rank is not detected\n", what);
    return MH_OK;
  }
  memset(w, 0, sizeof *w);
  w->rank = d->rank;
  w->size = d->size;
  w->timeout = timeout_s;
  w->period = timeout_s / 10 < 1.0 ? timeout_s / 10 : 1.0;
  w->what = what;
  snprintf(w->hint, sizeof w->hint, "%s", hint ? hint : "");
  w->peers = mh_calloc((size_t)d->size, sizeof *w->peers);
  w->heard = mh_calloc((size_t)d->size, sizeof *w->heard);
  w->sreq = mh_calloc((size_t)d->size, sizeof *w->sreq);
  w->sbuf = mh_calloc((size_t)d->size, sizeof *w->sbuf);
  int rc = w->peers && w->heard && w->sreq && w->sbuf ? MH_OK : MH_ERR;
  MH_TRY(dist_agree(d, rc));
  Peer me = {(int)getpid(), ""};
  gethostname(me.host, sizeof me.host - 1);
  MPI_CHECK(MPI_Allgather(&me, (int)sizeof me, MPI_BYTE, w->peers, (int)sizeof me, MPI_BYTE,
                          d->comm));
  MPI_CHECK(MPI_Comm_dup(d->comm, &w->comm));
  for (int r = 0; r < d->size; r++) w->sreq[r] = MPI_REQUEST_NULL;
  const double now = mh_now();
  for (int r = 0; r < d->size; r++) w->heard[r] = now;
  atomic_store(&w->stop, 0);
  rc = pthread_create(&w->thread, NULL, watch, w) == 0
           ? MH_OK
           : mh_errorf("cannot start the watchdog thread (%s)", what);
  w->running = rc == MH_OK;
  return dist_agree(d, rc);
}

void watchdog_stop(const Dist *d) {
  Watchdog *w = &g_wd;
  if (!w->running) return;
  /* Every rank is here before any stops beating, so nobody waits on a
   * rank that stopped its watchdog on purpose. */
  MPI_Barrier(d->comm);
  atomic_store(&w->stop, 1);
  pthread_join(w->thread, NULL);
  w->running = 0;
  int inflight = 0;
  for (int r = 0; r < w->size; r++) {
    if (w->sreq[r] == MPI_REQUEST_NULL) continue;
    int done = 0;
    MPI_Test(&w->sreq[r], &done, MPI_STATUS_IGNORE);
    if (!done) {
      MPI_Request_free(&w->sreq[r]); /* completes on its own; its buffer must stay */
      inflight = 1;
    }
  }
  MPI_Barrier(w->comm);
  for (;;) { /* beats that were still on their way */
    int flag = 0;
    MPI_Status st;
    if (MPI_Iprobe(MPI_ANY_SOURCE, TAG_BEAT, w->comm, &flag, &st) != MPI_SUCCESS || !flag) break;
    int64_t v;
    MPI_Recv(&v, 1, MPI_INT64_T, st.MPI_SOURCE, TAG_BEAT, w->comm, MPI_STATUS_IGNORE);
  }
  MPI_Comm_free(&w->comm);
  if (!inflight) free(w->sbuf);
  free(w->sreq);
  free(w->heard);
  free(w->peers);
  memset(w, 0, sizeof *w);
}

/* dist.c - see dist.h. */
#include "core/dist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/timing.h"

/* Buffers are sent in pieces of at most this many elements: MPI counts are
 * int, and 16 MiB messages keep Open MPI on its pipelined large-message
 * path without one huge temporary. A model under 4M parameters needs one
 * call per step. */
#define CHUNK (1 << 22)

/* dist_comm_seconds: per process; the training thread is the only one that
 * calls the counted collectives. */
static double g_comm_seconds, g_comm_cpu;

double dist_comm_seconds(void) { return g_comm_seconds; }
double dist_comm_cpu_seconds(void) { return g_comm_cpu; }

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* How long a rank polls a collective before it starts to sleep between
 * polls ($MODYN_SPIN_US, microseconds; negative: poll for ever). */
static double g_spin_s = -2.0;

static double spin_seconds(void) {
  if (g_spin_s > -2.0) return g_spin_s;
  const char *e = getenv("MODYN_SPIN_US");
  char *end = NULL;
  double us = e && *e ? strtod(e, &end) : 100.0;
  if (e && *e && (end == e || *end)) us = 100.0; /* not a number: the default */
  g_spin_s = us < 0.0 ? -1.0 : us * 1e-6;
  return g_spin_s;
}

int dist_wait(const Dist *d, MPI_Request *req) {
  (void)d;
  int done = 0;
  MPI_CHECK(MPI_Test(req, &done, MPI_STATUS_IGNORE));
  if (done) return MH_OK;
  const double spin = spin_seconds(), t0 = mh_now(), c0 = thread_cpu();
  for (;;) {
    MPI_CHECK(MPI_Test(req, &done, MPI_STATUS_IGNORE));
    if (done) {
      g_comm_cpu += thread_cpu() - c0;
      return MH_OK;
    }
    const double waited = mh_now() - t0;
    if (spin < 0.0 || waited < spin) continue;
    /* 5% of the time waited so far, within [20 us, 1 ms]: a rank that
     * waits long (its peer lost its core) gives its core away, and is late
     * by at most 5% when the peer comes */
    double pause = waited * 0.05;
    pause = pause < 20e-6 ? 20e-6 : pause > 1e-3 ? 1e-3 : pause;
    struct timespec ts = {0, (long)(pause * 1e9)};
    nanosleep(&ts, NULL);
  }
}

int dist_init(Dist *d, MPI_Comm comm) {
  memset(d, 0, sizeof *d);
  d->comm = comm;
  MPI_CHECK(MPI_Comm_rank(comm, &d->rank));
  MPI_CHECK(MPI_Comm_size(comm, &d->size));
  MPI_Comm node;
  MPI_CHECK(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node));
  int rc = MPI_Comm_rank(node, &d->local_rank);
  if (rc == MPI_SUCCESS) rc = MPI_Comm_size(node, &d->local_size);
  MPI_Comm_free(&node);
  if (rc != MPI_SUCCESS) return mh_mpi_error(rc, "MPI_Comm_rank/size(node)", __FILE__, __LINE__);
  return MH_OK;
}

Dist dist_self(void) {
  Dist d = {0, 1, 0, 1, MPI_COMM_SELF};
  return d;
}

int dist_agree(const Dist *d, int rc) {
  if (d->size == 1) return rc == MH_OK ? MH_OK : MH_ERR;
  int mine = rc == MH_OK ? d->size : d->rank, first = d->size;
  const double t0 = mh_now();
  MPI_Request req;
  MPI_CHECK(MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm, &req));
  MH_TRY(dist_wait(d, &req));
  g_comm_seconds += mh_now() - t0;
  if (first == d->size) return MH_OK;
  /* The failing rank's message reaches everyone: whichever rank the top
   * level lets speak, the user reads the cause. */
  struct {
    int no_space; /* the full-disk mark (error.h), so every rank gives the same advice */
    char host[64];
    char msg[2048];
  } m;
  memset(&m, 0, sizeof m);
  if (d->rank == first) {
    m.no_space = mh_error_no_space();
    gethostname(m.host, sizeof m.host - 1);
    snprintf(m.msg, sizeof m.msg, "%s", mh_error());
  }
  MPI_CHECK(MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, d->comm));
  if (d->rank != first) {
    mh_errorf("%s", m.msg);
    mh_error_set_origin(first, m.host);
    if (m.no_space) mh_error_mark_no_space(ENOSPC);
  }
  return MH_ERR;
}

int dist_agree_or_report(const Dist *d, int rc) {
  int mine = rc == MH_OK ? d->size : d->rank, first = d->size;
  if (d->size > 1) {
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm) != MPI_SUCCESS)
      mh_fatal("MPI_Allreduce failed while ranks agreed on a setup error");
  } else {
    first = mine;
  }
  if (first == d->size) return 0;
  if (first == d->rank) fprintf(stderr, "modyn: error: %s\n", mh_error());
  return 1;
}

int dist_bcast(const Dist *d, void *buf, int64_t n, MPI_Datatype type) {
  if (d->size == 1) return MH_OK;
  int size = 0;
  MPI_CHECK(MPI_Type_size(type, &size));
  for (int64_t off = 0; off < n; off += CHUNK) {
    int64_t c = n - off < CHUNK ? n - off : CHUNK;
    MPI_CHECK(MPI_Bcast((char *)buf + off * size, (int)c, type, 0, d->comm));
  }
  return MH_OK;
}

int dist_bcast_f32(const Dist *d, float *buf, int64_t n) { return dist_bcast(d, buf, n, MPI_FLOAT); }
int dist_bcast_f64(const Dist *d, double *buf, int64_t n) {
  return dist_bcast(d, buf, n, MPI_DOUBLE);
}
int dist_bcast_i64(const Dist *d, int64_t *buf, int64_t n) {
  return dist_bcast(d, buf, n, MPI_INT64_T);
}

int dist_bcast_i64_idle(const Dist *d, int64_t *buf, int64_t n) {
  if (d->size == 1) return MH_OK;
  MPI_Request req;
  MPI_CHECK(MPI_Ibcast(buf, (int)n, MPI_INT64_T, 0, d->comm, &req));
  if (d->rank == 0) { /* the root only sends: no wait worth sleeping through */
    MPI_CHECK(MPI_Wait(&req, MPI_STATUS_IGNORE));
    return MH_OK;
  }
  const double t0 = mh_now();
  for (;;) {
    int done = 0;
    MPI_CHECK(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
    if (done) return MH_OK;
    double waited = mh_now() - t0;
    if (waited < 1e-3) continue;
    /* 1% of the time waited so far, within [50 us, 20 ms]: a command that
     * comes after a long wait is late by at most 1% */
    double pause = waited * 0.01;
    pause = pause < 50e-6 ? 50e-6 : pause > 20e-3 ? 20e-3 : pause;
    struct timespec ts = {0, (long)(pause * 1e9)};
    nanosleep(&ts, NULL);
  }
}

static int allreduce_sum(const Dist *d, void *buf, int64_t n, MPI_Datatype type, size_t size) {
  if (d->size == 1) return MH_OK;
  const double t0 = mh_now();
  for (int64_t off = 0; off < n; off += CHUNK) {
    int64_t c = n - off < CHUNK ? n - off : CHUNK;
    MPI_Request req;
    MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, (char *)buf + (size_t)off * size, (int)c, type,
                             MPI_SUM, d->comm, &req));
    MH_TRY(dist_wait(d, &req));
  }
  g_comm_seconds += mh_now() - t0;
  return MH_OK;
}

int dist_allreduce_sum_f32(const Dist *d, float *buf, int64_t n) {
  return allreduce_sum(d, buf, n, MPI_FLOAT, sizeof(float));
}

int dist_allreduce_sum_f64(const Dist *d, double *buf, int64_t n) {
  return allreduce_sum(d, buf, n, MPI_DOUBLE, sizeof(double));
}

int dist_allgather_i64(const Dist *d, int64_t mine, int64_t *counts) {
  if (d->size == 1) {
    counts[0] = mine;
    return MH_OK;
  }
  MPI_CHECK(MPI_Allgather(&mine, 1, MPI_INT64_T, counts, 1, MPI_INT64_T, d->comm));
  return MH_OK;
}

int dist_allgather_f64(const Dist *d, const double *mine, int n, double *all) {
  if (d->size == 1) {
    memmove(all, mine, (size_t)n * sizeof(double));
    return MH_OK;
  }
  const double t0 = mh_now();
  MPI_Request req;
  MPI_CHECK(MPI_Iallgather(mine, n, MPI_DOUBLE, all, n, MPI_DOUBLE, d->comm, &req));
  MH_TRY(dist_wait(d, &req));
  g_comm_seconds += mh_now() - t0;
  return MH_OK;
}

/* Rank by rank with point-to-point messages in CHUNK-byte pieces: no int
 * overflow for large gathers (a window's embeddings), and rank 0 receives
 * straight into place. */
int dist_gather_bytes(const Dist *d, const void *mine, int64_t n, size_t elem_bytes, void *all,
                      int64_t *total) {
  int64_t *counts = mh_malloc((size_t)d->size * sizeof(int64_t));
  if (!counts) return MH_ERR;
  int rc = dist_allgather_i64(d, n, counts);
  if (rc) {
    free(counts);
    return rc;
  }
  int64_t t = 0;
  for (int r = 0; r < d->size; r++) t += counts[r];
  if (total) *total = t;
  const int64_t piece = (int64_t)CHUNK * 4;
  if (d->rank == 0) {
    char *dst = all;
    if (n > 0) memcpy(dst, mine, (size_t)n * elem_bytes);
    dst += (size_t)n * elem_bytes;
    for (int r = 1; r < d->size && !rc; r++) {
      int64_t bytes = counts[r] * (int64_t)elem_bytes;
      for (int64_t off = 0; off < bytes && !rc; off += piece) {
        int64_t c = bytes - off < piece ? bytes - off : piece;
        int e = MPI_Recv(dst + off, (int)c, MPI_BYTE, r, 7, d->comm, MPI_STATUS_IGNORE);
        if (e != MPI_SUCCESS) rc = mh_mpi_error(e, "MPI_Recv", __FILE__, __LINE__);
      }
      dst += bytes;
    }
  } else {
    int64_t bytes = n * (int64_t)elem_bytes;
    for (int64_t off = 0; off < bytes && !rc; off += piece) {
      int64_t c = bytes - off < piece ? bytes - off : piece;
      int e = MPI_Send((const char *)mine + off, (int)c, MPI_BYTE, 0, 7, d->comm);
      if (e != MPI_SUCCESS) rc = mh_mpi_error(e, "MPI_Send", __FILE__, __LINE__);
    }
  }
  free(counts);
  return rc;
}

int dist_allgatherv(const Dist *d, const void *mine, const int64_t *counts, size_t elem_bytes,
                    void *all) {
  if (d->size == 1) {
    if (counts[0] > 0) memcpy(all, mine, (size_t)counts[0] * elem_bytes);
    return MH_OK;
  }
  /* Per step on the training path: no allocation for the usual rank
   * counts, and every check below gives the same answer on every rank. */
  int stack_cnt[256], stack_displs[256];
  int *cnt = stack_cnt, *displs = stack_displs;
  int rc = MH_OK;
  if (d->size > 256) {
    cnt = mh_malloc((size_t)d->size * sizeof(int));
    displs = mh_malloc((size_t)d->size * sizeof(int));
    rc = dist_agree(d, cnt && displs ? MH_OK : MH_ERR);
  }
  int64_t total = 0;
  for (int r = 0; !rc && r < d->size; r++) {
    displs[r] = (int)total;
    cnt[r] = (int)(counts[r] * (int64_t)elem_bytes);
    total += counts[r] * (int64_t)elem_bytes;
    if (total > 0x7fffffff)
      rc = mh_errorf("dist_allgatherv: %lld bytes is more than one MPI call can carry",
                     (long long)total);
  }
  if (!rc) {
    int e = MPI_Allgatherv(mine, cnt[d->rank], MPI_BYTE, all, cnt, displs, MPI_BYTE, d->comm);
    if (e != MPI_SUCCESS) rc = mh_mpi_error(e, "MPI_Allgatherv", __FILE__, __LINE__);
  }
  if (cnt != stack_cnt) {
    free(cnt);
    free(displs);
  }
  return rc;
}

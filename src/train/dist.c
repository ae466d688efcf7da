/* dist.c - see dist.h. */
#include "train/dist.h"

#include <mpi.h>

#include "core/error.h"

/* Buffers are reduced in buckets of at most this many elements: MPI counts
 * are int, and 16 MiB messages keep Open MPI on its pipelined large-message
 * path without one huge temporary. A model under 4M parameters needs one
 * call per step. */
#define CHUNK (1 << 22)

int dist_bcast_model(Model *m) {
  for (int64_t off = 0; off < m->nparams; off += CHUNK) {
    int64_t c = m->nparams - off < CHUNK ? m->nparams - off : CHUNK;
    MPI_CHECK(MPI_Bcast(m->params + off, (int)c, MPI_FLOAT, 0, MPI_COMM_WORLD));
  }
  for (int64_t off = 0; off < m->nbuffers; off += CHUNK) {
    int64_t c = m->nbuffers - off < CHUNK ? m->nbuffers - off : CHUNK;
    MPI_CHECK(MPI_Bcast(m->buffers + off, (int)c, MPI_FLOAT, 0, MPI_COMM_WORLD));
  }
  return MH_OK;
}

int dist_allreduce_sum_f32(float *buf, int64_t n) {
  for (int64_t off = 0; off < n; off += CHUNK) {
    int64_t c = n - off < CHUNK ? n - off : CHUNK;
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
  }
  return MH_OK;
}

int dist_allreduce_sum_f64(double *buf, int64_t n) {
  for (int64_t off = 0; off < n; off += CHUNK) {
    int64_t c = n - off < CHUNK ? n - off : CHUNK;
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)c, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
  }
  return MH_OK;
}

void dist_slice(int64_t len, int rank, int nranks, int64_t *lo, int64_t *hi) {
  *lo = len * rank / nranks;
  *hi = len * (rank + 1) / nranks;
}

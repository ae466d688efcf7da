/* dist.c - see dist.h. */
#include "train/dist.h"

#include <mpi.h>

#include "core/error.h"

/* Buffers are reduced in buckets of at most this many elements: MPI counts
 * are int, and 16 MiB messages keep Open MPI on its pipelined large-message
 * path without one huge temporary. A model under 4M parameters needs one
 * call per step. */
#define CHUNK (1 << 22)

static int bcast(void *buf, int64_t n, MPI_Datatype type, size_t size) {
  for (int64_t off = 0; off < n; off += CHUNK) {
    int64_t c = n - off < CHUNK ? n - off : CHUNK;
    MPI_CHECK(MPI_Bcast((char *)buf + (size_t)off * size, (int)c, type, 0, MPI_COMM_WORLD));
  }
  return MH_OK;
}

int dist_bcast_f32(float *buf, int64_t n) { return bcast(buf, n, MPI_FLOAT, sizeof(float)); }
int dist_bcast_f64(double *buf, int64_t n) { return bcast(buf, n, MPI_DOUBLE, sizeof(double)); }

int dist_bcast_model(Model *m) {
  MH_TRY(dist_bcast_f32(m->params, m->nparams));
  return dist_bcast_f32(m->buffers, m->nbuffers);
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

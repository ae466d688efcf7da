/* dist.h - data-parallel communication on MPI_COMM_WORLD: broadcast a
 * model from rank 0, sum-allreduce gradient buffers, and split a global
 * batch into per-rank slices. CPU path (MPI); the NCCL path will sit beside
 * it with the same names and a _cuda suffix. */
#ifndef MH_DIST_H
#define MH_DIST_H

#include <stdint.h>

#include "train/model.h"

/* Rank 0's params and buffers to every rank. */
int dist_bcast_model(Model *m);
/* In-place sum over ranks. */
int dist_allreduce_sum_f32(float *buf, int64_t n);
int dist_allreduce_sum_f64(double *buf, int64_t n);
/* This rank's slice [lo, hi) of a global range of len items: rank r gets
 * items [r*len/N, (r+1)*len/N), so remainders spread over ranks and a rank
 * may get none. */
void dist_slice(int64_t len, int rank, int nranks, int64_t *lo, int64_t *hi);

#endif

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
/* Rank 0's buffer to every rank, any length. */
int dist_bcast_f32(float *buf, int64_t n);
int dist_bcast_f64(double *buf, int64_t n);
/* In-place sum over ranks. */
int dist_allreduce_sum_f32(float *buf, int64_t n);
int dist_allreduce_sum_f64(double *buf, int64_t n);
#endif

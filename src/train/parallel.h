/* parallel.h - the threading policy of the CPU training engine.
 *
 * One policy for the whole engine, so that OpenMP and OpenBLAS never
 * oversubscribe the cores: Debian's OpenBLAS runs its own pthread pool, and
 * an OpenMP team spinning next to it halves both. Here OpenBLAS is pinned
 * to one thread and every parallel loop is an OpenMP loop; a GEMM large
 * enough to split is cut into one block per OpenMP thread, each block a
 * single-threaded sgemm. The thread count is $MODYN_THREADS, else OpenMP's
 * default (OMP_NUM_THREADS or the cores); the modyn binary passes its own
 * default (main.c).
 *
 * It does not pick between CPU and GPU (gpu.h). */
#ifndef MH_PARALLEL_H
#define MH_PARALLEL_H

#include <stdint.h>

/* Set the engine's thread count (n <= 0: the default above, once) and pin
 * OpenBLAS to one thread. Called by the layer constructors; cheap to repeat. */
void par_init(int n);
/* Threads used by the engine's parallel loops (after par_init). */
int par_threads(void);
/* Cores in this process's CPU affinity mask (0: unknown). */
int par_bound_cores(void);

/* C = alpha * op(A) op(B) + beta * C, row-major, op = transpose when ta/tb
 * is nonzero; C is M x N, the inner dimension K. Split over the OpenMP
 * threads when worth it; call it outside parallel regions. Any dimension
 * may be 0 (an empty batch): OpenBLAS is then not called. */
void par_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);
/* The same, single-threaded (for use inside a parallel region). */
void par_sgemm1(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc);

/* Grow a float buffer to at least n values (contents not kept). Returns
 * MH_OK or MH_ERR with an error recorded. */
int par_reserve(float **buf, int64_t *cap, int64_t n);

#endif

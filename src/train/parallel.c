/* parallel.c - see parallel.h. */
#include "train/parallel.h"

#include <cblas.h>
#include <sched.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"

static int par_nthreads = 0;

int par_bound_cores(void) {
#ifdef CPU_COUNT
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
#endif
  return 0;
}

void par_init(int n) {
  if (n <= 0 && par_nthreads > 0) return;
  if (n <= 0) {
    const char *env = getenv("MODYN_THREADS");
    n = env ? atoi(env) : 0;
  }
#ifdef _OPENMP
  if (n <= 0) n = omp_get_max_threads();
  omp_set_num_threads(n);
#else
  n = 1;
#endif
  par_nthreads = n;
  openblas_set_num_threads(1);
}

int par_threads(void) {
  if (par_nthreads <= 0) par_init(0);
  return par_nthreads;
}

void par_sgemm1(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    /* An empty batch's weight gradient: C = beta * C, here rather than in
     * OpenBLAS (BLAS libraries differ on K = 0, and an empty operand's
     * pointer may be NULL). */
    if (beta == 1.0f) return;
    for (int i = 0; i < M; i++) {
      float *c = C + (int64_t)i * ldc;
      for (int j = 0; j < N; j++) c[j] = beta == 0.0f ? 0.0f : beta * c[j];
    }
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
              K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Below this many multiply-adds a GEMM runs on one thread: the fork/join
 * costs more than it saves. */
#define PAR_GEMM_MIN_MACS (1 << 18)

void par_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc) {
  const int T = par_threads();
  if (T <= 1 || (int64_t)M * N * K < PAR_GEMM_MIN_MACS || (M < 32 && N < 32)) {
    par_sgemm1(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  /* Split the larger of M and N into T blocks, rounded up to 16 (a multiple
   * of the kernel's register tile keeps every block on the fast path). */
  const int split_m = M >= N;
  const int len = split_m ? M : N;
  int blk = (len + T - 1) / T;
  blk = (blk + 15) / 16 * 16;
#pragma omp parallel for num_threads(T) schedule(static, 1)
  for (int t = 0; t < T; t++) {
    int lo = t * blk, hi = lo + blk < len ? lo + blk : len;
    if (lo >= hi) continue;
    if (split_m) {
      const float *a = ta ? A + lo : A + (int64_t)lo * lda;
      par_sgemm1(ta, tb, hi - lo, N, K, alpha, a, lda, B, ldb, beta, C + (int64_t)lo * ldc, ldc);
    } else {
      const float *b = tb ? B + (int64_t)lo * ldb : B + lo;
      par_sgemm1(ta, tb, M, hi - lo, K, alpha, A, lda, b, ldb, beta, C + lo, ldc);
    }
  }
}

int par_reserve(float **buf, int64_t *cap, int64_t n) {
  if (n <= *cap) return MH_OK;
  free(*buf);
  *cap = 0;
  *buf = mh_malloc((size_t)n * sizeof(float));
  if (!*buf) return MH_ERR;
  *cap = n;
  return MH_OK;
}

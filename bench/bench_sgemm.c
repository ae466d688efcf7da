/* bench_sgemm.c - the float32 GEMM peak of this machine, measured in the
 * run that reports a fraction of it (bench/lib.sh calls it for every bench
 * header; bench_train --layers and bench_conv take the peak as an argument).
 *
 *   bench_sgemm [--size N] [--calls C] [--threads T] [--shape M,N,K[,ta,tb]]
 *
 * Default: C = A B with A, B, C 2048 x 2048 row-major through par_sgemm (the
 * engine's own threading: one single-threaded OpenBLAS sgemm per OpenMP
 * thread, par_threads() threads, $MODYN_THREADS or --threads), C calls
 * (default 10) timed one by one after a warm-up call, as the benchmarks
 * time the layers whose fraction of it they report. Prints the OpenBLAS
 * build (openblas_get_config, openblas_get_corename) and one line
 *   sgemm_peak_gflops BEST MIN MAX
 * (2 FLOPs per multiply-add; BEST: the fastest call; MIN and MAX over the
 * calls: the spread).
 * --shape times another GEMM the same way (ta/tb nonzero: transposed). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/timing.h"
#include "train/parallel.h"

char *openblas_get_config(void);
char *openblas_get_corename(void);

int main(int argc, char **argv) {
  static const struct option opts[] = {{"size", required_argument, NULL, 'n'},
                                       {"calls", required_argument, NULL, 'r'},
                                       {"threads", required_argument, NULL, 't'},
                                       {"shape", required_argument, NULL, 'p'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int n = 2048, rounds = 10, threads = 0, ch;
  int M = 0, N = 0, K = 0, ta = 0, tb = 0;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
      case 'n': n = atoi(optarg); break;
      case 'r': rounds = atoi(optarg); break;
      case 't': threads = atoi(optarg); break;
      case 'p':
        if (sscanf(optarg, "%d,%d,%d,%d,%d", &M, &N, &K, &ta, &tb) < 3) {
          fprintf(stderr, "bench_sgemm: --shape M,N,K[,ta,tb]\n");
          return 2;
        }
        break;
      default:
        printf("usage: bench_sgemm [--size N] [--calls C] [--threads T] [--shape M,N,K[,ta,tb]]\n");
        return ch == 'h' ? 0 : 2;
    }
  }
  if (!M) M = N = K = n;
  if (M <= 0 || N <= 0 || K <= 0 || rounds < 1) {
    fprintf(stderr, "bench_sgemm: sizes and calls must be positive\n");
    return 2;
  }
  par_init(threads);
  const int lda = ta ? M : K, ldb = tb ? K : N;
  float *A = malloc((size_t)M * K * sizeof(float)), *B = malloc((size_t)K * N * sizeof(float));
  float *C = malloc((size_t)M * N * sizeof(float));
  if (!A || !B || !C) {
    fprintf(stderr, "bench_sgemm: out of memory\n");
    return 1;
  }
  Rng rng;
  rng_seed(&rng, 3);
  for (int64_t i = 0; i < (int64_t)M * K; i++) A[i] = (float)rng_uniform(&rng);
  for (int64_t i = 0; i < (int64_t)K * N; i++) B[i] = (float)rng_uniform(&rng);
  const double flops = 2.0 * M * N * K;
  par_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N); /* warm up */
  double best = 0, worst = 0;
  for (int r = 0; r < rounds; r++) {
    const double t0 = mh_now();
    par_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N);
    const double g = flops / (mh_now() - t0) / 1e9;
    if (g > best) best = g;
    if (r == 0 || g < worst) worst = g;
  }
  printf("# library: %s (core %s); %d thread(s), one single-threaded sgemm per thread\n",
         openblas_get_config(), openblas_get_corename(), par_threads());
  printf("# sgemm %dx%dx%d%s%s, %d calls; GFLOP/s of the fastest, the slowest, the fastest\n", M,
         N, K, ta ? " A^T" : "", tb ? " B^T" : "", rounds);
  printf("sgemm_peak_gflops %.1f %.1f %.1f\n", best, worst, best);
  free(A);
  free(B);
  free(C);
  return 0;
}

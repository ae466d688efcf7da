/* drift_driver.c - the drift statistics as a filter, for cross-checks
 * against independent implementations (bench/mmd_crosscheck.py,
 * bench/pvalue_crosscheck.py):
 *   drift_driver mmd    stdin: "nx ny d from_ref" then nx + ny rows of d numbers
 *                       stdout: "mmd2 sigma"
 *   drift_driver ks     stdin: "n m alternative" then n + m numbers
 *                       stdout: "D p_asymp p_exact"  (alternative 0 two-sided, 1 less,
 *                       2 greater)
 *   drift_driver cvm    stdin: "n m" then n + m numbers; stdout: "T p" (p exact when n, m
 *                       <= 20, as scipy's "auto")
 * Numbers print with 17 significant digits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "trigger/drift_metric.h"

static int read_doubles(double *v, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (scanf("%lf", &v[i]) != 1) return -1;
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: drift_driver mmd|ks|cvm < input\n");
    return 2;
  }
  if (!strcmp(argv[1], "mmd")) {
    long long nx, ny, d;
    int from_ref;
    if (scanf("%lld %lld %lld %d", &nx, &ny, &d, &from_ref) != 4) return 2;
    double *v = malloc(sizeof(double) * (size_t)((nx + ny) * d));
    float *x = malloc(sizeof(float) * (size_t)(nx * d)),
          *y = malloc(sizeof(float) * (size_t)(ny * d));
    if (!v || !x || !y || read_doubles(v, (nx + ny) * d)) return 2;
    for (long long i = 0; i < nx * d; i++) x[i] = (float)v[i];
    for (long long i = 0; i < ny * d; i++) y[i] = (float)v[nx * d + i];
    MmdResult r;
    if (drift_mmd2(x, nx, y, ny, d, from_ref, 0, 0.05, 1, &r)) {
      fprintf(stderr, "drift_driver: %s\n", mh_error());
      return 1;
    }
    printf("%.17g %.17g\n", r.mmd2, r.sigma);
    free(v);
    free(x);
    free(y);
    return 0;
  }
  long long n, m;
  int alt = 0;
  int ks = !strcmp(argv[1], "ks");
  if (!ks && strcmp(argv[1], "cvm")) return 2;
  if (scanf("%lld %lld", &n, &m) != 2 || (ks && scanf("%d", &alt) != 1)) return 2;
  double *a = malloc(sizeof(double) * (size_t)(n + m));
  if (!a || read_doubles(a, n + m)) return 2;
  double p = 0.0, s;
  if (ks) {
    qsort(a, (size_t)n, sizeof *a, cmp_double);
    qsort(a + n, (size_t)m, sizeof *a, cmp_double);
    s = drift_ks_2samp(a, n, a + n, m, alt, &p);
    printf("%.17g %.17g %.17g\n", s, p, drift_ks_exact_p(n, m, s, alt));
    free(a);
    return 0;
  } else {
    s = drift_cvm_2samp(a, n, a + n, m, &p);
  }
  printf("%.17g %.17g\n", s, p);
  free(a);
  return 0;
}

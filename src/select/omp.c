/* omp.c - see omp.h. */
#include "select/omp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static double dot(const double *x, const double *y, int64_t p) {
  double s = 0.0;
  for (int64_t k = 0; k < p; k++) s += x[k] * y[k];
  return s;
}

int nnls_symmetric(const double *M, int64_t k, const double *c, double *x) {
  double *r = mh_malloc((size_t)(k + 1) * sizeof(double));
  double *nrm = mh_malloc((size_t)(k + 1) * sizeof(double));
  if (!r || !nrm) {
    free(r);
    free(nrm);
    return MH_ERR;
  }
  /* r = M x - c with x = 0 */
  for (int64_t i = 0; i < k; i++) {
    x[i] = 0.0;
    r[i] = -c[i];
    nrm[i] = dot(M + i * k, M + i * k, k); /* |column i|^2 = |row i|^2 */
  }
  for (int sweep = 0; sweep < 1000; sweep++) {
    double step = 0.0, big = 0.0;
    for (int64_t i = 0; i < k; i++) {
      if (!(nrm[i] > 0)) continue;
      const double *mi = M + i * k;
      /* exact minimiser along coordinate i, clipped at 0 */
      double xi = x[i] - dot(mi, r, k) / nrm[i];
      if (xi < 0) xi = 0.0;
      const double delta = xi - x[i];
      if (delta != 0.0) {
        for (int64_t q = 0; q < k; q++) r[q] += delta * mi[q];
        x[i] = xi;
      }
      if (fabs(delta) > step) step = fabs(delta);
      if (xi > big) big = xi;
    }
    if (step <= 1e-13 * big || step == 0.0) break;
  }
  free(r);
  free(nrm);
  return MH_OK;
}

int omp_select(const double *a, int64_t n, int64_t p, const double *b, int64_t budget, double lam,
               int64_t *sel, double *x) {
  if (budget < 1 || budget > n)
    return mh_errorf("orthogonal matching pursuit: %lld of %lld vectors", (long long)budget,
                     (long long)n);
  const size_t P = (size_t)p + 1;
  double *resid = mh_malloc(P * sizeof(double));
  double *w = mh_malloc((size_t)budget * P * sizeof(double)); /* rows of L^-1 A_S */
  double *l = mh_malloc((size_t)(budget + 1) * sizeof(double));
  double *y = mh_malloc((size_t)(budget + 1) * sizeof(double)); /* L y = A_S b */
  unsigned char *chosen = mh_calloc((size_t)n + 1, 1);
  double *M = NULL, *c = NULL;
  int rc = resid && w && l && y && chosen ? MH_OK : MH_ERR;
  if (!rc) memcpy(resid, b, (size_t)p * sizeof(double));
  for (int64_t t = 0; !rc && t < budget; t++) {
    int64_t best = -1;
    double bp = 0.0;
    for (int64_t j = 0; j < n; j++) {
      if (chosen[j]) continue;
      const double pj = dot(a + j * p, resid, p);
      if (best < 0 || pj > bp) {
        best = j;
        bp = pj;
      }
    }
    sel[t] = best;
    chosen[best] = 1;
    const double *aj = a + best * p;
    const double nn = dot(aj, aj, p);
    /* Row t of the Cholesky factor L of A_S A_S^T + lam I: l_q = <w_q, a_j>
     * (L^-1 applied to A_S a_j), diagonal sqrt(|a_j|^2 + lam - |l|^2); then
     * w_t = (a_j - sum_q l_q w_q) / d and y_t = (<a_j, b> - sum_q l_q y_q) / d.
     */
    double ll = 0.0, ly = 0.0;
    for (int64_t q = 0; q < t; q++) {
      l[q] = dot(w + q * p, aj, p);
      ll += l[q] * l[q];
      ly += l[q] * y[q];
    }
    double d2 = nn + lam - ll;
    if (!(d2 > 1e-12 * (nn + lam))) d2 = 1e-12 * (nn + lam); /* lam > 0 keeps it away */
    const double d = sqrt(d2);
    double *wt = w + t * p;
    for (int64_t k = 0; k < p; k++) {
      double v = aj[k];
      for (int64_t q = 0; q < t; q++) v -= l[q] * w[q * p + k];
      wt[k] = v / d;
    }
    y[t] = (dot(aj, b, p) - ly) / d;
    if (t == 0) {
      /* the first residual projects b on a_j alone, without the ridge term */
      const double x0 = nn > 0 ? bp / nn : 0.0;
      for (int64_t k = 0; k < p; k++) resid[k] = b[k] - x0 * aj[k];
    } else {
      /* b - A_S^T x with x = (A_S A_S^T + lam I)^-1 A_S b = b - sum_q y_q w_q
       */
      const int64_t from = t == 1 ? 0 : t;
      if (t == 1) memcpy(resid, b, (size_t)p * sizeof(double));
      for (int64_t q = from; q <= t; q++)
        for (int64_t k = 0; k < p; k++) resid[k] -= y[q] * w[q * p + k];
    }
  }
  if (!rc && budget == 1) x[0] = 1.0;
  if (!rc && budget > 1) {
    M = mh_malloc((size_t)budget * (size_t)budget * sizeof(double));
    c = mh_malloc((size_t)budget * sizeof(double));
    rc = M && c ? MH_OK : MH_ERR;
    for (int64_t q = 0; !rc && q < budget; q++) {
      const double *aq = a + sel[q] * p;
      c[q] = dot(aq, b, p);
      for (int64_t r = 0; r <= q; r++) {
        const double v = dot(aq, a + sel[r] * p, p) + (r == q ? lam : 0.0);
        M[q * budget + r] = M[r * budget + q] = v;
      }
    }
    if (!rc) rc = nnls_symmetric(M, budget, c, x);
  }
  free(resid);
  free(w);
  free(l);
  free(y);
  free(chosen);
  free(M);
  free(c);
  return rc;
}

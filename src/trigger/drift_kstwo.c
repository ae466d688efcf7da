/* drift_kstwo.c - the distribution of the two-sided one-sample
 * Kolmogorov-Smirnov statistic D_n for finite n (scipy's kstwo), which
 * scipy.stats.ks_2samp(mode="asymp") - what alibi-detect calls - evaluates
 * at the effective size round(n m / (n + m)) for the two-sample p-value.
 *
 * Which formula where follows scipy's choice (Simard and L'Ecuyer 2011):
 *   n x <= 1/2: D_n >= x surely; n x <= 1 and n x >= n - 1: closed forms
 *     (Ruben and Gambino);
 *   x >= 1/2: 2 x the exact one-sided Smirnov probability (the two
 *     boundaries cannot both be crossed);
 *   n <= 140: the exact Durbin matrix method (Marsaglia, Tsang and Wang
 *     2003) while n x^2 <= 4 (scipy uses Pomeranz's equally exact
 *     recursion above 0.754693), then 2 x Smirnov;
 *   n > 140: 2 x Smirnov for n x^2 >= 2.2 (0 beyond 370), else the Durbin
 *     matrix while n x^1.5 <= 1.4 (n <= 100000), else the Pelz-Good series.
 * Written from the published formulas. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trigger/drift_metric.h"

#define PI 3.14159265358979323846

/* P(D_n^+ >= x), the one-sided statistic, exactly (Birnbaum and Tingey):
 * x sum_{j=0}^{floor(n(1-x))} C(n,j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1),
 * the terms summed in logs (all positive). */
static double smirnov_sf(int64_t n, double x) {
  if (x <= 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  const double dn = (double)n;
  const int64_t jmax = (int64_t)floor(dn * (1.0 - x) + 1e-12);
  const double lgn = lgamma(dn + 1.0);
  double s = 0.0;
  for (int64_t j = 0; j <= jmax; j++) {
    double a = 1.0 - x - (double)j / dn, b = x + (double)j / dn;
    if (a <= 0.0) {
      if (j == n) s += exp((double)(j - 1) * log(b)); /* 0^0 = 1 */
      continue;
    }
    double l = lgn - lgamma((double)j + 1.0) - lgamma(dn - (double)j + 1.0) +
               (dn - (double)j) * log(a) + (double)(j - 1) * log(b);
    s += exp(l);
  }
  s *= x;
  return s < 0.0 ? 0.0 : s > 1.0 ? 1.0 : s;
}

/* c = a b for m x m matrices; *ec = ea + eb (powers of 1e140). */
static void mat_mul(const double *a, int ea, const double *b, int eb, double *c, int *ec, int m) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) {
      double s = 0.0;
      for (int k = 0; k < m; k++) s += a[i * m + k] * b[k * m + j];
      c[i * m + j] = s;
    }
  *ec = ea + eb;
}

/* q = h^n with scaling: the entries are kept below 1e140 by moving powers
 * of 1e140 into *eq. */
static int mat_pow(const double *h, int m, int64_t n, double *q, int *eq) {
  double *base = malloc(sizeof(double) * (size_t)(m * m)),
         *tmp = malloc(sizeof(double) * (size_t)(m * m));
  if (!base || !tmp) {
    free(base);
    free(tmp);
    return -1;
  }
  memcpy(base, h, sizeof(double) * (size_t)(m * m));
  int eb = 0;
  memset(q, 0, sizeof(double) * (size_t)(m * m));
  for (int i = 0; i < m; i++) q[i * m + i] = 1.0;
  *eq = 0;
  for (int64_t e = n; e > 0; e >>= 1) {
    if (e & 1) {
      mat_mul(q, *eq, base, eb, tmp, eq, m);
      memcpy(q, tmp, sizeof(double) * (size_t)(m * m));
      if (q[(m / 2) * m + m / 2] > 1e140) {
        for (int i = 0; i < m * m; i++) q[i] *= 1e-140;
        (*eq)++;
      }
    }
    if (e > 1) {
      mat_mul(base, eb, base, eb, tmp, &eb, m);
      memcpy(base, tmp, sizeof(double) * (size_t)(m * m));
      if (base[(m / 2) * m + m / 2] > 1e140) {
        for (int i = 0; i < m * m; i++) base[i] *= 1e-140;
        eb++;
      }
    }
  }
  free(base);
  free(tmp);
  return 0;
}

/* P(D_n < x) by the Durbin matrix: k = floor(n x) + 1, h = k - n x, the
 * (2k-1)-square matrix H, and P = n!/n^n (H^n)_{k,k}. NaN when out of
 * memory. */
static double durbin_cdf(int64_t n, double x) {
  const double t = (double)n * x;
  const int k = (int)floor(t) + 1, m = 2 * k - 1;
  const double h = (double)k - t;
  double *H = calloc((size_t)(m * m), sizeof *H), *Q = malloc(sizeof(double) * (size_t)(m * m));
  if (!H || !Q) {
    free(H);
    free(Q);
    return NAN;
  }
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) H[i * m + j] = i - j + 1 < 0 ? 0.0 : 1.0;
  for (int i = 0; i < m; i++) {
    H[i * m] -= pow(h, i + 1);
    H[(m - 1) * m + i] -= pow(h, m - i);
  }
  if (2.0 * h - 1.0 > 0.0) H[(m - 1) * m] += pow(2.0 * h - 1.0, m);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++)
      for (int g = 1; g <= i - j + 1; g++) H[i * m + j] /= g;
  int eq = 0;
  double p = NAN;
  if (!mat_pow(H, m, n, Q, &eq)) {
    double s = Q[(k - 1) * m + (k - 1)];
    if (s <= 0.0)
      p = 0.0;
    else {
      const double dn = (double)n;
      p = exp(log(s) + eq * 140.0 * log(10.0) + lgamma(dn + 1.0) - dn * log(dn));
    }
  }
  free(H);
  free(Q);
  return p < 0.0 ? 0.0 : p > 1.0 ? 1.0 : p;
}

/* P(D_n <= x) by the Pelz-Good expansion K0 + K1/sqrt(n) + K2/n +
 * K3/n^1.5 in z = x sqrt(n), each K_i as a series in q = exp(-pi^2/(8z^2))
 * over odd multiples, plus the two extra sums over all integers in K2 and
 * K3 (Pelz and Good 1976, as in Simard and L'Ecuyer 2011). */
static double pelz_good_cdf(int64_t n, double x) {
  const double z = sqrt((double)n) * x, z2 = z * z, z4 = z2 * z2, z6 = z4 * z2;
  const double pi2 = PI * PI, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double qlog = -pi2 / 8.0 / z2;
  if (qlog < -708.0) return 0.0;
  const double q = exp(qlog);
  const double k1a = -z2, k1b = pi2 / 4.0;
  const double k2a = 6.0 * z6 + 2.0 * z4, k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0,
               k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
  const double k3d = pi6 * (5.0 - 30.0 * z2) / 64.0, k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0,
               k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0, k3a = -30.0 * z6 - 90.0 * z4 * z4;
  double K[4] = {0, 0, 0, 0};
  const int maxk = (int)ceil(16.0 * z / PI);
  /* sum over odd m = 2k - 1 of c(m) q^(m^2), by Horner in q^(8k). */
  for (int k = maxk; k >= 1; k--) {
    const double m = 2.0 * k - 1.0, m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
    const double qp = pow(q, 8.0 * k);
    const double c[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                         k3a + k3b * m2 + k3c * m4 + k3d * m6};
    for (int i = 0; i < 4; i++) K[i] = K[i] * qp + c[i];
  }
  const double s2p = sqrt(2.0 * PI);
  const double div[4] = {z, 6.0 * z4, 72.0 * z6 * z, 6480.0 * z6 * z4};
  for (int i = 0; i < 4; i++) K[i] = K[i] * q * s2p / div[i];
  const double q2 = exp(-pi2 / 2.0 / z2), s3z = sqrt(3.0) * z;
  double e2 = 0.0, e3 = 0.0;
  for (int k = maxk; k >= 1; k--) {
    const double kk = (double)k * k, qk = pow(q2, kk), kp = PI * k;
    e2 += kk * qk;
    e3 += (s3z + kp) * (s3z - kp) * kk * qk;
  }
  K[2] += e2 * pi2 * s2p / (-36.0 * z2 * z);
  K[3] += e3 * pi2 * s2p / (216.0 * z6);
  const double dn = (double)n;
  return K[0] + K[1] / sqrt(dn) + K[2] / dn + K[3] / (dn * sqrt(dn));
}

static double clip01(double p) { return p < 0.0 ? 0.0 : p > 1.0 ? 1.0 : p; }

double drift_kstwo_sf(double x, int64_t n) {
  if (n <= 0 || isnan(x)) return NAN;
  if (x >= 1.0) return 0.0;
  if (x <= 0.0) return 1.0;
  const double dn = (double)n, t = dn * x;
  if (t <= 1.0) {
    if (t <= 0.5) return 1.0;
    /* P(D_n < x) = n!/n^n (2t - 1)^n */
    double cdf = exp(lgamma(dn + 1.0) - dn * log(dn) + dn * log(2.0 * t - 1.0));
    return clip01(1.0 - cdf);
  }
  if (t >= dn - 1.0) return clip01(2.0 * pow(1.0 - x, dn));
  if (x >= 0.5) return clip01(2.0 * smirnov_sf(n, x));
  const double nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 4.0) {
      double cdf = durbin_cdf(n, x);
      return isnan(cdf) ? NAN : clip01(1.0 - cdf);
    }
    return clip01(2.0 * smirnov_sf(n, x));
  }
  if (nx2 >= 370.0) return 0.0;
  if (nx2 >= 2.2) return clip01(2.0 * smirnov_sf(n, x));
  double cdf = n <= 100000 && dn * pow(x, 1.5) <= 1.4 ? durbin_cdf(n, x) : pelz_good_cdf(n, x);
  return isnan(cdf) ? NAN : clip01(1.0 - cdf);
}

/* The parts, for the tests (drift_metric.h). */
double drift_kstwo_part(int part, int64_t n, double x) {
  return part == 0 ? durbin_cdf(n, x) : part == 1 ? pelz_good_cdf(n, x) : smirnov_sf(n, x);
}

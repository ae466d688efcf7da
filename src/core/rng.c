/* rng.c - see rng.h. */
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void rng_seed(Rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(Rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double rng_uniform(Rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t rng_below(Rng *r, uint64_t n) {
  /* Rejection sampling: draw until below the largest multiple of n. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = rng_next(r);
  while (x >= limit);
  return x % n;
}

double rng_normal(Rng *r) {
  double u1 = rng_uniform(r), u2 = rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void rng_shuffle_i64(Rng *r, int64_t *a, int64_t n) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)rng_below(r, (uint64_t)i + 1);
    int64_t t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

uint64_t rng_derive(uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
  splitmix64(&x);
  return splitmix64(&x);
}

int rng_partition_order(Rng *r, int64_t *order, int64_t n, int64_t k) {
  if (k < 1) k = 1;
  const int64_t np = n > 0 ? (n + k - 1) / k : 0;
  if (np <= 1) {
    for (int64_t i = 0; i < n; i++) order[i] = i;
    rng_shuffle_i64(r, order, n);
    return MH_OK;
  }
  int64_t *perm = mh_malloc((size_t)np * sizeof(int64_t));
  if (!perm) return MH_ERR;
  for (int64_t p = 0; p < np; p++) perm[p] = p;
  rng_shuffle_i64(r, perm, np);
  int64_t o = 0;
  for (int64_t p = 0; p < np; p++) {
    const int64_t lo = perm[p] * k, len = n - lo < k ? n - lo : k;
    for (int64_t j = 0; j < len; j++) order[o + j] = lo + j;
    rng_shuffle_i64(r, order + o, len);
    o += len;
  }
  free(perm);
  return MH_OK;
}

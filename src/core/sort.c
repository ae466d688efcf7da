/* sort.c - see sort.h. LSD radix sort, 11 bits per pass, only as many
 * passes as the largest key needs. */
#include "core/sort.h"

#include <stdlib.h>
#include <string.h>

#define BITS 11
#define BUCKETS (1 << BITS)

void sort_pairs_i64(int64_t *key, int64_t *val, int64_t n, int64_t *tmp_key, int64_t *tmp_val) {
  if (n < 2) return;
  int64_t maxk = 0;
  for (int64_t i = 0; i < n; i++) maxk = key[i] > maxk ? key[i] : maxk;
  int64_t *sk = key, *sv = val, *dk = tmp_key, *dv = tmp_val;
  for (int shift = 0; shift < 64 && (maxk >> shift) > 0; shift += BITS) {
    int64_t count[BUCKETS + 1];
    memset(count, 0, sizeof count);
    for (int64_t i = 0; i < n; i++) count[((uint64_t)sk[i] >> shift & (BUCKETS - 1)) + 1]++;
    for (int b = 0; b < BUCKETS; b++) count[b + 1] += count[b];
    for (int64_t i = 0; i < n; i++) {
      int64_t b = (int64_t)((uint64_t)sk[i] >> shift & (BUCKETS - 1));
      int64_t d = count[b]++;
      dk[d] = sk[i];
      dv[d] = sv[i];
    }
    int64_t *t = sk;
    sk = dk;
    dk = t;
    t = sv;
    sv = dv;
    dv = t;
  }
  if (sk != key) {
    memcpy(key, sk, (size_t)n * sizeof *key);
    memcpy(val, sv, (size_t)n * sizeof *val);
  }
}

void sort_pairs_i64_blocks(int64_t *key, int64_t *val, int64_t n, int64_t max_key, int bits,
                           int64_t *tmp_key, int64_t *tmp_val) {
  if (n < 2) return;
  int top = 0;
  while (top < 63 && (max_key >> top) > 0) top++;
  int shift = top > bits ? top - bits : 0;
  int64_t nb = (max_key >> shift) + 1;
  int64_t *count = calloc((size_t)nb + 1, sizeof *count);
  if (!count) { /* out of memory: fall back to the full sort */
    sort_pairs_i64(key, val, n, tmp_key, tmp_val);
    return;
  }
  for (int64_t i = 0; i < n; i++) count[(key[i] >> shift) + 1]++;
  for (int64_t b = 0; b < nb; b++) count[b + 1] += count[b];
  for (int64_t i = 0; i < n; i++) {
    int64_t d = count[key[i] >> shift]++;
    tmp_key[d] = key[i];
    tmp_val[d] = val[i];
  }
  free(count);
  memcpy(key, tmp_key, (size_t)n * sizeof *key);
  memcpy(val, tmp_val, (size_t)n * sizeof *val);
}

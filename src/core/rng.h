/* rng.h - seeded, portable pseudo-random numbers (xoshiro256**).
 *
 * The same seed gives the same sequence on every machine and rank count,
 * which is what makes shuffles and model initialisation reproducible.
 * Not for cryptography. */
#ifndef MH_RNG_H
#define MH_RNG_H

#include <stdint.h>

typedef struct {
  uint64_t s[4]; /* xoshiro256** state */
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_next(Rng *r);
/* Uniform in [0, 1). */
double rng_uniform(Rng *r);
/* Uniform integer in [0, n), unbiased. n > 0. */
uint64_t rng_below(Rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
double rng_normal(Rng *r);
/* Fisher-Yates shuffle of n int64 values. */
void rng_shuffle_i64(Rng *r, int64_t *a, int64_t n);
/* The original Modyn's shuffled visiting order of n items cut into
 * consecutive partitions of k (the last may be shorter): the partitions in
 * random order, each one's items shuffled. order[i] = the i-th item to
 * visit. With one partition (n <= k) this is exactly rng_shuffle_i64 of
 * 0..n-1. Reads stay within one partition's span of the store at a time. */
int rng_partition_order(Rng *r, int64_t *order, int64_t n, int64_t k);
/* Derive an independent seed from a base seed and a stream id. */
uint64_t rng_derive(uint64_t seed, uint64_t stream);

#endif

/* synth.h - a seeded, drifting classification dataset, written as two sample
 * stores (DIR/train and DIR/test). For the quick start, tests and
 * benchmarks; it is not a model of any real dataset.
 *
 * The generator (all randomness from core/rng.h, so the same parameters
 * give the same bytes on every machine):
 *   K classes, D features, Y "years" of YEAR = 31536000 s (365 days).
 *   A: a fixed D x 2 matrix with orthonormal columns (two standard normal
 *      vectors from stream rng_derive(seed, 0), Gram-Schmidt). With --image
 *      C,H,W column c is instead C standard normals (a colour) times a
 *      pattern over the H x W pixels, uniform for column 0 and the ramp
 *      x - (W-1)/2 for column 1, then Gram-Schmidt: the class signal is the
 *      mean colour and the horizontal gradient, which a CNN with global
 *      pooling sees.
 *   Class k's mean at time t (in years since --start, fractional):
 *      mu_k(t) = r * A * (cos(phi_k + omega t), sin(phi_k + omega t)),
 *      phi_k = 2 pi k / K,
 *   so the class regions rotate in a 2-D plane by omega radians per year: a
 *   model fitted early becomes wrong a few years later (with the defaults
 *   the classes have turned by 90 degrees, one class slot, after ~5 years).
 *   Year y of split s (0 = train, 1 = test) draws from its own stream
 *   rng_derive(seed, 1 + 2 y + s), in this order:
 *     1. n offsets o_i = floor(u_i * YEAR), u_i uniform in [0, 1); sorted;
 *     2. for each sample i in that order: label k uniform in [0, K)
 *        (rng_below), then x = mu_k(y + o_i / YEAR) + sigma * N(0, I_D)
 *        (D normals, rng_normal), stored as float32.
 *   timestamp = start + y * YEAR + o_i (rows are in timestamp order).
 *   Keys: train 0..N-1 in time order (year y, row i: y * train_per_year + i);
 *   test the same plus SYNTH_TEST_KEY_OFFSET (10^9), so they never collide.
 *   Shards: one per years_per_shard years (the last may hold fewer).
 *   Defaults: seed 42, K 4, D 16, Y 20, 500 train + 200 test per year,
 *   r 3.0, omega 0.3 rad/year, sigma 1.0, 5 years per shard, start 0.
 *
 * Does not: write anything but float32 features, or pick thresholds for a
 * pipeline. */
#ifndef MH_SYNTH_H
#define MH_SYNTH_H

#include <stdint.h>

#define SYNTH_YEAR_SECONDS 31536000LL
#define SYNTH_TEST_KEY_OFFSET 1000000000LL

typedef enum { SYNTH_TRAIN = 0, SYNTH_TEST = 1 } SynthSplit;

typedef struct {
  uint64_t seed;           /* --seed, default 42 */
  int classes;             /* K, --classes, default 4 */
  int features;            /* D, --features, default 16 */
  int years;               /* Y, --years, default 20 */
  int64_t train_per_year;  /* --train-per-year, default 500 */
  int64_t test_per_year;   /* --test-per-year, default 200 */
  double radius;           /* r, --radius, default 3.0 */
  double drift;            /* omega in rad/year, --drift, default 0.3 */
  double noise;            /* sigma, --noise, default 1.0 */
  int years_per_shard;     /* --years-per-shard, default 5 */
  int64_t start;           /* timestamp of year 0, --start, default 0 */
  int image[3];            /* --image C,H,W: store features as [C, H, W] (D = C*H*W);
                              {0} = a flat [D] vector */
} SynthParams;

typedef struct {
  char dir[1100];  /* the store written */
  int64_t samples; /* rows in it */
  int shards;      /* shard files in it */
} SynthStoreInfo;

void synth_defaults(SynthParams *p);
/* Check parameters; the message names the CLI option:
 * "--classes must be >= 2, got 1". */
int synth_check(const SynthParams *p);

/* The D x 2 basis A (row-major: A[j * 2 + c]). */
void synth_basis(const SynthParams *p, double *A);

/* Samples per year of a split. */
int64_t synth_per_year(const SynthParams *p, SynthSplit split);
/* Generate year y of a split into caller buffers of synth_per_year() rows
 * (features: rows * D floats). Independent of the other years. */
void synth_year(const SynthParams *p, const double *A, SynthSplit split, int year, int64_t *keys,
                int64_t *timestamps, int32_t *labels, float *features);

/* Write out_dir/train and out_dir/test. info (may be NULL) receives
 * [SYNTH_TRAIN] and [SYNTH_TEST]. Refuses directories that already hold
 * shards. Call on one rank only. */
int synth_generate(const SynthParams *p, const char *out_dir, SynthStoreInfo info[2]);

#endif

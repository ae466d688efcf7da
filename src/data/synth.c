/* synth.c - see synth.h (the header documents the generator exactly; keep
 * the two in step). */
#include "data/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "data/store.h"

#define SYNTH_PI 3.14159265358979323846

void synth_defaults(SynthParams *p) {
  memset(p, 0, sizeof *p);
  p->seed = 42;
  p->classes = 4;
  p->features = 16;
  p->years = 20;
  p->train_per_year = 500;
  p->test_per_year = 200;
  p->radius = 3.0;
  p->drift = 0.3;
  p->noise = 1.0;
  p->years_per_shard = 5;
  p->start = 0;
}

int synth_check(const SynthParams *p) {
  if (p->classes < 2) return mh_errorf("--classes must be >= 2, got %d", p->classes);
  if (p->classes > 100000) return mh_errorf("--classes must be <= 100000, got %d", p->classes);
  if (p->image[0] > 0 && (int64_t)p->image[0] * p->image[1] * p->image[2] != p->features)
    return mh_errorf("--image %d,%d,%d has %lld values per sample but --features is %d", p->image[0],
                     p->image[1], p->image[2], (long long)p->image[0] * p->image[1] * p->image[2],
                     p->features);
  if (p->features < 2) return mh_errorf("--features must be >= 2, got %d", p->features);
  if (p->features > 1000000) return mh_errorf("--features must be <= 1000000, got %d", p->features);
  if (p->years < 1) return mh_errorf("--years must be >= 1, got %d", p->years);
  if (p->train_per_year < 1)
    return mh_errorf("--train-per-year must be >= 1, got %lld", (long long)p->train_per_year);
  if (p->test_per_year < 1)
    return mh_errorf("--test-per-year must be >= 1, got %lld", (long long)p->test_per_year);
  if ((double)p->years * (double)p->train_per_year >= (double)SYNTH_TEST_KEY_OFFSET ||
      (double)p->years * (double)p->test_per_year >= (double)SYNTH_TEST_KEY_OFFSET)
    return mh_errorf("--years x --train-per-year (and x --test-per-year) must be below %lld, so "
                     "that train and test keys never collide",
                     SYNTH_TEST_KEY_OFFSET);
  if (!isfinite(p->radius) || p->radius < 0)
    return mh_errorf("--radius must be a finite number >= 0, got %g", p->radius);
  if (!isfinite(p->drift)) return mh_errorf("--drift must be a finite number, got %g", p->drift);
  if (!isfinite(p->noise) || p->noise < 0)
    return mh_errorf("--noise must be a finite number >= 0, got %g", p->noise);
  if (p->years_per_shard < 1)
    return mh_errorf("--years-per-shard must be >= 1, got %d", p->years_per_shard);
  double last = (double)p->start + (double)p->years * (double)SYNTH_YEAR_SECONDS;
  if (last > 9.0e18 || last < -9.0e18)
    return mh_errorf("--start %lld with --years %d overflows 64-bit timestamps",
                     (long long)p->start, p->years);
  return MH_OK;
}

void synth_basis(const SynthParams *p, double *A) {
  const int D = p->features;
  Rng r;
  rng_seed(&r, rng_derive(p->seed, 0));
  /* Column 0 then column 1, each D standard normals; Gram-Schmidt. Images:
   * column c is a colour (C standard normals) times a spatial pattern:
   * uniform for column 0, a left-to-right ramp for column 1. Convolutions
   * with global pooling see both (the mean colour, the sign of the
   * horizontal gradient); a dense random pattern over the pixels would be
   * invisible to them. */
  const int C = p->image[0], H = p->image[1], W = p->image[2];
  for (int c = 0; c < 2; c++)
    if (C > 0) {
      for (int ch = 0; ch < C; ch++) {
        double v = rng_normal(&r);
        for (int y = 0; y < H; y++)
          for (int x = 0; x < W; x++)
            A[((ch * H + y) * W + x) * 2 + c] = c == 0 ? v : v * (x - (W - 1) / 2.0);
      }
    } else {
      for (int j = 0; j < D; j++) A[j * 2 + c] = rng_normal(&r);
    }
  double n0 = 0;
  for (int j = 0; j < D; j++) n0 += A[j * 2] * A[j * 2];
  n0 = sqrt(n0);
  for (int j = 0; j < D; j++) A[j * 2] /= n0;
  double dot = 0;
  for (int j = 0; j < D; j++) dot += A[j * 2] * A[j * 2 + 1];
  for (int j = 0; j < D; j++) A[j * 2 + 1] -= dot * A[j * 2];
  double n1 = 0;
  for (int j = 0; j < D; j++) n1 += A[j * 2 + 1] * A[j * 2 + 1];
  n1 = sqrt(n1);
  for (int j = 0; j < D; j++) A[j * 2 + 1] /= n1;
}

/* Class k's mean at time t is A * (c, s): its two coordinates in the plane. */
static void class_coords(const SynthParams *p, int k, double t_years, double *c, double *s) {
  double ang = 2.0 * SYNTH_PI * k / p->classes + p->drift * t_years;
  *c = p->radius * cos(ang);
  *s = p->radius * sin(ang);
}

int64_t synth_per_year(const SynthParams *p, SynthSplit split) {
  return split == SYNTH_TRAIN ? p->train_per_year : p->test_per_year;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

void synth_year(const SynthParams *p, const double *A, SynthSplit split, int year, int64_t *keys,
                int64_t *timestamps, int32_t *labels, float *features) {
  const int D = p->features;
  const int64_t n = synth_per_year(p, split);
  Rng r;
  rng_seed(&r, rng_derive(p->seed, 1 + 2 * (uint64_t)year + (uint64_t)split));
  /* Offsets within the year first (timestamps), sorted... */
  for (int64_t i = 0; i < n; i++)
    timestamps[i] = (int64_t)floor(rng_uniform(&r) * (double)SYNTH_YEAR_SECONDS);
  qsort(timestamps, (size_t)n, sizeof *timestamps, cmp_i64);
  /* ...then label and features of each sample in time order. */
  const int64_t key0 = (int64_t)year * n + (split == SYNTH_TEST ? SYNTH_TEST_KEY_OFFSET : 0);
  for (int64_t i = 0; i < n; i++) {
    int k = (int)rng_below(&r, (uint64_t)p->classes);
    double t = year + (double)timestamps[i] / (double)SYNTH_YEAR_SECONDS;
    double c, s;
    class_coords(p, k, t, &c, &s);
    float *x = features + i * D;
    for (int j = 0; j < D; j++)
      x[j] = (float)(A[j * 2] * c + A[j * 2 + 1] * s + p->noise * rng_normal(&r));
    labels[i] = k;
    keys[i] = key0 + i;
    timestamps[i] += p->start + (int64_t)year * SYNTH_YEAR_SECONDS;
  }
}

/* One split: shard by shard, each shard years_per_shard years. */
static int write_split(const SynthParams *p, const double *A, SynthSplit split, const char *dir,
                       SynthStoreInfo *info, Progress *prog, int64_t *done, StoreWriter *w) {
  StoreSchema sc;
  memset(&sc, 0, sizeof sc);
  sc.type = FEAT_F32;
  if (p->image[0] > 0) {
    sc.ndims = 3;
    for (int i = 0; i < 3; i++) sc.dims[i] = p->image[i];
  } else {
    sc.ndims = 1;
    sc.dims[0] = p->features;
  }
  sc.num_classes = p->classes;
  MH_TRY(store_writer_open(dir, &sc, 0, w));
  const int64_t per = synth_per_year(p, split);
  const int64_t cap = per * p->years_per_shard;
  int64_t *keys = mh_malloc((size_t)cap * sizeof *keys);
  int64_t *ts = mh_malloc((size_t)cap * sizeof *ts);
  int32_t *labels = mh_malloc((size_t)cap * sizeof *labels);
  float *feats = mh_malloc((size_t)cap * (size_t)p->features * sizeof *feats);
  int rc = (keys && ts && labels && feats) ? MH_OK : MH_ERR;
  for (int y0 = 0; !rc && y0 < p->years; y0 += p->years_per_shard) {
    int ny = p->years - y0 < p->years_per_shard ? p->years - y0 : p->years_per_shard;
    for (int j = 0; j < ny; j++) {
      int64_t o = j * per;
      synth_year(p, A, split, y0 + j, keys + o, ts + o, labels + o, feats + o * p->features);
    }
    rc = store_write_shard(w, ny * per, keys, ts, labels, feats);
    *done += ny * per;
    progress_update(prog, *done);
  }
  free(feats);
  free(labels);
  free(ts);
  free(keys);
  if (!rc && info) {
    snprintf(info->dir, sizeof info->dir, "%s", dir);
    info->samples = w->written;
    info->shards = w->next_shard;
  }
  return rc;
}

/* A failed synth leaves nothing: the shards it wrote (into directories that
 * held no store, as store_writer_open requires) and the directories when
 * they are empty then. */
static void remove_written(const StoreWriter *w) {
  if (!w->dir[0]) return;
  for (int i = 0; i < w->next_shard; i++) {
    char p[1100];
    snprintf(p, sizeof p, "%s/shard_%05d.h5", w->dir, i);
    unlink(p);
  }
  rmdir(w->dir);
}

int synth_generate(const SynthParams *p, const char *out_dir, SynthStoreInfo info[2]) {
  MH_TRY(synth_check(p));
  double *A = mh_malloc((size_t)p->features * 2 * sizeof *A);
  if (!A) return MH_ERR;
  synth_basis(p, A);
  static const char *const sub[2] = {"train", "test"};
  int rc = MH_OK;
  Progress prog;
  int64_t done = 0;
  StoreWriter w[2];
  memset(w, 0, sizeof w);
  progress_begin(&prog, "synth", "samples",
                 p->years * (synth_per_year(p, SYNTH_TRAIN) + synth_per_year(p, SYNTH_TEST)));
  for (int s = 0; s < 2 && !rc; s++) {
    char dir[1100];
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", out_dir, sub[s]) >= 1024) {
      rc = mh_errorf("output path %s is too long", out_dir);
      break;
    }
    rc = write_split(p, A, (SynthSplit)s, dir, info ? &info[s] : NULL, &prog, &done, &w[s]);
  }
  if (rc) {
    remove_written(&w[1]);
    remove_written(&w[0]);
    rmdir(out_dir); /* only if this left it empty */
  }
  progress_end(&prog);
  free(A);
  return rc;
}

/* test_synth.c - the synthetic generator: byte-exact determinism, counts,
 * key and timestamp ranges, that the drift is real (class means rotate by
 * drift x years; a nearest-class-mean classifier fitted on year 0 is good on
 * year 0 and bad on year 10), and `modyn synth` on the command line. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/error.h"
#include "data/store.h"
#include "data/synth.h"
#include "testutil.h"

/* 1 if the two files have identical bytes. */
static int same_file(const char *a, const char *b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  int same = fa && fb;
  while (same) {
    int ca = fgetc(fa), cb = fgetc(fb);
    if (ca != cb) same = 0;
    if (ca == EOF || cb == EOF) break;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return same;
}

static int same_store_files(const char *da, const char *db, int nshards) {
  int same = 1;
  for (int s = 0; s < nshards; s++) {
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/shard_%05d.h5", da, s);
    snprintf(b, sizeof b, "%s/shard_%05d.h5", db, s);
    same &= same_file(a, b);
  }
  return same;
}

static float *read_all(Store *s) {
  int64_t *rows = malloc((size_t)s->n * 8);
  float *x = malloc((size_t)(s->n * s->feat_elems) * sizeof(float));
  for (int64_t i = 0; i < s->n; i++) rows[i] = i;
  CHECK_OK(store_read_features_f32(s, rows, s->n, x));
  free(rows);
  return x;
}

static double wrap_angle(double a) {
  while (a > M_PI) a -= 2 * M_PI;
  while (a <= -M_PI) a += 2 * M_PI;
  return a;
}

/* Class means of rows [r0, r1) into mu[K * D]. */
static void class_means(const Store *s, const float *x, int64_t r0, int64_t r1, int K, int D,
                        double *mu) {
  int64_t cnt[64] = {0};
  memset(mu, 0, (size_t)K * D * sizeof *mu);
  for (int64_t i = r0; i < r1; i++) {
    int k = s->labels[i];
    cnt[k]++;
    for (int j = 0; j < D; j++) mu[k * D + j] += x[i * D + j];
  }
  for (int k = 0; k < K; k++)
    for (int j = 0; j < D; j++) mu[k * D + j] /= (double)(cnt[k] ? cnt[k] : 1);
}

static double ncm_accuracy(const Store *s, const float *x, int64_t r0, int64_t r1, int K, int D,
                           const double *mu) {
  int64_t ok = 0;
  for (int64_t i = r0; i < r1; i++) {
    int best = 0;
    double bd = INFINITY;
    for (int k = 0; k < K; k++) {
      double d = 0;
      for (int j = 0; j < D; j++) {
        double e = x[i * D + j] - mu[k * D + j];
        d += e * e;
      }
      if (d < bd) {
        bd = d;
        best = k;
      }
    }
    ok += best == s->labels[i];
  }
  return (double)ok / (double)(r1 - r0);
}

static void test_determinism(const SynthParams *p) {
  SynthStoreInfo ia[2], ib[2];
  CHECK_OK(synth_generate(p, path_in("a"), ia));
  CHECK_OK(synth_generate(p, path_in("b"), ib));
  SynthParams q = *p;
  q.seed = 43;
  CHECK_OK(synth_generate(&q, path_in("c"), NULL));
  CHECK_EQ_INT(ia[SYNTH_TRAIN].samples, 10000);
  CHECK_EQ_INT(ia[SYNTH_TRAIN].shards, 4);
  CHECK_EQ_INT(ia[SYNTH_TEST].samples, 4000);
  CHECK_EQ_INT(ia[SYNTH_TEST].shards, 4);
  char want[600];
  snprintf(want, sizeof want, "%s/train", path_in("a"));
  CHECK_STR(ia[SYNTH_TRAIN].dir, want);
  CHECK(same_store_files(path_in("a/train"), path_in("b/train"), 4));
  CHECK(same_store_files(path_in("a/test"), path_in("b/test"), 4));
  CHECK(!same_store_files(path_in("a/train"), path_in("c/train"), 4));

  Store a, c;
  CHECK_OK(store_open(path_in("a/train"), &a));
  CHECK_OK(store_open(path_in("c/train"), &c));
  float *xa = read_all(&a), *xc = read_all(&c);
  int64_t differ = 0;
  for (int64_t i = 0; i < a.n * a.feat_elems; i++) differ += xa[i] != xc[i];
  CHECK(differ > a.n * a.feat_elems * 9 / 10);
  free(xa);
  free(xc);
  store_close(&c);
  store_close(&a);
}

static void test_layout(const SynthParams *p) {
  for (int split = 0; split < 2; split++) {
    Store s;
    CHECK_OK(store_open(path_in(split ? "a/test" : "a/train"), &s));
    const int64_t per = split ? 200 : 500;
    CHECK_EQ_INT(s.n, 20 * per);
    CHECK_EQ_INT(s.nshards, 4);
    CHECK_EQ_INT(s.shards[1].nrows, 5 * per);
    CHECK_EQ_INT(s.schema.type, FEAT_F32);
    CHECK_EQ_INT(s.schema.ndims, 1);
    CHECK_EQ_INT(s.schema.dims[0], 16);
    CHECK_EQ_INT(s.schema.num_classes, 4);
    int64_t bad_key = 0, bad_ts = 0, unsorted = 0, cnt[4] = {0};
    for (int64_t i = 0; i < s.n; i++) {
      int64_t y = i / per;
      bad_key += s.keys[i] != i + (split ? SYNTH_TEST_KEY_OFFSET : 0);
      bad_ts += s.timestamps[i] < y * SYNTH_YEAR_SECONDS ||
                s.timestamps[i] >= (y + 1) * SYNTH_YEAR_SECONDS;
      unsorted += i > 0 && s.timestamps[i] < s.timestamps[i - 1];
      cnt[s.labels[i]]++;
    }
    CHECK_EQ_INT(bad_key, 0);
    CHECK_EQ_INT(bad_ts, 0);
    CHECK_EQ_INT(unsorted, 0);
    /* Uniform labels: each class within 5 standard deviations of n/4. */
    for (int k = 0; k < 4; k++) CHECK(fabs((double)cnt[k] - s.n / 4.0) < 5 * sqrt(s.n * 0.1875));

    /* The in-memory generator gives the same rows as the store. */
    int64_t keys[500], ts[500];
    int32_t labels[500];
    float *x = malloc(500 * 16 * sizeof(float)), *xs = malloc(500 * 16 * sizeof(float));
    double A[32];
    synth_basis(p, A);
    synth_year(p, A, (SynthSplit)split, 7, keys, ts, labels, x);
    int64_t rows[500];
    for (int i = 0; i < per; i++) rows[i] = 7 * per + i;
    CHECK_OK(store_read_features_f32(&s, rows, per, xs));
    int64_t bad = 0;
    for (int i = 0; i < per; i++) {
      bad += keys[i] != s.keys[7 * per + i] || ts[i] != s.timestamps[7 * per + i] ||
             labels[i] != s.labels[7 * per + i];
      bad += memcmp(x + i * 16, xs + i * 16, 16 * sizeof(float)) != 0;
    }
    CHECK_EQ_INT(bad, 0);
    free(x);
    free(xs);
    store_close(&s);
  }
  /* --start shifts every timestamp. */
  SynthParams q = *p;
  q.years = 2;
  q.start = 1000000;
  CHECK_OK(synth_generate(&q, path_in("start"), NULL));
  Store s;
  CHECK_OK(store_open(path_in("start/train"), &s));
  CHECK(s.timestamps[0] >= 1000000 && s.timestamps[s.n - 1] < 1000000 + 2 * SYNTH_YEAR_SECONDS);
  store_close(&s);
}

static void test_drift(const SynthParams *p) {
  const int K = p->classes, D = p->features;
  Store tr, te;
  CHECK_OK(store_open(path_in("a/train"), &tr));
  CHECK_OK(store_open(path_in("a/test"), &te));
  float *xtr = read_all(&tr), *xte = read_all(&te);
  double *mu0 = malloc((size_t)K * D * sizeof(double)), *mu10 = malloc((size_t)K * D * sizeof(double));
  class_means(&tr, xtr, 0, 500, K, D, mu0);
  class_means(&tr, xtr, 10 * 500, 11 * 500, K, D, mu10);

  /* Rotation of each class mean in the plane spanned by A: expected drift x
   * 10 years = 3.0 rad (the year averages are centred at t = 0.5 and 10.5).
   * The estimate's error is about sigma / sqrt(125) / r = 0.03 rad. */
  double A[32];
  synth_basis(p, A);
  for (int k = 0; k < K; k++) {
    double c0 = 0, s0 = 0, c1 = 0, s1 = 0;
    for (int j = 0; j < D; j++) {
      c0 += A[j * 2] * mu0[k * D + j];
      s0 += A[j * 2 + 1] * mu0[k * D + j];
      c1 += A[j * 2] * mu10[k * D + j];
      s1 += A[j * 2 + 1] * mu10[k * D + j];
    }
    double rot = wrap_angle(atan2(s1, c1) - atan2(s0, c0));
    double phase0 = wrap_angle(atan2(s0, c0) - (2 * M_PI * k / K + 0.5 * p->drift));
    printf("class %d: rotation year 0 -> 10 = %.3f rad (expected %.3f), phase error %.3f, "
           "|mu| = %.3f\n",
           k, rot, 10 * p->drift, phase0, hypot(c0, s0));
    CHECK_NEAR(rot, 10 * p->drift, 0.12);
    CHECK_NEAR(phase0, 0.0, 0.12);
    CHECK_NEAR(hypot(c0, s0), p->radius, 0.3);
  }

  /* Nearest class mean fitted on year 0: good on year 0, stale on year 10. */
  double acc0 = ncm_accuracy(&te, xte, 0, 200, K, D, mu0);
  double acc10 = ncm_accuracy(&te, xte, 10 * 200, 11 * 200, K, D, mu0);
  double acc10_refit = ncm_accuracy(&te, xte, 10 * 200, 11 * 200, K, D, mu10);
  printf("nearest class mean fitted on year 0: accuracy %.3f on year 0, %.3f on year 10 "
         "(refitted on year 10: %.3f)\n",
         acc0, acc10, acc10_refit);
  CHECK(acc0 > 0.85);
  CHECK(acc10 < 0.6);
  CHECK(acc10_refit > 0.85);
  free(mu0);
  free(mu10);
  free(xtr);
  free(xte);
  store_close(&te);
  store_close(&tr);
}

static void test_errors(void) {
  SynthParams p;
  synth_defaults(&p);
  p.classes = 1;
  CHECK(synth_check(&p) == MH_ERR);
  CHECK_STR(mh_error(), "--classes must be >= 2, got 1");
  synth_defaults(&p);
  p.noise = -1;
  CHECK(synth_check(&p) == MH_ERR);
  CHECK_STR(mh_error(), "--noise must be a finite number >= 0, got -1");
  synth_defaults(&p);
  p.years_per_shard = 0;
  CHECK(synth_generate(&p, path_in("never"), NULL) == MH_ERR);
  CHECK_STR(mh_error(), "--years-per-shard must be >= 1, got 0");
  /* Existing stores are not overwritten. */
  synth_defaults(&p);
  CHECK(synth_generate(&p, path_in("a"), NULL) == MH_ERR);
  char want[800];
  snprintf(want, sizeof want,
           "%s/train already holds a store (4 shard files, e.g. shard_00000.h5); write to a new "
           "directory or remove its shard files",
           path_in("a"));
  CHECK_STR(mh_error(), want);
}

static void test_cli(void) {
  const char *bin = getenv("MODYN_BIN");
  if (!bin) {
    fprintf(stderr, "MODYN_BIN is not set (run through ctest); skipping the CLI checks\n");
    return;
  }
  char cmd[2048], want[1200];
  const char *out = path_in("cli"), *log = path_in("cli.log");
  snprintf(cmd, sizeof cmd,
           "'%s' synth --out %s --seed 7 --years 3 --train-per-year 20 --test-per-year 10 "
           "--years-per-shard 2 --classes 3 --features 4 --drift 0.5 --radius 2 --noise 0.5 "
           "--start 100 > %s 2>&1",
           bin, out, log);
  CHECK_EQ_INT(system(cmd), 0);
  char *text = test_slurp(log);
  snprintf(want, sizeof want,
           "wrote %s/train: 60 samples in 2 shards\nwrote %s/test: 30 samples in 2 shards\n", out,
           out);
  CHECK_STR(text, want);
  free(text);
  /* Same bytes as the library with the same parameters. */
  SynthParams p;
  synth_defaults(&p);
  p.seed = 7;
  p.years = 3;
  p.train_per_year = 20;
  p.test_per_year = 10;
  p.years_per_shard = 2;
  p.classes = 3;
  p.features = 4;
  p.drift = 0.5;
  p.radius = 2;
  p.noise = 0.5;
  p.start = 100;
  CHECK_OK(synth_generate(&p, path_in("lib"), NULL));
  CHECK(same_store_files(path_in("cli/train"), path_in("lib/train"), 2));
  CHECK(same_store_files(path_in("cli/test"), path_in("lib/test"), 2));

  snprintf(cmd, sizeof cmd, "'%s' synth --out %s --classes 1 > %s 2>&1", bin, path_in("x"), log);
  int rc = system(cmd);
  CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
  text = test_slurp(log);
  CHECK_STR(text, "modyn synth: --classes must be >= 2, got 1\n");
  free(text);
  snprintf(cmd, sizeof cmd, "'%s' synth --out %s --radius abc > %s 2>&1", bin, path_in("x"), log);
  rc = system(cmd);
  CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
  text = test_slurp(log);
  CHECK_STR(text, "modyn synth: --radius expects a number, got \"abc\"\n"
                  "run 'modyn synth --help' for the options\n");
  free(text);
}

int main(void) {
  mh_hdf5_quiet();
  test_set_root(test_tmpdir("synth"));
  SynthParams p;
  synth_defaults(&p);
  test_determinism(&p);
  test_layout(&p);
  test_drift(&p);
  test_errors();
  test_cli();
  return test_finish("test_synth");
}

/* test_downsample.c - the downsamplers on tiny hand-built score sets with
 * known answers: Uncertainty keeps exactly the k least confident (each
 * metric, also per label), Loss and GradNorm draw with the right
 * frequencies and weights 1/(n p), RS2 without replacement visits every
 * sample once before repeating, the BtS filter is a pure function of
 * (seed, trigger, step), the schedule switches at its thresholds, and
 * configuration errors name the field. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "select/downsampler.h"
#include "select/omp.h"
#include "select/submodular.h"
#include "testutil.h"

typedef struct {
  CfgDoc doc;
  Downsampler *d;
} Made;

static Made make(const char *yaml) {
  Made m = {{{0}}, NULL};
  CHECK_OK(cfg_load_string("ds.yaml", yaml, &m.doc));
  CfgRef root = cfg_root(&m.doc);
  CHECK_OK(downsampler_create(&root, &m.d));
  return m;
}

static void unmake(Made *m) {
  downsampler_free(m->d);
  cfg_doc_free(&m->doc);
}

static void test_target(void) {
  DownsampleCommon c = {"Loss", 0, 50, 100, 1};
  CHECK_EQ_INT(downsample_target(&c, 64), 32);
  CHECK_EQ_INT(downsample_target(&c, 33), 16);
  CHECK_EQ_INT(downsample_target(&c, 1), 1); /* at least one */
  CHECK_EQ_INT(downsample_target(&c, 0), 0);
  DownsampleCommon pm = {"Loss", 0, 125, 1000, 1};
  CHECK_EQ_INT(downsample_target(&pm, 100), 12); /* int(12.5) */
}

/* Six samples, three classes: least confident = smallest top logit. */
static void test_uncertainty(void) {
  const float logits[] = {
      5.0f, 0.0f, 0.0f, /* 0: very sure */
      1.0f, 0.9f, 0.8f, /* 1: top 1.0, tiny margin, high entropy */
      0.2f, 0.1f, 0.0f, /* 2: top 0.2, small margin */
      3.0f, 0.0f, 2.9f, /* 3: top 3.0, margin small */
      0.5f, 0.5f, 0.5f, /* 4: top 0.5, no margin, max entropy */
      2.0f, -1.f, -1.f, /* 5: sure-ish */
  };
  const int32_t labels[] = {0, 1, 2, 0, 1, 2};
  PassBatch g = {6, 3, 0, labels, (float *)logits, NULL, NULL, NULL, NULL, NULL, NULL};
  int64_t keep[6], n = 0;
  float w[6];
  Rng rng;
  rng_seed(&rng, 1);
  /* LeastConfidence, ratio 50 -> 3: tops 5, 1, 0.2, 3, 0.5, 2 -> 2, 4, 1 */
  Made m = make("strategy: Uncertainty\nscore_metric: LeastConfidence\nratio: 50\n");
  CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
  CHECK_EQ_INT(n, 3);
  CHECK(n == 3 && keep[0] == 1 && keep[1] == 2 && keep[2] == 4);
  for (int64_t i = 0; i < n; i++) CHECK_NEAR(w[i], 1.0, 0);
  CHECK_EQ_INT(m.d->outputs, PASS_LOGITS);
  unmake(&m);
  /* Margin, ratio 34 -> int(2.04) = 2: margins (softmax) of 4 is 0 and of 1
   * the next smallest (1.0 vs 0.9 -> ~0.034); 2's is ~0.033? compute: */
  m = make("strategy: Uncertainty\nscore_metric: Margin\nratio: 34\n");
  CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
  {
    /* the two smallest softmax margins, by hand */
    double best[6];
    for (int i = 0; i < 6; i++) {
      double e[3], s = 0;
      for (int k = 0; k < 3; k++) s += e[k] = exp(logits[3 * i + k]);
      double p[3] = {e[0] / s, e[1] / s, e[2] / s};
      double a = fmax(p[0], fmax(p[1], p[2]));
      double b = p[0] + p[1] + p[2] - a - fmin(p[0], fmin(p[1], p[2]));
      best[i] = a - b;
    }
    int i1 = 0;
    for (int i = 1; i < 6; i++)
      if (best[i] < best[i1]) i1 = i;
    int i2 = i1 == 0 ? 1 : 0;
    for (int i = 0; i < 6; i++)
      if (i != i1 && best[i] < best[i2]) i2 = i;
    int lo = i1 < i2 ? i1 : i2, hi = i1 < i2 ? i2 : i1;
    CHECK_EQ_INT(i1, 4);
    CHECK(n == 2 && keep[0] == lo && keep[1] == hi);
  }
  unmake(&m);
  /* Entropy, ratio 17 -> 1: the uniform sample 4 has the largest entropy. */
  m = make("strategy: Uncertainty\nscore_metric: Entropy\nratio: 17\n");
  CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
  CHECK(n == 1 && keep[0] == 4);
  unmake(&m);
  /* balance (StB): per label, each keeps max(int(2 * 50 / 100), 1) = 1, the
   * least confident of its pair: label 0 {0, 3} -> 3, label 1 {1, 4} -> 4,
   * label 2 {2, 5} -> 2. */
  m = make("strategy: Uncertainty\nscore_metric: LeastConfidence\nratio: 50\nbalance: true\n"
           "sample_then_batch: true\n");
  CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
  CHECK(n == 3 && keep[0] == 2 && keep[1] == 3 && keep[2] == 4);
  unmake(&m);
  /* One-output (BCE) model: LeastConfidence is |logit|. */
  const float z[] = {-3.0f, 0.1f, 2.0f, -0.2f};
  const int32_t y[] = {0, 1, 1, 0};
  PassBatch b = {4, 1, 0, y, (float *)z, NULL, NULL, NULL, NULL, NULL, NULL};
  m = make("strategy: Uncertainty\nscore_metric: LeastConfidence\nratio: 50\n");
  CHECK_OK(downsampler_run(m.d, &b, &rng, keep, w, &n));
  CHECK(n == 2 && keep[0] == 1 && keep[1] == 3);
  unmake(&m);
}

/* Loss: one draw of four with losses 1..4 lands on i with probability
 * loss_i / 10; two draws without replacement include i with probability
 * p_i + sum_{j != i} p_j p_i / (1 - p_j). */
static void test_loss_frequencies(void) {
  float loss[4] = {1, 2, 3, 4};
  const int32_t labels[4] = {0};
  PassBatch g = {4, 1, 0, labels, NULL, NULL, loss, NULL, NULL, NULL, NULL};
  int64_t keep[4], n = 0;
  float w[4];
  const int seeds = 40000;
  int64_t hits[4] = {0}, hits2[4] = {0};
  Made m = make("strategy: Loss\nratio: 25\n");
  Made m2 = make("strategy: Loss\nratio: 50\n");
  int wrong_weight = 0;
  for (int s = 0; s < seeds; s++) {
    Rng rng;
    rng_seed(&rng, (uint64_t)s);
    CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
    if (n != 1) continue;
    hits[keep[0]]++;
    /* weight 1 / (n p) = 10 / (4 loss) */
    wrong_weight += fabs(w[0] - 10.0 / (4.0 * loss[keep[0]])) > 1e-6;
    CHECK_OK(downsampler_run(m2.d, &g, &rng, keep, w, &n));
    for (int64_t i = 0; i < n; i++) hits2[keep[i]]++;
  }
  CHECK_EQ_INT(wrong_weight, 0);
  for (int i = 0; i < 4; i++) {
    const double p = loss[i] / 10.0;
    double incl = p;
    for (int j = 0; j < 4; j++)
      if (j != i) incl += (loss[j] / 10.0) * p / (1.0 - loss[j] / 10.0);
    CHECK_NEAR((double)hits[i] / seeds, p, 0.01);
    CHECK_NEAR((double)hits2[i] / seeds, incl, 0.01);
  }
  unmake(&m);
  unmake(&m2);
  /* All losses zero: a uniform draw, weights 1. */
  float zero[4] = {0, 0, 0, 0};
  PassBatch gz = {4, 1, 0, labels, NULL, NULL, zero, NULL, NULL, NULL, NULL};
  m = make("strategy: Loss\nratio: 50\n");
  Rng rng;
  rng_seed(&rng, 3);
  CHECK_OK(downsampler_run(m.d, &gz, &rng, keep, w, &n));
  CHECK(n == 2 && w[0] == 1.0f && w[1] == 1.0f && keep[0] < keep[1]);
  unmake(&m);
}

/* GradNorm scores with ||softmax(z) - onehot(y)||: sample 0 is right and
 * sure (small norm), sample 1 wrong (large). */
static void test_gradnorm(void) {
  const float logits[] = {2.0f, 0.0f, 0.0f, 2.0f};
  const int32_t labels[] = {0, 0};
  PassBatch g = {2, 2, 0, labels, (float *)logits, NULL, NULL, NULL, NULL, NULL, NULL};
  const double q = 1.0 / (1.0 + exp(-2.0)); /* softmax of the larger logit */
  const double s0 = sqrt(2.0) * (1.0 - q), s1 = sqrt(2.0) * q;
  const double p0 = s0 / (s0 + s1);
  Made m = make("strategy: GradNorm\nratio: 50\n");
  CHECK_EQ_INT(m.d->outputs, PASS_LOGITS);
  int64_t keep[2], n = 0, hits0 = 0;
  float w[2];
  const int seeds = 40000;
  for (int s = 0; s < seeds; s++) {
    Rng rng;
    rng_seed(&rng, (uint64_t)s);
    CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
    if (n != 1) continue;
    hits0 += keep[0] == 0;
    const double want = 1.0 / (2.0 * (keep[0] == 0 ? p0 : 1.0 - p0));
    if (fabs(w[0] - want) > 1e-5) {
      CHECK_NEAR(w[0], want, 1e-5);
      break;
    }
  }
  CHECK_NEAR((double)hits0 / seeds, p0, 0.01);
  unmake(&m);
}

static void test_rs2(void) {
  Rng rng;
  rng_seed(&rng, 9);
  Rs2Epochs r;
  int64_t out[12], n = 0;
  /* 12 samples, subsets of 3: four epochs visit each sample exactly once,
   * then a new pass starts. */
  CHECK_OK(rs2_epochs_init(&r, 12, 3, 0));
  for (int pass = 0; pass < 3; pass++) {
    int seen[12] = {0};
    for (int e = 0; e < 4; e++) {
      CHECK_OK(rs2_epochs_next(&r, &rng, out, &n));
      CHECK_EQ_INT(n, 3);
      for (int64_t i = 0; i < n; i++) seen[out[i]]++;
      for (int64_t i = 1; i < n; i++) CHECK(out[i] > out[i - 1]);
    }
    for (int i = 0; i < 12; i++) CHECK_EQ_INT(seen[i], 1);
  }
  rs2_epochs_free(&r);
  /* 10 samples, subsets of 3: three per pass, none repeated in a pass. */
  CHECK_OK(rs2_epochs_init(&r, 10, 3, 0));
  for (int pass = 0; pass < 4; pass++) {
    int seen[10] = {0};
    for (int e = 0; e < 3; e++) {
      CHECK_OK(rs2_epochs_next(&r, &rng, out, &n));
      for (int64_t i = 0; i < n; i++) CHECK_EQ_INT(seen[out[i]]++, 0);
    }
  }
  rs2_epochs_free(&r);
  /* With replacement: a fresh subset each epoch; every sample shows up. */
  CHECK_OK(rs2_epochs_init(&r, 10, 3, 1));
  int seen[10] = {0}, repeated = 0;
  int prev[10] = {0};
  for (int e = 0; e < 50; e++) {
    int cur[10] = {0};
    CHECK_OK(rs2_epochs_next(&r, &rng, out, &n));
    CHECK_EQ_INT(n, 3);
    for (int64_t i = 0; i < n; i++) seen[out[i]]++, cur[out[i]] = 1;
    for (int i = 0; i < 10; i++) repeated += cur[i] && prev[i];
    memcpy(prev, cur, sizeof prev);
  }
  for (int i = 0; i < 10; i++) CHECK(seen[i] > 0);
  CHECK(repeated > 0); /* with replacement, consecutive epochs do share samples */
  rs2_epochs_free(&r);
  /* The plug-in: StB only, weights 1, ratio 25 of 12 -> 3. */
  Made m = make("strategy: RS2\nratio: 25\nwith_replacement: false\n");
  CHECK(m.d && m.d->common.sample_then_batch == 1 && m.d->outputs == 0);
  const int32_t labels[12] = {0};
  PassBatch g = {12, 0, 0, labels, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  float w[12];
  int64_t keep[12];
  CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
  CHECK(n == 3 && w[0] == 1.0f && w[2] == 1.0f);
  unmake(&m);
}

/* The BtS filter: the same (seed, trigger, step) gives the same subset. */
static void test_filter(void) {
  float loss[64];
  int32_t labels[64] = {0};
  for (int i = 0; i < 64; i++) loss[i] = 0.1f + (float)(i % 7);
  PassBatch g = {64, 1, 0, labels, NULL, NULL, loss, NULL, NULL, NULL, NULL};
  Made m = make("strategy: Loss\nratio: 50\n");
  BatchFilter *f = NULL, *f2 = NULL;
  CHECK_OK(downsampler_batch_filter(m.d, 42, 3, &f));
  CHECK_OK(downsampler_batch_filter(m.d, 42, 3, &f2));
  int64_t k1[64], k2[64], n1 = 0, n2 = 0;
  float w1[64], w2[64];
  if (f && f2) {
    CHECK_EQ_INT(f->outputs, PASS_LOSS);
    CHECK_OK(f->select(f, &g, 5, k1, w1, &n1));
    CHECK_OK(f2->select(f2, &g, 5, k2, w2, &n2));
    CHECK_EQ_INT(n1, 32);
    CHECK(n1 == n2 && !memcmp(k1, k2, sizeof(int64_t) * (size_t)n1) &&
          !memcmp(w1, w2, sizeof(float) * (size_t)n1));
    CHECK_OK(f2->select(f2, &g, 6, k2, w2, &n2));
    CHECK(memcmp(k1, k2, sizeof(int64_t) * (size_t)n1) != 0); /* another step, another draw */
  }
  batch_filter_free(f);
  batch_filter_free(f2);
  unmake(&m);
}

static void test_schedule(void) {
  CfgDoc doc;
  DownsampleSchedule s;
  CHECK_OK(cfg_load_string("ds.yaml",
                           "downsampling_list:\n"
                           "  - {strategy: Loss, ratio: 50}\n"
                           "  - {strategy: No}\n"
                           "  - {strategy: Uncertainty, score_metric: Margin, ratio: 20}\n"
                           "downsampling_thresholds: [2, 5]\n",
                           &doc));
  CfgRef root = cfg_root(&doc);
  CHECK_OK(downsample_schedule_parse(&root, &s));
  CHECK_EQ_INT(s.n, 3);
  CHECK(downsample_schedule_at(&s, 0) == s.list[0]);
  CHECK(downsample_schedule_at(&s, 1) == s.list[0]);
  CHECK(downsample_schedule_at(&s, 2) == NULL); /* No */
  CHECK(downsample_schedule_at(&s, 4) == NULL);
  CHECK(downsample_schedule_at(&s, 5) == s.list[2]);
  CHECK(downsample_schedule_at(&s, 99) == s.list[2]);
  downsample_schedule_free(&s);
  cfg_doc_free(&doc);
  /* two downsamplers: one threshold without brackets */
  CHECK_OK(cfg_load_string("ds.yaml",
                           "downsampling_list: [{strategy: No}, {strategy: GradNorm, ratio: 10}]\n"
                           "downsampling_thresholds: 3\n",
                           &doc));
  root = cfg_root(&doc);
  CHECK_OK(downsample_schedule_parse(&root, &s));
  CHECK(downsample_schedule_at(&s, 2) == NULL && downsample_schedule_at(&s, 3) == s.list[1]);
  downsample_schedule_free(&s);
  cfg_doc_free(&doc);
}

/* ---- coreset downsamplers: KcenterGreedy, Craig, GradMatch, Submodular ---------- */

/* KcenterGreedy on five points of a line, 0 1 5 6 10 (embeddings (x, 0)),
 * ratio 60 -> 3 centers. The first is rng_below(5); then the farthest from
 * its nearest center, ties to the lower position. By hand, per first:
 *   0: mins 1 5 6 10 -> 4; mins 1 5 4 -> 2          {0, 2, 4}
 *   1: mins 1 4 5 9 -> 4; mins 1 4 4 -> 2 (tie 2/3)  {1, 2, 4}
 *   2: mins 5 4 1 5 -> 0 (tie 0/4); mins 1 1 5 -> 4  {0, 2, 4}
 *   3: mins 6 5 1 4 -> 0; mins 1 1 4 -> 4            {0, 3, 4}
 *   4: mins 10 9 5 4 -> 0; mins 1 5 4 -> 2           {0, 2, 4} */
static void test_kcenter_hand(void) {
  const float emb[] = {0, 0, 1, 0, 5, 0, 6, 0, 10, 0};
  const int32_t labels[5] = {0};
  const int64_t want[5][3] = {{0, 2, 4}, {1, 2, 4}, {0, 2, 4}, {0, 3, 4}, {0, 2, 4}};
  PassBatch g = {5, 1, 2, labels, NULL, NULL, NULL, (float *)emb, NULL, NULL, NULL};
  Made m = make("strategy: KcenterGreedy\nratio: 60\n");
  CHECK_EQ_INT(m.d->outputs, PASS_EMBED);
  int seen[5] = {0};
  for (uint64_t seed = 1; seed <= 40; seed++) {
    Rng rng, probe;
    rng_seed(&rng, seed);
    probe = rng;
    const int64_t first = (int64_t)rng_below(&probe, 5);
    seen[first] = 1;
    int64_t keep[5], n = 0;
    float w[5];
    CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
    CHECK_EQ_INT(n, 3);
    for (int i = 0; i < 3 && n == 3; i++) {
      CHECK_EQ_INT(keep[i], want[first][i]);
      CHECK_NEAR(w[i], 1.0, 0);
    }
  }
  for (int f = 0; f < 5; f++) CHECK_EQ_INT(seen[f], 1); /* every first center was tried */
  unmake(&m);
}

static double cover_radius(const float *x, int64_t n, int64_t D, const int64_t *c, int64_t k) {
  double r = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double best = INFINITY;
    for (int64_t j = 0; j < k; j++) {
      double s = 0.0;
      for (int64_t e = 0; e < D; e++) {
        const double d = (double)x[i * D + e] - x[c[j] * D + e];
        s += d * d;
      }
      if (s < best) best = s;
    }
    if (best > r) r = best;
  }
  return sqrt(r);
}

/* 300 points in six well separated clusters (4-D, centers 20 apart, unit
 * spread), 6 centers: greedy k-center puts one in each cluster, its
 * covering radius is below half the mean of 200 random 6-subsets', and
 * within the factor-2 guarantee of the best radius any subset reached. */
static void test_kcenter_radius(void) {
  enum { N = 300, D = 4, C = 6 };
  static float x[N * D];
  static int32_t labels[N];
  Rng rng;
  rng_seed(&rng, 7);
  for (int i = 0; i < N; i++) {
    labels[i] = i % C;
    for (int e = 0; e < D; e++)
      x[i * D + e] = (float)((e == labels[i] % D ? 20.0 * (1 + labels[i] / D) : 0.0) +
                             (e == (labels[i] + 1) % D ? 20.0 * (labels[i] / D) : 0.0) +
                             rng_normal(&rng));
  }
  PassBatch g = {N, 1, D, labels, NULL, NULL, NULL, x, NULL, NULL, NULL};
  Made m = make("strategy: KcenterGreedy\nratio: 2\n");
  int64_t keep[N], n = 0;
  float w[N];
  CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
  CHECK_EQ_INT(n, C);
  int hit[C] = {0};
  for (int64_t i = 0; i < n; i++) hit[labels[keep[i]]]++;
  for (int c = 0; c < C; c++) CHECK_EQ_INT(hit[c], 1);
  const double greedy = cover_radius(x, N, D, keep, n);
  double sum = 0.0, best = greedy;
  for (int t = 0; t < 200; t++) {
    int64_t perm[N], sub[C];
    for (int i = 0; i < N; i++) perm[i] = i;
    rng_shuffle_i64(&rng, perm, N);
    for (int j = 0; j < C; j++) sub[j] = perm[j];
    const double r = cover_radius(x, N, D, sub, C);
    sum += r;
    if (r < best) best = r;
  }
  printf("k-center radius: greedy %.3f, random mean %.3f, best seen %.3f\n", greedy, sum / 200,
         best);
  CHECK(greedy < 0.5 * sum / 200);
  CHECK(greedy <= 2.0 * best);
  unmake(&m);
}

/* Craig on seven samples of one label whose gradients are (x, 0), x = 0 1
 * 2 10 11 12 13 (LastLayerWithEmbedding with K = 1, D = 1 hands the
 * gradients over as they are). ratio 30 -> int(2.1) = 2. max_d = 13, so
 * S(i, j) = 13.001 - |x_i - x_j| (13.001 - 1e-6 on the diagonal).
 * Step 1, gain = column sum = 7 x 13.001 - sum_i |x_i - x_j| (less 1e-6):
 * the distance sums are 49 44 41 33 34 37 42, so x = 10 (position 3).
 * Step 2, cur_i = S(i, 3); gain_j = sum_i max(0, |x_i - 10| - |x_i - x_j|):
 *   x=0: 10 + 8 + 6 = 24; x=1: 9 + 9 + 7 = 25; x=2: 8 + 8 + 8 = 24;
 *   x=11: 1 + 1 + 1 = 3; x=12: 2 + 2 = 4; x=13: 3 + 1 = 4 -> x = 1 (pos 1).
 * Clusters: {0, 1, 2} -> position 1, {10, 11, 12, 13} -> position 3;
 * weights 1 + size: 4 and 5. */
static void test_craig_hand(void) {
  const float grad[] = {0, 0, 1, 0, 2, 0, 10, 0, 11, 0, 12, 0, 13, 0};
  const int32_t labels[7] = {0};
  PassBatch g = {7, 1, 1, labels, NULL, NULL, NULL, NULL, (float *)grad, NULL, NULL};
  static const char *const greedy[] = {"NaiveGreedy", "LazyGreedy", "ApproximateLazyGreedy"};
  for (int o = 0; o < 3; o++) {
    char yaml[256];
    snprintf(yaml, sizeof yaml,
             "strategy: Craig\nratio: 30\nfull_grad_approximation: LastLayerWithEmbedding\n"
             "greedy: %s\n",
             greedy[o]);
    Made m = make(yaml);
    CHECK_EQ_INT(m.d->outputs, PASS_GRAD);
    Rng rng;
    rng_seed(&rng, 3);
    int64_t keep[7], n = 0;
    float w[7];
    CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
    CHECK_EQ_INT(n, 2);
    CHECK(n == 2 && keep[0] == 1 && keep[1] == 3);
    CHECK(n == 2 && w[0] == 4.0f && w[1] == 5.0f);
    unmake(&m);
  }
  /* Two labels: label 0 at x = 0, 1 (max_d 1), label 1 at x = 0.1, 5 (max_d
   * 4.9); similarity 0 across labels. ratio 50 -> 2. Step 1: gains 1.002 -
   * 1e-6 (label 0) and 4.902 - 1e-6 (label 1; a tie, position 2). Step 2:
   * position 3 gains 4.9 - 1e-6 > 1.002: both kept samples are label 1's.
   * Label 0's samples have similarity 0 to both and count, as in the
   * original's argmax over zeros, for the lower kept position: weights
   * 1 + 3 = 4 (position 2) and 1 + 1 = 2 (position 3). */
  const float g2[] = {0, 0, 1, 0, 0.1f, 0, 5, 0};
  const int32_t l2[] = {0, 0, 1, 1};
  PassBatch b = {4, 1, 1, l2, NULL, NULL, NULL, NULL, (float *)g2, NULL, NULL};
  Made m = make("strategy: Craig\nratio: 50\nfull_grad_approximation: LastLayerWithEmbedding\n");
  Rng rng;
  rng_seed(&rng, 3);
  int64_t keep[4], n = 0;
  float w[4];
  CHECK_OK(downsampler_run(m.d, &b, &rng, keep, w, &n));
  CHECK(n == 2 && keep[0] == 2 && keep[1] == 3 && w[0] == 4.0f && w[1] == 2.0f);
  unmake(&m);
  /* The gradients are those of each label's mean loss in the batch (each
   * divided by its label's count), which sets how the 1e-3 shift weighs
   * across labels. Label 0: three equal gradients (1, 1) (distance 1e-6 =
   * max_d): first gain 3 x 1e-3. Label 1: (0, 0) and (0.0015, 0), halved:
   * max_d = 0.00075, gain 0.00075 - 1e-6 + 2e-3 < 3e-3 (without the halving
   * it would be 0.0015 - 1e-6 + 2e-3 > 3e-3 and position 3 would win).
   * ratio 20 of 5 -> 1: position 0, standing for all five (label 1 has
   * similarity 0 to it and counts for the lowest kept): weight 6. */
  {
    const float g3[] = {1, 1, 1, 1, 1, 1, 0, 0, 0.0015f, 0};
    const int32_t l3[] = {0, 0, 0, 1, 1};
    PassBatch b3 = {5, 1, 1, l3, NULL, NULL, NULL, NULL, (float *)g3, NULL, NULL};
    Made m3 = make("strategy: Craig\nratio: 20\nfull_grad_approximation: LastLayerWithEmbedding\n");
    CHECK_OK(downsampler_run(m3.d, &b3, &rng, keep, w, &n));
    CHECK(n == 1 && keep[0] == 0 && w[0] == 6.0f);
    unmake(&m3);
  }
  /* balance: each label keeps one (a tie within each: the lower position),
   * standing for both of its samples: weights 3 (also in BtS). */
  m = make("strategy: Craig\nratio: 50\nfull_grad_approximation: LastLayerWithEmbedding\n"
           "balance: true\n");
  CHECK_OK(downsampler_run(m.d, &b, &rng, keep, w, &n));
  CHECK(n == 2 && keep[0] == 0 && keep[1] == 2 && w[0] == 3.0f && w[1] == 3.0f);
  unmake(&m);
}

/* Craig's LastLayer gradients come from the logits: softmax - onehot.
 * Logits (0, 0), (0, 0), (0, 0), (log 3, 0) with labels 0 0 1 1 give
 * gradients (-0.5, 0.5), (-0.5, 0.5), (0.5, -0.5), (0.75, -0.75). */
static void test_craig_last_layer(void) {
  const float logits[] = {0, 0, 0, 0, 0, 0, (float)log(3.0), 0};
  const int32_t labels[] = {0, 0, 1, 1};
  PassBatch g = {4, 2, 0, labels, (float *)logits, NULL, NULL, NULL, NULL, NULL, NULL};
  Made m = make("strategy: Craig\nratio: 50\n");
  CHECK_EQ_INT(m.d->outputs, PASS_LOGITS);
  Rng rng;
  rng_seed(&rng, 1);
  int64_t keep[4], n = 0;
  float w[4];
  /* Label 0: two equal gradients (distance 1e-6 = max_d): every similarity
   * 1e-3, gains 2e-3. Label 1: distance 0.25 sqrt 2 = max_d; gains
   * max_d - 1e-6 + 2e-3 each (a tie: position 2), then position 3 gains
   * max_d - 1e-6 = 0.3526 > 2e-3. Label 0 has nothing kept: its two samples
   * count for position 2: weights 4 and 2. */
  CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
  CHECK(n == 2 && keep[0] == 2 && keep[1] == 3 && w[0] == 4.0f && w[1] == 2.0f);
  unmake(&m);
}

/* GradMatch on four gradients (4, 0), (0, 4), (4, 4), (-4, 0) of one batch
 * (BtS: each divided by the batch size 4): a = (1, 0), (0, 1), (1, 1),
 * (-1, 0), b = mean = (0.25, 0.5); ratio 50 -> 2.
 *   1: <a, b> = 0.25 0.5 0.75 -0.25 -> position 2; r = b - 0.375 (1, 1) =
 *      (-0.125, 0.125).
 *   2: <a, r> = -0.125 0.125 . 0.125 -> position 1 (tie with 3: lower).
 *   M = A_S A_S^T + I = [[3, 1], [1, 2]], c = A_S b = (0.75, 0.5):
 *   x = M^-1 c = (1/5) (2 0.75 - 0.5, 3 0.5 - 0.75) = (0.2, 0.15) >= 0, so
 *   the NNLS fit is x itself: position 1 weight 0.15, position 2 0.2.
 * In StB with batch size 2, every gradient is halved instead: a = (2, 0),
 * (0, 2), (2, 2), (-2, 0), b = (0.5, 1): picks 2 then 1 again (tie), M =
 * [[9, 4], [4, 5]], c = (3, 2): x = (1/29) (5 3 - 4 2, -4 3 + 9 2) =
 * (7/29, 6/29). */
static void test_gradmatch_hand(void) {
  const float grad[] = {4, 0, 0, 4, 4, 4, -4, 0};
  const int32_t labels[4] = {0};
  PassBatch g = {4, 1, 1, labels, NULL, NULL, NULL, NULL, (float *)grad, NULL, NULL};
  Made m =
      make("strategy: GradMatch\nratio: 50\nfull_grad_approximation: LastLayerWithEmbedding\n");
  CHECK_EQ_INT(m.d->outputs, PASS_GRAD);
  Rng rng;
  rng_seed(&rng, 1);
  int64_t keep[4], n = 0;
  float w[4];
  CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
  CHECK(n == 2 && keep[0] == 1 && keep[1] == 2);
  if (n == 2) {
    CHECK_NEAR(w[0], 0.15, 1e-6);
    CHECK_NEAR(w[1], 0.2, 1e-6);
  }
  m.d->batch_size = 2; /* as the StB epoch hook sets it (the pass batch size) */
  CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
  CHECK(n == 2 && keep[0] == 1 && keep[1] == 2);
  if (n == 2) {
    CHECK_NEAR(w[0], 6.0 / 29, 1e-6);
    CHECK_NEAR(w[1], 7.0 / 29, 1e-6);
  }
  unmake(&m);
  /* one kept sample: OMP's first pick, weight 1 */
  m = make("strategy: GradMatch\nratio: 25\nfull_grad_approximation: LastLayerWithEmbedding\n");
  CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
  CHECK(n == 1 && keep[0] == 2 && w[0] == 1.0f);
  unmake(&m);
}

/* NNLS: min |M x - c|, x >= 0, M = [[2, 1], [1, 2]], c = (1, -1). The
 * unconstrained solution (1, -1) is infeasible; with x_2 = 0, x_1 =
 * <(2, 1), c> / |(2, 1)|^2 = 1/5, and the gradient in x_2, <(1, 2), M x -
 * c> = <(1, 2), (-0.6, 1.2)> = 1.8 >= 0 confirms it. */
static void test_nnls(void) {
  const double M[] = {2, 1, 1, 2}, c[] = {1, -1};
  double x[2];
  CHECK_OK(nnls_symmetric(M, 2, c, x));
  CHECK_NEAR(x[0], 0.2, 1e-12);
  CHECK_NEAR(x[1], 0.0, 0);
}

typedef struct {
  const double *S;
  int64_t n;
} Mat;

static double mat_sim(const void *ctx, int64_t i, int64_t j) {
  const Mat *m = ctx;
  return m->S[i * m->n + j];
}

/* The three set functions on small hand-built similarities. */
static void test_submodular_functions(void) {
  /* FacilityLocation and GraphCut on
   *        0    1    2    3
   *   0  1.0  0.9  0.1  0.0
   *   1  0.9  1.0  0.3  0.1
   *   2  0.1  0.3  1.0  0.6
   *   3  0.0  0.1  0.6  0.8
   * FL: column sums 2.0 2.3 2.0 1.5 -> 1; cur = (0.9, 1, 0.3, 0.1): gains
   * 0.1, 0.7 + 0.5 = 1.2, 0.3 + 0.7 = 1.0 -> 2; cur = (0.9, 1, 1, 0.6):
   * gains 0.1, 0.2 -> 3. Order 1 2 3; with two kept, samples 0 1 go to 1
   * and 2 3 to 2.
   * GraphCut: gains colsum - 2 sum_A S: 1 (2.3); then 0: 2 - 1.8 = 0.2,
   * 2: 2 - 0.6 = 1.4, 3: 1.5 - 0.2 = 1.3 -> 2; then 0: 2 - 2 = 0, 3: 1.5 -
   * 1.4 = 0.1 -> 3. */
  const double S[] = {1.0, 0.9, 0.1, 0.0, 0.9, 1.0, 0.3, 0.1,
                      0.1, 0.3, 1.0, 0.6, 0.0, 0.1, 0.6, 0.8};
  Mat mat = {S, 4};
  Similarity s = {4, mat_sim, &mat, NULL, 0};
  Rng rng;
  rng_seed(&rng, 5);
  int64_t sel[4], assign[4];
  for (int o = 0; o < 4; o++) {
    if (o == GREEDY_STOCHASTIC) continue;
    CHECK_OK(submod_maximize(&s, SUBMOD_FACILITY_LOCATION, o, 3, &rng, sel, NULL));
    CHECK(sel[0] == 1 && sel[1] == 2 && sel[2] == 3);
    CHECK_OK(submod_maximize(&s, SUBMOD_GRAPH_CUT, o, 3, &rng, sel, NULL));
    CHECK(sel[0] == 1 && sel[1] == 2 && sel[2] == 3);
  }
  CHECK_OK(submod_maximize(&s, SUBMOD_FACILITY_LOCATION, GREEDY_LAZY, 2, &rng, sel, assign));
  CHECK(assign[0] == 1 && assign[1] == 1 && assign[2] == 2 && assign[3] == 2);
  /* StochasticGreedy on 4 samples, budget 3: samples of max(round(0.105 x
   * 4 / 3), 1) = 1, i.e. uniform picks: distinct, and the same for a seed. */
  Rng r1, r2;
  rng_seed(&r1, 11);
  rng_seed(&r2, 11);
  int64_t s2[3];
  CHECK_OK(submod_maximize(&s, SUBMOD_FACILITY_LOCATION, GREEDY_STOCHASTIC, 3, &r1, sel, NULL));
  CHECK_OK(submod_maximize(&s, SUBMOD_FACILITY_LOCATION, GREEDY_STOCHASTIC, 3, &r2, s2, NULL));
  CHECK(sel[0] != sel[1] && sel[1] != sel[2] && sel[0] != sel[2]);
  CHECK(!memcmp(sel, s2, sizeof s2));
  /* LogDeterminant on the Gram matrix of v = (1, 0), (1.2, 0.9), (0, 1),
   * (0.6, 0.8): diagonal 1 2.25 1 1 -> 1; Schur complements 1 - S_1j^2 /
   * 2.25: j = 0: 1 - 1.44 / 2.25 = 0.36, 2: 1 - 0.81 / 2.25 = 0.64, 3: 1 -
   * 1.44^2 / 2.25 = 0.0784 -> 2; then all lie in the span of v1, v2 (rank
   * 2): every gain is -inf and the lower position, 0, comes next. */
  const double v[4][2] = {{1, 0}, {1.2, 0.9}, {0, 1}, {0.6, 0.8}};
  double G[16];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) G[i * 4 + j] = v[i][0] * v[j][0] + v[i][1] * v[j][1];
  Mat gm = {G, 4};
  Similarity sg = {4, mat_sim, &gm, NULL, 0};
  for (int o = 0; o < 4; o++) {
    if (o == GREEDY_STOCHASTIC) continue;
    CHECK_OK(submod_maximize(&sg, SUBMOD_LOG_DETERMINANT, o, 3, &rng, sel, NULL));
    CHECK(sel[0] == 1 && sel[1] == 2 && sel[2] == 0);
  }
}

/* f(A) from its definition, for the naive greedy below. */
static double set_value(int fn, const double *S, int64_t n, const int64_t *A, int64_t k) {
  if (fn == SUBMOD_FACILITY_LOCATION) {
    double f = 0.0;
    for (int64_t i = 0; i < n; i++) {
      double m = 0.0;
      for (int64_t a = 0; a < k; a++) m = fmax(m, S[i * n + A[a]]);
      f += m;
    }
    return f;
  }
  if (fn == SUBMOD_GRAPH_CUT) { /* the original's: sum_{i, a} S - sum_{a, b} S + sum_a S_aa */
    double f = 0.0;
    for (int64_t a = 0; a < k; a++) {
      for (int64_t i = 0; i < n; i++) f += S[i * n + A[a]];
      for (int64_t b = 0; b < k; b++) f -= S[A[a] * n + A[b]];
      f += S[A[a] * n + A[a]];
    }
    return f;
  }
  /* log det S_A by a plain Cholesky factorisation */
  double L[16 * 16] = {0}, ld = 0.0;
  for (int64_t i = 0; i < k; i++)
    for (int64_t j = 0; j <= i; j++) {
      double s = S[A[i] * n + A[j]];
      for (int64_t q = 0; q < j; q++) s -= L[i * 16 + q] * L[j * 16 + q];
      if (i == j) {
        if (s <= 0) return -INFINITY;
        L[i * 16 + i] = sqrt(s);
        ld += log(s);
      } else {
        L[i * 16 + j] = s / L[j * 16 + j];
      }
    }
  return ld;
}

/* The lazy greedy equals a naive greedy over gains f(A + j) - f(A) from
 * the definitions, on random shifted-cosine similarities (40 samples in
 * 10-D; LogDeterminant keeps 8 < the rank 11). */
static void test_submodular_vs_naive(void) {
  enum { N = 40, P = 10 };
  static double u[N * P], S[N * N];
  Rng rng;
  rng_seed(&rng, 21);
  for (int i = 0; i < N; i++) {
    double nn = 0.0;
    for (int k = 0; k < P; k++) nn += (u[i * P + k] = rng_normal(&rng)) * u[i * P + k];
    for (int k = 0; k < P; k++) u[i * P + k] /= sqrt(nn);
  }
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double c = 0.0;
      for (int k = 0; k < P; k++) c += u[i * P + k] * u[j * P + k];
      S[i * N + j] = 0.5 + 0.5 * c;
    }
  Mat mat = {S, N};
  Similarity s = {N, mat_sim, &mat, NULL, 0};
  for (int fn = 0; fn < 3; fn++) {
    const int64_t budget = fn == SUBMOD_LOG_DETERMINANT ? 8 : 15;
    int64_t lazy[N], naive[N];
    CHECK_OK(submod_maximize(&s, fn, GREEDY_NAIVE, budget, &rng, lazy, NULL));
    unsigned char in[N] = {0};
    for (int64_t t = 0; t < budget; t++) {
      const double base = set_value(fn, S, N, naive, t);
      int64_t best = -1;
      double bg = 0.0;
      for (int64_t j = 0; j < N; j++) {
        if (in[j]) continue;
        naive[t] = j;
        const double gj = set_value(fn, S, N, naive, t + 1) - base;
        if (best < 0 || gj > bg) {
          best = j;
          bg = gj;
        }
      }
      naive[t] = best;
      in[best] = 1;
    }
    int same = 1;
    for (int64_t t = 0; t < budget; t++) same &= lazy[t] == naive[t];
    if (!same) fprintf(stderr, "function %d: lazy and naive greedy differ\n", fn);
    CHECK(same);
    /* the similarity cache changes no value, so no choice */
    Similarity sc = s;
    sc.cache = 1;
    int64_t cached[N];
    CHECK_OK(submod_maximize(&sc, fn, GREEDY_NAIVE, budget, &rng, cached, NULL));
    CHECK(!memcmp(cached, lazy, (size_t)budget * sizeof(int64_t)));
  }
}

/* Submodular with LogDeterminant on gradients (1, 0), (1, 0.05), (0, 1),
 * (-1, 0.02): shifted cosines put 1 on the diagonal, so the first pick is
 * position 0; the Schur complements 1 - S_0j^2 are then about 0.0012,
 * 0.75 and 1.0 - (0.5 - 0.5 x 0.9998)^2 ~ 1: the opposite direction,
 * position 3, comes next. (The original's quadratic-form gain would pick
 * position 1, the one most like position 0.) */
static void test_submodular_plugin(void) {
  const float grad[] = {1, 0, 1, 0.05f, 0, 1, -1, 0.02f};
  const int32_t labels[4] = {0};
  PassBatch g = {4, 1, 1, labels, NULL, NULL, NULL, NULL, (float *)grad, NULL, NULL};
  Made m = make("strategy: Submodular\nratio: 50\nsubmodular_function: LogDeterminant\n"
                "full_grad_approximation: LastLayerWithEmbedding\n");
  CHECK_EQ_INT(m.d->outputs, PASS_GRAD);
  Rng rng;
  rng_seed(&rng, 1);
  int64_t keep[4], n = 0;
  float w[4];
  CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
  CHECK(n == 2 && keep[0] == 0 && keep[1] == 3 && w[0] == 1.0f && w[1] == 1.0f);
  unmake(&m);
  /* GraphCut on the same (S01 = 0.999376, S02 = 0.5, S03 = 0.0001, S12 =
   * 0.524969, S13 = 0.001223, S23 = 0.509998): column sums 2.499476,
   * 2.525568, 2.534967, 1.511321 -> 2; then colsum - 2 S_2j: 1.499476,
   * 1.475630, 0.491325 -> 0. */
  m = make("strategy: Submodular\nratio: 50\nsubmodular_function: GraphCut\n"
           "submodular_optimizer: LazyGreedy\nfull_grad_approximation: LastLayerWithEmbedding\n");
  CHECK_OK(downsampler_run(m.d, &g, &rng, keep, w, &n));
  CHECK(n == 2 && keep[0] == 0 && keep[1] == 2);
  unmake(&m);
}

/* The coreset downsamplers in a BtS filter: a pure function of (seed,
 * trigger, step) and the scores, as every rank needs (KcenterGreedy draws
 * its first center from the step's stream). */
static void test_coreset_filter(void) {
  enum { N = 64, D = 3 };
  float emb[N * D], grad[N * 2];
  int32_t labels[N];
  Rng rng;
  rng_seed(&rng, 9);
  for (int i = 0; i < N; i++) {
    labels[i] = i % 3;
    for (int e = 0; e < D; e++) emb[i * D + e] = (float)rng_normal(&rng);
    grad[2 * i] = (float)rng_normal(&rng);
    grad[2 * i + 1] = (float)rng_normal(&rng);
  }
  PassBatch g = {N, 1, D, labels, NULL, NULL, NULL, emb, grad, NULL, NULL};
  static const char *const yaml[] = {
      "strategy: KcenterGreedy\nratio: 25\n",
      "strategy: Craig\nratio: 25\nfull_grad_approximation: LastLayerWithEmbedding\n"
      "balance: true\n",
  };
  for (int y = 0; y < 2; y++) {
    Made m = make(yaml[y]);
    PassBatch b = g;
    if (y == 1) b.D = 1; /* Craig reads K (D + 1) = 2 gradient values per sample */
    BatchFilter *f = NULL, *f2 = NULL;
    CHECK_OK(downsampler_batch_filter(m.d, 42, 3, &f));
    CHECK_OK(downsampler_batch_filter(m.d, 42, 3, &f2));
    int64_t k1[N], k2[N], n1 = 0, n2 = 0;
    float w1[N], w2[N];
    if (f && f2) {
      CHECK_OK(f->select(f, &b, 5, k1, w1, &n1));
      CHECK_OK(f2->select(f2, &b, 5, k2, w2, &n2));
      CHECK_EQ_INT(n1, y == 0 ? 16 : 15); /* balance: 3 labels of 22, 21, 21 keep 5 each */
      CHECK(n1 == n2 && !memcmp(k1, k2, sizeof(int64_t) * (size_t)n1) &&
            !memcmp(w1, w2, sizeof(float) * (size_t)n1));
      if (y == 1) { /* Craig's weights count every sample once, plus one per kept sample */
        double sum = 0.0;
        for (int64_t i = 0; i < n1; i++) sum += w1[i];
        CHECK_NEAR(sum, N + n1, 0);
      }
    }
    batch_filter_free(f);
    batch_filter_free(f2);
    unmake(&m);
  }
}

/* RHOLoss: the target largest loss - irreducible loss.
 *   loss  2.0 1.0 3.0  0.5 2.5
 *   il    1.5 0.1 0.2  0.6 2.4
 *   diff  0.5 0.9 2.8 -0.1 0.1
 * target 2 -> {1, 2} (Loss's largest two would be {2, 4}); target 3 ->
 * {0, 1, 2}; equal differences -> the lower positions. */
static void test_rho(void) {
  const float loss[5] = {2.0f, 1.0f, 3.0f, 0.5f, 2.5f};
  const float il[5] = {1.5f, 0.1f, 0.2f, 0.6f, 2.4f};
  int64_t keep[5], n = 0;
  float w[5];
  CHECK_OK(downsample_rho_select(loss, il, 5, 2, keep, w, &n));
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(keep[0], 1);
  CHECK_EQ_INT(keep[1], 2);
  CHECK_NEAR(w[0], 1.0, 0);
  CHECK_NEAR(w[1], 1.0, 0);
  CHECK_OK(downsample_rho_select(loss, il, 5, 3, keep, w, &n));
  CHECK_EQ_INT(n, 3);
  CHECK_EQ_INT(keep[0], 0);
  CHECK_EQ_INT(keep[1], 1);
  CHECK_EQ_INT(keep[2], 2);
  const float same[3] = {1, 1, 1}, zero[3] = {0, 0, 0};
  CHECK_OK(downsample_rho_select(same, zero, 3, 2, keep, w, &n));
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(keep[0], 0);
  CHECK_EQ_INT(keep[1], 1);

  /* The plug-in as a batch filter: irreducible losses by key (keys 10..14
   * carry the il above), the batch in another order:
   *   keys  12   10   14   11   13
   *   loss  3.0  2.0  2.5  1.0  0.5
   *   diff  2.8  0.5  0.1  0.9 -0.1   ratio 50 -> target 2 -> {0, 3} */
  Made m = make("strategy: RHOLoss\nratio: 50\nholdout_set_ratio: 10\n"
                "holdout_set_strategy: Simple\nil_training_config:\n"
                "  il_model_id: LogisticRegression\n  batch_size: 4\n"
                "  optimizers: [{algorithm: SGD, param_groups: [{config: {lr: 0.1}}]}]\n");
  const int64_t tkeys[5] = {10, 11, 12, 13, 14};
  CHECK_OK(downsample_rho_set_losses(m.d, 3, tkeys, il, 5));
  BatchFilter *f = NULL;
  CHECK_OK(downsampler_batch_filter(m.d, 42, 3, &f));
  CHECK(f->outputs == PASS_LOSS);
  const int32_t labels[5] = {0};
  float bloss[5] = {3.0f, 2.0f, 2.5f, 1.0f, 0.5f};
  const int64_t bkeys[5] = {12, 10, 14, 11, 13};
  PassBatch g = {5, 1, 0, labels, NULL, NULL, bloss, NULL, NULL, NULL, bkeys};
  CHECK_OK(f->select(f, &g, 0, keep, w, &n));
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(keep[0], 0);
  CHECK_EQ_INT(keep[1], 3);
  CHECK_NEAR(w[0], 1.0, 0);
  CHECK_NEAR(w[1], 1.0, 0);
  /* a key the trigger's set does not hold */
  const int64_t bad[5] = {12, 10, 99, 11, 13};
  g.keys = bad;
  CHECK(f->select(f, &g, 0, keep, w, &n) == MH_ERR);
  CHECK_STR(mh_error(), "RHOLoss downsampling: key 99 has no irreducible loss (it is not in "
                        "trigger 3's training set)");
  batch_filter_free(f);
  unmake(&m);
}

static void expect_error(const char *yaml, const char *msg) {
  CfgDoc doc;
  CHECK_OK(cfg_load_string("ds.yaml", yaml, &doc));
  CfgRef root = cfg_root(&doc);
  DownsampleSchedule s;
  CHECK(downsample_schedule_parse(&root, &s) == MH_ERR);
  CHECK_STR(mh_error(), msg);
  downsample_schedule_free(&s);
  cfg_doc_free(&doc);
}

static void test_errors(void) {
  char unknown_model[512];
  snprintf(unknown_model, sizeof unknown_model,
           "ds.yaml:6: il_training_config.il_model_id: unknown model \"Logistic\"; available: %s",
           model_list());
  expect_error("strategy: Los\nratio: 5\n",
               "ds.yaml:1: strategy: unknown downsampling strategy \"Los\"; available: Loss, "
               "GradNorm, Uncertainty, RS2, No, KcenterGreedy, Craig, GradMatch, Submodular, "
               "RHOLoss");
  expect_error("strategy: TokenUncertainty\nratio: 5\n",
               "ds.yaml:1: strategy: downsampling strategy \"TokenUncertainty\" of the original "
               "is not available yet; available: Loss, GradNorm, Uncertainty, RS2, No, "
               "KcenterGreedy, Craig, GradMatch, Submodular, RHOLoss");
  expect_error("strategy: RHOLoss\nratio: 50\nholdout_set_ratio: 10\nholdout_set_strategy: "
               "Simple\n",
               "ds.yaml:1: il_training_config: missing required field");
  expect_error("strategy: RHOLoss\nratio: 50\nsample_then_batch: true\nholdout_set_ratio: 10\n"
               "holdout_set_strategy: Simple\n",
               "ds.yaml:3: sample_then_batch: RHOLoss runs batch-then-sample only (as in the "
               "original)");
  expect_error("strategy: RHOLoss\nratio: 50\nholdout_set_ratio: 30\n"
               "holdout_set_strategy: Twin\n",
               "ds.yaml:3: holdout_set_ratio: the Twin strategy splits the new data in halves: "
               "holdout_set_ratio must be half of holdout_set_ratio_max (100), got 30");
  expect_error("strategy: RHOLoss\nratio: 50\nholdout_set_ratio: 101\n"
               "holdout_set_strategy: Simple\n",
               "ds.yaml:3: holdout_set_ratio: must be in [0, 100], got 101");
  expect_error("strategy: RHOLoss\nratio: 50\nholdout_set_ratio: 10\n"
               "holdout_set_strategy: Simple\nil_training_config:\n  il_model_id: Logistic\n"
               "  batch_size: 4\n"
               "  optimizers: [{algorithm: SGD, param_groups: [{config: {lr: 0.1}}]}]\n",
               unknown_model);
  expect_error("strategy: RHOLoss\nratio: 50\nholdout_set_ratio: 10\n"
               "holdout_set_strategy: Simple\nil_training_config:\n  batch_size: 4\n",
               "ds.yaml:6: il_training_config.il_model_id: missing required field");
  expect_error("strategy: RHOLoss\nratio: 50\nholdout_set_ratio: 10\n"
               "holdout_set_strategy: Simple\nil_training_config:\n  il_model_id: "
               "LogisticRegression\n  batch_size: 4\n  num_samples_to_pass: 5\n"
               "  optimizers: [{algorithm: SGD, param_groups: [{config: {lr: 0.1}}]}]\n",
               "ds.yaml:8: il_training_config.num_samples_to_pass: the IL model trains "
               "epochs_per_trigger epochs (the original allows only null here)");
  expect_error("strategy: Submodular\nratio: 5\n",
               "ds.yaml:1: submodular_function: missing required field");
  expect_error("strategy: Submodular\nratio: 5\nsubmodular_function: Facility\n",
               "ds.yaml:3: submodular_function: expected one of FacilityLocation, GraphCut, "
               "LogDeterminant, got \"Facility\"");
  expect_error("strategy: Craig\nratio: 5\ngreedy: Greedy\n",
               "ds.yaml:3: greedy: expected one of NaiveGreedy, LazyGreedy, StochasticGreedy, "
               "ApproximateLazyGreedy, got \"Greedy\"");
  expect_error("strategy: Craig\nratio: 5\nselection_batch: 0\n",
               "ds.yaml:3: selection_batch: must be in [1, 2147483647], got 0");
  expect_error("strategy: GradMatch\nratio: 5\nfull_grad_approximation: Full\n",
               "ds.yaml:3: full_grad_approximation: expected one of LastLayer, "
               "LastLayerWithEmbedding, got \"Full\"");
  expect_error("strategy: KcenterGreedy\nratio: 5\nbalance: true\n",
               "ds.yaml:3: balance: balance: true needs sample_then_batch: true (the original "
               "selects label by label only there; in batch-then-sample it would keep nothing)");
  expect_error("strategy: KcenterGreedy\nratio: 5\ngreedy: LazyGreedy\n",
               "ds.yaml:3: greedy: unknown field; expected one of: strategy, sample_then_batch, "
               "ratio, ratio_max, period, balance");
  expect_error("strategy: Loss\nratio: 101\n", "ds.yaml:2: ratio: must be in [0, 100], got 101");
  expect_error("strategy: Loss\n", "ds.yaml:1: ratio: missing required field");
  expect_error("strategy: Loss\nratio: 5\nbalance: true\n",
               "ds.yaml:3: balance: unknown field; expected one of: strategy, sample_then_batch, "
               "ratio, ratio_max, period");
  expect_error("strategy: Uncertainty\nratio: 5\nscore_metric: Margin\nbalance: true\n",
               "ds.yaml:4: balance: balance: true needs sample_then_batch: true (a batch is too "
               "small to share among labels; the original refuses it too)");
  expect_error("strategy: Uncertainty\nratio: 5\nscore_metric: Confidence\n",
               "ds.yaml:3: score_metric: expected one of LeastConfidence, Entropy, Margin, got "
               "\"Confidence\"");
  expect_error("strategy: RS2\nratio: 5\nwith_replacement: true\nsample_then_batch: false\n",
               "ds.yaml:4: sample_then_batch: RS2 runs sample-then-batch only; remove the field "
               "or set it to true");
  expect_error("strategy: RS2\nratio: 5\n", "ds.yaml:1: with_replacement: missing required field");
  expect_error("strategy: No\nratio: 50\n", "ds.yaml:2: ratio: must be in [100, 100], got 50");
  expect_error("downsampling_list: [{strategy: Loss, ratio: 5}, {strategy: No}]\n"
               "downsampling_thresholds: [1, 2]\n",
               "ds.yaml:2: downsampling_thresholds: needs 1 threshold for 2 downsamplers, got 2");
  expect_error("downsampling_list: [{strategy: Loss, ratio: 5}, {strategy: No}, {strategy: No}]\n"
               "downsampling_thresholds: [4, 2]\n",
               "ds.yaml:2: downsampling_thresholds[1]: thresholds must increase strictly (got 2 "
               "after 4)");
}

int main(void) {
  test_target();
  test_uncertainty();
  test_loss_frequencies();
  test_gradnorm();
  test_rs2();
  test_filter();
  test_schedule();
  test_kcenter_hand();
  test_kcenter_radius();
  test_craig_hand();
  test_craig_last_layer();
  test_gradmatch_hand();
  test_nnls();
  test_submodular_functions();
  test_submodular_vs_naive();
  test_submodular_plugin();
  test_coreset_filter();
  test_rho();
  test_errors();
  return test_finish("test_downsample");
}

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
  PassBatch g = {6, 3, 0, labels, (float *)logits, NULL, NULL, NULL, NULL, NULL};
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
  PassBatch b = {4, 1, 0, y, (float *)z, NULL, NULL, NULL, NULL, NULL};
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
  PassBatch g = {4, 1, 0, labels, NULL, NULL, loss, NULL, NULL, NULL};
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
  PassBatch gz = {4, 1, 0, labels, NULL, NULL, zero, NULL, NULL, NULL};
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
  PassBatch g = {2, 2, 0, labels, (float *)logits, NULL, NULL, NULL, NULL, NULL};
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
  PassBatch g = {12, 0, 0, labels, NULL, NULL, NULL, NULL, NULL, NULL};
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
  PassBatch g = {64, 1, 0, labels, NULL, NULL, loss, NULL, NULL, NULL};
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
  expect_error("strategy: Los\nratio: 5\n",
               "ds.yaml:1: strategy: unknown downsampling strategy \"Los\"; available: Loss, "
               "GradNorm, Uncertainty, RS2, No");
  expect_error("strategy: Craig\nratio: 5\n",
               "ds.yaml:1: strategy: downsampling strategy \"Craig\" of the original is not "
               "available yet; use Loss, GradNorm, Uncertainty, RS2 or No");
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
  test_errors();
  return test_finish("test_downsample");
}

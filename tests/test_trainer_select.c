/* test_trainer_select.c - data selection inside the trainer, on 1 rank
 * (rank 0 alone) and on every rank of the job:
 *   - a weighted step's gradient is sum_i w_i grad(l_i) / sum_i w_i (the
 *     original's dot(loss, w / sum(w))), against a hand computation of
 *     LogisticRegression's gradient;
 *   - batch-then-sample accumulates kept samples into full batches: the
 *     exact number of optimizer steps, samples trained and scored for given
 *     n, ratio, batch size, epochs and drop_last_batch; 1 and 2 ranks
 *     train the same model within 1e-4;
 *   - a batch filter sees each sample's store key (PassBatch.keys): every
 *     key once per epoch, with its own label;
 *   - the lr schedule's MODYN_NUM_BATCHES is the original's expected
 *     number of batches (downsampling ratio included);
 *   - sample-then-batch selects at the start of every `period`-th epoch
 *     (scored = n per selection), and RS2 without replacement visits every
 *     sample once before repeating across the epochs of a trigger. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/dist.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/store.h"
#include "select/downsampler.h"
#include "testutil.h"
#include "train/model.h"
#include "train/optim.h"
#include "train/trainer.h"

enum { N = 64, D = 4, K = 3 };

static int g_rank;
static Store g_store;

static Model *make_model(void) {
  ModelShape shape = {1, {D, 0, 0, 0}, D, K, 0};
  return model_from_yaml("LogisticRegression", "num_classes: 3\n", &shape, 11);
}

static void make_sgd(Optimizer *o, Model *m, double lr) {
  OptimizerConfig oc;
  memset(&oc, 0, sizeof oc);
  oc.num_groups = 1;
  oc.groups[0] = (ParamGroupConfig){"model", lr, 0, 0, 0, 0.9, 0.999, 1e-8};
  strcpy(oc.algorithm, "SGD");
  CHECK_OK(optim_init(o, &oc, m, m->nparams));
}

static Downsampler *make_downsampler(const char *yaml, CfgDoc *doc) {
  Downsampler *ds = NULL;
  CHECK_OK(cfg_load_string("ds.yaml", yaml, doc));
  CfgRef root = cfg_root(doc);
  CHECK_OK(downsampler_create(&root, &ds));
  return ds;
}

/* Train keys 100 .. 100 + n - 1 (weights may be NULL); params_out gets the
 * trained weights. */
typedef struct {
  int64_t n, batch, epochs;
  int drop_last;
  const float *weights;
  BatchFilter *filter;
  EpochHook *hook;
  double lr;
} Run;

static void train(const Dist *d, const Run *r, TrainStats *st, float *params_out) {
  Model *m = make_model();
  CHECK(m != NULL);
  if (!m) return;
  Optimizer o;
  make_sgd(&o, m, r->lr);
  int64_t keys[N];
  for (int64_t i = 0; i < r->n; i++) keys[i] = 100 + i;
  TrainOptions opt = {.batch_size = r->batch, .drop_last_batch = r->drop_last, .shuffle = 1,
                      .epochs = r->epochs};
  TrainPlan plan;
  memset(&plan, 0, sizeof plan);
  plan.io = (ReaderConfig){100, 0, 1, 1};
  plan.seed = 5;
  plan.filter = r->filter;
  plan.epoch_hook = r->hook;
  memset(st, 0, sizeof *st);
  CHECK_OK(trainer_run(d, m, &o, &g_store, keys, r->weights, r->n, &opt, &plan, st));
  if (params_out) memcpy(params_out, m->params, (size_t)m->nparams * sizeof(float));
  optim_free(&o);
  model_free(m);
}

/* ---- weighted loss ---------------------------------------------------------------- */

/* One SGD step (lr 1) on samples 100..102 with weights 2, 1, 0.5: the
 * weights move by -sum_i w_i grad(l_i) / 3.5, computed here by hand in
 * double from the initial weights and the features. */
static void test_weighted_gradient(const Dist *d) {
  const float w[3] = {2.0f, 1.0f, 0.5f};
  Model *m0 = make_model();
  CHECK(m0 != NULL);
  if (!m0) return;
  const int64_t P = m0->nparams; /* W [K x D], then b [K] */
  double want[(K + 1) * D + K];
  int64_t keys[3] = {100, 101, 102}, rows[3];
  float x[3 * D];
  CHECK_OK(store_find_rows(&g_store, keys, 3, rows));
  CHECK_OK(store_read_features_f32(&g_store, rows, 3, x));
  double g[(K + 1) * D + K];
  memset(g, 0, sizeof g);
  for (int i = 0; i < 3; i++) {
    const int y = g_store.labels[rows[i]];
    double z[K], mx = -1e300, se = 0;
    for (int k = 0; k < K; k++) {
      z[k] = m0->params[K * D + k];
      for (int j = 0; j < D; j++) z[k] += (double)m0->params[k * D + j] * x[i * D + j];
      mx = z[k] > mx ? z[k] : mx;
    }
    for (int k = 0; k < K; k++) se += exp(z[k] - mx);
    for (int k = 0; k < K; k++) {
      const double dz = w[i] * (exp(z[k] - mx) / se - (k == y));
      for (int j = 0; j < D; j++) g[k * D + j] += dz * x[i * D + j];
      g[K * D + k] += dz;
    }
  }
  for (int64_t p = 0; p < P; p++) want[p] = m0->params[p] - g[p] / 3.5;
  float got[(K + 1) * D + K];
  TrainStats st;
  Run r = {3, 3, 1, 0, w, NULL, NULL, 1.0};
  train(d, &r, &st, got);
  double worst = 0;
  for (int64_t p = 0; p < P; p++) worst = fmax(worst, fabs(got[p] - want[p]));
  if (d->rank == 0)
    printf("# weighted step on %d rank%s: max |w - hand| = %.3g (dividing by n instead: "
           "%.3g)\n",
           d->size, d->size > 1 ? "s" : "", worst, fabs(g[0] / 3.5 - g[0] / 3.0));
  CHECK(worst < 1e-6);
  CHECK_EQ_INT(st.steps, 1);
  CHECK_EQ_INT(st.samples, 3);
  /* the mean loss is weighted the same way: sum w l / sum w */
  CHECK(isfinite(st.first_loss) && st.first_loss > 0);
  model_free(m0);
}

/* ---- batch-then-sample accumulation --------------------------------------------------- */

typedef struct {
  const char *ratio; /* the Loss downsampler's ratio */
  int64_t n, batch, epochs;
  int drop_last;
  int64_t steps, samples, scored;
} AccCase;

static void test_accumulation(const Dist *d, float *params_c) {
  static const AccCase cases[] = {
      /* 36 = 4 batches of 8 and one of 4, keeping 4, 4, 4, 4, 2 = 18: two
       * full steps and the 2 left over as a last one */
      {"50", 36, 8, 1, 0, 3, 18, 36},
      {"50", 36, 8, 1, 1, 2, 16, 32}, /* drop_last: 4 batches keep 16 */
      /* the remainder carries across epochs: 3 x 18 = 54 = 6 x 8 + 6, not
       * 3 x 3 steps */
      {"50", 36, 8, 3, 0, 7, 54, 108},
      {"50", 36, 8, 3, 1, 6, 48, 96},
      {"25", 64, 8, 1, 0, 2, 16, 64},   /* 8 batches keep 2 each: 4 per step */
      {"30", 50, 10, 1, 0, 2, 15, 50},  /* keeps 3 of 10, which does not divide 10 */
      {"100", 20, 8, 1, 0, 3, 20, 20},  /* everything: the plain steps */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const AccCase *c = &cases[i];
    char yaml[64];
    snprintf(yaml, sizeof yaml, "strategy: Loss\nratio: %s\n", c->ratio);
    CfgDoc doc;
    Downsampler *ds = make_downsampler(yaml, &doc);
    BatchFilter *f = NULL;
    CHECK_OK(downsampler_batch_filter(ds, 42, 3, &f));
    Run r = {c->n, c->batch, c->epochs, c->drop_last, NULL, f, NULL, 0.1};
    TrainStats st;
    train(d, &r, &st, i == 2 ? params_c : NULL);
    if (d->rank == 0)
      printf("# BtS Loss %s%%, n %lld, batch %lld, epochs %lld, drop_last %d on %d rank(s): "
             "%lld steps, %lld trained, %lld scored\n",
             c->ratio, (long long)c->n, (long long)c->batch, (long long)c->epochs, c->drop_last,
             d->size, (long long)st.steps, (long long)st.samples, (long long)st.scored);
    CHECK_EQ_INT(st.steps, c->steps);
    CHECK_EQ_INT(st.samples, c->samples);
    CHECK_EQ_INT(st.scored, c->scored);
    CHECK_EQ_INT(st.epochs, c->epochs);
    batch_filter_free(f);
    downsampler_free(ds);
    cfg_doc_free(&doc);
  }
}

/* ---- the filter sees each sample's key ------------------------------------------------ */

typedef struct {
  int64_t seen[N]; /* times each key (100 + i) was in a scored batch */
  int64_t wrong;   /* keys outside the set, or whose label is not the store's */
} KeyCheck;

static int keycheck_select(BatchFilter *f, const PassBatch *g, int64_t step, int64_t *keep,
                           float *weights, int64_t *nkeep) {
  (void)step;
  KeyCheck *kc = f->impl;
  for (int64_t i = 0; i < g->n; i++) {
    const int64_t k = g->keys ? g->keys[i] - 100 : -1;
    if (k < 0 || k >= N || g->labels[i] != k % K) {
      kc->wrong++;
      continue;
    }
    kc->seen[k]++;
  }
  for (int64_t i = 0; i < g->n; i++) {
    keep[i] = i;
    weights[i] = 1.0f;
  }
  *nkeep = g->n;
  return MH_OK;
}

/* PassBatch.keys: the global batch's store keys, on every rank: each key of
 * the set once per epoch (drop_last: the 32 of the 4 whole batches), each
 * with its own label (label = key % K in the store). */
static void test_filter_keys(const Dist *d) {
  for (int drop = 0; drop < 2; drop++) {
    BatchFilter *f = mh_calloc(1, sizeof *f);
    KeyCheck *kc = mh_calloc(1, sizeof *kc);
    f->impl = kc;
    f->outputs = PASS_LOSS;
    f->select = keycheck_select;
    Run r = {36, 8, 3, drop, NULL, f, NULL, 0.1};
    TrainStats st;
    train(d, &r, &st, NULL);
    int64_t total = 0, max = 0;
    for (int i = 0; i < N; i++) {
      total += kc->seen[i];
      if (kc->seen[i] > max) max = kc->seen[i];
    }
    CHECK_EQ_INT(kc->wrong, 0);
    CHECK_EQ_INT(total, drop ? 3 * 32 : 3 * 36);
    CHECK_EQ_INT(max, 3);
    for (int i = 36; i < N; i++) CHECK_EQ_INT(kc->seen[i], 0);
    if (!drop)
      for (int i = 0; i < 36; i++) CHECK_EQ_INT(kc->seen[i], 3);
    batch_filter_free(f);
  }
}

/* ---- the lr schedule's MODYN_NUM_BATCHES ----------------------------------------------- */

/* The original's expected sizes: n / B whole batches per epoch, scaled by
 * the downsampling ratio (integer arithmetic), times the epochs. */
static void test_expected_sizes(void) {
  static const struct {
    int64_t n, batch, epochs, to_pass, ratio, ratio_max;
    int hook;
    int64_t batches, epochs_out;
  } cases[] = {
      {36, 8, 3, 0, 0, 0, 0, 12, 3},   /* 4 whole batches x 3 */
      {36, 8, 3, 0, 50, 100, 0, 6, 3}, /* 32 * 50 / 100 = 16 -> 2 x 3 */
      {36, 8, 3, 0, 25, 100, 1, 3, 3}, /* StB: 8 -> 1 x 3 */
      {36, 8, 3, 0, 10, 100, 0, 0, 3}, /* 3 samples: no whole batch */
      {36, 8, 3, 20, 0, 0, 0, 3, 1},   /* num_samples_to_pass 20: 3 batches, 1 epoch */
      {36, 8, 1, 70, 0, 0, 0, 9, 3},   /* 9 batches span 3 epochs of 4 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    TrainOptions opt = {.batch_size = cases[i].batch, .epochs = cases[i].epochs,
                        .num_samples_to_pass = cases[i].to_pass};
    BatchFilter f;
    EpochHook h;
    memset(&f, 0, sizeof f);
    memset(&h, 0, sizeof h);
    f.ratio = h.ratio = cases[i].ratio;
    f.ratio_max = h.ratio_max = cases[i].ratio_max;
    TrainPlan plan;
    memset(&plan, 0, sizeof plan);
    if (cases[i].ratio_max) {
      if (cases[i].hook) plan.epoch_hook = &h;
      else plan.filter = &f;
    }
    int64_t b = -1, e = -1;
    trainer_expected_sizes(cases[i].n, &opt, &plan, &b, &e);
    CHECK_EQ_INT(b, cases[i].batches);
    CHECK_EQ_INT(e, cases[i].epochs_out);
  }
}

/* ---- sample-then-batch: selections per period ---------------------------------------- */

static void test_stb_period(const Dist *d) {
  static const struct {
    const char *period;
    int64_t epochs, selections;
  } cases[] = {{"0", 5, 1}, {"1", 5, 5}, {"2", 5, 3}, {"3", 7, 3}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char yaml[128];
    snprintf(yaml, sizeof yaml, "strategy: Loss\nratio: 50\nsample_then_batch: true\nperiod: %s\n",
             cases[i].period);
    CfgDoc doc;
    Downsampler *ds = make_downsampler(yaml, &doc);
    EpochHook *h = NULL;
    CHECK_OK(downsampler_epoch_hook(ds, NULL, 7, 0, &h));
    /* 40 samples, batch 10: each selection keeps 20 */
    Run r = {40, 10, cases[i].epochs, 0, NULL, NULL, h, 0.1};
    TrainStats st;
    train(d, &r, &st, NULL);
    if (d->rank == 0)
      printf("# StB Loss period %s, %lld epochs on %d rank(s): scored %lld, trained %lld, "
             "%lld steps\n",
             cases[i].period, (long long)cases[i].epochs, d->size, (long long)st.scored,
             (long long)st.samples, (long long)st.steps);
    CHECK_EQ_INT(st.scored, 40 * cases[i].selections);
    CHECK_EQ_INT(st.samples, 20 * cases[i].epochs);
    CHECK_EQ_INT(st.steps, 2 * cases[i].epochs);
    CHECK_EQ_INT(st.epochs, cases[i].epochs);
    epoch_hook_free(h);
    downsampler_free(ds);
    cfg_doc_free(&doc);
  }
}

/* ---- RS2 across the epochs of one trigger ---------------------------------------------- */

/* The hook's sets, epoch after epoch, straight from the hook: 12 keys,
 * ratio 25 (3 per epoch). Without replacement every 4 epochs visit each
 * key once; with replacement each epoch draws 3 distinct keys. The sets
 * are the same on every rank. */
static void test_rs2(const Dist *d) {
  int64_t keys[12];
  for (int i = 0; i < 12; i++) keys[i] = 100 + i;
  Model *m = make_model();
  const EpochView v = {d, m, &g_store, 0, 4, keys, NULL, 12};
  for (int wr = 0; wr < 2; wr++) {
    char yaml[96];
    snprintf(yaml, sizeof yaml, "strategy: RS2\nratio: 25\nwith_replacement: %s\n",
             wr ? "true" : "false");
    CfgDoc doc;
    Downsampler *ds = make_downsampler(yaml, &doc);
    EpochHook *h = NULL;
    CHECK_OK(downsampler_epoch_hook(ds, NULL, 9, 2, &h));
    EpochSet set;
    memset(&set, 0, sizeof set);
    int seen[12] = {0};
    int64_t repeats = 0, differ = 0;
    for (int64_t e = 0; e < 8; e++) {
      set.replaced = 0;
      set.scored = 0;
      CHECK_OK(h->begin_epoch(h, &v, e, &set));
      CHECK_EQ_INT(set.replaced, 1);
      CHECK_EQ_INT(set.keys.len, 3);
      CHECK_EQ_INT(set.weights.len, 3);
      CHECK_EQ_INT(set.scored, 0); /* RS2 runs no model */
      if (set.keys.len != 3) break;
      int64_t first[3];
      memcpy(first, set.keys.data, sizeof first);
      MPI_Bcast(first, 3, MPI_INT64_T, 0, d->comm);
      differ += memcmp(first, set.keys.data, sizeof first) != 0;
      if (!wr && e % 4 == 0) memset(seen, 0, sizeof seen);
      for (int i = 0; i < 3; i++) {
        const int64_t k = set.keys.data[i] - 100;
        CHECK(k >= 0 && k < 12 && set.weights.data[i] == 1.0f);
        if (k < 0 || k >= 12) continue;
        if (wr) repeats += i > 0 && set.keys.data[i] == set.keys.data[i - 1];
        else repeats += seen[k]++ > 0;
      }
      if (!wr && e % 4 == 3)
        for (int k = 0; k < 12; k++) CHECK_EQ_INT(seen[k], 1); /* the pass visited all */
    }
    if (d->rank == 0)
      printf("# RS2 %s replacement, 8 epochs of 3 of 12 on %d rank(s): repeats within a pass "
             "%lld, sets differing from rank 0's %lld\n",
             wr ? "with" : "without", d->size, (long long)repeats, (long long)differ);
    CHECK_EQ_INT(repeats, 0);
    CHECK_EQ_INT(differ, 0);
    i64vec_free(&set.keys);
    f32vec_free(&set.weights);
    epoch_hook_free(h);
    downsampler_free(ds);
    cfg_doc_free(&doc);
  }
  model_free(m);
}

/* ---- the store ------------------------------------------------------------------------ */

static void make_store(const char *dir) {
  StoreSchema sc = {FEAT_F32, 1, {D, 0, 0, 0}, K};
  StoreWriter w;
  int64_t keys[N], ts[N];
  int32_t labels[N];
  float f[N * D];
  Rng rng;
  rng_seed(&rng, 3);
  for (int i = 0; i < N; i++) {
    keys[i] = 100 + i;
    ts[i] = i;
    labels[i] = i % K;
    for (int j = 0; j < D; j++) f[i * D + j] = (float)rng_normal(&rng) + (j == labels[i]);
  }
  CHECK_OK(store_writer_open(dir, &sc, 0, &w));
  CHECK_OK(store_write_shard(&w, N, keys, ts, labels, f));
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  mh_hdf5_quiet();
  int size;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char dir[64] = "tmp_trainer_select";
  if (g_rank == 0) {
    test_tmpdir("trainer_select");
    make_store(dir);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  CHECK_OK(store_open(dir, &g_store));
  if (g_rank == 0) test_expected_sizes();
  float *pc[2] = {calloc((K + 1) * D + K, sizeof(float)), calloc((K + 1) * D + K, sizeof(float))};
  /* rank 0 alone, then every rank */
  for (int g = 0; g < 2; g++) {
    MPI_Comm comm;
    MPI_Comm_split(MPI_COMM_WORLD, g == 1 || g_rank == 0 ? 0 : MPI_UNDEFINED, g_rank, &comm);
    if (comm == MPI_COMM_NULL) continue;
    Dist d;
    CHECK_OK(dist_init(&d, comm));
    test_weighted_gradient(&d);
    test_accumulation(&d, pc[g]);
    test_filter_keys(&d);
    test_stb_period(&d);
    test_rs2(&d);
    MPI_Comm_free(&comm);
  }
  if (g_rank == 0) {
    double worst = 0;
    for (int p = 0; p < (K + 1) * D + K; p++) worst = fmax(worst, fabs(pc[0][p] - pc[1][p]));
    printf("# BtS with accumulation (n 36, batch 8, 3 epochs): max |w(1 rank) - w(%d ranks)| "
           "= %.3g\n",
           size, worst);
    CHECK(worst <= 1e-4);
    if (size == 1) printf("test_trainer_select: run on 2 ranks to compare rank counts\n");
  }
  free(pc[0]);
  free(pc[1]);
  store_close(&g_store);
  int fails = test_failures, all = 0;
  MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  int rc = 0;
  if (g_rank == 0) {
    test_failures = all;
    rc = test_finish("test_trainer_select");
  }
  MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Finalize();
  return rc;
}

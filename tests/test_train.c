/* test_train.c - the training core: softmax cross-entropy against hand
 * values, a finite-difference check of LogisticRegression's gradient,
 * SGD/Adam steps against hand-computed updates, a bit-identical
 * checkpoint round trip, and the trainer's epoch and batch counts
 * (drop_last_batch, epochs_per_trigger, num_samples_to_pass). */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/dist.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/store.h"
#include "testutil.h"
#include "train/checkpoint.h"
#include "train/loss.h"
#include "train/model_storage.h"
#include "train/model.h"
#include "train/optim.h"
#include "train/sched.h"
#include "train/trainer.h"

static void test_loss(void) {
  const float z[6] = {1, 2, 3, 0, 0, 0};
  const int32_t y[2] = {2, 0};
  const float w[2] = {2.0f, 1.0f};
  float d[6], per[2];
  double sum = 0;
  CHECK_OK(loss_softmax_ce(z, y, w, 2, 3, d, &sum, per));
  /* log(e + e^2 + e^3) - 3 = 0.4076059645; log 3 = 1.0986122887 */
  CHECK_NEAR(per[0], 0.4076059645, 1e-6);
  CHECK_NEAR(per[1], 1.0986122887, 1e-6);
  CHECK_NEAR(sum, 2 * 0.4076059645 + 1.0986122887, 1e-6);
  /* softmax(1,2,3) = 0.0900305732, 0.2447284711, 0.6652409558; times w = 2 */
  CHECK_NEAR(d[0], 2 * 0.0900305732, 1e-6);
  CHECK_NEAR(d[1], 2 * 0.2447284711, 1e-6);
  CHECK_NEAR(d[2], 2 * (0.6652409558 - 1), 1e-6);
  CHECK_NEAR(d[3], 1.0 / 3 - 1, 1e-6);
  CHECK_NEAR(d[4], 1.0 / 3, 1e-6);
  const int32_t bad[1] = {3};
  CHECK(loss_softmax_ce(z, bad, NULL, 1, 3, d, &sum, NULL) == MH_ERR);
  CHECK_STR(mh_error(), "label 3 is outside [0, 3)");
}

static Model *make_logreg(int D, int K, CfgDoc *doc) {
  char yaml[64];
  snprintf(yaml, sizeof yaml, "num_classes: %d\n", K);
  if (cfg_load_string("model.yaml", yaml, doc)) return NULL;
  CfgRef root = cfg_root(doc), id = root;
  ModelShape shape = {1, {D, 0, 0, 0}, D, K};
  Model *m = NULL;
  if (model_create("LogisticRegression", &id, &root, &shape, &m)) return NULL;
  return m;
}

static double batch_loss(Model *m, const float *x, const int32_t *y, int n, float *logits) {
  double sum = 0;
  m->forward(m, x, n, logits, 1);
  loss_softmax_ce(logits, y, NULL, n, m->num_outputs, NULL, &sum, NULL);
  return sum;
}

/* Central differences on every parameter; tolerance 1e-3 abs + 1e-2 rel
 * (float32 forward, step 1e-2). */
static void test_gradcheck(void) {
  enum { D = 5, K = 3, N = 7 };
  CfgDoc doc;
  Model *m = make_logreg(D, K, &doc);
  CHECK(m != NULL);
  if (!m) return;
  Rng rng;
  rng_seed(&rng, 1);
  m->init(m, &rng);
  float x[N * D], logits[N * K], dl[N * K];
  int32_t y[N];
  for (int i = 0; i < N * D; i++) x[i] = (float)rng_normal(&rng);
  for (int i = 0; i < N; i++) y[i] = (int32_t)rng_below(&rng, K);
  double sum;
  model_zero_grad(m);
  m->forward(m, x, N, logits, 1);
  loss_softmax_ce(logits, y, NULL, N, K, dl, &sum, NULL);
  m->backward(m, x, dl, N);
  double worst = 0;
  const double h = 1e-2;
  for (int64_t p = 0; p < m->nparams; p++) {
    float keep = m->params[p];
    m->params[p] = keep + (float)h;
    double up = batch_loss(m, x, y, N, logits);
    m->params[p] = keep - (float)h;
    double down = batch_loss(m, x, y, N, logits);
    m->params[p] = keep;
    double num = (up - down) / (2 * h);
    double err = fabs(num - m->grads[p]) / (1e-3 + 1e-2 * fabs(num));
    if (err > worst) worst = err;
  }
  printf("logreg gradcheck: worst scaled error %.3g (must be <= 1)\n", worst);
  CHECK(worst <= 1.0);
  model_free(m);
  cfg_doc_free(&doc);
}

static void test_optim(void) {
  OptimizerConfig oc;
  memset(&oc, 0, sizeof oc);
  oc.num_groups = 1;
  oc.groups[0] = (ParamGroupConfig){"model", 0.1, 0.9, 0.1, 0, 0.9, 0.999, 1e-8};
  strcpy(oc.algorithm, "SGD");
  Optimizer o;
  float p[1] = {1.0f};
  const float g[1] = {0.5f};
  CHECK_OK(optim_init(&o, &oc, NULL, 1));
  optim_step(&o, p, g); /* d = 0.5 + 0.1*1 = 0.6; buf = 0.6; p = 0.94 */
  CHECK_NEAR(p[0], 0.94, 1e-6);
  optim_step(&o, p, g); /* d = 0.594; buf = 0.9*0.6 + 0.594 = 1.134; p = 0.8266 */
  CHECK_NEAR(p[0], 0.8266, 1e-6);
  optim_free(&o);

  oc.groups[0].nesterov = 1;
  p[0] = 1.0f;
  CHECK_OK(optim_init(&o, &oc, NULL, 1));
  optim_step(&o, p, g); /* d = 0.6 + 0.9*0.6 = 1.14; p = 0.886 */
  CHECK_NEAR(p[0], 0.886, 1e-6);
  optim_free(&o);

  strcpy(oc.algorithm, "Adam");
  oc.groups[0].weight_decay = 0;
  p[0] = 1.0f;
  CHECK_OK(optim_init(&o, &oc, NULL, 1));
  optim_step(&o, p, g); /* first Adam step moves by lr * sign(g) */
  CHECK_NEAR(p[0], 0.9, 1e-6);
  optim_free(&o);

  strcpy(oc.algorithm, "AdamW");
  oc.groups[0].weight_decay = 0.5;
  p[0] = 1.0f;
  CHECK_OK(optim_init(&o, &oc, NULL, 1));
  optim_step(&o, p, g); /* p = 1*(1 - 0.1*0.5) - 0.1 = 0.85 */
  CHECK_NEAR(p[0], 0.85, 1e-6);
  optim_free(&o);
}

static void test_checkpoint(void) {
  const char *dir = test_tmpdir("checkpoint");
  char path[600];
  snprintf(path, sizeof path, "%s/trigger_0003.h5", dir);
  CfgDoc d1, d2;
  Model *a = make_logreg(6, 4, &d1), *b = make_logreg(6, 4, &d2);
  CHECK(a && b);
  if (!a || !b) return;
  Rng rng;
  rng_seed(&rng, 5);
  a->init(a, &rng);
  OptimizerConfig oc;
  memset(&oc, 0, sizeof oc);
  oc.num_groups = 1;
  oc.groups[0] = (ParamGroupConfig){"model", 0.01, 0.9, 0, 0, 0.9, 0.999, 1e-8};
  strcpy(oc.algorithm, "Adam");
  Optimizer oa, ob;
  CHECK_OK(optim_init(&oa, &oc, a, a->nparams));
  CHECK_OK(optim_init(&ob, &oc, b, b->nparams));
  for (int64_t i = 0; i < a->nparams; i++) a->grads[i] = (float)rng_normal(&rng);
  optim_step(&oa, a->params, a->grads);
  optim_step(&oa, a->params, a->grads);
  CheckpointMeta meta = {.trigger = 3, .first_timestamp = 100, .last_timestamp = 199,
                        .parent = 2, .num_samples = 1234, .stream_index = 5001,
                        .new_samples = 502, .samples_trained = 3703, .epochs = 3,
                        .loss_first = 0.75, .loss_last = 0.25, .train_seconds = 1.5}, back;
  CHECK_OK(checkpoint_write(path, a, &oa, &meta, NULL, NULL, NULL));
  CHECK_OK(checkpoint_read(path, b, &ob, &back, NULL));
  CHECK(memcmp(a->params, b->params, (size_t)a->nparams * sizeof(float)) == 0);
  CHECK(memcmp(oa.m, ob.m, (size_t)a->nparams * sizeof(float)) == 0);
  CHECK(memcmp(oa.v, ob.v, (size_t)a->nparams * sizeof(float)) == 0);
  CHECK_EQ_INT(ob.step, 2);
  CHECK_EQ_INT(back.trigger, 3);
  CHECK_EQ_INT(back.first_timestamp, 100);
  CHECK_EQ_INT(back.last_timestamp, 199);
  CHECK_EQ_INT(back.parent, 2);
  CHECK_EQ_INT(back.num_samples, 1234);
  CHECK(back.loss_last == 0.25);
  /* Each statistic distinct, so swapped attribute names would show. */
  CHECK_EQ_INT(back.stream_index, 5001);
  CHECK_EQ_INT(back.new_samples, 502);
  CHECK_EQ_INT(back.samples_trained, 3703);
  CHECK_EQ_INT(back.epochs, 3);
  CHECK(back.loss_first == 0.75);
  CHECK(back.train_seconds == 1.5);
  /* One flipped bit in the weights, then in the optimizer state: the read
   * fails and names what is damaged. */
  for (int part = 0; part < 2; part++) {
    CHECK_OK(checkpoint_write(path, a, &oa, &meta, NULL, NULL, NULL));
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, part ? "optimizer/m" : "params", H5P_DEFAULT);
    float *w = malloc((size_t)a->nparams * sizeof(float));
    H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w);
    uint32_t bits;
    memcpy(&bits, &w[1], 4);
    bits ^= 1u << 3;
    memcpy(&w[1], &bits, 4);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w);
    free(w);
    H5Dclose(ds);
    H5Fclose(f);
    CHECK(checkpoint_read(path, b, &ob, &back, NULL) == MH_ERR);
    char want[256];
    snprintf(want, sizeof want, "checkpoint %s: damaged file: its %s (", path,
             part ? "optimizer_checksum" : "weights_checksum");
    CHECK(strncmp(mh_error(), want, strlen(want)) == 0);
    if (strncmp(mh_error(), want, strlen(want))) fprintf(stderr, "got: %s\n", mh_error());
  }
  /* A changed metadata attribute (last_timestamp decides the evaluation
   * intervals a model serves): the read fails too. */
  CHECK_OK(checkpoint_write(path, a, &oa, &meta, NULL, NULL, NULL));
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t at = H5Aopen(f, "last_timestamp", H5P_DEFAULT);
  int64_t later = 299;
  H5Awrite(at, H5T_NATIVE_INT64, &later);
  H5Aclose(at);
  H5Fclose(f);
  CHECK(checkpoint_read(path, b, &ob, &back, NULL) == MH_ERR);
  char want[256];
  snprintf(want, sizeof want, "checkpoint %s: damaged file: its meta_checksum (", path);
  CHECK(strncmp(mh_error(), want, strlen(want)) == 0);
  if (strncmp(mh_error(), want, strlen(want))) fprintf(stderr, "got: %s\n", mh_error());
  optim_free(&oa);
  optim_free(&ob);
  model_free(a);
  model_free(b);
  cfg_doc_free(&d1);
  cfg_doc_free(&d2);
}

/* A mid-trigger checkpoint: model, optimizer and every field of the point
 * (distinct values, so a swapped attribute would show) read back exactly;
 * a changed waiting sample or random stream word is a damaged file. */
static void test_checkpoint_point(void) {
  const char *dir = test_tmpdir("checkpoint_point");
  char path[600];
  snprintf(path, sizeof path, "%s/trigger_0002_partial.h5", dir);
  CfgDoc d1, d2;
  Model *a = make_logreg(6, 4, &d1), *b = make_logreg(6, 4, &d2);
  CHECK(a && b);
  if (!a || !b) return;
  Rng rng;
  rng_seed(&rng, 9);
  a->init(a, &rng);
  OptimizerConfig oc;
  memset(&oc, 0, sizeof oc);
  oc.num_groups = 1;
  oc.groups[0] = (ParamGroupConfig){"model", 0.1, 0.9, 0, 0, 0.9, 0.999, 1e-8};
  strcpy(oc.algorithm, "SGD");
  Optimizer oa, ob;
  CHECK_OK(optim_init(&oa, &oc, a, a->nparams));
  CHECK_OK(optim_init(&ob, &oc, b, b->nparams));
  for (int64_t i = 0; i < a->nparams; i++) a->grads[i] = (float)rng_normal(&rng);
  optim_step(&oa, a->params, a->grads);
  int64_t rows[3] = {17, 4, 9};
  float w[3] = {0.5f, 1.25f, 2.0f};
  int32_t owner[3] = {0, 1, 1};
  uint64_t streams[2 * 1 * 4] = {1, 2, 3, 4, 0xfedcba9876543210ull, 6, 7, 8};
  TrainPoint p = {12, 768, 1536, 2, 0.9, 0.8, 3.5, 2, 41.5, 128.0, 1792, 28, 2, 3,
                  rows, w, owner, 1, streams}, q;
  CheckpointMeta meta = {.trigger = 2, .first_timestamp = 10, .last_timestamp = 20}, back;
  CHECK_OK(checkpoint_write_point(path, a, &oa, &meta, &p, 0x1234abcdull));
  uint64_t sum = 0;
  CHECK_OK(checkpoint_read_point(path, b, &ob, &back, &q, &sum));
  CHECK(memcmp(a->params, b->params, (size_t)a->nparams * sizeof(float)) == 0);
  CHECK(memcmp(oa.m, ob.m, (size_t)a->nparams * sizeof(float)) == 0);
  CHECK_EQ_INT(ob.step, 1);
  CHECK_EQ_INT(back.trigger, 2);
  CHECK(sum == 0x1234abcdull);
  CHECK_EQ_INT(q.steps, 12);
  CHECK_EQ_INT(q.samples, 768);
  CHECK_EQ_INT(q.scored, 1536);
  CHECK_EQ_INT(q.epochs, 2);
  CHECK(q.first_loss == 0.9 && q.last_loss == 0.8 && q.seconds == 3.5);
  CHECK_EQ_INT(q.epoch, 2);
  CHECK(q.epoch_loss == 41.5 && q.epoch_wsum == 128.0);
  CHECK_EQ_INT(q.visited, 1792);
  CHECK_EQ_INT(q.batches, 28);
  CHECK_EQ_INT(q.ranks, 2);
  CHECK_EQ_INT(q.nacc, 3);
  CHECK_EQ_INT(q.nrng, 1);
  for (int i = 0; i < 3 && q.nacc == 3; i++) {
    CHECK_EQ_INT(q.acc_rows[i], rows[i]);
    CHECK(q.acc_weights[i] == w[i]);
    CHECK_EQ_INT(q.acc_owner[i], owner[i]);
  }
  CHECK(q.rng && memcmp(q.rng, streams, sizeof streams) == 0);
  train_point_free(&q);
  /* one changed value in each of the point's datasets */
  const char *names[2] = {"train_point/acc_rows", "train_point/rng"};
  for (int k = 0; k < 2; k++) {
    CHECK_OK(checkpoint_write_point(path, a, &oa, &meta, &p, 0x1234abcdull));
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, names[k], H5P_DEFAULT);
    int64_t v[8];
    H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    v[1] ^= 1;
    H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    H5Fclose(f);
    CHECK(checkpoint_read_point(path, b, &ob, &back, &q, &sum) == MH_ERR);
    char want[256];
    snprintf(want, sizeof want, "checkpoint %s: damaged file: its point_checksum (", path);
    CHECK(strncmp(mh_error(), want, strlen(want)) == 0);
    if (strncmp(mh_error(), want, strlen(want))) fprintf(stderr, "got: %s\n", mh_error());
  }
  /* a plain trigger checkpoint is not a mid-trigger one, and has no streams */
  CHECK_OK(checkpoint_write(path, a, &oa, &meta, NULL, NULL, NULL));
  CHECK(checkpoint_read_point(path, b, &ob, &back, &q, &sum) == MH_ERR);
  CHECK(strstr(mh_error(), "has no /train_point") != NULL);
  uint64_t *got = NULL;
  int64_t words = -1;
  CHECK_OK(checkpoint_read_rng(path, &got, &words));
  CHECK(got == NULL && words == 0);
  /* a trigger checkpoint with the ranks' streams: read back exactly; a
   * changed word is damage */
  CHECK_OK(checkpoint_write_rng(path, a, &oa, &meta, NULL, NULL, NULL, streams, 8));
  CHECK_OK(checkpoint_read_rng(path, &got, &words));
  CHECK_EQ_INT(words, 8);
  CHECK(got && memcmp(got, streams, sizeof streams) == 0);
  free(got);
  CHECK_OK(checkpoint_read(path, b, &ob, &back, NULL));
  {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "rng", H5P_DEFAULT);
    int64_t v[8];
    H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    v[6] ^= 4;
    H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    H5Fclose(f);
    CHECK(checkpoint_read_rng(path, &got, &words) == MH_ERR);
    CHECK(strstr(mh_error(), "damaged file: its rng_checksum") != NULL);
  }
  optim_free(&oa);
  optim_free(&ob);
  model_free(a);
  model_free(b);
  cfg_doc_free(&d1);
  cfg_doc_free(&d2);
}

/* A chain of models stored as WeightsDifference (sub and xor) with a full
 * model every 3 triggers, and a deflated full model: every one loads back
 * bit-identically, and the differences take less space than full models. */
static void test_model_storage(void) {
  const char *dir = test_tmpdir("storage");
  enum { D = 2000, K = 10, T = 7 };
  for (int op = 0; op < 2; op++) {
    CfgDoc d1, d2, sd;
    Model *a = make_logreg(D, K, &d1), *b = make_logreg(D, K, &d2);
    CHECK(a && b);
    if (!a || !b) return;
    const char *yaml = op ? "incremental_model_strategy:\n  name: WeightsDifference\n  config: {operator: xor}\n  full_model_interval: 3\n"
                          : "full_model_strategy: {name: BinaryFullModel, zip: true}\nincremental_model_strategy:\n  name: WeightsDifference\n  config: {operator: sub}\n  full_model_interval: 3\n";
    CHECK_OK(cfg_load_string("storage.yaml", yaml, &sd));
    CfgRef root = cfg_root(&sd);
    ModelStorage ms;
    CHECK_OK(model_storage_parse(&root, &ms));
    CHECK_EQ_INT(ms.incremental, 1);
    CHECK_EQ_INT(ms.op, op ? DELTA_XOR : DELTA_SUB);
    CHECK_EQ_INT(ms.full_model_interval, 3);
    Rng rng;
    rng_seed(&rng, 9);
    a->init(a, &rng);
    float *hist = malloc(sizeof(float) * (size_t)(a->nparams * T));
    float *prev = malloc(sizeof(float) * (size_t)a->nparams);
    int64_t bytes[T];
    for (int t = 0; t < T; t++) {
      /* A training-like small change to every weight (relative 1e-3). */
      for (int64_t i = 0; i < a->nparams; i++)
        a->params[i] += 1e-3f * a->params[i] * (float)rng_normal(&rng);
      memcpy(hist + t * a->nparams, a->params, sizeof(float) * (size_t)a->nparams);
      char path[600];
      snprintf(path, sizeof path, "%s/trigger_%04d.h5", dir, t);
      CheckpointMeta meta = {.trigger = t, .last_timestamp = t, .parent = t - 1, .num_samples = 1};
      CHECK_OK(checkpoint_write(path, a, NULL, &meta, &ms, t ? prev : NULL, &bytes[t]));
      memcpy(prev, a->params, sizeof(float) * (size_t)a->nparams);
    }
    for (int t = 0; t < T; t++) {
      char path[600];
      snprintf(path, sizeof path, "%s/trigger_%04d.h5", dir, t);
      CheckpointMeta back;
      memset(b->params, 0, sizeof(float) * (size_t)b->nparams);
      CHECK_OK(checkpoint_read(path, b, NULL, &back, NULL));
      CHECK(memcmp(b->params, hist + t * a->nparams, sizeof(float) * (size_t)a->nparams) == 0);
      /* Reading in order with the previous trigger's weights at hand (no
       * base files read) gives the same bits. */
      memset(b->params, 0, sizeof(float) * (size_t)b->nparams);
      CHECK_OK(checkpoint_read(path, b, NULL, &back, t ? hist + (t - 1) * a->nparams : NULL));
      CHECK(memcmp(b->params, hist + t * a->nparams, sizeof(float) * (size_t)a->nparams) == 0);
    }
    printf("model storage (%s): bytes per trigger:", op ? "xor" : "sub, zip");
    for (int t = 0; t < T; t++) printf(" %lld", (long long)bytes[t]);
    printf(" (full float32 weights: %lld)\n", (long long)(a->nparams * 4));
    /* Triggers 1, 2, 4, 5 are differences: at least 25% smaller than the
     * full models 0, 3 and 6. */
    CHECK(bytes[1] < 0.75 * bytes[3] && bytes[2] < 0.75 * bytes[3] && bytes[4] < 0.75 * bytes[3]);
    free(hist);
    free(prev);
    model_free(a);
    model_free(b);
    cfg_doc_free(&d1);
    cfg_doc_free(&d2);
    cfg_doc_free(&sd);
  }
}

/* Learning-rate schedules against hand-computed values, and their errors. */
static void test_sched(void) {
  struct {
    const char *yaml;
    int64_t t;
    double want;
  } cases[] = {
      {"name: StepLR\nconfig: {step_size: 3, gamma: 0.5}\n", 2, 0.1},
      {"name: StepLR\nconfig: {step_size: 3, gamma: 0.5}\n", 3, 0.05},
      {"name: StepLR\nconfig: {step_size: 3, gamma: 0.5}\n", 7, 0.025},
      {"name: CosineAnnealingLR\nconfig: {T_max: 10, eta_min: 0.01}\n", 0, 0.1},
      {"name: CosineAnnealingLR\nconfig: {T_max: 10, eta_min: 0.01}\n", 5, 0.055},
      {"name: CosineAnnealingLR\nconfig: {T_max: 10, eta_min: 0.01}\n", 10, 0.01},
      {"name: LinearLR\nstep_every: batch\nconfig: {start_factor: 0.25, total_iters: 4}\n", 0, 0.025},
      {"name: LinearLR\nstep_every: batch\nconfig: {start_factor: 0.25, total_iters: 4}\n", 2, 0.0625},
      {"name: LinearLR\nstep_every: batch\nconfig: {start_factor: 0.25, total_iters: 4}\n", 9, 0.1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    CfgDoc doc;
    LrSchedule s;
    CHECK_OK(cfg_load_string("sched.yaml", cases[i].yaml, &doc));
    CfgRef root = cfg_root(&doc);
    CHECK_OK(sched_parse(&root, &s));
    CHECK_NEAR(sched_lr(&s, 0.1, cases[i].t), cases[i].want, 1e-12);
    cfg_doc_free(&doc);
  }
  CfgDoc doc;
  LrSchedule s;
  CHECK_OK(cfg_load_string("sched.yaml", "name: StepLR\nconfig: {gamma: 0.5}\n", &doc));
  CfgRef root = cfg_root(&doc);
  CHECK(sched_parse(&root, &s) == MH_ERR);
  CHECK_STR(mh_error(), "sched.yaml:2: config.step_size: missing required field");
  cfg_doc_free(&doc);
  CHECK_OK(cfg_load_string("sched.yaml", "name: ExponentialLR\n", &doc));
  root = cfg_root(&doc);
  CHECK(sched_parse(&root, &s) == MH_ERR);
  CHECK_STR(mh_error(), "sched.yaml:1: name: expected one of StepLR, CosineAnnealingLR, LinearLR, got \"ExponentialLR\"");
  cfg_doc_free(&doc);
  /* The original's placeholders, resolved per trigger: 10 batches, 2 epochs. */
  CHECK_OK(cfg_load_string("sched.yaml",
                           "name: CosineAnnealingLR\nstep_every: batch\n"
                           "config: {T_max: MODYN_NUM_BATCHES, eta_min: 0.01}\n",
                           &doc));
  root = cfg_root(&doc);
  CHECK_OK(sched_parse(&root, &s));
  LrSchedule r = sched_resolve(&s, 10, 2);
  CHECK_NEAR(r.t_max, 10, 0);
  CHECK_NEAR(sched_lr(&r, 0.1, 5), 0.055, 1e-12);
  r = sched_resolve(&s, 0, 2); /* no whole batch: at least 1 */
  CHECK_NEAR(r.t_max, 1, 0);
  cfg_doc_free(&doc);
  CHECK_OK(cfg_load_string("sched.yaml",
                           "name: StepLR\nconfig: {step_size: MODYN_NUM_EPOCHS, gamma: 0.5}\n",
                           &doc));
  root = cfg_root(&doc);
  CHECK_OK(sched_parse(&root, &s));
  r = sched_resolve(&s, 10, 3);
  CHECK_NEAR(sched_lr(&r, 0.1, 2), 0.1, 1e-12);
  CHECK_NEAR(sched_lr(&r, 0.1, 3), 0.05, 1e-12);
  cfg_doc_free(&doc);
  CHECK_OK(cfg_load_string("sched.yaml", "name: CosineAnnealingLR\nconfig: {T_max: MODYN_STEPS}\n",
                           &doc));
  root = cfg_root(&doc);
  CHECK(sched_parse(&root, &s) == MH_ERR);
  CHECK_STR(mh_error(), "sched.yaml:2: config.T_max: expected one of MODYN_NUM_BATCHES, "
                        "MODYN_NUM_EPOCHS, got \"MODYN_STEPS\"");
  cfg_doc_free(&doc);
}

/* Param groups: per-group learning rates on named parts of an MLP, frozen
 * parts, and the errors for unknown and doubly claimed modules. */
static void test_param_groups(void) {
  CfgDoc doc;
  CHECK_OK(cfg_load_string("mlp.yaml", "hidden_sizes: [4]\nnum_classes: 2\n", &doc));
  CfgRef root = cfg_root(&doc);
  ModelShape shape = {1, {3, 0, 0, 0}, 3, 2, 0};
  Model *m = NULL;
  CHECK_OK(model_create("MLP", &root, &root, &shape, &m));
  if (!m) return;
  CHECK_EQ_INT(m->nparts, 2);
  CHECK_STR(m->parts[0].name, "model.layers.0");
  CHECK_EQ_INT(m->parts[0].len, 3 * 4 + 4);
  CHECK_STR(m->parts[1].name, "model.layers.1");
  CHECK_EQ_INT(m->parts[1].off, 16);
  CHECK_EQ_INT(m->parts[1].len, 4 * 2 + 2);
  Rng rng;
  rng_seed(&rng, 3);
  m->init(m, &rng);
  for (int64_t i = 0; i < m->nparams; i++) m->grads[i] = (float)(i + 1) * 0.01f;
  float *before = malloc(sizeof(float) * (size_t)m->nparams);
  memcpy(before, m->params, sizeof(float) * (size_t)m->nparams);

  OptimizerConfig oc;
  memset(&oc, 0, sizeof oc);
  strcpy(oc.algorithm, "SGD");
  oc.num_groups = 2;
  oc.groups[0] = (ParamGroupConfig){"model.layers.0", 0.1, 0, 0, 0, 0.9, 0.999, 1e-8};
  oc.groups[1] = (ParamGroupConfig){"model.layers.1", 0.01, 0, 0, 0, 0.9, 0.999, 1e-8};
  Optimizer o;
  CHECK_OK(optim_init(&o, &oc, m, m->nparams));
  optim_step(&o, m->params, m->grads);
  double worst = 0;
  for (int64_t i = 0; i < m->nparams; i++) {
    double lr = i < 16 ? 0.1 : 0.01;
    double d = fabs((double)m->params[i] - ((double)before[i] - lr * m->grads[i]));
    worst = d > worst ? d : worst;
  }
  CHECK(worst < 1e-7);
  optim_free(&o);

  /* Only the first layer in a group: the second is frozen. */
  memcpy(m->params, before, sizeof(float) * (size_t)m->nparams);
  oc.num_groups = 1;
  CHECK_OK(optim_init(&o, &oc, m, m->nparams));
  CHECK_EQ_INT(o.frozen, 10);
  optim_step(&o, m->params, m->grads);
  CHECK(memcmp(m->params + 16, before + 16, sizeof(float) * 10) == 0);
  CHECK(m->params[0] != before[0]);
  optim_free(&o);

  /* A prefix covers several parts; "model" covers all. */
  strcpy(oc.groups[0].module, "model.layers");
  CHECK_OK(optim_init(&o, &oc, m, m->nparams));
  CHECK_EQ_INT(o.frozen, 0);
  optim_free(&o);

  strcpy(oc.groups[0].module, "model.fc1");
  CHECK(optim_init(&o, &oc, m, m->nparams) == MH_ERR);
  CHECK_STR(mh_error(), "training.optimizers[0].param_groups[0].module: no part of the model is called model.fc1; its parts are: model (all), model.layers.0, model.layers.1");
  optim_free(&o);
  oc.num_groups = 2;
  strcpy(oc.groups[0].module, "model");
  CHECK(optim_init(&o, &oc, m, m->nparams) == MH_ERR);
  CHECK_STR(mh_error(), "training.optimizers[0].param_groups[1].module: model.layers.1 is already in param group 0 (module model); each parameter may be in one group only");
  optim_free(&o);
  free(before);
  model_free(m);
  cfg_doc_free(&doc);
}

/* shuffle's visiting order: partitions of k in random order, each a
 * permutation of its own items; one partition = the plain shuffle. */
static void test_visit_order(void) {
  const int64_t n = 23, k = 5;
  int64_t order[23], plain[23];
  Rng r;
  rng_seed(&r, 9);
  CHECK_OK(rng_partition_order(&r, order, n, k));
  int seen[23] = {0}, bad = 0;
  for (int64_t i = 0; i < n; i++) seen[order[i]]++;
  for (int64_t i = 0; i < n; i++) bad += seen[i] != 1;
  /* Walk the partitions: each block in order holds exactly one partition. */
  int64_t o = 0, parts = 0;
  while (o < n) {
    int64_t p = order[o] / k, len = (p + 1) * k < n ? k : n - p * k;
    for (int64_t j = 0; j < len; j++) bad += o + j >= n || order[o + j] / k != p;
    o += len;
    parts++;
  }
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT((int)parts, 5);
  /* Some partition is not in its own place, and some is shuffled inside. */
  int moved = 0, shuffled = 0;
  for (int64_t i = 0; i < n; i++) {
    moved += order[i] / k != i / k;
    shuffled += i > 0 && order[i] / k == order[i - 1] / k && order[i] != order[i - 1] + 1;
  }
  CHECK(moved > 0);
  CHECK(shuffled > 0);
  /* n <= k: exactly rng_shuffle_i64 of 0..n-1 with the same generator. */
  rng_seed(&r, 9);
  CHECK_OK(rng_partition_order(&r, order, n, n));
  for (int64_t i = 0; i < n; i++) plain[i] = i;
  rng_seed(&r, 9);
  rng_shuffle_i64(&r, plain, n);
  CHECK(memcmp(order, plain, sizeof order) == 0);
}

/* trainer_run's counts on one process: every epoch drops its own partial
 * last batch when drop_last_batch is set (PyTorch's DataLoader), exactly
 * `epochs` epochs run, and num_samples_to_pass cuts the pass short
 * (reader.h: the last batch is cut at the limit, even with drop_last). */
enum { TE_N = 12, TE_D = 5, TE_K = 3 };

typedef struct {
  int64_t n, batch;
  int drop_last;
  int64_t epochs, to_pass;
  int64_t want_steps, want_samples, want_epochs;
} EpochCase;

static void train_case(Store *store, const EpochCase *c, double lr, int shuffle, TrainStats *st) {
  CfgDoc doc;
  Model *m = make_logreg(TE_D, TE_K, &doc);
  CHECK(m != NULL);
  if (!m) return;
  Rng rng;
  rng_seed(&rng, 11);
  m->init(m, &rng);
  OptimizerConfig oc;
  memset(&oc, 0, sizeof oc);
  oc.num_groups = 1;
  oc.groups[0] = (ParamGroupConfig){"model", lr, 0.9, 0, 0, 0.9, 0.999, 1e-8};
  strcpy(oc.algorithm, "SGD");
  Optimizer o;
  CHECK_OK(optim_init(&o, &oc, m, m->nparams));
  int64_t keys[TE_N];
  for (int64_t i = 0; i < c->n; i++) keys[i] = 100 + i;
  TrainOptions opt = {.batch_size = c->batch, .drop_last_batch = c->drop_last, .shuffle = shuffle,
                      .epochs = c->epochs, .num_samples_to_pass = c->to_pass};
  TrainPlan plan;
  memset(&plan, 0, sizeof plan);
  plan.io = (ReaderConfig){100, 0, 1, 1};
  plan.seed = 5;
  Dist d = dist_self();
  CHECK_OK(trainer_run(&d, m, &o, store, keys, NULL, c->n, &opt, &plan, st));
  optim_free(&o);
  model_free(m);
  cfg_doc_free(&doc);
}

/* Mean softmax cross-entropy of the initial model (seed 11) on keys
 * 100 .. 100 + n - 1: an epoch's mean loss when lr is 0. */
static double initial_mean_loss(Store *store, int64_t n) {
  CfgDoc doc;
  Model *m = make_logreg(TE_D, TE_K, &doc);
  if (!m) return NAN;
  Rng rng;
  rng_seed(&rng, 11);
  m->init(m, &rng);
  int64_t keys[TE_N], rows[TE_N];
  int32_t y[TE_N];
  float x[TE_N * TE_D], z[TE_N * TE_K];
  for (int64_t i = 0; i < n; i++) keys[i] = 100 + i;
  double sum = NAN;
  if (!store_find_rows(store, keys, n, rows) && !store_read_features_f32(store, rows, n, x)) {
    for (int64_t i = 0; i < n; i++) y[i] = store->labels[rows[i]];
    m->forward(m, x, n, z, 0);
    loss_softmax_ce(z, y, NULL, n, TE_K, NULL, &sum, NULL);
  }
  model_free(m);
  cfg_doc_free(&doc);
  return sum / (double)n;
}

static void test_trainer_epochs(void) {
  const char *dir = test_tmpdir("trainer_epochs");
  StoreSchema sc = {FEAT_F32, 1, {TE_D, 0, 0, 0}, TE_K};
  StoreWriter w;
  int64_t keys[TE_N], ts[TE_N];
  int32_t labels[TE_N];
  float f[TE_N * TE_D];
  Rng rng;
  rng_seed(&rng, 3);
  for (int i = 0; i < TE_N; i++) {
    keys[i] = 100 + i;
    ts[i] = i;
    labels[i] = i % TE_K;
    for (int j = 0; j < TE_D; j++) f[i * TE_D + j] = (float)rng_normal(&rng) + (j == labels[i]);
  }
  CHECK_OK(store_writer_open(dir, &sc, 0, &w));
  CHECK_OK(store_write_shard(&w, TE_N, keys, ts, labels, f));
  Store store;
  memset(&store, 0, sizeof store);
  CHECK_OK(store_open(dir, &store));
  if (store.n != TE_N) return;

  static const EpochCase cases[] = {
      /* n  B  drop epochs pass  steps samples epochs */
      {10, 4, 1, 3, 0, 6, 24, 3},  /* 2 full batches per epoch; the 2 left over dropped */
      {10, 4, 0, 3, 0, 9, 30, 3},  /* 4 + 4 + 2 per epoch */
      {10, 4, 1, 1, 0, 2, 8, 1},
      {8, 4, 1, 3, 0, 6, 24, 3},   /* nothing to drop */
      /* num_samples_to_pass = 10 replaces the epoch count: 8 per epoch with
       * drop_last, so 2 epochs, and the second is cut at the limit after
       * 2 samples (4 + 4 | 2). */
      {10, 4, 1, 3, 10, 3, 10, 2},
      {10, 4, 0, 3, 10, 3, 10, 1}, /* 4 + 4 + 2: one epoch */
      {10, 4, 0, 1, 25, 8, 25, 3}, /* 4 + 4 + 2 | 4 + 4 + 2 | 4 + 1 */
      {3, 4, 1, 3, 0, 0, 0, 0},    /* fewer samples than a batch: nothing trains */
      {3, 4, 0, 3, 0, 3, 9, 3},    /* ... unless the partial batch is kept */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const EpochCase *c = &cases[i];
    for (int shuffle = 0; shuffle < 2; shuffle++) {
      TrainStats st;
      memset(&st, 0, sizeof st);
      train_case(&store, c, 0.1, shuffle, &st);
      printf("trainer n %lld batch %lld drop_last %d epochs %lld to_pass %lld shuffle %d: "
             "steps %lld samples %lld epochs %lld loss %.4f -> %.4f\n",
             (long long)c->n, (long long)c->batch, c->drop_last, (long long)c->epochs,
             (long long)c->to_pass, shuffle, (long long)st.steps, (long long)st.samples,
             (long long)st.epochs, st.first_loss, st.last_loss);
      CHECK_EQ_INT(st.steps, c->want_steps);
      CHECK_EQ_INT(st.samples, c->want_samples);
      CHECK_EQ_INT(st.epochs, c->want_epochs);
      CHECK(isfinite(st.first_loss) && isfinite(st.last_loss));
      if (c->want_epochs > 0) CHECK(st.first_loss > 0 && st.last_loss > 0);
      else CHECK(st.first_loss == 0 && st.last_loss == 0);
    }
  }

  /* lr 0, in key order: every epoch's mean loss is the initial model's mean
   * over the samples the epoch visits, the first 8 with drop_last and all
   * 10 without. */
  TrainStats st;
  const double m8 = initial_mean_loss(&store, 8), m10 = initial_mean_loss(&store, 10);
  CHECK(isfinite(m8) && isfinite(m10) && fabs(m8 - m10) > 1e-3);
  train_case(&store, &cases[0], 0.0, 0, &st);
  CHECK_NEAR(st.first_loss, m8, 1e-6);
  CHECK_NEAR(st.last_loss, m8, 1e-6);
  train_case(&store, &cases[1], 0.0, 0, &st);
  CHECK_NEAR(st.first_loss, m10, 1e-6);
  CHECK_NEAR(st.last_loss, m10, 1e-6);
  store_close(&store);
}

int main(void) {
  mh_hdf5_quiet();
  test_visit_order();
  test_param_groups();
  test_sched();
  test_model_storage();
  test_loss();
  test_gradcheck();
  test_optim();
  test_checkpoint();
  test_checkpoint_point();
  test_trainer_epochs();
  return test_finish("test_train");
}

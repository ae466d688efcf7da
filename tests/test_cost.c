/* test_cost.c - the cost-aware triggers: the cost tracker's regression
 * against hand-computed least squares, the latency tracker's areas, and
 * both triggers on hand-made streams (a stand-in orchestrator that
 * "trains" at each fire and logs the training's cost in
 * PluginEnv.trigger_cost) firing at exactly the expected positions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "testutil.h"
#include "trigger/cost_tracker.h"
#include "trigger/trigger.h"

/* ---- the stand-in orchestrator ------------------------------------------------------ */

static int models;
static TriggerCost costs[256];
static double measured_fixed, measured_per_sample; /* "measured" seconds = fixed + per x n */
static char events[1 << 18];
static int npasses;

static int fake_cost(PluginEnv *env, int64_t k, TriggerCost *out) {
  (void)env;
  if (k < 0 || k >= models) return mh_errorf("no trigger %lld", (long long)k);
  *out = costs[k];
  return MH_OK;
}

static void fake_event(PluginEnv *env, const char *json) {
  (void)env;
  size_t len = strlen(events);
  snprintf(events + len, sizeof events - len, "%s\n", json);
}

/* Accuracy of the model on the misclassification stream's batch b (keys
 * 100b .. 100b+99): 100 - round(100 acc) misclassified. */
static const double ACC[12] = {1.0, .95, .85, .95, .80, .90, .97, .92, .93, .95, .95, .95};

static int fake_pass(PluginEnv *env, const int64_t *keys, int64_t n, unsigned outputs,
                     int64_t which, PassResult *out) {
  (void)env;
  (void)which;
  npasses++;
  return test_accuracy_pass(ACC, keys, n, outputs, out);
}

/* Feed ts[n] (keys 0..n-1) in chunks of at most `chunk`, cut where the
 * trigger asks (max_chunk) as the replay does; at each fire "train" on the
 * samples since the previous fire (NewDataStrategy) and log that training.
 * got[] gets the stream positions of the fires. */
static int run(const char *yaml, const int64_t *ts, int64_t n, int64_t chunk, int64_t *got) {
  static Store store;
  static int64_t keys[4096];
  static int32_t labels[4096];
  store.schema.num_classes = 2;
  for (int64_t i = 0; i < n; i++) keys[i] = i;
  PluginEnv env;
  memset(&env, 0, sizeof env);
  env.store = &store;
  env.models_done = &models;
  env.pass = fake_pass;
  env.event = fake_event;
  env.trigger_cost = fake_cost;
  models = 0;
  events[0] = 0;
  npasses = 0;
  CfgDoc doc;
  CHECK_OK(cfg_load_string("cost.yaml", yaml, &doc));
  CfgRef root = cfg_root(&doc);
  Trigger *t = NULL;
  CHECK_OK(trigger_create(&root, &env, &t));
  int nfired = 0;
  int64_t last = -1;
  for (int64_t off = 0, cn = 0; t && off < n; off += cn) {
    cn = n - off < chunk ? n - off : chunk;
    int64_t lim = t->max_chunk ? t->max_chunk(t) : 0;
    if (lim > 0 && lim < cn) cn = lim;
    StreamChunk c = {keys + off, ts + off, labels + off, cn};
    I64Vec f = {0};
    CHECK_OK(t->inform(t, &c, &f));
    for (int64_t i = 0; i < f.len; i++) {
      int64_t at = off + f.data[i];
      int64_t set = at - last;
      last = at;
      got[nfired++] = at;
      costs[models].training_set = set;
      costs[models].samples_trained = 5 * set;
      costs[models].train_s = measured_fixed + measured_per_sample * (double)set;
      models++;
    }
    i64vec_free(&f);
  }
  trigger_free(t);
  cfg_doc_free(&doc);
  return nfired;
}

static void expect_fires(const char *what, const char *yaml, const int64_t *ts, int64_t n,
                         int64_t chunk, const int64_t *want, int nwant) {
  int64_t got[256];
  int k = run(yaml, ts, n, chunk, got);
  CHECK_EQ_INT(k, nwant);
  for (int i = 0; i < k && i < nwant; i++) {
    if (got[i] != want[i])
      fprintf(stderr, "%s: fire %d at %lld, want %lld\n", what, i, (long long)got[i],
              (long long)want[i]);
    CHECK_EQ_INT(got[i], want[i]);
  }
}

/* ---- the trackers ------------------------------------------------------------------- */

static void test_trackers(void) {
  CostTracker t;
  /* One observation: the constant model. */
  CHECK_OK(cost_tracker_init(&t, 10, 1.0));
  cost_tracker_add(&t, 100, 2.0);
  CHECK_NEAR(cost_tracker_forecast(&t, 0), 2.0, 0);
  CHECK_NEAR(cost_tracker_forecast(&t, 5000), 2.0, 0);
  /* (100, 2), (200, 3.5), (400, 6.1): x_ = 700/3, y_ = 11.6/3,
   * Sxx = 140000/3, Sxy = 1900/3. Least squares (alpha 0): slope =
   * 1900/140000, intercept = 0.7. Ridge (alpha 1, the original's):
   * slope = (1900/3) / (140000/3 + 1) = 1900/140003. */
  cost_tracker_add(&t, 200, 3.5);
  cost_tracker_add(&t, 400, 6.1);
  const double ridge = 1900.0 / 140003.0;
  CHECK_NEAR(t.slope, ridge, 1e-15);
  CHECK_NEAR(t.intercept, 11.6 / 3.0 - 700.0 / 3.0 * ridge, 1e-12);
  CHECK_NEAR(cost_tracker_forecast(&t, 1000), 11.6 / 3.0 + (1000 - 700.0 / 3.0) * ridge, 1e-12);
  cost_tracker_free(&t);
  CHECK_OK(cost_tracker_init(&t, 10, 0.0));
  cost_tracker_add(&t, 100, 2.0);
  cost_tracker_add(&t, 200, 3.5);
  cost_tracker_add(&t, 400, 6.1);
  CHECK_NEAR(t.slope, 1900.0 / 140000.0, 1e-15);
  CHECK_NEAR(t.intercept, 0.7, 1e-12);
  CHECK_NEAR(cost_tracker_forecast(&t, 1000), 0.7 + 1000 * 1900.0 / 140000.0, 1e-12);
  cost_tracker_free(&t);
  /* A window of 2 keeps (200, 3.5), (400, 6.1): slope 2.6/200 = 0.013,
   * intercept 0.9 (least squares); ridge: 260/20001. */
  CHECK_OK(cost_tracker_init(&t, 2, 0.0));
  cost_tracker_add(&t, 100, 2.0);
  cost_tracker_add(&t, 200, 3.5);
  cost_tracker_add(&t, 400, 6.1);
  CHECK_EQ_INT(t.n, 2);
  CHECK_NEAR(t.slope, 0.013, 1e-15);
  CHECK_NEAR(t.intercept, 0.9, 1e-12);
  cost_tracker_free(&t);
  CHECK_OK(cost_tracker_init(&t, 2, 1.0));
  cost_tracker_add(&t, 100, 2.0);
  cost_tracker_add(&t, 200, 3.5);
  cost_tracker_add(&t, 400, 6.1);
  CHECK_NEAR(t.slope, 260.0 / 20001.0, 1e-15);
  CHECK_NEAR(t.intercept, 4.8 - 300.0 * 260.0 / 20001.0, 1e-12);
  cost_tracker_free(&t);

  /* Latency: 10 units over 4 s count half (20); then 2 more over 6 s:
   * 20 + 10 x 6 + 2 x 3 = 86; then samples at 1, 3, 4 of a period 0..5:
   * 86 + 12 x 5 + (4 + 2 + 1) = 153, 15 units. */
  LatencyTracker l = {0, 0};
  CHECK_NEAR(latency_add_uniform(&l, 10, 4), 20, 0);
  CHECK_NEAR(latency_add_uniform(&l, 2, 6), 86, 0);
  const int64_t ts[3] = {1, 3, 4};
  const double r[3] = {1, 1, 1};
  CHECK_NEAR(latency_add_samples(&l, ts, r, 3, 0, 5), 153, 0);
  CHECK_NEAR(l.current, 15, 0);
  CHECK_NEAR(latency_add_samples(&l, ts, NULL, 3, 0, 5), 153 + 15 * 5 + 7, 0);
  latency_reset(&l);
  CHECK_NEAR(l.cumulative + l.current, 0, 0);
}

/* ---- DataIncorporationLatencyCostTrigger -------------------------------------------- */

static void test_latency_trigger(void) {
  /* 60 samples: 20 ten seconds apart (0..190), 20 one second apart
   * (200..219), 20 twenty seconds apart (400..780). Checks every 4
   * samples; 10 sample-seconds of waiting are worth a training second;
   * training takes 30 + 2 x (training-set size) seconds. */
  int64_t ts[60];
  for (int i = 0; i < 20; i++) ts[i] = 10 * i;
  for (int i = 20; i < 40; i++) ts[i] = 200 + (i - 20);
  for (int i = 40; i < 60; i++) ts[i] = 400 + 20 * (i - 40);
  measured_fixed = 30;
  measured_per_sample = 2;
  const char *base =
      "id: DataIncorporationLatencyCostTrigger\n"
      "evaluation_interval_data_points: 4\n"
      "incorporation_delay_per_training_second: 10\n";
  /* Check 0 (samples 0-3) fires: no model yet; its training: 4 samples,
   * 38 s, the one observation (a constant model).
   * Check 1 (4-7): latency (70-40) + (70-50) + (70-60) + 0 = 60 -> 6 s < 38.
   * Check 2 (8-11): 60 + 4 x 40 (the waiting ones, a 40 s period) + 60 =
   * 280 -> 28 < 38. Check 3 (12-15): 280 + 8 x 40 + 60 = 660 -> 66 >= 38:
   * fires at 15. Training 12 samples, 54 s; ridge on (4, 38), (12, 54):
   * slope 64/33, forecast(4) = 1262/33 = 38.24, forecast(8) = 46, ...
   * Checks 4-9 stay below (the dense part waits little); check 10
   * (samples 40-43, after a 181 s gap: period 219..460) reaches 627 >= 84.8
   * and fires at 43; then every second check (12 and 14: 56 >= 46.04). */
  const int64_t w1[] = {3, 15, 43, 51, 59};
  expect_fires("latency", base, ts, 60, 4096, w1, 5);
  CHECK(strstr(events,
               "\"check\":3,\"stream_index\":15,\"batch_first_timestamp\":120,"
               "\"batch_last_timestamp\":150,\"batch_duration\":40,"
               "\"unincorporated_samples\":12,\"phase\":\"detect\",\"regret_metric\":660,"
               "\"regret_in_traintime_unit\":66,\"traintime_estimate\":38,"
               "\"cost_observations\":1,\"cost_slope\":0,\"cost_intercept\":38,"
               "\"triggered\":true") != NULL);
  CHECK(strstr(events,
               "\"check\":4,\"stream_index\":19,\"batch_first_timestamp\":160,"
               "\"batch_last_timestamp\":190,\"batch_duration\":40,"
               "\"unincorporated_samples\":4,\"phase\":\"detect\",\"regret_metric\":60,"
               "\"regret_in_traintime_unit\":6,\"traintime_estimate\":38.2424242,") != NULL);
  CHECK(strstr(events, "\"check\":0,") && strstr(events, "\"phase\":\"first\""));
  /* The chunking does not matter (1, 3 and 7 samples per call). */
  expect_fires("latency, chunks of 1", base, ts, 60, 1, w1, 5);
  expect_fires("latency, chunks of 3", base, ts, 60, 3, w1, 5);
  expect_fires("latency, chunks of 7", base, ts, 60, 7, w1, 5);

  /* The modelled cost replaces the measured seconds (here nonsense) with
   * 30 + 2 x samples: the same fires. */
  measured_fixed = 1000;
  measured_per_sample = 7;
  char yaml[1024];
  snprintf(yaml, sizeof yaml,
           "%smodelled_seconds_per_sample: 2\nmodelled_seconds_per_trigger: 30\n", base);
  expect_fires("latency, modelled", yaml, ts, 60, 4096, w1, 5);
  /* ... and without it the measured seconds decide: 1000 + 7 n is far
   * above any latency before the 181 s gap. */
  int64_t got[64];
  int k = run(base, ts, 60, 4096, got);
  CHECK_EQ_INT(got[0], 3);
  for (int i = 1; i < k; i++) CHECK(got[i] >= 43); /* nothing fires before the gap */
  measured_fixed = 30;
  measured_per_sample = 2;

  /* cost_tracking_window_size 1: only the last training counts (a
   * constant model of it): after the fire at 43 (28 samples, 86 s) the
   * checks need 86 s of latency: 47 (12), 51 (56), 55 (120 >= 86) fires. */
  snprintf(yaml, sizeof yaml, "%scost_tracking_window_size: 1\n", base);
  const int64_t w2[] = {3, 15, 43, 55};
  expect_fires("latency, window 1", yaml, ts, 60, 4096, w2, 4);

  /* A warmup policy decides the first 2 checks (the first counts, as in
   * the original; it fires anyway): a DataAmountTrigger of 6 samples fed
   * the checked batches fires inside check 1, at 7. From check 2 on the
   * cost model of (4, 38), (4, 38) decides: 38 s are reached at check 4
   * (660 sample-seconds), then as above. */
  snprintf(yaml, sizeof yaml,
           "%swarmup_intervals: 2\nwarmup_policy: {id: DataAmountTrigger, num_samples: 6}\n", base);
  const int64_t w3[] = {3, 7, 19, 43, 51, 59};
  expect_fires("latency, warmup", yaml, ts, 60, 4096, w3, 6);
  CHECK(strstr(events, "\"stream_index\":7,") &&
        strstr(events,
               "\"phase\":\"warmup\",\"regret_metric\":60,\"regret_in_traintime_unit\":6,"
               "\"traintime_estimate\":null,\"cost_observations\":1,\"cost_slope\":0,"
               "\"cost_intercept\":38,\"warmup_policy_fired\":true,\"triggered\":true"));
}

/* ---- AvoidableMisclassificationCostTrigger ------------------------------------------ */

static void test_misclass_trigger(void) {
  /* 1200 samples one second apart, checks every 100; the model's accuracy
   * per batch is ACC[]; expected accuracy 0.95, so a batch's avoidable
   * misclassifications are (misclassified - 5)+: 0, 0, 10, 0, 15, 5, 0, 3,
   * 2, 0, 0, 0. They arrive over the batch's 100 s (half counts) and keep
   * counting until a trigger. 50 misclassification-seconds are worth a
   * training second; training takes 10 + 0.05 x samples seconds.
   * Check 0 fires (no model, no evaluation; it is also the one warmup
   * check); training (100, 15). Check 1: no regret. Check 2: 500 ->
   * 10 < 15 (constant model). Check 3: 500 + 10 x 100 = 1500 -> 30 >= 15:
   * fires at 399 (training (300, 25)). Check 4: 15 x 50 = 750 -> 15 vs
   * ridge forecast(100) = 20 - 100000/20001 = 15.00025: no (least squares
   * would say 15 and fire). Check 5: 750 + 1500 + 250 = 2500 -> 50 >= 20:
   * fires at 599 (training (200, 20)). Checks 6-10 stay below; check 11
   * (600 samples waiting): 2050 / 50 = 41 >= 39.999: fires at 1199. */
  int64_t ts[1200];
  for (int i = 0; i < 1200; i++) ts[i] = i;
  measured_fixed = 10;
  measured_per_sample = 0.05;
  const char *yaml =
      "id: AvoidableMisclassificationCostTrigger\n"
      "evaluation_interval_data_points: 100\n"
      "warmup_intervals: 1\n"
      "warmup_policy: {id: DataAmountTrigger, num_samples: 10000}\n"
      "avoidable_misclassification_latency_per_training_second: 50\n"
      "expected_accuracy: 0.95\n"
      "evaluation:\n"
      "  device: cpu\n"
      "  dataset: {dataset_id: stream, batch_size: 64, metrics: [{name: "
      "Accuracy}]}\n";
  const int64_t w[] = {99, 399, 599, 1199};
  expect_fires("misclassification", yaml, ts, 1200, 4096, w, 4);
  CHECK_EQ_INT(npasses, 11); /* every check after the first evaluates */
  CHECK(strstr(events,
               "\"check\":4,\"stream_index\":499,\"batch_first_timestamp\":400,"
               "\"batch_last_timestamp\":499,\"batch_duration\":100,"
               "\"unincorporated_samples\":100,\"model\":2,\"num_samples\":100,"
               "\"num_misclassifications\":20,\"scores\":{\"Accuracy\":0.8},"
               "\"new_avoidable_misclassifications\":15,\"phase\":\"detect\","
               "\"regret_metric\":750,\"regret_in_traintime_unit\":15,"
               "\"traintime_estimate\":15.00025,") != NULL);
  expect_fires("misclassification, chunks of 37", yaml, ts, 1200, 37, w, 4);
  /* allow_reduction: batches better than expected lower the regret (check
   * 6: 3 - 5 = -2 units, each later check counts them): check 11 ends at
   * 950 -> 19 < 39.999, no fire there. */
  char y2[2048];
  snprintf(y2, sizeof y2, "%sallow_reduction: true\n", yaml);
  const int64_t w2[] = {99, 399, 599};
  expect_fires("misclassification, allow_reduction", y2, ts, 1200, 4096, w2, 3);
}

/* ---- configuration errors ----------------------------------------------------------- */

static void expect_error(const char *yaml, const char *msg) {
  CfgDoc doc;
  CHECK_OK(cfg_load_string("c.yaml", yaml, &doc));
  CfgRef root = cfg_root(&doc);
  Trigger *t = NULL;
  CHECK(trigger_create(&root, NULL, &t) == MH_ERR);
  CHECK_STR(mh_error(), msg);
  trigger_free(t);
  cfg_doc_free(&doc);
}

static void test_errors(void) {
  const char *lat = "id: DataIncorporationLatencyCostTrigger\nevaluation_interval_data_points: 4\n";
  char y[1024];
  expect_error(lat, "c.yaml:1: incorporation_delay_per_training_second: missing required field");
  snprintf(y, sizeof y, "%sincorporation_delay_per_training_second: 0\n", lat);
  expect_error(y, "c.yaml:3: incorporation_delay_per_training_second: must be > 0 (regret per "
                  "training second), got 0");
  snprintf(y, sizeof y, "%sincorporation_delay_per_training_second: 1\nexpected_accuracy: 0.9\n",
           lat);
  expect_error(y, "c.yaml:4: expected_accuracy: unknown field; expected one of: id, "
                  "evaluation_interval_data_points, warmup_intervals, warmup_policy, "
                  "cost_tracking_window_size, modelled_seconds_per_sample, "
                  "modelled_seconds_per_trigger, incorporation_delay_per_training_second");
  snprintf(y, sizeof y,
           "%sincorporation_delay_per_training_second: 1\nmodelled_seconds_per_trigger: 3\n", lat);
  expect_error(y, "c.yaml:4: modelled_seconds_per_trigger: needs modelled_seconds_per_sample (0 "
                  "for a constant cost)");
  expect_error("id: AvoidableMisclassificationCostTrigger\nevaluation_interval_data_points: 4\n"
               "avoidable_misclassification_latency_per_training_second: 1\n"
               "expected_accuracy: 0.9\n"
               "evaluation: {device: cpu, dataset: {metrics: [{name: Accuracy}]}}\n",
               "c.yaml:1: warmup_policy: a warmup_policy is required (as in the original: the "
               "misclassification estimate needs calibration)");
}

int main(void) {
  test_trackers();
  test_latency_trigger();
  test_misclass_trigger();
  test_errors();
  return test_finish("test_cost");
}

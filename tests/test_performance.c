/* test_performance.c - the PerformanceTrigger on a stand-in model pass
 * whose accuracy per checked batch is set by hand: each criterion fires at
 * exactly the expected checks, and the evaluation reaches events.jsonl. */
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "testutil.h"
#include "trigger/trigger.h"

#define N 1200
/* Accuracy of the model on batch b = keys 100b .. 100b+99. */
static const double ACC[12] = {1.0, .95, .85, .95, .80, .90, .97, .92, .93, .95, .95, .95};
static int models = 1, npasses;
static char events[1 << 18];

static int fake_pass(PluginEnv *env, const int64_t *keys, int64_t n, unsigned outputs,
                     int64_t which, PassResult *out) {
  (void)env;
  (void)which;
  npasses++;
  return test_accuracy_pass(ACC, keys, n, outputs, out);
}

static void fake_event(PluginEnv *env, const char *json) {
  (void)env;
  size_t len = strlen(events);
  snprintf(events + len, sizeof events - len, "%s\n", json);
}

static void expect(const char *criteria, const int64_t *want, int nwant, int evals) {
  static int64_t keys[N];
  static int32_t labels[N];
  static Store store;
  store.schema.num_classes = 2;
  for (int64_t i = 0; i < N; i++) keys[i] = i;
  PluginEnv env;
  memset(&env, 0, sizeof env);
  env.store = &store;
  env.models_done = &models;
  env.pass = fake_pass;
  env.event = fake_event;
  events[0] = 0;
  npasses = 0;
  char yaml[2048];
  snprintf(yaml, sizeof yaml,
           "id: PerformanceTrigger\n"
           "evaluation_interval_data_points: 100\n"
           "warmup_intervals: 1\n"
           "warmup_policy: {id: DataAmountTrigger, num_samples: 10000}\n"
           "evaluation:\n"
           "  device: cpu\n"
           "  dataset: {dataset_id: stream, batch_size: 64, metrics: [{name: Accuracy}, "
           "{name: F1Score, average: macro}]}\n"
           "decision_criteria:\n%s",
           criteria);
  CfgDoc doc;
  CHECK_OK(cfg_load_string("perf.yaml", yaml, &doc));
  CfgRef root = cfg_root(&doc);
  Trigger *t = NULL;
  CHECK_OK(trigger_create(&root, &env, &t));
  I64Vec got = {0};
  for (int64_t off = 0; t && off < N; off += 100) { /* a chunk per check */
    StreamChunk c = {keys + off, keys + off, labels + off, 100};
    I64Vec f = {0};
    CHECK_OK(t->inform(t, &c, &f));
    for (int64_t i = 0; i < f.len; i++) i64vec_push(&got, off + f.data[i]);
    i64vec_free(&f);
  }
  CHECK_EQ_INT(got.len, nwant);
  for (int i = 0; i < nwant && i < got.len; i++) CHECK_EQ_INT(got.data[i], want[i]);
  CHECK_EQ_INT(npasses, evals);
  i64vec_free(&got);
  trigger_free(t);
  cfg_doc_free(&doc);
}

int main(void) {
  /* Static accuracy threshold 0.9 (inclusive): batches 2 (.85), 4 (.80)
   * and 5 (.90) fire; batch 0 fires as the first check (it is also the one
   * warmup check). Every check after the first evaluates the model: 11
   * passes. */
  const int64_t w1[] = {99, 299, 499, 599};
  expect("  acc: {id: StaticPerformanceThresholdCriterion, metric: Accuracy, metric_threshold: 0.9}\n",
         w1, 4, 11);
  /* Expected accuracy 0.95: avoidable = wrong - 5 per batch, summed since the last trigger, budget
   * 10: b2 (15 - 5 = 10) fires; b4 (20 - 5) fires; then b5 +5, b6 0 (3 - 5
   * clipped), b7 +3, b8 +2 = 10 fires at 899. */
  const int64_t w2[] = {99, 299, 499, 899};
  expect("  mis: {id: StaticNumberMisclassificationCriterion, expected_accuracy: 0.95, "
         "avoidable_misclassification_threshold: 10}\n", w2, 4, 11);
  CHECK(strstr(events, "\"num_samples\":100,\"num_misclassifications\":7,\"scores\":{\"Accuracy\":0.93,") != NULL);
  CHECK(strstr(events, "\"mis\":{\"value\":10,\"threshold\":10,\"decision\":true}") != NULL);
  /* allow_reduction: b6 takes 2 off (5 -> 3), so b8 ends at 8, no fire. */
  const int64_t w3[] = {99, 299, 499};
  expect("  mis: {id: StaticNumberMisclassificationCriterion, expected_accuracy: 0.95, "
         "allow_reduction: true, avoidable_misclassification_threshold: 10}\n", w3, 3, 11);
  /* Any criterion fires: both of the above. */
  const int64_t w4[] = {99, 299, 499, 599};
  expect("  acc: {id: StaticPerformanceThresholdCriterion, metric: Accuracy, metric_threshold: 0.9}\n"
         "  mis: {id: StaticNumberMisclassificationCriterion, expected_accuracy: 0.95, "
         "avoidable_misclassification_threshold: 10}\n", w4, 4, 11);
  /* Rolling average of the last 3 accuracies, absolute deviation 0.06,
   * compared before the value joins: b1 (.95, the first value) fires; b2
   * .85 vs .95 fires; b3 .95 vs .90 no; b4 .80 vs .9167 fires; b5 .90 vs
   * .8667, b6 .97, b7 .92 vs .89, b8 .93 vs .93, ... no. */
  const int64_t w5[] = {99, 199, 299, 499};
  expect("  roll: {id: DynamicRollingAveragePerformanceThresholdCriterion, metric: Accuracy, "
         "window_size: 3, deviation: 0.06, absolute: true}\n", w5, 4, 11);

  /* Configuration errors. */
  CfgDoc doc;
  Trigger *t = NULL;
  CHECK_OK(cfg_load_string("p.yaml",
                           "id: PerformanceTrigger\nevaluation_interval_data_points: 10\n"
                           "evaluation: {device: cpu, dataset: {metrics: [{name: Accuracy}]}}\n"
                           "decision_criteria:\n"
                           "  f1: {id: StaticPerformanceThresholdCriterion, metric: F1Score}\n",
                           &doc));
  CfgRef root = cfg_root(&doc);
  CHECK(trigger_create(&root, NULL, &t) == MH_ERR);
  CHECK_STR(mh_error(), "p.yaml:5: decision_criteria.f1.metric: metric \"F1Score\" is not among "
                        "evaluation.dataset.metrics");
  cfg_doc_free(&doc);
  CHECK_OK(cfg_load_string("p.yaml",
                           "id: PerformanceTrigger\nevaluation_interval_data_points: 10\n"
                           "evaluation: {device: cpu, dataset: {metrics: [{name: Accuracy}]}}\n"
                           "decision_criteria:\n"
                           "  m: {id: StaticNumberMisclassificationCriterion, expected_accuracy: 0.9,"
                           " avoidable_misclassification_threshold: 5}\n",
                           &doc));
  root = cfg_root(&doc);
  CHECK(trigger_create(&root, NULL, &t) == MH_ERR);
  CHECK_STR(mh_error(), "p.yaml:1: warmup_policy: a warmup_policy is required: a decision "
                        "criterion needs calibration (the dynamic ones and "
                        "StaticNumberMisclassificationCriterion)");
  cfg_doc_free(&doc);
  return test_finish("test_performance");
}

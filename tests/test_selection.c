/* test_selection.c - the strategies' training sets against hand-computed
 * key lists: NewDataStrategy (tail_triggers, limit),
 * FreshnessSamplingStrategy (the used/unused mix, limit), CoresetStrategy
 * (warm-up, presampling, which triggers get a batch filter or, for
 * sample-then-batch downsampling, an epoch hook; the selections inside
 * training are tested in test_trainer_select.c). */
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "select/selector.h"
#include "testutil.h"

/* Three triggers owning keys {0..3}, {4..6}, {7..11}. Returns the sets;
 * filters[t] (when given) says whether trigger t got a batch filter, and
 * which outputs it asks for (| 0x100), and whether it got an epoch hook
 * (| 0x200). */
static void run_env(const char *yaml, PluginEnv *env, TrainingSet sets[3], unsigned filters[3]) {
  CfgDoc doc;
  CHECK_OK(cfg_load_string("sel.yaml", yaml, &doc));
  CfgRef root = cfg_root(&doc);
  Selector *s = NULL;
  CHECK_OK(selector_create(&root, env, &s));
  if (!s) {
    cfg_doc_free(&doc);
    return;
  }
  int64_t keys[12], ts[12];
  int32_t labels[12] = {0};
  for (int i = 0; i < 12; i++) keys[i] = i, ts[i] = 10 * i;
  const int bounds[4] = {0, 4, 7, 12};
  for (int t = 0; t < 3; t++) {
    StreamChunk c = {keys + bounds[t], ts + bounds[t], labels, bounds[t + 1] - bounds[t]};
    CHECK_OK(s->inform(s, &c));
    CHECK_OK(s->select(s, t, &sets[t]));
    if (filters) {
      BatchFilter *f = NULL;
      filters[t] = 0;
      if (s->batch_filter) CHECK_OK(s->batch_filter(s, t, &f));
      if (f) filters[t] = f->outputs | 0x100u;
      batch_filter_free(f);
      EpochHook *h = NULL;
      if (s->epoch_hook) CHECK_OK(s->epoch_hook(s, t, &h));
      if (h) filters[t] |= 0x200u;
      epoch_hook_free(h);
    }
  }
  selector_free(s);
  cfg_doc_free(&doc);
}

static void run(const char *yaml, TrainingSet sets[3]) { run_env(yaml, NULL, sets, NULL); }

static void free_sets(TrainingSet sets[3]) {
  for (int i = 0; i < 3; i++) training_set_free(&sets[i]);
}

static int cmp_key(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The set's keys, sorted (strategies that shuffle). */
static void sorted_keys(const TrainingSet *ts, int64_t *out) {
  memcpy(out, ts->keys.data, (size_t)ts->keys.len * sizeof(int64_t));
  qsort(out, (size_t)ts->keys.len, sizeof(int64_t), cmp_key);
}

/* How many of the set's keys lie in [lo, hi]; distinct keys only. */
static int64_t in_range(const TrainingSet *ts, int64_t lo, int64_t hi) {
  int64_t k[12], n = 0;
  sorted_keys(ts, k);
  for (int64_t i = 0; i < ts->keys.len; i++) {
    if (i) CHECK(k[i] != k[i - 1]);
    n += k[i] >= lo && k[i] <= hi;
  }
  return n;
}

static void test_freshness(void) {
  TrainingSet sets[3] = {{{0}}};
  const char *cfg = "name: FreshnessSamplingStrategy\nmaximum_keys_in_memory: 100\n"
                    "unused_data_ratio: 50\n";
  run(cfg, sets);
  /* t0: every unused key. t1: 3 unused, 4 used -> int(3 / 0.5) = 6 <=
   * int(4 / 0.5) = 8: all 3 unused + 3 used. t2: 5 unused, 7 used -> 10
   * <= 14: all 5 unused + 5 used. */
  CHECK_EQ_INT(sets[0].keys.len, 4);
  CHECK_EQ_INT(in_range(&sets[0], 0, 3), 4);
  CHECK_EQ_INT(sets[1].keys.len, 6);
  CHECK_EQ_INT(in_range(&sets[1], 4, 6), 3);
  CHECK_EQ_INT(in_range(&sets[1], 0, 3), 3);
  CHECK_EQ_INT(sets[2].keys.len, 10);
  CHECK_EQ_INT(in_range(&sets[2], 7, 11), 5);
  CHECK_EQ_INT(in_range(&sets[2], 0, 6), 5);
  free_sets(sets);
  /* 25% unused, limit 4: t1 wants int(3 / 0.25) = 12 > int(4 / 0.75) = 5:
   * 4 used + 1 unused = 5 > 4, so int(4 * 0.25) = 1 unused + 3 used. */
  run("name: FreshnessSamplingStrategy\nmaximum_keys_in_memory: 100\nunused_data_ratio: 25\n"
      "limit: 4\n", sets);
  CHECK_EQ_INT(sets[0].keys.len, 4);
  CHECK_EQ_INT(sets[1].keys.len, 4);
  CHECK_EQ_INT(in_range(&sets[1], 4, 6), 1);
  CHECK_EQ_INT(in_range(&sets[1], 0, 3), 3);
  free_sets(sets);
  /* the same seed gives the same sets */
  TrainingSet again[3] = {{{0}}};
  run(cfg, sets);
  run(cfg, again);
  for (int t = 0; t < 3; t++)
    CHECK(sets[t].keys.len == again[t].keys.len &&
          !memcmp(sets[t].keys.data, again[t].keys.data, (size_t)sets[t].keys.len * 8));
  free_sets(sets);
  free_sets(again);
}

static void test_coreset(void) {
  TrainingSet sets[3] = {{{0}}};
  unsigned filters[3];
  /* warm-up 1, Random 50% of each trigger's own data, Loss BtS from
   * trigger 0 on (the warm-up trigger still gets none). */
  run_env("name: CoresetStrategy\nmaximum_keys_in_memory: 100\ntail_triggers: 0\n"
          "warmup_triggers: 1\npresampling_config: {strategy: Random, ratio: 50}\n"
          "downsampling_config: {strategy: Loss, ratio: 50}\n",
          NULL, sets, filters);
  CHECK_EQ_INT(sets[0].keys.len, 4); /* warm-up: everything */
  CHECK_EQ_INT(in_range(&sets[0], 0, 3), 4);
  CHECK_EQ_INT(sets[1].keys.len, 1); /* int(3 * 0.5) */
  CHECK_EQ_INT(in_range(&sets[1], 4, 6), 1);
  CHECK_EQ_INT(sets[2].keys.len, 2);
  CHECK_EQ_INT(in_range(&sets[2], 7, 11), 2);
  CHECK_EQ_INT(sets[2].weights.len, 0); /* BtS: weights come from the filter */
  CHECK_EQ_INT(filters[0], 0);
  CHECK_EQ_INT(filters[1], PASS_LOSS | 0x100u);
  CHECK_EQ_INT(filters[2], PASS_LOSS | 0x100u);
  free_sets(sets);
  /* limit 3 on all data: No presampling keeps the oldest three. */
  run("name: CoresetStrategy\nmaximum_keys_in_memory: 100\nlimit: 3\n", sets);
  for (int t = 0; t < 3; t++) CHECK_EQ_INT(in_range(&sets[t], 0, 2), 3);
  free_sets(sets);
  /* A schedule: No until trigger 2, then GradNorm. */
  run_env("name: CoresetStrategy\nmaximum_keys_in_memory: 100\n"
          "downsampling_config:\n  downsampling_list: [{strategy: No}, {strategy: GradNorm, "
          "ratio: 25}]\n  downsampling_thresholds: 2\n",
          NULL, sets, filters);
  CHECK(filters[0] == 0 && filters[1] == 0 && filters[2] == (PASS_LOGITS | 0x100u));
  CHECK_EQ_INT(sets[2].keys.len, 12);
  free_sets(sets);

  /* Sample-then-batch: select() hands over the whole (presampled) set,
   * unweighted; every trigger's training gets an epoch hook that selects
   * from it (and no batch filter). */
  run_env("name: CoresetStrategy\nmaximum_keys_in_memory: 100\ntail_triggers: 0\n"
          "downsampling_config: {strategy: Uncertainty, score_metric: LeastConfidence, "
          "ratio: 40, sample_then_batch: true, period: 0}\n",
          NULL, sets, filters);
  const int64_t nwant[3] = {4, 3, 5};
  for (int t = 0; t < 3; t++) {
    CHECK_EQ_INT(filters[t], 0x200u);
    CHECK_EQ_INT(sets[t].keys.len, nwant[t]);
    CHECK_EQ_INT(sets[t].weights.len, 0);
  }
  free_sets(sets);
  /* warm-up triggers train on everything, without a hook */
  run_env("name: CoresetStrategy\nmaximum_keys_in_memory: 100\nwarmup_triggers: 2\n"
          "downsampling_config: {strategy: RS2, ratio: 40, with_replacement: false}\n",
          NULL, sets, filters);
  CHECK(filters[0] == 0 && filters[1] == 0 && filters[2] == 0x200u);
  free_sets(sets);
}

static void expect(const TrainingSet *ts, const int64_t *want, int n) {
  CHECK_EQ_INT(ts->keys.len, n);
  for (int i = 0; i < n && i < ts->keys.len; i++) CHECK_EQ_INT(ts->keys.data[i], want[i]);
}


/* The original's rule for a limit on a window of triggers (tail_triggers
 * 0 or N): a uniform sample whatever limit_reset says; lastX only takes the
 * newest keys on all data (covered in main). Trigger 2's window is
 * {7..11} with tail 0 and {4..11} with tail 1; limit 2. */
static void test_new_data_limit_modes(void) {
  for (int tail = 0; tail <= 1; tail++) {
    int newest = 0; /* seeds whose sample is the newest two keys */
    for (int seed = 1; seed <= 6; seed++) {
      char y[256], u[256];
      const char *base = "name: NewDataStrategy\nmaximum_keys_in_memory: 5\nlimit: 2\n";
      snprintf(y, sizeof y, "%stail_triggers: %d\nlimit_reset: lastX\nseed: %d\n", base, tail, seed);
      snprintf(u, sizeof u, "%stail_triggers: %d\nlimit_reset: sampleUAR\nseed: %d\n", base, tail,
               seed);
      TrainingSet last[3] = {{{0}}}, uar[3] = {{{0}}};
      run(y, last);
      run(u, uar);
      /* lastX is not read: the same sample as sampleUAR. */
      for (int t = 0; t < 3; t++) {
        CHECK_EQ_INT(last[t].keys.len, 2);
        CHECK_EQ_INT(uar[t].keys.len, 2);
        for (int i = 0; i < 2 && i < last[t].keys.len && i < uar[t].keys.len; i++)
          CHECK_EQ_INT(last[t].keys.data[i], uar[t].keys.data[i]);
      }
      CHECK_EQ_INT(in_range(&last[2], tail ? 4 : 7, 11), 2);
      newest += last[2].keys.len == 2 && last[2].keys.data[0] == 10 && last[2].keys.data[1] == 11;
      free_sets(last);
      free_sets(uar);
    }
    /* A uniform pair of 5 (or 8) keys is {10, 11} one time in 10 (28):
     * not for all six seeds. */
    CHECK(newest < 6);
  }
}

int main(void) {
  TrainingSet sets[3] = {{{0}}};
  /* tail_triggers 0: each trigger's own new data. */
  run("name: NewDataStrategy\nmaximum_keys_in_memory: 5\ntail_triggers: 0\n", sets);
  const int64_t a0[] = {0, 1, 2, 3}, a1[] = {4, 5, 6}, a2[] = {7, 8, 9, 10, 11};
  expect(&sets[0], a0, 4);
  expect(&sets[1], a1, 3);
  expect(&sets[2], a2, 5);
  free_sets(sets);

  /* tail_triggers 1: this trigger plus the previous one. */
  run("name: NewDataStrategy\nmaximum_keys_in_memory: 5\ntail_triggers: 1\n", sets);
  const int64_t b2[] = {4, 5, 6, 7, 8, 9, 10, 11};
  expect(&sets[0], a0, 4);
  expect(&sets[2], b2, 8);
  free_sets(sets);

  /* Absent tail_triggers (the original's default None): all data so far. */
  run("name: NewDataStrategy\nmaximum_keys_in_memory: 5\n", sets);
  const int64_t c1[] = {0, 1, 2, 3, 4, 5, 6};
  expect(&sets[1], c1, 7);
  CHECK_EQ_INT(sets[2].keys.len, 12);
  free_sets(sets);

  /* limit 3, lastX: the newest three keys of the window. */
  run("name: NewDataStrategy\nmaximum_keys_in_memory: 5\nlimit: 3\nlimit_reset: lastX\n", sets);
  const int64_t d0[] = {1, 2, 3}, d2[] = {9, 10, 11};
  expect(&sets[0], d0, 3);
  expect(&sets[2], d2, 3);
  free_sets(sets);

  /* limit 4, sampleUAR: 4 distinct keys of the window, in stream order,
   * the same for the same seed. */
  run("name: NewDataStrategy\nmaximum_keys_in_memory: 5\nlimit: 4\nlimit_reset: sampleUAR\nseed: 7\n", sets);
  TrainingSet again[3] = {{{0}}};
  run("name: NewDataStrategy\nmaximum_keys_in_memory: 5\nlimit: 4\nlimit_reset: sampleUAR\nseed: 7\n", again);
  CHECK_EQ_INT(sets[2].keys.len, 4);
  for (int i = 0; i < 4 && i < sets[2].keys.len; i++) {
    CHECK(sets[2].keys.data[i] >= 0 && sets[2].keys.data[i] <= 11);
    if (i) CHECK(sets[2].keys.data[i] > sets[2].keys.data[i - 1]);
    CHECK_EQ_INT(sets[2].keys.data[i], again[2].keys.data[i]);
  }
  free_sets(sets);
  free_sets(again);
  test_new_data_limit_modes();

  test_freshness();
  test_coreset();

  /* Errors. */
  CfgDoc doc;
  Selector *s = NULL;
  CHECK_OK(cfg_load_string("sel.yaml", "name: NewDataStrategy\nlimit: 3\n", &doc));
  CfgRef root = cfg_root(&doc);
  CHECK(selector_create(&root, NULL, &s) == MH_ERR);
  CHECK_STR(mh_error(), "sel.yaml:1: maximum_keys_in_memory: missing required field");
  cfg_doc_free(&doc);
  CHECK_OK(cfg_load_string("sel.yaml", "name: NewDataStrategy\nmaximum_keys_in_memory: 5\ntail_trigers: 1\n", &doc));
  root = cfg_root(&doc);
  CHECK(selector_create(&root, NULL, &s) == MH_ERR);
  CHECK_STR(mh_error(), "sel.yaml:3: tail_trigers: unknown field; expected one of: name, maximum_keys_in_memory, limit, tail_triggers, uses_weights, storage_backend, seed, processor_type, limit_reset");
  cfg_doc_free(&doc);
  CHECK_OK(cfg_load_string("sel.yaml",
                           "name: FreshnessSamplingStrategy\nmaximum_keys_in_memory: 5\n"
                           "unused_data_ratio: 50\ntail_triggers: 0\n",
                           &doc));
  root = cfg_root(&doc);
  CHECK(selector_create(&root, NULL, &s) == MH_ERR);
  CHECK_STR(mh_error(), "sel.yaml:4: tail_triggers: FreshnessSamplingStrategy keeps used/unused "
                        "state across all triggers: leave tail_triggers absent or null");
  cfg_doc_free(&doc);
  CHECK_OK(cfg_load_string("sel.yaml",
                           "name: FreshnessSamplingStrategy\nmaximum_keys_in_memory: 5\n"
                           "unused_data_ratio: 100\n",
                           &doc));
  root = cfg_root(&doc);
  CHECK(selector_create(&root, NULL, &s) == MH_ERR);
  CHECK_STR(mh_error(), "sel.yaml:3: unused_data_ratio: must be in [1, 99], got 100");
  cfg_doc_free(&doc);
  CHECK_OK(cfg_load_string("sel.yaml", "name: CoresetStrategy\nmaximum_keys_in_memory: 5\n"
                           "presampling_config: {strategy: Random, ratio: 50}\n"
                           "downsampling_config: {strategy: Loss, ratio: 500}\n", &doc));
  root = cfg_root(&doc);
  CHECK(selector_create(&root, NULL, &s) == MH_ERR);
  CHECK_STR(mh_error(), "sel.yaml:4: downsampling_config.ratio: must be in [0, 100], got 500");
  cfg_doc_free(&doc);
  return test_finish("test_selection");
}

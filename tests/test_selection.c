/* test_selection.c - NewDataStrategy's training sets for tail_triggers and
 * limit, against hand-computed key lists. */
#include <stdlib.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "select/selector.h"
#include "testutil.h"

/* Three triggers owning keys {0..3}, {4..6}, {7..11}. Returns the sets. */
static void run(const char *yaml, TrainingSet sets[3]) {
  CfgDoc doc;
  CHECK_OK(cfg_load_string("sel.yaml", yaml, &doc));
  CfgRef root = cfg_root(&doc);
  Selector *s = NULL;
  CHECK_OK(selector_create(&root, NULL, &s));
  if (!s) return;
  int64_t keys[12], ts[12];
  int32_t labels[12] = {0};
  for (int i = 0; i < 12; i++) keys[i] = i, ts[i] = 10 * i;
  const int bounds[4] = {0, 4, 7, 12};
  for (int t = 0; t < 3; t++) {
    StreamChunk c = {keys + bounds[t], ts + bounds[t], labels, bounds[t + 1] - bounds[t]};
    CHECK_OK(s->inform(s, &c));
    CHECK_OK(s->select(s, t, &sets[t]));
  }
  selector_free(s);
  cfg_doc_free(&doc);
}

static void expect(const TrainingSet *ts, const int64_t *want, int n) {
  CHECK_EQ_INT(ts->keys.len, n);
  for (int i = 0; i < n && i < ts->keys.len; i++) CHECK_EQ_INT(ts->keys.data[i], want[i]);
}

static void free_sets(TrainingSet sets[3]) {
  for (int i = 0; i < 3; i++) training_set_free(&sets[i]);
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
  CHECK_STR(mh_error(), "sel.yaml:3: tail_trigers: unknown field; expected one of: name, maximum_keys_in_memory, limit, tail_triggers, uses_weights, storage_backend, seed, limit_reset");
  cfg_doc_free(&doc);
  return test_finish("test_selection");
}

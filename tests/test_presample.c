/* test_presample.c - CoresetStrategy's presamplers on hand-built key
 * states: exact counts per label and per trigger (the original's rounding
 * and fair share), no duplicates, results in timestamp order inside the
 * window, the same draw for the same seed, RandomNoReplacement's rounds,
 * and configuration errors. */
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "select/key_state.h"
#include "select/presampler.h"
#include "testutil.h"

/* Append keys with the given labels as one trigger (keys continue from
 * ks->n, timestamp = key) and close it. */
static void add_trigger(KeyState *ks, const int32_t *labels, int64_t n) {
  int64_t *k = malloc((size_t)(n + 1) * sizeof(int64_t));
  for (int64_t i = 0; i < n; i++) k[i] = ks->n + i;
  StreamChunk c = {k, k, labels, n};
  CHECK_OK(key_state_append(ks, &c));
  CHECK_OK(key_state_close_trigger(ks, key_state_open_trigger(ks)));
  free(k);
}

typedef struct {
  CfgDoc doc;
  Presampler *p;
} Made;

static Made make(const char *yaml, int64_t tail) {
  Made m = {{{0}}, NULL};
  CHECK_OK(cfg_load_string("pre.yaml", yaml, &m.doc));
  CfgRef root = cfg_root(&m.doc);
  CHECK_OK(presampler_create(&root, tail, &m.p));
  return m;
}

static void unmake(Made *m) {
  presampler_free(m->p);
  cfg_doc_free(&m->doc);
}

/* Sample trigger t's window; check increasing and inside [begin, n). */
static void sample(Made *m, KeyState *ks, int64_t t, int64_t tail, int64_t limit, uint64_t seed,
                   I64Vec *out) {
  Rng rng;
  rng_seed(&rng, seed);
  PresampleCall c = {ks, key_state_window_begin(ks, t, tail), t, limit, &rng};
  out->len = 0;
  if (!m->p) return;
  CHECK_OK(m->p->sample(m->p, &c, out));
  for (int64_t i = 0; i < out->len; i++) {
    CHECK(out->data[i] >= c.begin && out->data[i] < ks->n);
    if (i) CHECK(out->data[i] > out->data[i - 1]); /* sorted and no duplicates */
  }
}

static void count_by(const I64Vec *v, const int32_t *col, int64_t *counts, int ngroups) {
  memset(counts, 0, (size_t)ngroups * sizeof(int64_t));
  for (int64_t i = 0; i < v->len; i++) counts[col[v->data[i]]]++;
}

static int same(const I64Vec *a, const I64Vec *b) {
  return a->len == b->len && !memcmp(a->data, b->data, (size_t)a->len * sizeof(int64_t));
}

static void test_fair_share(void) {
  const int64_t a[] = {12, 2, 6};
  CHECK_EQ_INT(presample_fair_share(12, a, 3), 5); /* 12/3 = 4 > 2; 10/2 = 5 */
  const int64_t b[] = {10, 20};
  CHECK_EQ_INT(presample_fair_share(100, b, 2), 50); /* all under: the plain share */
  /* Equal groups under the share are all set aside (the original's
   * list.index() keeps the second one and gives 75). */
  const int64_t c[] = {100, 100, 500};
  CHECK_EQ_INT(presample_fair_share(350, c, 3), 150);
  const int64_t d[] = {0, 7, 0, 3};
  CHECK_EQ_INT(presample_fair_share(8, d, 4), 5); /* absent groups ignored: 8/2 = 4 > 3; 5 */
  CHECK_EQ_INT(presample_fair_share(8, d, 0), 0);
  PresampleConfig pc = {"Random", 125, 1000, 0, 0};
  CHECK_EQ_INT(presample_target(&pc, 20, -1), 2); /* int(2.5) */
  CHECK_EQ_INT(presample_target(&pc, 20, 1), 1);
  PresampleConfig pc2 = {"Random", 33, 100, 0, 0};
  CHECK_EQ_INT(presample_target(&pc2, 10, -1), 3); /* int(3.3) */
}

static void test_random(void) {
  KeyState ks;
  CHECK_OK(key_state_init(&ks, 0));
  int32_t lab[20] = {0};
  add_trigger(&ks, lab, 8);
  add_trigger(&ks, lab, 12);
  Made m = make("strategy: Random\nratio: 50\n", -1);
  I64Vec a = {0}, b = {0}, c = {0};
  sample(&m, &ks, 1, -1, -1, 7, &a);
  CHECK_EQ_INT(a.len, 10);
  sample(&m, &ks, 1, -1, -1, 7, &b);
  CHECK(same(&a, &b)); /* same seed, same draw */
  int differs = 0;
  for (uint64_t s = 8; s < 12; s++) {
    sample(&m, &ks, 1, -1, -1, s, &c);
    differs += !same(&a, &c);
  }
  CHECK(differs > 0);
  /* tail_triggers 0: only trigger 1's 12 keys [8, 20) */
  sample(&m, &ks, 1, 0, -1, 7, &a);
  CHECK_EQ_INT(a.len, 6);
  CHECK(a.len == 0 || a.data[0] >= 8);
  sample(&m, &ks, 1, -1, 4, 7, &a); /* limit */
  CHECK_EQ_INT(a.len, 4);
  /* Every key is drawn about equally often over many seeds. */
  int64_t freq[20] = {0};
  for (uint64_t s = 0; s < 4000; s++) {
    sample(&m, &ks, 1, -1, -1, 1000 + s, &a);
    for (int64_t i = 0; i < a.len; i++) freq[a.data[i]]++;
  }
  for (int i = 0; i < 20; i++) CHECK_NEAR(freq[i] / 4000.0, 0.5, 0.04);
  unmake(&m);
  m = make("strategy: No\n", -1);
  sample(&m, &ks, 1, -1, 3, 7, &a); /* the oldest three */
  CHECK_EQ_INT(a.len, 3);
  for (int64_t i = 0; i < a.len; i++) CHECK_EQ_INT(a.data[i], i);
  sample(&m, &ks, 1, 0, -1, 7, &a);
  CHECK_EQ_INT(a.len, 12);
  unmake(&m);
  i64vec_free(&a);
  i64vec_free(&b);
  i64vec_free(&c);
  key_state_free(&ks);
}

static void test_label_balanced(void) {
  /* 20 keys: label 0 x12, label 1 x2, label 2 x6, interleaved. */
  int32_t lab[20];
  int n0 = 0, n1 = 0, n2 = 0;
  for (int i = 0; i < 20; i++) {
    if (i % 10 == 3 && n1 < 2) lab[i] = 1, n1++;
    else if (i % 3 == 0 && n2 < 6) lab[i] = 2, n2++;
    else lab[i] = 0, n0++;
  }
  CHECK(n0 == 12 && n1 == 2 && n2 == 6);
  KeyState ks;
  CHECK_OK(key_state_init(&ks, 0));
  add_trigger(&ks, lab, 20);
  I64Vec a = {0}, b = {0};
  int64_t cnt[3];
  /* target int(20 * 60 / 100) = 12; share 5: labels get 5, 2, 5. */
  Made m = make("strategy: LabelBalanced\nratio: 60\n", -1);
  sample(&m, &ks, 0, -1, -1, 3, &a);
  count_by(&a, ks.labels, cnt, 3);
  CHECK_EQ_INT(cnt[0], 5);
  CHECK_EQ_INT(cnt[1], 2);
  CHECK_EQ_INT(cnt[2], 5);
  sample(&m, &ks, 0, -1, -1, 3, &b);
  CHECK(same(&a, &b));
  unmake(&m);
  /* target 11; share 4: base gives 4 + 2 + 4 = 10 < 11, so each label may
   * take 5 (5 + 2 + 5 = 12) and the oldest 11 stay: exactly the target. */
  m = make("strategy: LabelBalanced\nratio: 55\nforce_required_target_size: true\n", -1);
  sample(&m, &ks, 0, -1, -1, 3, &a);
  CHECK_EQ_INT(a.len, 11);
  count_by(&a, ks.labels, cnt, 3);
  CHECK(cnt[0] <= 5 && cnt[1] == 2 && cnt[2] <= 5 && cnt[0] >= 4 && cnt[2] >= 4);
  unmake(&m);
  m = make("strategy: LabelBalanced\nratio: 55\n", -1); /* without: 10 */
  sample(&m, &ks, 0, -1, -1, 3, &a);
  CHECK_EQ_INT(a.len, 10);
  unmake(&m);
  /* Column balancing: the smallest label (2) is under the share (5), so
   * every label gets 2. */
  m = make("strategy: LabelBalanced\nratio: 60\nforce_column_balancing: true\n", -1);
  sample(&m, &ks, 0, -1, -1, 3, &a);
  count_by(&a, ks.labels, cnt, 3);
  CHECK_EQ_INT(a.len, 6);
  CHECK(cnt[0] == 2 && cnt[1] == 2 && cnt[2] == 2);
  unmake(&m);
  /* limit 6 caps the target: share 2 for every label. */
  m = make("strategy: LabelBalanced\nratio: 100\n", -1);
  sample(&m, &ks, 0, -1, 6, 3, &a);
  count_by(&a, ks.labels, cnt, 3);
  CHECK(cnt[0] == 2 && cnt[1] == 2 && cnt[2] == 2);
  unmake(&m);
  i64vec_free(&a);
  i64vec_free(&b);
  key_state_free(&ks);
}

static void test_trigger_balanced(void) {
  KeyState ks;
  CHECK_OK(key_state_init(&ks, 0));
  int32_t lab[10] = {0};
  add_trigger(&ks, lab, 8);
  add_trigger(&ks, lab, 2);
  add_trigger(&ks, lab, 10);
  I64Vec a = {0};
  int64_t cnt[3];
  /* Trigger 2, all data: target 10, share 3 -> trigger 1 under it -> 8 / 2
   * = 4: triggers get 4, 2, 4. */
  Made m = make("strategy: TriggerBalanced\nratio: 50\n", -1);
  sample(&m, &ks, 2, -1, -1, 5, &a);
  count_by(&a, ks.trigger, cnt, 3);
  CHECK_EQ_INT(cnt[0], 4);
  CHECK_EQ_INT(cnt[1], 2);
  CHECK_EQ_INT(cnt[2], 4);
  unmake(&m);
  /* tail 1: triggers 1 and 2 (12 keys), target 6, share 3 -> 2 + 4. */
  m = make("strategy: TriggerBalanced\nratio: 50\n", 1);
  sample(&m, &ks, 2, 1, -1, 5, &a);
  count_by(&a, ks.trigger, cnt, 3);
  CHECK_EQ_INT(cnt[0], 0);
  CHECK_EQ_INT(cnt[1], 2);
  CHECK_EQ_INT(cnt[2], 4);
  unmake(&m);
  i64vec_free(&a);
  key_state_free(&ks);
}

static void test_no_replacement(void) {
  KeyState ks;
  CHECK_OK(key_state_init(&ks, 0));
  int32_t lab[10] = {0};
  add_trigger(&ks, lab, 10);
  Made m = make("strategy: RandomNoReplacement\nratio: 40\n", -1);
  I64Vec a = {0};
  int seen[10] = {0};
  /* Triggers 0 and 1 draw 4 + 4 distinct keys; trigger 2 takes the last 2
   * unused ones and 2 more not drawn in trigger 2 (a new round). No new
   * keys arrive in between. */
  for (int64_t t = 0; t < 3; t++) {
    if (t > 0) CHECK_OK(key_state_close_trigger(&ks, t));
    sample(&m, &ks, t, -1, -1, 100 + (uint64_t)t, &a);
    CHECK_EQ_INT(a.len, 4);
    for (int64_t i = 0; i < a.len; i++) CHECK_EQ_INT(ks.last_used[a.data[i]], t);
    if (t < 2) {
      for (int64_t i = 0; i < a.len; i++) CHECK_EQ_INT(seen[a.data[i]]++, 0);
    } else {
      int fresh = 0;
      for (int64_t i = 0; i < a.len; i++) fresh += seen[a.data[i]] == 0;
      CHECK_EQ_INT(fresh, 2);
    }
  }
  /* Trigger 3: the round restarted at trigger 2, so candidates are keys
   * last used before 2: the 4 + 4 of triggers 0 and 1 minus the two
   * repeated in trigger 2, i.e. none of trigger 2's four. */
  CHECK_OK(key_state_close_trigger(&ks, 3));
  int32_t before[10];
  memcpy(before, ks.last_used, sizeof before);
  sample(&m, &ks, 3, -1, -1, 103, &a);
  CHECK_EQ_INT(a.len, 4);
  for (int64_t i = 0; i < a.len; i++) CHECK(before[a.data[i]] < 2);
  unmake(&m);
  i64vec_free(&a);
  key_state_free(&ks);
}

static void expect_error(const char *yaml, int64_t tail, const char *msg) {
  CfgDoc doc;
  CHECK_OK(cfg_load_string("pre.yaml", yaml, &doc));
  CfgRef root = cfg_root(&doc);
  Presampler *p = NULL;
  CHECK(presampler_create(&root, tail, &p) == MH_ERR);
  CHECK(p == NULL);
  CHECK_STR(mh_error(), msg);
  cfg_doc_free(&doc);
}

static void test_errors(void) {
  expect_error("strategy: Randm\nratio: 5\n", -1,
               "pre.yaml:1: strategy: unknown presampling strategy \"Randm\"; available: Random, "
               "RandomNoReplacement, LabelBalanced, TriggerBalanced, No");
  expect_error("strategy: Random\nratio: 150\n", -1,
               "pre.yaml:2: ratio: must be in [0, 100], got 150");
  expect_error("strategy: Random\n", -1, "pre.yaml:1: ratio: missing required field");
  expect_error("strategy: No\nratio: 50\n", -1, "pre.yaml:2: ratio: must be in [100, 100], got 50");
  expect_error("strategy: TriggerBalanced\nratio: 50\n", 0,
               "pre.yaml:1: strategy: TriggerBalanced cannot balance across triggers when "
               "tail_triggers is 0 (each set holds one trigger's data); set tail_triggers to null "
               "(all data) or N >= 1");
  expect_error("strategy: LLMEvaluation\nratio: 50\n", -1,
               "pre.yaml:1: strategy: presampling strategy \"LLMEvaluation\" of the original is "
               "not available here; use Random, RandomNoReplacement, LabelBalanced, "
               "TriggerBalanced or No");
  expect_error("strategy: Random\nratio: 5\nforce_balance: true\n", -1,
               "pre.yaml:3: force_balance: unknown field; expected one of: strategy, ratio, "
               "ratio_max, force_column_balancing, force_required_target_size, custom_prompt, "
               "api_key, base_url, model");
  expect_error("strategy: Random\nratio: 5\nmodel: gpt\n", -1,
               "pre.yaml:3: model: only the original's LLMEvaluation presampler uses this field, "
               "and it is not available here; remove it or set it to null");
  /* The original's dumped configuration: LLM fields null. */
  Made d = make("strategy: LabelBalanced\nratio: 50\nratio_max: 100\ncustom_prompt: null\n"
                "api_key: null\nbase_url: null\nmodel: null\nforce_column_balancing: false\n"
                "force_required_target_size: false\n", -1);
  CHECK(d.p != NULL);
  unmake(&d);
  /* ratio_max 1000: ratio is per mille */
  Made m = make("strategy: Random\nratio: 125\nratio_max: 1000\n", -1);
  CHECK(m.p && m.p->cfg.ratio == 125 && m.p->cfg.ratio_max == 1000);
  unmake(&m);
}

int main(void) {
  test_fair_share();
  test_random();
  test_label_balanced();
  test_trigger_balanced();
  test_no_replacement();
  test_errors();
  return test_finish("test_presample");
}

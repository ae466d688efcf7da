/* test_trigger.c - exact trigger indices for hand-made streams, and the
 * same indices however the stream is cut into chunks. */
#include <stdlib.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "testutil.h"
#include "trigger/trigger.h"

static const int64_t TS[] = {0, 5, 10, 10, 25, 31, 60, 61, 100};
#define N ((int64_t)(sizeof TS / sizeof TS[0]))

/* Feed TS in chunks of the given sizes; return global trigger indices. */
static int run(const char *yaml, const int64_t *cuts, int ncuts, I64Vec *global) {
  CfgDoc doc;
  if (cfg_load_string("trigger.yaml", yaml, &doc)) return MH_ERR;
  CfgRef root = cfg_root(&doc);
  Trigger *t = NULL;
  int rc = trigger_create(&root, NULL, &t);
  int64_t keys[N];
  int32_t labels[N] = {0};
  for (int64_t i = 0; i < N; i++) keys[i] = 100 + i;
  int64_t off = 0;
  for (int c = 0; !rc && c <= ncuts; c++) {
    int64_t end = c < ncuts ? cuts[c] : N;
    StreamChunk ch = {keys + off, TS + off, labels + off, end - off};
    I64Vec fired = {0};
    rc = t->inform(t, &ch, &fired);
    for (int64_t i = 0; !rc && i < fired.len; i++) rc = i64vec_push(global, off + fired.data[i]);
    i64vec_free(&fired);
    off = end;
  }
  trigger_free(t);
  cfg_doc_free(&doc);
  return rc;
}

static void expect(const char *yaml, const int64_t *cuts, int ncuts, const int64_t *want, int nwant) {
  I64Vec got = {0};
  CHECK_OK(run(yaml, cuts, ncuts, &got));
  CHECK_EQ_INT(got.len, nwant);
  for (int i = 0; i < nwant && i < got.len; i++) CHECK_EQ_INT(got.data[i], want[i]);
  i64vec_free(&got);
}

/* ---- EnsembleTrigger --------------------------------------------------------------- */

#define EL 17 /* samples of the ensemble stream; timestamps 0, 10, ..., 160 */

/* Feed the EL-sample stream cut after sample i wherever bit i of mask is
 * set; return the global trigger indices. */
static int run_mask(const CfgRef *root, uint32_t mask, I64Vec *global) {
  int64_t keys[EL], ts[EL];
  int32_t labels[EL] = {0};
  for (int64_t i = 0; i < EL; i++) keys[i] = 100 + i, ts[i] = 10 * i;
  Trigger *t = NULL;
  int rc = trigger_create(root, NULL, &t);
  for (int64_t off = 0, i = 0; !rc && i < EL; i++) {
    if (i < EL - 1 && !(mask >> i & 1u)) continue;
    StreamChunk ch = {keys + off, ts + off, labels + off, i + 1 - off};
    I64Vec fired = {0};
    rc = t->inform(t, &ch, &fired);
    for (int64_t f = 0; !rc && f < fired.len; f++) rc = i64vec_push(global, off + fired.data[f]);
    i64vec_free(&fired);
    off = i + 1;
  }
  trigger_free(t);
  return rc;
}

/* The same indices for all 2^(EL-1) ways of cutting the stream. */
static void expect_all_cuts(const char *yaml, const int64_t *want, int nwant) {
  CfgDoc doc;
  CHECK_OK(cfg_load_string("ensemble.yaml", yaml, &doc));
  CfgRef root = cfg_root(&doc);
  int bad = 0;
  for (uint32_t mask = 0; mask < 1u << (EL - 1) && !bad; mask++) {
    I64Vec got = {0};
    int rc = run_mask(&root, mask, &got);
    bad = rc || got.len != nwant;
    for (int i = 0; !bad && i < nwant; i++) bad = got.data[i] != want[i];
    if (bad) {
      fprintf(stderr, "ensemble: cuts mask 0x%x: rc %d, %lld indices:", (unsigned)mask, rc,
              (long long)got.len);
      for (int64_t i = 0; i < got.len; i++) fprintf(stderr, " %lld", (long long)got.data[i]);
      fprintf(stderr, "\n");
    }
    i64vec_free(&got);
  }
  CHECK(!bad);
  cfg_doc_free(&doc);
}

/* Create must fail with exactly this message. */
static void expect_error(const char *yaml, const char *msg) {
  CfgDoc doc;
  CHECK_OK(cfg_load_string("t.yaml", yaml, &doc));
  CfgRef root = cfg_root(&doc);
  Trigger *t = NULL;
  CHECK(trigger_create(&root, NULL, &t) == MH_ERR);
  CHECK_STR(mh_error(), msg);
  cfg_doc_free(&doc);
}

/* A test-only trigger that never fires and asks for chunks of at most `limit`. */
typedef struct {
  int64_t limit;
} LimitTrigger;
static int limit_inform(Trigger *t, const StreamChunk *c, I64Vec *fired) {
  (void)t, (void)c, (void)fired;
  return MH_OK;
}
static int64_t limit_max_chunk(Trigger *t) { return ((LimitTrigger *)t->impl)->limit; }
static int limit_create(const CfgRef *cfg, PluginEnv *env, Trigger **out) {
  (void)env;
  LimitTrigger *s = mh_calloc(1, sizeof *s);
  Trigger *t = mh_calloc(1, sizeof *t);
  if (!s || !t) {
    free(s);
    free(t);
    return MH_ERR;
  }
  t->impl = s;
  t->inform = limit_inform;
  t->max_chunk = limit_max_chunk;
  *out = t;
  return cfg_req_int(cfg, "limit", 1, 1000, &s->limit);
}
static const TriggerType limit_trigger = {"LimitTestTrigger", limit_create};

/* TimeTrigger on timestamps at the ends of int64: a far-future sample is a
 * clear error, not billions of triggers; boundaries stop before INT64_MAX. */
static int time_on(const char *yaml, const int64_t *ts, int64_t n, I64Vec *fired) {
  CfgDoc doc;
  if (cfg_load_string("trigger.yaml", yaml, &doc)) return MH_ERR;
  CfgRef root = cfg_root(&doc);
  Trigger *t = NULL;
  int rc = trigger_create(&root, NULL, &t);
  int64_t keys[8] = {0};
  int32_t labels[8] = {0};
  StreamChunk ch = {keys, ts, labels, n};
  if (!rc) rc = t->inform(t, &ch, fired);
  trigger_free(t);
  cfg_doc_free(&doc);
  return rc;
}

static void test_time_extremes(void) {
  I64Vec fired = {0};
  const int64_t far[] = {0, (int64_t)1 << 61};
  CHECK(time_on("id: TimeTrigger\nevery: 1y\n", far, 2, &fired) == MH_ERR);
  CHECK(strstr(mh_error(), "boundaries of every 31536000s after the last trigger; check the "
                           "store's timestamps, or replay a window with "
                           "experiment.start_replay_at / stop_replay_at") != NULL);
  CHECK(fired.len == 0);
  /* boundaries at INT64_MAX - 250 + 100k: the last representable one fires */
  const int64_t top[] = {INT64_MAX - 250, INT64_MAX - 120, INT64_MAX};
  fired.len = 0;
  CHECK_OK(time_on("id: TimeTrigger\nevery: 100s\n", top, 3, &fired));
  CHECK_EQ_INT(fired.len, 2); /* boundaries MAX-150 and MAX-50 */
  if (fired.len == 2) {
    CHECK_EQ_INT(fired.data[0], 0);
    CHECK_EQ_INT(fired.data[1], 1);
  }
  i64vec_free(&fired);
}

static void test_ensemble(void) {
  /* Sub-triggers every 2, 3, 5 and 15 samples, checked every 2 samples
   * (intervals [0,1], [2,3], ..., [14,15]; sample 16 is never checked).
   * Votes per interval: 1, 2, 3, 1, 3, 2, 1, 4 (every-2 fires in each,
   * every-3 at 2, 5, 8, 11, 14, every-5 at 4, 9, 14, every-15 at 14). */
#define SUBS                                            \
  "detection_interval_data_points: 2\n"                 \
  "subtriggers:\n"                                      \
  "  a: {id: DataAmountTrigger, num_samples: 2}\n"      \
  "  b: {id: DataAmountTrigger, num_samples: 3}\n"      \
  "  c: {id: DataAmountTrigger, num_samples: 5}\n"      \
  "  d: {id: DataAmountTrigger, num_samples: 15}\n"
  const int64_t want_majority[] = {5, 9, 15}; /* more than 2 of 4 votes */
  expect_all_cuts("id: EnsembleTrigger\n" SUBS "ensemble_strategy: {id: MajorityVote}\n",
                  want_majority, 3);
  const int64_t want_n2[] = {3, 5, 9, 11, 15};
  expect_all_cuts("id: EnsembleTrigger\n" SUBS "ensemble_strategy: {id: AtLeastN, n: 2}\n",
                  want_n2, 5);
  const int64_t want_all[] = {15};
  expect_all_cuts("id: EnsembleTrigger\n" SUBS
                  "ensemble_strategy: {id: Custom, aggregation_function: all}\n",
                  want_all, 1);
  expect_all_cuts("id: EnsembleTrigger\n" SUBS "ensemble_strategy: {id: AtLeastN, n: 4}\n",
                  want_all, 1);
  const int64_t want_any[] = {1, 3, 5, 7, 9, 11, 13, 15};
  expect_all_cuts("id: EnsembleTrigger\n" SUBS
                  "ensemble_strategy: {id: Custom, aggregation_function: any}\n",
                  want_any, 8);
  /* Three sub-triggers (3, 5, 15), checked every 5 samples: intervals
   * [0,4] votes 2, [5,9] 2, [10,14] 3; a majority is 2. */
  const int64_t want_three[] = {4, 9, 14};
  expect_all_cuts("id: EnsembleTrigger\n"
                  "detection_interval_data_points: 5\n"
                  "subtriggers:\n"
                  "  a: {id: DataAmountTrigger, num_samples: 3}\n"
                  "  b: {id: DataAmountTrigger, num_samples: 5}\n"
                  "  c: {id: DataAmountTrigger, num_samples: 15}\n"
                  "ensemble_strategy: {id: MajorityVote}\n",
                  want_three, 3);
  /* A TimeTrigger's boundaries 60 and 120 fall just before samples 6 and
   * 12, the first of the intervals [6,8] and [12,14]: each votes there, as
   * the original's sub-trigger informed with that interval yields -1. */
  const int64_t want_time[] = {8, 14};
  expect_all_cuts("id: EnsembleTrigger\n"
                  "detection_interval_data_points: 3\n"
                  "subtriggers: {t: {id: TimeTrigger, every: 60s, start_timestamp: 0}}\n"
                  "ensemble_strategy: {id: Custom, aggregation_function: any}\n",
                  want_time, 2);
#undef SUBS

  /* Configuration errors name the file, line and field. */
  expect_error("id: EnsembleTrigger\n"
               "subtriggers:\n"
               "  a: {id: DataAmountTrigger, num_samples: 3}\n"
               "ensemble_strategy: {id: AtLeastN, n: 2}\n",
               "t.yaml:4: ensemble_strategy.n: is 2 but there are only 1 subtriggers; the "
               "trigger could never fire");
  expect_error("id: EnsembleTrigger\n"
               "subtriggers:\n"
               "  a: {id: DataAmountTrigger, num_samples: 0}\n"
               "ensemble_strategy: {id: MajorityVote}\n",
               "t.yaml:3: subtriggers.a.num_samples: must be in [1, 9223372036854775807], got 0");
  expect_error("id: EnsembleTrigger\n"
               "subtriggers:\n"
               "  a: {id: EnsembleTrigger}\n"
               "ensemble_strategy: {id: MajorityVote}\n",
               "t.yaml:3: subtriggers.a.id: nested ensemble triggers are not supported");
  expect_error("id: EnsembleTrigger\n"
               "subtriggers:\n"
               "  a: {id: DataAmountTrigger, num_samples: 3}\n",
               "t.yaml:1: ensemble_strategy: missing required field");
  expect_error("id: EnsembleTrigger\n"
               "subtriggers:\n"
               "  a: {id: DataAmountTrigger, num_samples: 3}\n"
               "ensemble_strategy: {id: Custom, aggregation_function: most}\n",
               "t.yaml:4: ensemble_strategy.aggregation_function: expected one of all, any, got "
               "\"most\"");

  /* max_chunk: the smallest sub-trigger limit, never past the next check;
   * none when no sub-trigger has one. */
  CHECK_OK(trigger_register(&limit_trigger));
  CfgDoc doc;
  CHECK_OK(cfg_load_string("t.yaml",
                           "id: EnsembleTrigger\n"
                           "detection_interval_data_points: 5\n"
                           "subtriggers:\n"
                           "  a: {id: LimitTestTrigger, limit: 7}\n"
                           "  b: {id: LimitTestTrigger, limit: 4}\n"
                           "ensemble_strategy: {id: MajorityVote}\n",
                           &doc));
  CfgRef root = cfg_root(&doc);
  Trigger *t = NULL;
  CHECK_OK(trigger_create(&root, NULL, &t));
  CHECK(t->max_chunk != NULL);
  if (t->max_chunk) {
    CHECK_EQ_INT(t->max_chunk(t), 4);
    int64_t keys[3] = {1, 2, 3}, ts[3] = {0, 1, 2};
    int32_t labels[3] = {0};
    StreamChunk ch = {keys, ts, labels, 3};
    I64Vec fired = {0};
    CHECK_OK(t->inform(t, &ch, &fired));
    CHECK_EQ_INT(t->max_chunk(t), 2); /* the check after 5 samples comes first */
    i64vec_free(&fired);
  }
  trigger_free(t);
  cfg_doc_free(&doc);
  CHECK_OK(cfg_load_string("t.yaml",
                           "id: EnsembleTrigger\n"
                           "subtriggers: {a: {id: DataAmountTrigger, num_samples: 3}}\n"
                           "ensemble_strategy: {id: MajorityVote}\n",
                           &doc));
  root = cfg_root(&doc);
  CHECK_OK(trigger_create(&root, NULL, &t));
  CHECK(t->max_chunk == NULL);
  trigger_free(t);
  cfg_doc_free(&doc);
}

int main(void) {
  test_time_extremes();
  /* TimeTrigger every 10 s from the first sample (t = 0): boundaries 10..100.
   * Each trigger owns the samples before its boundary; the gap 31 -> 60 passes
   * boundaries 40, 50, 60 (three triggers at index 5), 61 -> 100 passes four. */
  const char *time10 = "id: TimeTrigger\nevery: 10s\n";
  const int64_t want_time[] = {1, 3, 4, 5, 5, 5, 7, 7, 7, 7};
  expect(time10, NULL, 0, want_time, 10);
  const int64_t cuts1[] = {3};
  expect(time10, cuts1, 1, want_time, 10);
  const int64_t cuts2[] = {2, 4, 5, 6, 8}; /* boundary 10 falls between chunks */
  expect(time10, cuts2, 5, want_time, 10);
  const int64_t cuts_all[] = {1, 2, 3, 4, 5, 6, 7, 8};
  expect(time10, cuts_all, 8, want_time, 10);

  /* start_timestamp shifts the boundaries: 7, 37, 67, 97. */
  const char *time30 = "id: TimeTrigger\nevery: 30s\nstart_timestamp: -23\n";
  const int64_t want_time30[] = {1, 5, 7, 7};
  expect(time30, NULL, 0, want_time30, 4);

  /* DataAmountTrigger: every 3 samples, whatever the chunking. */
  const char *amount3 = "id: DataAmountTrigger\nnum_samples: 3\n";
  const int64_t want_amount[] = {2, 5, 8};
  expect(amount3, NULL, 0, want_amount, 3);
  expect(amount3, cuts2, 5, want_amount, 3);
  const char *amount4 = "id: DataAmountTrigger\nnum_samples: 4\n";
  const int64_t want_amount4[] = {3, 7};
  expect(amount4, cuts_all, 8, want_amount4, 2);

  /* Configuration errors name the file, line and field. */
  CfgDoc doc;
  Trigger *t = NULL;
  CHECK_OK(cfg_load_string("t.yaml", "id: TimeTrigger\nevery: 1 year\n", &doc));
  CfgRef root = cfg_root(&doc);
  CHECK(trigger_create(&root, NULL, &t) == MH_ERR);
  CHECK_STR(mh_error(), "t.yaml:2: every: expected a duration like 30d (<int> then one of s m h d w y), got \"1 year\"");
  cfg_doc_free(&doc);
  CHECK_OK(cfg_load_string("t.yaml", "id: TimeTriger\nevery: 1y\n", &doc));
  root = cfg_root(&doc);
  CHECK(trigger_create(&root, NULL, &t) == MH_ERR);
  CHECK_STR(mh_error(), "t.yaml:1: id: unknown trigger \"TimeTriger\"; available: TimeTrigger, DataAmountTrigger, DataDriftTrigger, PerformanceTrigger, EnsembleTrigger, DataIncorporationLatencyCostTrigger, AvoidableMisclassificationCostTrigger");
  cfg_doc_free(&doc);
  CHECK_OK(cfg_load_string("t.yaml", "id: DataAmountTrigger\nnum_samples: 0\n", &doc));
  root = cfg_root(&doc);
  CHECK(trigger_create(&root, NULL, &t) == MH_ERR);
  CHECK_STR(mh_error(), "t.yaml:2: num_samples: must be in [1, 9223372036854775807], got 0");
  cfg_doc_free(&doc);
  test_ensemble();
  return test_finish("test_trigger");
}

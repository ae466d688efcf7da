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

int main(void) {
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
  CHECK_STR(mh_error(), "t.yaml:1: id: unknown trigger \"TimeTriger\"; available: TimeTrigger, DataAmountTrigger, DataDriftTrigger, PerformanceTrigger");
  cfg_doc_free(&doc);
  CHECK_OK(cfg_load_string("t.yaml", "id: DataAmountTrigger\nnum_samples: 0\n", &doc));
  root = cfg_root(&doc);
  CHECK(trigger_create(&root, NULL, &t) == MH_ERR);
  CHECK_STR(mh_error(), "t.yaml:2: num_samples: must be in [1, 9223372036854775807], got 0");
  cfg_doc_free(&doc);
  return test_finish("test_trigger");
}

/* test_key_state.c - the selection strategies' per-key state at scale:
 * 10M keys by default, 100M with --long (2.9 GB of columns; the issue's
 * size). Checks the bytes per key, the columns, trigger windows, and
 * presampling over the whole state (exact counts, sorted, in the window),
 * and prints append and presampling rates (keys/s).
 *
 *   test_key_state [--long | --keys N] */
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "core/timing.h"
#include "select/key_state.h"
#include "select/presampler.h"
#include "testutil.h"

#define CHUNK 1000000
#define LABELS 10
#define TRIGGERS 10

static int64_t key_of(int64_t i) { return 3 * i + 1; }

static Presampler *make(const char *yaml, int64_t tail, CfgDoc *doc) {
  Presampler *p = NULL;
  CHECK_OK(cfg_load_string("pre.yaml", yaml, doc));
  CfgRef root = cfg_root(doc);
  CHECK_OK(presampler_create(&root, tail, &p));
  return p;
}

/* Presample the last trigger's window of all keys (tail null) and check the
 * result is sorted, inside the window, of size want. Returns keys/s. */
static double run_presampler(KeyState *ks, const char *yaml, int64_t want, int64_t *per_label) {
  CfgDoc doc;
  Presampler *p = make(yaml, -1, &doc);
  if (!p) return 0.0;
  Rng rng;
  rng_seed(&rng, 42);
  I64Vec out = {0};
  PresampleCall c = {ks, 0, TRIGGERS - 1, -1, &rng};
  double t0 = mh_now();
  CHECK_OK(p->sample(p, &c, &out));
  double dt = mh_now() - t0;
  CHECK_EQ_INT(out.len, want);
  int64_t bad = 0;
  memset(per_label, 0, LABELS * sizeof(int64_t));
  for (int64_t i = 0; i < out.len; i++) {
    if (i && out.data[i] <= out.data[i - 1]) bad++;
    if (out.data[i] < 0 || out.data[i] >= ks->n) bad++;
    else per_label[ks->labels[out.data[i]]]++;
  }
  CHECK_EQ_INT(bad, 0);
  i64vec_free(&out);
  presampler_free(p);
  cfg_doc_free(&doc);
  return (double)ks->n / dt;
}

int main(int argc, char **argv) {
  int64_t n = 10 * 1000 * 1000;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--long")) n = 100 * 1000 * 1000;
    else if (!strcmp(argv[i], "--keys") && i + 1 < argc) n = atoll(argv[++i]);
  }
  CHECK(key_state_bytes_per_key() <= 32);
  printf("# key state: %lld keys, %lld bytes per key, %.2f GB\n", (long long)n,
         (long long)key_state_bytes_per_key(), (double)n * key_state_bytes_per_key() / 1e9);

  /* The stream: key 3i+1, timestamp 10i, label i % LABELS, TRIGGERS triggers
   * of n / TRIGGERS keys, fed in chunks that straddle trigger boundaries. */
  KeyState ks;
  CHECK_OK(key_state_init(&ks, 0)); /* grow as the stream comes */
  int64_t *k = malloc(CHUNK * sizeof(int64_t)), *ts = malloc(CHUNK * sizeof(int64_t));
  int32_t *lab = malloc(CHUNK * sizeof(int32_t));
  if (!k || !ts || !lab) return 1;
  const int64_t per_trigger = n / TRIGGERS;
  double t0 = mh_now();
  int64_t next = 0, trigger = 0;
  while (next < n) {
    int64_t end = next + CHUNK < n ? next + CHUNK : n;
    int64_t boundary = (trigger + 1) * per_trigger;
    if (trigger < TRIGGERS - 1 && end > boundary) end = boundary;
    for (int64_t i = next; i < end; i++) {
      k[i - next] = key_of(i);
      ts[i - next] = 10 * i;
      lab[i - next] = (int32_t)(i % LABELS);
    }
    StreamChunk c = {k, ts, lab, end - next};
    CHECK_OK(key_state_append(&ks, &c));
    next = end;
    if (trigger < TRIGGERS - 1 && next == boundary)
      CHECK_OK(key_state_close_trigger(&ks, trigger++));
  }
  CHECK_OK(key_state_close_trigger(&ks, trigger));
  const double append_s = mh_now() - t0;
  printf("# append: %.3f s, %.1fM keys/s\n", append_s, (double)n / append_s / 1e6);
  free(k);
  free(ts);
  free(lab);

  CHECK_EQ_INT(ks.n, n);
  CHECK_EQ_INT(key_state_open_trigger(&ks), TRIGGERS);
  CHECK(ks.cap >= n && ks.cap <= n + n / 2 + 1024); /* growth stays within half */
  CHECK_EQ_INT(ks.min_label, 0);
  CHECK_EQ_INT(ks.max_label, LABELS - 1);
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i += 9973) {
    const int64_t t = i / per_trigger < TRIGGERS ? i / per_trigger : TRIGGERS - 1;
    bad += ks.keys[i] != key_of(i) || ks.timestamps[i] != 10 * i ||
           ks.labels[i] != i % LABELS || ks.trigger[i] != t ||
           ks.last_used[i] != KEY_STATE_NEVER || ks.used[i] != 0;
  }
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(ks.trigger[n - 1], TRIGGERS - 1);
  /* Windows of the last trigger: all, its own, it plus two before. */
  CHECK_EQ_INT(key_state_window_begin(&ks, TRIGGERS - 1, -1), 0);
  CHECK_EQ_INT(key_state_window_begin(&ks, TRIGGERS - 1, 0), (TRIGGERS - 1) * per_trigger);
  CHECK_EQ_INT(key_state_window_begin(&ks, TRIGGERS - 1, 2), (TRIGGERS - 3) * per_trigger);
  CHECK_EQ_INT(key_state_window_begin(&ks, 1, 5), 0);
  /* Out-of-order trigger: an error that says what went wrong. */
  CHECK(key_state_close_trigger(&ks, 3) == MH_ERR);

  /* Presampling the whole state (the benchmark: >= 20M keys/s). */
  int64_t per_label[LABELS];
  double r = run_presampler(&ks, "strategy: Random\nratio: 50\n", n / 2, per_label);
  printf("# Random 50%%: %.1fM keys/s\n", r / 1e6);
  const int64_t t30 = (int64_t)((double)(n * 30) / 100);
  r = run_presampler(&ks, "strategy: LabelBalanced\nratio: 30\n", t30, per_label);
  printf("# LabelBalanced 30%%: %.1fM keys/s\n", r / 1e6);
  for (int l = 0; l < LABELS; l++) CHECK_EQ_INT(per_label[l], t30 / LABELS);
  r = run_presampler(&ks, "strategy: TriggerBalanced\nratio: 50\n", n / 2, per_label);
  printf("# TriggerBalanced 50%%: %.1fM keys/s\n", r / 1e6);
  key_state_free(&ks);
  return test_finish("test_key_state");
}

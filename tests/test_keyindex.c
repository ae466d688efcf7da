/* test_keyindex.c - the key -> row index at 10M keys: sparse keys (binary
 * search) and a dense range (O(1)), every lookup checked, and a missing
 * key named in the error. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/timing.h"
#include "data/store.h"
#include "testutil.h"

#define NK 10000000

static void run(const char *name, int64_t stride) {
  const char *dir = test_tmpdir(name);
  StoreSchema sc = {FEAT_U8, 1, {1, 0, 0, 0}, 2};
  StoreWriter w;
  CHECK_OK(store_writer_open(dir, &sc, 0, &w));
  int64_t *keys = malloc(sizeof(int64_t) * NK), *ts = malloc(sizeof(int64_t) * NK);
  int32_t *labels = calloc(NK, sizeof(int32_t));
  unsigned char *f = calloc(NK, 1);
  /* Keys in a scrambled order, so rows are not in key order. */
  for (int64_t i = 0; i < NK; i++) {
    int64_t j = (i * 7919) % NK; /* 7919 is prime and does not divide NK: a permutation */
    keys[i] = j * stride - 5000000;
    ts[i] = i;
  }
  for (int sh = 0; sh < 4; sh++)
    CHECK_OK(store_write_shard(&w, NK / 4, keys + sh * (NK / 4), ts + sh * (NK / 4),
                               labels + sh * (NK / 4), f + sh * (NK / 4)));
  double t0 = mh_now();
  Store s;
  CHECK_OK(store_open(dir, &s));
  double t_open = mh_now() - t0;
  CHECK_EQ_INT(s.n, NK);
  int64_t *q = malloc(sizeof(int64_t) * NK), *rows = malloc(sizeof(int64_t) * NK);
  Rng rng;
  rng_seed(&rng, 1);
  for (int64_t i = 0; i < NK; i++) q[i] = keys[rng_below(&rng, NK)];
  t0 = mh_now();
  CHECK_OK(store_find_rows(&s, q, NK, rows));
  double t_find = mh_now() - t0;
  int64_t bad = 0;
  for (int64_t i = 0; i < NK; i++) bad += s.keys[rows[i]] != q[i];
  CHECK_EQ_INT(bad, 0);
  printf("%s: open %.2f s, %d lookups %.2f s (%.0f ns each)\n", name, t_open, NK, t_find,
         1e9 * t_find / NK);
  int64_t missing = stride > 1 ? 1 - 5000000 : NK * stride - 5000000;
  CHECK(store_find_rows(&s, &missing, 1, rows) == MH_ERR);
  char want[256];
  snprintf(want, sizeof want, "key %lld is not in store %s (%d samples)", (long long)missing,
           dir, NK);
  CHECK_STR(mh_error(), want);
  store_close(&s);
  free(q);
  free(rows);
  free(keys);
  free(ts);
  free(labels);
  free(f);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
}

int main(void) {
  mh_hdf5_quiet();
  run("keys_sparse", 3);
  run("keys_dense", 1);
  return test_finish("test_keyindex");
}

/* fuzz_store.c - libFuzzer harness: the input is one HDF5 shard file.
 * Opens it as a one-shard store (schema check, metadata load), and when
 * that succeeds reads features through both read paths (the direct mmap
 * path and HDF5 hyperslabs must return the same floats) and verifies the
 * shard's checksum. A damaged file must give an error, never a crash. */
#include "fuzz_util.h"

#include <math.h>

#include "core/error.h"
#include "data/store.h"

static char store_dir[600], shard_path[700];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fz_init("store");
  fz_path(store_dir, sizeof store_dir, "store");
  mkdir(store_dir, 0755);
  snprintf(shard_path, sizeof shard_path, "%s/shard_00000.h5", store_dir);
  return 0;
}

/* Same bits or both NaN (a NaN from the file compares unequal). */
static int same_f32(float a, float b) { return a == b || (isnan(a) && isnan(b)); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_write(shard_path, data, size);
  Store s;
  memset(&s, 0, sizeof s);
  if (store_open(store_dir, &s) != MH_OK) {
    fz_note("rejected", mh_error());
  } else {
    FZ_ASSERT(s.nshards == 1, "one shard file, store has %d", s.nshards);
    FZ_ASSERT(s.n == s.shards[0].nrows, "rows %lld vs shard rows %lld", (long long)s.n,
              (long long)s.shards[0].nrows);
    FZ_ASSERT(s.feat_elems >= 1, "feat_elems %lld", (long long)s.feat_elems);
    /* A batch: the first rows, the last row twice, out of order. Bounded so
     * that a header promising huge samples is not read in full. */
    int64_t want = s.n < 8 ? s.n : 8;
    if (want > 0 && s.feat_elems <= (1 << 20) / want) {
      int64_t rows[9];
      for (int64_t i = 0; i < want; i++) rows[i] = want - 1 - i;
      rows[want] = s.n - 1;
      const int64_t n = want + 1;
      const size_t bytes = (size_t)(n * s.feat_elems) * sizeof(float);
      float *a = malloc(bytes), *b = malloc(bytes);
      FZ_ASSERT(a && b, "malloc %zu", bytes);
      int direct = store_set_read_path(&s, STORE_READ_AUTO);
      int ra = store_read_features_f32(&s, rows, n, a);
      store_set_read_path(&s, STORE_READ_HDF5);
      int rb = store_read_features_f32(&s, rows, n, b);
      if (direct && ra == MH_OK && rb == MH_OK)
        for (int64_t i = 0; i < n * s.feat_elems; i++)
          FZ_ASSERT(same_f32(a[i], b[i]), "direct and HDF5 reads differ at %lld: %g vs %g",
                    (long long)i, a[i], b[i]);
      if (ra == MH_OK && rb == MH_OK && s.schema.type == FEAT_U8)
        for (int64_t i = 0; i < n * s.feat_elems; i++)
          FZ_ASSERT(a[i] >= 0.0f && a[i] <= 1.0f, "uint8 feature scaled to %g", a[i]);
      free(a);
      free(b);
    }
    if (s.feat_elems <= (1 << 20) / (s.n > 0 ? s.n : 1)) {
      ShardCheck st = SHARD_UNCHECKED;
      uint64_t stored = 0, computed = 0;
      int64_t nbytes = 0;
      int rc = store_verify_shard(&s, 0, &st, &stored, &computed, &nbytes);
      FZ_ASSERT(rc == MH_OK ? st == SHARD_OK || st == SHARD_NO_CHECKSUM : st == SHARD_BAD ||
                                                                             st == SHARD_UNCHECKED,
                "verify returned %d with status %d", rc, (int)st);
    }
  }
  store_close(&s);
  FZ_ASSERT(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0,
            "%lld HDF5 objects still open after store_close",
            (long long)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL));
  mh_error_clear();
  unlink(shard_path);
  return 0;
}

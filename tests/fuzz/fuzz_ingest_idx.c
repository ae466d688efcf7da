/* fuzz_ingest_idx.c - libFuzzer harness for `modyn ingest --format idx`.
 * Input: an option byte, a big-endian 16-bit length L, the labels file (L
 * bytes, or what is left), then the images file (the rest). The option byte
 * picks
 *   bits 0-1 --timestamp-start 0, 5, -3, 2^62
 *   bits 2-3 --timestamp-step  1, 0, 7, 2^40
 *   bit 4    --num-classes 3
 *   bit 5    --shard-size 2
 * Properties as in fuzz_ingest_csv.c, plus: every row's features are the
 * image bytes scaled to [0, 1]. */
#include "fuzz_ingest.h"

static char img_path[600], lab_path[600], out_dir[600];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fz_init("idx");
  fz_path(img_path, sizeof img_path, "images.idx3");
  fz_path(lab_path, sizeof lab_path, "labels.idx1");
  fz_path(out_dir, sizeof out_dir, "out");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  const unsigned f = data[0];
  size_t L = (size_t)data[1] << 8 | data[2];
  const uint8_t *p = data + 3;
  size_t rest = size - 3;
  if (L > rest) L = rest;
  fz_write(lab_path, p, L);
  fz_write(img_path, p + L, rest - L);
  static const char *const starts[4] = {"0", "5", "-3", "4611686018427387904"};
  static const char *const steps[4] = {"1", "0", "7", "1099511627776"};
  IngestOptions o;
  ingest_options_init(&o);
  o.out = out_dir;
  ingest_set(&o, "images", img_path);
  ingest_set(&o, "labels", lab_path);
  ingest_set(&o, "timestamp-start", starts[f & 3]);
  ingest_set(&o, "timestamp-step", steps[(f >> 2) & 3]);
  if (f & 16) o.num_classes = 3;
  if (f & 32) o.shard_size = 2;

  IngestResult res;
  Store s;
  if (fz_ingest("idx", &o, out_dir, &res, &s)) {
    FZ_ASSERT(s.schema.type == FEAT_U8 && s.schema.ndims == 3, "schema");
    const uint8_t *img = p + L;
    const size_t hdr = 16;
    for (int64_t i = 0; i < s.n; i++) {
      FZ_ASSERT(s.labels[i] == p[8 + i], "label %d at row %lld, file has %d", s.labels[i],
                (long long)i, p[8 + i]);
      FZ_ASSERT(s.labels[i] < s.schema.num_classes, "label %d of %d classes", s.labels[i],
                s.schema.num_classes);
      FZ_ASSERT(i == 0 || s.timestamps[i] >= s.timestamps[i - 1], "timestamps out of order");
    }
    if (s.n * s.feat_elems <= (1 << 20)) {
      float *x = malloc((size_t)(s.n * s.feat_elems) * sizeof(float));
      int64_t *rows = malloc((size_t)s.n * sizeof(int64_t));
      FZ_ASSERT(x && rows, "malloc");
      for (int64_t i = 0; i < s.n; i++) rows[i] = i;
      FZ_ASSERT(store_read_features_f32(&s, rows, s.n, x) == MH_OK, "read: %s", mh_error());
      for (int64_t i = 0; i < s.n * s.feat_elems; i++)
        FZ_ASSERT(x[i] == img[hdr + i] / 255.0f, "pixel %lld: %g vs byte %d", (long long)i, x[i],
                  img[hdr + i]);
      free(rows);
      free(x);
    }
    store_close(&s);
    fz_note("accepted", "ok");
  }
  fz_ingest_done(out_dir);
  return 0;
}

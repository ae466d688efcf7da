/* fuzz_ingest_csv.c - libFuzzer harness for `modyn ingest --format csv`.
 * Input: one option byte, then the CSV file. The option byte picks
 *   bit 0    --no-header (columns by index: label 0, timestamp 1)
 *            else a header row (label column "label", timestamp "ts")
 *   bits 1-2 --delimiter , ; tab |
 *   bit 3    --label-map auto
 *   bit 4    --timestamp-format %Y-%m-%d
 *   bit 5    --feature-columns (header: "a,b"; no header: "2,3")
 *   bit 6    --num-classes 3
 *   bit 7    --shard-size 2
 * Properties: a failed ingest leaves no store directory behind; a
 * successful one opens as a store with the rows and shards it reported,
 * every label below the class count, timestamps in order. */
#include "fuzz_ingest.h"

static char in_path[600], out_dir[600];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fz_init("csv");
  fz_path(in_path, sizeof in_path, "in.csv");
  fz_path(out_dir, sizeof out_dir, "out");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const unsigned f = data[0];
  fz_write(in_path, data + 1, size - 1);
  static const char *const delims[4] = {",", ";", "tab", "|"};
  const int header = !(f & 1);
  IngestOptions o;
  ingest_options_init(&o);
  o.out = out_dir;
  ingest_set(&o, "input", in_path);
  ingest_set(&o, "label-column", header ? "label" : "0");
  ingest_set(&o, "timestamp-column", header ? "ts" : "1");
  ingest_set(&o, "delimiter", delims[(f >> 1) & 3]);
  if (!header) ingest_set(&o, "no-header", "");
  if (f & 8) ingest_set(&o, "label-map", "auto");
  if (f & 16) ingest_set(&o, "timestamp-format", "%Y-%m-%d");
  if (f & 32) ingest_set(&o, "feature-columns", header ? "a,b" : "2,3");
  if (f & 64) o.num_classes = 3;
  if (f & 128) o.shard_size = 2;

  IngestResult res;
  Store s;
  if (fz_ingest("csv", &o, out_dir, &res, &s)) {
    FZ_ASSERT(s.schema.num_classes == res.num_classes, "classes %d vs %d", s.schema.num_classes,
              res.num_classes);
    for (int64_t i = 0; i < s.n; i++) {
      FZ_ASSERT(s.labels[i] >= 0 && s.labels[i] < s.schema.num_classes, "label %d of %d classes",
                s.labels[i], s.schema.num_classes);
      FZ_ASSERT(i == 0 || s.timestamps[i] >= s.timestamps[i - 1], "timestamps out of order");
      FZ_ASSERT(s.keys[i] == res.first_key + i, "key %lld at row %lld", (long long)s.keys[i],
                (long long)i);
    }
    store_close(&s);
    fz_note("accepted", "ok");
  }
  fz_ingest_done(out_dir);
  return 0;
}

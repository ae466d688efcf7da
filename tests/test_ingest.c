/* test_ingest.c - ingest formats: a hand-written IDX pair and CSV files
 * (header, dates, quoted fields, CRLF, out-of-order timestamps, string
 * labels, no header), read back exactly; error messages with file:line and
 * column; `modyn ingest` on the command line, including --append. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "data/ingest.h"
#include "data/store.h"
#include "testutil.h"

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, n, f) != n) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(1);
  }
  fclose(f);
}

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

static uint8_t pixel(int i, int j) { return (uint8_t)((i * 50 + j * 7) % 256); }

/* ---- IDX -------------------------------------------------------------- */

static void test_idx(void) {
  const int N = 5, R = 2, C = 3;
  const uint8_t labels[5] = {3, 0, 2, 3, 1};
  unsigned char img[16 + 5 * 6], lab[8 + 5];
  put_be32(img, 0x803);
  put_be32(img + 4, N);
  put_be32(img + 8, R);
  put_be32(img + 12, C);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < R * C; j++) img[16 + i * R * C + j] = pixel(i, j);
  put_be32(lab, 0x801);
  put_be32(lab + 4, N);
  memcpy(lab + 8, labels, N);
  char ipath[512], lpath[512];
  snprintf(ipath, sizeof ipath, "%s", path_in("images.idx3-ubyte"));
  snprintf(lpath, sizeof lpath, "%s", path_in("labels.idx1-ubyte"));
  write_bytes(ipath, img, sizeof img);
  write_bytes(lpath, lab, sizeof lab);

  IngestOptions o;
  ingest_options_init(&o);
  o.out = path_in("idx_store");
  o.key_start = 50;
  o.has_key_start = 1;
  o.shard_size = 2;
  ingest_set(&o, "images", ipath);
  ingest_set(&o, "labels", lpath);
  ingest_set(&o, "timestamp-start", "1000");
  ingest_set(&o, "timestamp-step", "10");
  IngestResult res;
  CHECK_OK(ingest_run("idx", &o, &res));
  CHECK_EQ_INT(res.samples, 5);
  CHECK_EQ_INT(res.shards, 3);
  CHECK_EQ_INT(res.num_classes, 4);
  CHECK_EQ_INT(res.first_key, 50);

  Store s;
  CHECK_OK(store_open(path_in("idx_store"), &s));
  CHECK_EQ_INT(s.n, 5);
  CHECK_EQ_INT(s.nshards, 3);
  CHECK_EQ_INT(s.schema.type, FEAT_U8);
  CHECK_EQ_INT(s.schema.ndims, 3);
  CHECK_EQ_INT(s.schema.dims[0], 1);
  CHECK_EQ_INT(s.schema.dims[1], 2);
  CHECK_EQ_INT(s.schema.dims[2], 3);
  CHECK_EQ_INT(s.schema.num_classes, 4);
  int bad = 0;
  for (int i = 0; i < N; i++)
    bad += s.keys[i] != 50 + i || s.timestamps[i] != 1000 + 10 * i || s.labels[i] != labels[i];
  CHECK_EQ_INT(bad, 0);
  int64_t rows[5] = {4, 0, 3, 1, 2};
  float x[5 * 6];
  CHECK_OK(store_read_features_f32(&s, rows, 5, x));
  for (int i = 0; i < N; i++)
    for (int j = 0; j < 6; j++) bad += x[i * 6 + j] != (float)pixel((int)rows[i], j) / 255.0f;
  CHECK_EQ_INT(bad, 0);
  store_close(&s);

  /* Errors: gzip magic, a label file that does not match. */
  const unsigned char gz[] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 3};
  char gzpath[512], want[1400];
  snprintf(gzpath, sizeof gzpath, "%s", path_in("images.idx3-ubyte.gz"));
  write_bytes(gzpath, gz, sizeof gz);
  ingest_set(&o, "images", gzpath);
  o.out = path_in("idx_bad");
  CHECK(ingest_run("idx", &o, &res) == MH_ERR);
  snprintf(want, sizeof want, "%s is gzip-compressed; gunzip it first", gzpath);
  CHECK_STR(mh_error(), want);

  put_be32(lab + 4, 4);
  char l4[512];
  snprintf(l4, sizeof l4, "%s", path_in("labels4"));
  write_bytes(l4, lab, 8 + 4);
  ingest_set(&o, "images", ipath);
  ingest_set(&o, "labels", l4);
  CHECK(ingest_run("idx", &o, &res) == MH_ERR);
  snprintf(want, sizeof want, "%s has 5 images but %s has 4 labels; use the matching pair of files",
           ipath, l4);
  CHECK_STR(mh_error(), want);

  /* Values that would overflow int64: the timestamps of the last row, the
   * keys near INT64_MAX. */
  ingest_set(&o, "labels", lpath);
  ingest_set(&o, "timestamp-step", "3000000000000000000");
  o.out = path_in("idx_ts_overflow");
  CHECK(ingest_run("idx", &o, &res) == MH_ERR);
  CHECK_STR(mh_error(), "--timestamp-start 1000 and --timestamp-step 3000000000000000000 would give "
                        "row 4 a timestamp past the largest one (9223372036854775807); choose "
                        "smaller values");
  ingest_set(&o, "timestamp-step", "10");
  o.key_start = INT64_MAX - 2;
  o.out = path_in("idx_key_overflow");
  CHECK(ingest_run("idx", &o, &res) == MH_ERR);
  /* (written in shards of 2: the third shard's keys would wrap) */
  CHECK_STR(mh_error(), "the keys from 9223372036854775807 on would pass the largest key "
                        "(9223372036854775807) within 2 samples; choose a smaller --key-start");
  /* All or nothing: the first two shards were written before the third
   * failed, yet nothing is left (not even the directory this call made). */
  CHECK(access(path_in("idx_key_overflow"), F_OK) != 0);

  /* The same into an existing store (--append): it stays as it was. */
  o.out = path_in("idx_store");
  o.append = 1;
  CHECK(ingest_run("idx", &o, &res) == MH_ERR);
  CHECK_EQ_INT(res.shards, 0);
  CHECK_OK(store_open(path_in("idx_store"), &s));
  CHECK_EQ_INT(s.n, 5);
  CHECK_EQ_INT(s.nshards, 3);
  store_close(&s);
  char staging[600];
  snprintf(staging, sizeof staging, "%s/.ingest.tmp", path_in("idx_store"));
  CHECK(access(staging, F_OK) != 0);
  /* A truncated image file (the header promises 5 images, 3 are there):
   * the store keeps its 5 samples. */
  char trunc[512];
  snprintf(trunc, sizeof trunc, "%s", path_in("images_trunc"));
  write_bytes(trunc, img, 16 + 3 * 6);
  ingest_set(&o, "images", trunc);
  o.key_start = 100;
  CHECK(ingest_run("idx", &o, &res) == MH_ERR);
  snprintf(want, sizeof want,
           "%s: the IDX header promises 46 bytes but the file has 34; the file is truncated",
           trunc);
  CHECK_STR(mh_error(), want);
  CHECK_OK(store_open(path_in("idx_store"), &s));
  CHECK_EQ_INT(s.n, 5);
  CHECK_EQ_INT(s.nshards, 3);
  store_close(&s);
  /* Leftovers of a killed ingest are removed by the next one; a
   * successful append publishes shards 3 and 4 with keys 100..104. */
  CHECK(mkdir(staging, 0777) == 0);
  char junk[700];
  snprintf(junk, sizeof junk, "%s/shard_00000.h5", staging);
  write_text(junk, "half a shard");
  ingest_set(&o, "images", ipath);
  CHECK_OK(ingest_run("idx", &o, &res));
  CHECK_EQ_INT(res.shards, 3);
  CHECK(access(staging, F_OK) != 0);
  CHECK_OK(store_open(path_in("idx_store"), &s));
  CHECK_EQ_INT(s.n, 10);
  CHECK_EQ_INT(s.nshards, 6);
  CHECK_EQ_INT(s.keys[5], 100);
  CHECK_EQ_INT(s.keys[9], 104);
  CHECK(strstr(s.shards[5].path, "/shard_00005.h5") != NULL);
  store_close(&s);
  o.append = 0;
  o.key_start = 50;

  /* Image and label files swapped. */
  ingest_set(&o, "images", lpath);
  CHECK(ingest_run("idx", &o, &res) == MH_ERR);
  snprintf(want, sizeof want,
           "%s: magic number 0x00000801 is not that of an IDX image (idx3-ubyte) file (0x00000803)",
           lpath);
  CHECK_STR(mh_error(), want);

  /* Sizes whose product passes 2^64 and wraps round to the file's size
   * (2 x 2147549185 x 4294836226 = 2^64 + 4: a 16-byte header and 4 bytes
   * of pixels would match). Found by fuzzing (tests/fuzz/regress). */
  unsigned char wrap[20] = {0}, lab2[10] = {0};
  put_be32(wrap, 0x803);
  put_be32(wrap + 4, 2);
  put_be32(wrap + 8, 2147549185u);
  put_be32(wrap + 12, 4294836226u);
  put_be32(lab2, 0x801);
  put_be32(lab2 + 4, 2);
  char wpath[512], l2path[512];
  snprintf(wpath, sizeof wpath, "%s", path_in("images_wrap"));
  snprintf(l2path, sizeof l2path, "%s", path_in("labels_wrap"));
  write_bytes(wpath, wrap, sizeof wrap);
  write_bytes(l2path, lab2, sizeof lab2);
  ingest_set(&o, "images", wpath);
  ingest_set(&o, "labels", l2path);
  o.out = path_in("idx_wrap");
  CHECK(ingest_run("idx", &o, &res) == MH_ERR);
  snprintf(want, sizeof want,
           "%s: the IDX header's sizes (2 x 2147549185 x 4294836226) promise more bytes than "
           "any file holds; the header is damaged",
           wpath);
  CHECK_STR(mh_error(), want);
  CHECK(access(path_in("idx_wrap"), F_OK) != 0);
  ingest_set(&o, "labels", lpath);

  /* An option of another format. */
  ingest_set(&o, "input", "x.csv");
  CHECK(ingest_run("idx", &o, &res) == MH_ERR);
  CHECK_STR(mh_error(), "--input is an option of --format csv, not idx");
}

/* ---- CSV -------------------------------------------------------------- */

static void test_csv_header_dates(void) {
  char path[512];
  snprintf(path, sizeof path, "%s", path_in("people.csv"));
  /* CRLF line ends, quoted header name, quoted fields with the delimiter, a
   * doubled quote and a line break; out-of-order dates with a tie. */
  write_text(path,
             "id,date,label,x1,\"x 2\",note\r\n"
             "a,2021-03-01,cat,1.5,2,\"hello, world\"\r\n"
             "b,2021-01-01,dog,-3,4e1,\"say \"\"hi\"\"\"\r\n"
             "c,2021-02-01,cat,0,0.25,\"two\r\nlines\"\r\n"
             "\r\n"
             "d,2021-01-01,bird, 7 ,8,x\r\n");
  IngestOptions o;
  ingest_options_init(&o);
  o.out = path_in("csv_store");
  o.key_start = 100;
  o.has_key_start = 1;
  ingest_set(&o, "input", path);
  ingest_set(&o, "label-column", "label");
  ingest_set(&o, "timestamp-column", "date");
  ingest_set(&o, "timestamp-format", "%Y-%m-%d");
  ingest_set(&o, "feature-columns", "x1,x 2");
  ingest_set(&o, "label-map", "auto");
  IngestResult res;
  CHECK_OK(ingest_run("csv", &o, &res));
  CHECK_EQ_INT(res.samples, 4);
  CHECK_EQ_INT(res.num_classes, 3);

  Store s;
  CHECK_OK(store_open(path_in("csv_store"), &s));
  CHECK_EQ_INT(s.n, 4);
  CHECK_EQ_INT(s.schema.type, FEAT_F32);
  CHECK_EQ_INT(s.schema.ndims, 1);
  CHECK_EQ_INT(s.schema.dims[0], 2);
  CHECK_EQ_INT(s.schema.num_classes, 3);
  /* Sorted by date, stable: b, d (both 2021-01-01), c, a. */
  const int64_t ts[4] = {1609459200, 1609459200, 1612137600, 1614556800};
  const int32_t lab[4] = {2, 0, 1, 1}; /* bird 0, cat 1, dog 2 */
  const float feat[8] = {-3, 40, 7, 8, 0, 0.25f, 1.5f, 2};
  int bad = 0;
  for (int i = 0; i < 4; i++) bad += s.keys[i] != 100 + i || s.timestamps[i] != ts[i] || s.labels[i] != lab[i];
  CHECK_EQ_INT(bad, 0);
  int64_t rows[4] = {0, 1, 2, 3};
  float x[8];
  CHECK_OK(store_read_features_f32(&s, rows, 4, x));
  CHECK(memcmp(x, feat, sizeof feat) == 0);
  store_close(&s);
  char *map = test_slurp(path_in("csv_store/labels.txt"));
  CHECK_STR(map, "bird\ncat\ndog\n");
  free(map);

  /* Without --feature-columns the text columns are features: an error at
   * the first row, naming the column. */
  IngestOptions o2;
  ingest_options_init(&o2);
  o2.out = path_in("csv_bad");
  ingest_set(&o2, "input", path);
  ingest_set(&o2, "label-column", "label");
  ingest_set(&o2, "timestamp-column", "date");
  ingest_set(&o2, "timestamp-format", "%Y-%m-%d");
  ingest_set(&o2, "label-map", "auto");
  CHECK(ingest_run("csv", &o2, &res) == MH_ERR);
  char want[1400];
  snprintf(want, sizeof want, "%s:2: column 'id': expected a number, got \"a\"", path);
  CHECK_STR(mh_error(), want);

  /* Integer labels are the default: a string label says what to do. */
  IngestOptions o3;
  ingest_options_init(&o3);
  o3.out = path_in("csv_bad");
  ingest_set(&o3, "input", path);
  ingest_set(&o3, "label-column", "label");
  ingest_set(&o3, "timestamp-column", "date");
  ingest_set(&o3, "timestamp-format", "%Y-%m-%d");
  ingest_set(&o3, "feature-columns", "x1");
  CHECK(ingest_run("csv", &o3, &res) == MH_ERR);
  snprintf(want, sizeof want,
           "%s:2: column 'label': expected a class id (an integer >= 0), got \"cat\"; use "
           "--label-map auto for string labels",
           path);
  CHECK_STR(mh_error(), want);
}

static void test_csv_errors(void) {
  char path[512], want[1400];
  snprintf(path, sizeof path, "%s", path_in("bad.csv"));
  /* The quoted field on line 3 spans two lines, so the bad value is on 5. */
  write_text(path,
             "t,label,age\n"
             "10,0,1.0\n"
             "\"11\",1,\"2\n"
             "\"\n"
             "12,0,n/a\n");
  IngestOptions o;
  ingest_options_init(&o);
  o.out = path_in("bad_store");
  ingest_set(&o, "input", path);
  ingest_set(&o, "label-column", "label");
  ingest_set(&o, "timestamp-column", "t");
  IngestResult res;
  CHECK(ingest_run("csv", &o, &res) == MH_ERR);
  snprintf(want, sizeof want, "%s:5: column 'age': expected a number, got \"n/a\"", path);
  CHECK_STR(mh_error(), want);

  /* A NUL byte inside a field (0.5\0junk would read as 0.5) is an error. */
  {
    FILE *fp = fopen(path, "wb");
    static const char nul[] = "t,label,age\n10,0,1.0\n11,1,0.5\0junk\n";
    fwrite(nul, 1, sizeof nul - 1, fp);
    fclose(fp);
    CHECK(ingest_run("csv", &o, &res) == MH_ERR);
    snprintf(want, sizeof want, "%s:3: column 3 holds a NUL byte (a binary or damaged file?)",
             path);
    CHECK_STR(mh_error(), want);
    write_text(path,
               "t,label,age\n"
               "10,0,1.0\n"
               "\"11\",1,\"2\n"
               "\"\n"
               "12,0,n/a\n");
  }
  ingest_set(&o, "label-column", "lable");
  CHECK(ingest_run("csv", &o, &res) == MH_ERR);
  snprintf(want, sizeof want,
           "%s: --label-column: no column named 'lable' in the header (columns: 't', 'label', "
           "'age')",
           path);
  CHECK_STR(mh_error(), want);

  ingest_set(&o, "label-column", "label");
  ingest_set(&o, "timestamp-format", "%Y-%m-%d");
  CHECK(ingest_run("csv", &o, &res) == MH_ERR);
  snprintf(want, sizeof want,
           "%s:2: column 't': \"10\" does not match --timestamp-format \"%%Y-%%m-%%d\"", path);
  CHECK_STR(mh_error(), want);

  char p2[512];
  snprintf(p2, sizeof p2, "%s", path_in("short.csv"));
  write_text(p2, "t,label,a,b\n1,0,2,3\n2,1,4\n");
  ingest_set(&o, "input", p2);
  o.nargs = 3; /* drop timestamp-format */
  CHECK(ingest_run("csv", &o, &res) == MH_ERR);
  snprintf(want, sizeof want, "%s:3: expected 4 fields (like the header), got 3", p2);
  CHECK_STR(mh_error(), want);

  write_text(p2, "t,label,a\n1,0,\"2\n");
  CHECK(ingest_run("csv", &o, &res) == MH_ERR);
  snprintf(want, sizeof want, "%s:2: a quoted field is not closed before the end of the file", p2);
  CHECK_STR(mh_error(), want);

  /* Time zones: %z offsets are applied; everything else is UTC. */
  write_text(p2, "when,label,a\n2021-01-01T01:30:00+0130,0,1\n");
  ingest_set(&o, "timestamp-column", "when");
  ingest_set(&o, "timestamp-format", "%Y-%m-%dT%H:%M:%S%z");
  o.out = path_in("tz_store");
  CHECK_OK(ingest_run("csv", &o, &res));
  Store s;
  CHECK_OK(store_open(path_in("tz_store"), &s));
  CHECK_EQ_INT(s.timestamps[0], 1609459200);
  store_close(&s);
}

static int run(const char *cmd) {
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static void test_cli(void) {
  const char *bin = getenv("MODYN_BIN");
  if (!bin) {
    fprintf(stderr, "MODYN_BIN is not set (run through ctest); skipping the CLI checks\n");
    return;
  }
  char csv[512], csv2[512], out[512], log[512], cmd[3000], want[2000];
  snprintf(csv, sizeof csv, "%s", path_in("noheader.csv"));
  snprintf(csv2, sizeof csv2, "%s", path_in("more.csv"));
  snprintf(out, sizeof out, "%s", path_in("cli_store"));
  snprintf(log, sizeof log, "%s", path_in("cli.log"));
  write_text(csv, "30;1;0.5;5\n10;0;1.5;6\n20;2;2.5;7\n10;1;3.5;8\n");
  snprintf(cmd, sizeof cmd,
           "'%s' ingest --format csv --input %s --no-header --label-column 1 "
           "--timestamp-column 0 --delimiter ';' --out %s > %s 2>&1",
           bin, csv, out, log);
  CHECK_EQ_INT(run(cmd), 0);
  char *text = test_slurp(log);
  snprintf(want, sizeof want, "wrote %s: 4 samples in 1 shard (keys 0..3, 3 classes)\n", out);
  CHECK_STR(text, want);
  free(text);

  /* Append a second file: keys continue after the largest one. */
  write_text(csv2, "40;0;9;9\n50;1;10;10\n");
  snprintf(cmd, sizeof cmd,
           "'%s' ingest --format csv --input %s --no-header --label-column 1 "
           "--timestamp-column 0 --delimiter ';' --num-classes 3 --append --out %s > %s 2>&1",
           bin, csv2, out, log);
  CHECK_EQ_INT(run(cmd), 0);
  text = test_slurp(log);
  snprintf(want, sizeof want, "wrote %s: 2 samples in 1 shard (keys 4..5, 3 classes)\n", out);
  CHECK_STR(text, want);
  free(text);

  Store s;
  CHECK_OK(store_open(out, &s));
  CHECK_EQ_INT(s.n, 6);
  CHECK_EQ_INT(s.nshards, 2);
  const int64_t ts[6] = {10, 10, 20, 30, 40, 50};
  const int32_t lab[6] = {0, 1, 2, 1, 0, 1};
  const float feat[12] = {1.5f, 6, 3.5f, 8, 2.5f, 7, 0.5f, 5, 9, 9, 10, 10};
  int bad = 0;
  for (int i = 0; i < 6; i++) bad += s.keys[i] != i || s.timestamps[i] != ts[i] || s.labels[i] != lab[i];
  CHECK_EQ_INT(bad, 0);
  int64_t rows[6] = {0, 1, 2, 3, 4, 5};
  float x[12];
  CHECK_OK(store_read_features_f32(&s, rows, 6, x));
  CHECK(memcmp(x, feat, sizeof feat) == 0);
  store_close(&s);

  /* Without --append an existing store is refused. */
  snprintf(cmd, sizeof cmd,
           "'%s' ingest --format csv --input %s --no-header --label-column 1 "
           "--timestamp-column 0 --delimiter ';' --out %s > %s 2>&1",
           bin, csv2, out, log);
  CHECK_EQ_INT(run(cmd), 1);
  text = test_slurp(log);
  snprintf(want, sizeof want,
           "modyn: error: %s already holds a store (2 shard files, e.g. shard_00000.h5); write to "
           "a new directory or remove its shard files, or add to it with --append\n",
           out);
  CHECK_STR(text, want);
  free(text);

  /* Usage errors exit with 2. */
  snprintf(cmd, sizeof cmd, "'%s' ingest --format xml --out %s > %s 2>&1", bin, out, log);
  CHECK_EQ_INT(run(cmd), 2);
  text = test_slurp(log);
  CHECK_STR(text, "modyn ingest: unknown --format xml\nrun 'modyn ingest --help' for the options\n");
  free(text);
}

int main(void) {
  mh_hdf5_quiet();
  test_set_root(test_tmpdir("ingest"));
  test_idx();
  test_csv_header_dates();
  test_csv_errors();
  test_cli();
  return test_finish("test_ingest");
}

/* testutil.c - see testutil.h. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"

int test_failures = 0;
int test_checks = 0;

int test_finish(const char *name) {
  printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
  return test_failures ? 1 : 0;
}

const char *test_tmpdir(const char *name) {
  static char path[512];
  char cmd[1200];
  snprintf(path, sizeof path, "tmp_%s", name);
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
  if (system(cmd) != 0) {
    fprintf(stderr, "cannot create %s\n", path);
    exit(1);
  }
  return path;
}

static char g_root[512];

void test_set_root(const char *root) { snprintf(g_root, sizeof g_root, "%s", root); }

const char *path_in(const char *sub) {
  static char buf[8][1024];
  static int k = 0;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", g_root, sub);
  return buf[k];
}

char *test_slurp(const char *path) {
  char *text = NULL;
  if (mh_read_file(path, &text, NULL) != MH_OK) return strdup("");
  return text;
}

int test_accuracy_pass(const double *acc, const int64_t *keys, int64_t n, unsigned outputs,
                       PassResult *out) {
  memset(out, 0, sizeof *out);
  if (outputs != (PASS_LOGITS | PASS_PRED)) return mh_errorf("unexpected outputs");
  out->n = n;
  out->K = 2;
  out->logits = malloc(sizeof(float) * (size_t)(2 * n + 1));
  out->pred = malloc(sizeof(int32_t) * (size_t)(n + 1));
  out->labels = malloc(sizeof(int32_t) * (size_t)(n + 1));
  if (!out->logits || !out->pred || !out->labels) return mh_errorf("out of memory");
  for (int64_t i = 0; i < n; i++) {
    int64_t k = keys[i];
    int label = (int)(k % 2);
    int right = (double)(k % 100) < acc[k / 100] * 100.0 - 1e-9;
    int pred = right ? label : 1 - label;
    out->labels[i] = label;
    out->pred[i] = pred;
    out->logits[2 * i] = pred == 0 ? 1.0f : -1.0f;
    out->logits[2 * i + 1] = -out->logits[2 * i];
    out->correct += right;
  }
  return MH_OK;
}

/* testutil.h - assertions for test programs. A failed CHECK prints the
 * expression, file:line and the values, counts the failure, and the test's
 * exit code (test_finish) is the verdict. */
#ifndef MH_TESTUTIL_H
#define MH_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "train/model_pass.h"

extern int test_failures;
extern int test_checks;

#define CHECK(cond)                                                           \
  do {                                                                        \
    test_checks++;                                                            \
    if (!(cond)) {                                                            \
      test_failures++;                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                         \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                    \
  do {                                                                        \
    long long a_ = (long long)(a), b_ = (long long)(b);                       \
    test_checks++;                                                            \
    if (a_ != b_) {                                                           \
      test_failures++;                                                        \
      fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s = %lld, %s = %lld\n",   \
              __FILE__, __LINE__, #a, a_, #b, b_);                            \
    }                                                                         \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                 \
  do {                                                                        \
    double a_ = (double)(a), b_ = (double)(b);                                \
    test_checks++;                                                            \
    if (!(fabs(a_ - b_) <= (tol))) {                                          \
      test_failures++;                                                        \
      fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g, tol %g\n", \
              __FILE__, __LINE__, #a, a_, #b, b_, (double)(tol));             \
    }                                                                         \
  } while (0)

#define CHECK_STR(a, b)                                                       \
  do {                                                                        \
    const char *a_ = (a), *b_ = (b);                                          \
    test_checks++;                                                            \
    if (strcmp(a_, b_) != 0) {                                                \
      test_failures++;                                                        \
      fprintf(stderr, "%s:%d: CHECK_STR failed:\n  got:      %s\n  expected: %s\n", \
              __FILE__, __LINE__, a_, b_);                                    \
    }                                                                         \
  } while (0)

/* Assert that a call returns MH_OK; on failure print the recorded error. */
#define CHECK_OK(call)                                                        \
  do {                                                                        \
    test_checks++;                                                            \
    if ((call) != 0) {                                                        \
      test_failures++;                                                        \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,    \
              mh_error());                                                    \
    }                                                                         \
  } while (0)

/* Print the verdict line and return the exit code for main(). */
int test_finish(const char *name);
/* A fresh empty directory under the working directory, for test output. */
const char *test_tmpdir(const char *name);
/* "ROOT/sub" under the root set by test_set_root (8 results stay valid at
 * a time, so several can be passed to one call). */
void test_set_root(const char *root);
const char *path_in(const char *sub);
/* A file's whole text (malloc'ed; "" when it cannot be read). */
char *test_slurp(const char *path);

/* A stand-in for the model pass of a 2-class model whose accuracy on keys
 * [100 j, 100 j + 100) is acc[j]: key k has label k % 2 and is predicted
 * right when k % 100 < 100 acc[k / 100]. outputs must be PASS_LOGITS |
 * PASS_PRED. */
int test_accuracy_pass(const double *acc, const int64_t *keys, int64_t n, unsigned outputs,
                       PassResult *out);

#endif

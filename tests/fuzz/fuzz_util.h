/* fuzz_util.h - what the fuzz harnesses share: a private scratch directory
 * per process, writing the input to a file in it, and removing what an
 * iteration left there (so no state leaks from one input to the next).
 * Header-only: each harness is one file plus this header. */
#ifndef MH_FUZZ_UTIL_H
#define MH_FUZZ_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The process's scratch directory ($TMPDIR or /tmp), made once. It is
 * removed at exit. */
static char fz_dir[512];

static inline void fz_rm_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (d) {
      struct dirent *e;
      while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[4096];
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < sizeof sub)
          fz_rm_tree(sub);
      }
      closedir(d);
    }
    rmdir(path);
  } else {
    unlink(path);
  }
}

static inline void fz_cleanup(void) {
  if (fz_dir[0]) fz_rm_tree(fz_dir);
}

/* Make the scratch directory and silence HDF5's error printing (the code
 * under test reports errors itself). */
static inline void fz_init(const char *name) {
  const char *tmp = getenv("TMPDIR");
  snprintf(fz_dir, sizeof fz_dir, "%s/modyn_fuzz_%s_XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
  if (!mkdtemp(fz_dir)) {
    perror("mkdtemp");
    abort();
  }
  atexit(fz_cleanup);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* fz_dir/rel, into out. */
static inline void fz_path(char *out, size_t cap, const char *rel) {
  snprintf(out, cap, "%s/%s", fz_dir, rel);
}

static inline void fz_write(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
    perror(path);
    abort();
  }
}

/* FUZZ_VERBOSE=1: say why an input was rejected (corpus work). */
static inline void fz_note(const char *what, const char *msg) {
  static int verbose = -1;
  if (verbose < 0) verbose = getenv("FUZZ_VERBOSE") != NULL;
  if (verbose) fprintf(stderr, "fuzz: %s: %s\n", what, msg);
}

/* A property the code must keep broke: say which and crash (the fuzzer
 * keeps the input). */
#define FZ_ASSERT(cond, ...)                                                  \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "fuzz: property violated: " __VA_ARGS__);               \
      fprintf(stderr, "\n");                                                  \
      abort();                                                                \
    }                                                                         \
  } while (0)

#endif

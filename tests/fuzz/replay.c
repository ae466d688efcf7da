/* replay.c - run a fuzz harness without libFuzzer: feed every file under
 * the given paths (files, or directories read one level deep, in name
 * order) to LLVMFuzzerTestOneInput once. Built with any compiler, so the
 * committed corpus and every crasher found so far run as regression tests
 * in the normal CTest suite. A path that does not exist is skipped with a
 * note; no input at all is an error (a test that ran nothing).
 * Built with AddressSanitizer and run with leak detection on
 * (scripts/test-sanitize.sh), it checks for leaks after every input, as
 * libFuzzer does, and fails naming the input. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPLAY_LSAN 1
#endif
#endif
#ifdef REPLAY_LSAN
#include <sanitizer/lsan_interface.h>
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t cap = 4096, n = 0, got;
  uint8_t *buf = malloc(cap);
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      uint8_t *b = realloc(buf, cap *= 2);
      if (!b) free(buf);
      buf = b;
    }
  }
  fclose(f);
  if (!buf) {
    fprintf(stderr, "out of memory reading %s\n", path);
    return -1;
  }
  /* An exact-size copy, so that ASan catches a read one past the input. */
  uint8_t *in = malloc(n ? n : 1);
  memcpy(in, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(in, n);
  free(in);
#ifdef REPLAY_LSAN
  if (__lsan_do_recoverable_leak_check()) {
    fprintf(stderr, "replay: memory leaked while running %s\n", path);
    return -1;
  }
#endif
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  int total = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      printf("replay: %s does not exist, skipped\n", argv[i]);
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (run_file(argv[i])) return 1;
      total++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    if (!d) {
      perror(argv[i]);
      return 1;
    }
    char **names = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      names = realloc(names, (size_t)(n + 1) * sizeof *names);
      names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    int here = 0;
    for (int j = 0; j < n; j++) {
      char p[4096];
      snprintf(p, sizeof p, "%s/%s", argv[i], names[j]);
      if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
        if (run_file(p)) return 1;
        here++;
      }
      free(names[j]);
    }
    free(names);
    printf("replay: %s: %d inputs\n", argv[i], here);
    total += here;
  }
  if (total == 0) {
    fprintf(stderr, "replay: no input found\n");
    return 1;
  }
  printf("replay: %d inputs, no crash\n", total);
  return 0;
}

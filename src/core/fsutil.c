/* fsutil.c - see fsutil.h. */
#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

int mh_mkdir_p(const char *path) {
  char buf[1024];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return mh_errorf("path too long: %s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return mh_errorf("cannot create directory %s: %s", buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0777) != 0 && errno != EEXIST)
    return mh_errorf("cannot create directory %s: %s", buf, strerror(errno));
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
    return mh_errorf("cannot create directory %s: a file of that name exists", path);
  return MH_OK;
}

int mh_path_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int atomic_open(AtomicFile *f, const char *path) {
  snprintf(f->path, sizeof f->path, "%s", path);
  snprintf(f->tmp, sizeof f->tmp, "%s.tmp", path);
  f->fp = fopen(f->tmp, "w");
  if (!f->fp) return mh_errorf("cannot write %s: %s", f->tmp, strerror(errno));
  return MH_OK;
}

int atomic_commit(AtomicFile *f) {
  int bad = fflush(f->fp) != 0 || ferror(f->fp) || fsync(fileno(f->fp)) != 0;
  int err = errno;
  if (fclose(f->fp) != 0 && !bad) {
    bad = 1;
    err = errno;
  }
  f->fp = NULL;
  if (bad) {
    unlink(f->tmp);
    mh_errorf("cannot write %s: %s", f->path, strerror(err));
    mh_error_mark_no_space(err);
    return MH_ERR;
  }
  if (rename(f->tmp, f->path) != 0) {
    err = errno;
    unlink(f->tmp);
    return mh_errorf("cannot rename %s to %s: %s", f->tmp, f->path, strerror(err));
  }
  return MH_OK;
}

void atomic_abort(AtomicFile *f) {
  if (f->fp) fclose(f->fp);
  f->fp = NULL;
  unlink(f->tmp);
}

int mh_read_file(const char *path, char **text, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return mh_errorf("cannot read %s: %s", path, strerror(errno));
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n - 1, fp)) > 0) {
    n += got;
    if (n + 1 == cap) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
      }
      buf = nb;
      cap *= 2;
    }
  }
  int rd_err = ferror(fp);
  fclose(fp);
  if (!buf) return mh_errorf("out of memory reading %s", path);
  if (rd_err) {
    free(buf);
    return mh_errorf("cannot read %s: read error", path);
  }
  buf[n] = '\0';
  *text = buf;
  if (len) *len = n;
  return MH_OK;
}

uint64_t mh_checksum(const void *p, size_t n, uint64_t h) {
  const unsigned char *b = p;
  h ^= 0x9e3779b97f4a7c15ULL + n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) { /* 8 bytes at a time, multiply-xorshift mixed */
    uint64_t w;
    memcpy(&w, b + i, 8);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 29;
  }
  for (; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
  h ^= h >> 32;
  return h;
}

int mh_fsync_path(const char *path, int dir) {
  int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return -1;
  int r = fsync(fd);
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

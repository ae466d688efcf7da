/* fsutil.h - files and directories of a run: mkdir -p, and text files
 * written atomically (to NAME.tmp, then renamed) so a crash never leaves a
 * half-written CSV behind. */
#ifndef MH_FSUTIL_H
#define MH_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int mh_mkdir_p(const char *path);
int mh_path_exists(const char *path);

typedef struct {
  FILE *fp;
  char path[1024];
  char tmp[1040];
} AtomicFile;

int atomic_open(AtomicFile *f, const char *path);
/* Flush, fsync, close and rename; a write error (full disk) is reported here
 * and NAME.tmp removed. */
int atomic_commit(AtomicFile *f);
/* Close and remove NAME.tmp (an error before the commit). */
void atomic_abort(AtomicFile *f);
/* Read a whole file into a NUL-terminated malloc'd buffer. */
int mh_read_file(const char *path, char **text, size_t *len);

/* A 64-bit checksum of n bytes, continuing from h (start with 0): catches
 * flipped bits in files (not an adversary). */
uint64_t mh_checksum(const void *p, size_t n, uint64_t h);

/* fsync a file (dir 0) or a directory (dir 1), so that a rename before or
 * after it is durable. 0 on success, -1 with errno set. */
int mh_fsync_path(const char *path, int dir);

#endif

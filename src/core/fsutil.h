/* fsutil.h - files and directories of a run: mkdir -p, and text files
 * written atomically (to NAME.tmp, then renamed) so a crash never leaves a
 * half-written CSV behind. */
#ifndef MH_FSUTIL_H
#define MH_FSUTIL_H

#include <stdio.h>

int mh_mkdir_p(const char *path);
int mh_path_exists(const char *path);

typedef struct {
  FILE *fp;
  char path[1024];
  char tmp[1040];
} AtomicFile;

int atomic_open(AtomicFile *f, const char *path);
/* Flush, fsync, close and rename; a write error (full disk) is reported here. */
int atomic_commit(AtomicFile *f);
/* Read a whole file into a NUL-terminated malloc'd buffer. */
int mh_read_file(const char *path, char **text, size_t *len);

#endif

/* load_config.c - see load_config.h. */
#include "cli/load_config.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/fsutil.h"

int cli_read_shared(const Dist *d, const char *path, char **text) {
  *text = NULL;
  int64_t len = -1;
  if (d->rank == 0) {
    size_t n = 0;
    if (mh_read_file(path, text, &n) == MH_OK) len = (int64_t)n;
    else mh_print_error(stderr, mh_error());
  }
  if (dist_bcast_i64(d, &len, 1)) mh_fatal_last();
  if (len < 0) return MH_ERR;
  if (d->rank != 0) {
    *text = malloc((size_t)len + 1);
    if (!*text) mh_fatal("out of memory receiving %s", path);
  }
  if (dist_bcast(d, *text, len + 1, MPI_CHAR)) mh_fatal_last();
  return MH_OK;
}

int cli_load_pipeline(const Dist *d, const char *path, const char *const *overrides,
                      int num_overrides, const char *data_dir, PipelineConfig *cfg) {
  char *text = NULL;
  MH_TRY(cli_read_shared(d, path, &text));
  int rc = pipeline_parse(path, text, overrides, num_overrides, data_dir, cfg);
  free(text);
  if (rc && d->rank == 0) mh_print_error(stderr, mh_error());
  if (!rc && d->rank == 0 && cfg->inert[0])
    fprintf(stderr, "modyn: warning: %s: fields of the original Modyn that have no effect here "
                    "(accepted, and kept in the resolved config): %s\n",
            path, cfg->inert);
  return rc;
}

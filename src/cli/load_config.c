/* load_config.c - see load_config.h. */
#include "cli/load_config.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"

int cli_read_shared(const char *path, char **text) {
  *text = NULL;
  long long len = -1;
  if (mh_log_rank == 0) {
    size_t n = 0;
    if (mh_read_file(path, text, &n) == MH_OK) len = (long long)n;
    else fprintf(stderr, "modyn: error: %s\n", mh_error());
  }
  MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  if (len < 0) return MH_ERR;
  if (mh_log_rank != 0) {
    *text = malloc((size_t)len + 1);
    if (!*text) mh_fatal("out of memory receiving %s", path);
  }
  MPI_Bcast(*text, (int)len + 1, MPI_CHAR, 0, MPI_COMM_WORLD);
  return MH_OK;
}

int cli_load_pipeline(const char *path, const char *const *overrides, int num_overrides,
                      const char *data_dir, PipelineConfig *cfg) {
  char *text = NULL;
  MH_TRY(cli_read_shared(path, &text));
  int rc = pipeline_parse(path, text, overrides, num_overrides, data_dir, cfg);
  free(text);
  if (rc && mh_log_rank == 0) fprintf(stderr, "modyn: error: %s\n", mh_error());
  return rc;
}

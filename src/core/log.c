/* log.c - see log.h. */
#include "core/log.h"

#include <mpi.h>

int mh_log_rank = 0;
int mh_log_nranks = 1;
int mh_log_quiet = 0;

void mh_log_init(void) {
  int inited = 0;
  MPI_Initialized(&inited);
  if (inited) {
    MPI_Comm_rank(MPI_COMM_WORLD, &mh_log_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mh_log_nranks);
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
}

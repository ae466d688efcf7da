/* log.c - see log.h. */
#include "core/log.h"

#include "core/dist.h"

int mh_log_rank = 0;
int mh_log_nranks = 1;
int mh_log_quiet = 0;

void mh_log_init(const Dist *d) {
  mh_log_rank = d ? d->rank : 0;
  mh_log_nranks = d ? d->size : 1;
  setvbuf(stdout, NULL, _IOLBF, 0);
}

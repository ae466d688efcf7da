/* composite.c - see composite.h. */
#include "eval/composite.h"

void composite_select(const int64_t *last_ts, int nmodels, int64_t ref, int *active,
                      int *trained) {
  int a = -1;
  for (int i = 0; i < nmodels; i++)
    if (last_ts[i] < ref) a = i; /* models are in trigger order: keep the newest */
  *active = a;
  *trained = a + 1 < nmodels ? a + 1 : -1;
}

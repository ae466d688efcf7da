/* composite.c - see composite.h. */
#include "eval/composite.h"

void composite_select_stride(const int64_t *last_ts, size_t stride, int nmodels, int64_t ref,
                             int *active, int *trained) {
  int a = -1;
  for (int i = 0; i < nmodels; i++) {
    const int64_t *t = (const int64_t *)((const char *)last_ts + (size_t)i * stride);
    if (*t < ref) a = i; /* models are in trigger order: keep the newest */
  }
  *active = a;
  /* The original's successor relation (supervisor/internal/eval/handler.py)
   * maps the last model to itself, so that intervals after the last trigger
   * still have a currently trained model and count in its score. */
  *trained = nmodels == 0 ? -1 : a + 1 < nmodels ? a + 1 : a;
}

void composite_select(const int64_t *last_ts, int nmodels, int64_t ref, int *active,
                      int *trained) {
  composite_select_stride(last_ts, sizeof *last_ts, nmodels, ref, active, trained);
}

/* composite.h - composite models, as the paper defines them.
 * For an evaluation interval with reference time ref:
 *   currently active  = the newest model whose training data ended strictly
 *                       before ref (what would have served traffic then);
 *                       -1 when no model is active yet;
 *   currently trained = the active model's successor (the model being
 *                       trained while the active one served); the first
 *                       model when none is active; the last model itself
 *                       after the last model (as in the original, so that
 *                       every interval has one); -1 only without models. */
#ifndef MH_COMPOSITE_H
#define MH_COMPOSITE_H

#include <stddef.h>
#include <stdint.h>

/* last_ts[i]: last training timestamp of model i (models in trigger order). */
void composite_select(const int64_t *last_ts, int nmodels, int64_t ref, int *active,
                      int *trained);
/* The same rule where model i's last timestamp is at (char *)last_ts +
 * i * stride (e.g. the last_timestamp field of an array of structs). */
void composite_select_stride(const int64_t *last_ts, size_t stride, int nmodels, int64_t ref,
                             int *active, int *trained);

#endif

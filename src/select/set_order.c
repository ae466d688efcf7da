/* set_order.c - see set_order.h. */
#include "select/set_order.h"

#include "core/error.h"

int set_shuffle_partitions(TrainingSet *ts, int64_t partition, Rng *rng) {
  const int64_t n = ts->keys.len;
  const int weighted = ts->weights.len == n && n > 0;
  if (partition < 1) partition = n > 0 ? n : 1;
  for (int64_t p0 = 0; p0 < n; p0 += partition) {
    const int64_t m = n - p0 < partition ? n - p0 : partition;
    int64_t *k = ts->keys.data + p0;
    float *w = weighted ? ts->weights.data + p0 : NULL;
    /* Fisher-Yates, keys and weights together */
    for (int64_t i = m - 1; i > 0; i--) {
      const int64_t j = (int64_t)rng_below(rng, (uint64_t)i + 1);
      const int64_t tk = k[i];
      k[i] = k[j];
      k[j] = tk;
      if (w) {
        const float tw = w[i];
        w[i] = w[j];
        w[j] = tw;
      }
    }
  }
  return MH_OK;
}

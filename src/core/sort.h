/* sort.h - radix sort of (key, value) int64 pairs by key, for the read
 * path: sorting the rows of a 100k-key partition with qsort would cost more
 * than reading them. Keys must be >= 0. Stable. */
#ifndef MH_SORT_H
#define MH_SORT_H

#include <stdint.h>

/* Sort key[n] ascending, permuting val[n] alongside. tmp_key/tmp_val are
 * scratch arrays of n elements each. */
void sort_pairs_i64(int64_t *key, int64_t *val, int64_t n, int64_t *tmp_key, int64_t *tmp_val);

/* One counting-sort pass on the top `bits` significant bits of the key
 * range [0, max_key]: keys end up grouped by block (block = key >> shift,
 * nondecreasing) but unordered inside a block. A read path that only needs
 * to walk memory forwards block by block gets that for a third of the
 * cost of a full sort. Stable. */
void sort_pairs_i64_blocks(int64_t *key, int64_t *val, int64_t n, int64_t max_key, int bits,
                           int64_t *tmp_key, int64_t *tmp_val);

#endif

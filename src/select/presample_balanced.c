/* presample_balanced.c - what LabelBalanced and TriggerBalanced share:
 * sharing the target fairly among groups (labels or arrival triggers) and
 * drawing each group's share uniformly, following the original:
 *   target = min(limit, int(window * ratio / ratio_max))
 *   share  = presample_fair_share(target, count per group)
 *   base:  group g gets min(share, count_g) keys
 *   force_required_target_size: when the base falls short of the target,
 *          each group gets min(share + 1, count_g) and the oldest `target`
 *          of those are kept (the total is then exactly the target when
 *          the window allows);
 *   force_column_balancing: when the smallest group is under the share,
 *          every group gets that many (all groups equal), the oldest
 *          `target` kept.
 * (force_required_target_size wins when both are set, as in the original.)
 * One pass over the window draws every group at once (selection sampling
 * per group), so the result is in index (= timestamp) order. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "select/presampler.h"

#define MAX_GROUPS (1 << 24) /* a dense count per group value */

int presample_balanced(const PresampleConfig *pc, const PresampleCall *c, const int32_t *col,
                       int32_t gmin, int32_t gmax, I64Vec *out) {
  out->len = 0;
  const int64_t begin = c->begin, end = c->ks->n;
  if (end <= begin) return MH_OK;
  const int64_t ng = (int64_t)gmax - gmin + 1;
  if (ng < 1 || ng > MAX_GROUPS)
    return mh_errorf("%s presampling: group values span [%d, %d], more than %d groups",
                     pc->strategy, gmin, gmax, MAX_GROUPS);
  int64_t *count = mh_calloc((size_t)ng, sizeof(int64_t));
  int64_t *need = mh_calloc((size_t)ng, sizeof(int64_t));
  if (!count || !need) {
    free(count);
    free(need);
    return MH_ERR;
  }
  for (int64_t i = begin; i < end; i++) count[col[i] - gmin]++;
  const int64_t target = presample_target(pc, end - begin, c->limit);
  const int64_t share = presample_fair_share(target, count, ng);
  int64_t predicted = 0, smallest = INT64_MAX;
  for (int64_t g = 0; g < ng; g++) {
    if (!count[g]) continue;
    predicted += count[g] < share ? count[g] : share;
    if (count[g] < smallest) smallest = count[g];
  }
  int64_t quota = share, cut = -1; /* per-group cap; cut: keep the oldest `cut` */
  if (pc->force_required_target_size) {
    if (predicted < target) {
      quota = share + 1;
      cut = target;
    }
  } else if (pc->force_column_balancing && smallest < share) {
    quota = smallest;
    cut = target;
  }
  int64_t total = 0;
  for (int64_t g = 0; g < ng; g++) {
    need[g] = count[g] < quota ? count[g] : quota;
    total += need[g];
  }
  int rc = i64vec_reserve(out, total);
  /* Selection sampling in every group at once: count[] now counts the
   * group's candidates not yet passed. */
  for (int64_t i = begin; !rc && i < end; i++) {
    const int64_t g = col[i] - gmin;
    if (need[g] > 0 &&
        (need[g] == count[g] || (int64_t)rng_below(c->rng, (uint64_t)count[g]) < need[g])) {
      out->data[out->len++] = i;
      need[g]--;
    }
    count[g]--;
  }
  if (!rc && cut >= 0 && out->len > cut) out->len = cut;
  free(count);
  free(need);
  return rc;
}

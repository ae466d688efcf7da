/* submodular.h - greedy maximisation of the submodular set functions that
 * the Craig and Submodular downsamplers use (the original wraps DeepCore's
 * deepcore_utils/submodular_function.py and submodular_optimizer.py), over
 * a similarity S(i, j) the caller computes on demand:
 *   FacilityLocation  f(A) = sum_i max_{s in A} S(i, s); gain of j:
 *                     sum_i max(0, S(i, j) - cur_i)
 *   GraphCut          gain of j: sum_i S(i, j) - 2 sum_{s in A} S(s, j)
 *                     (lambda 1; the original's gain, which leaves out the
 *                     constant -S(j, j))
 *   LogDeterminant    f(A) = log det S_A; gain of j:
 *                     log(S(j, j) - S_jA S_A^-1 S_Aj), by an incremental
 *                     Cholesky factorisation; a Schur complement below
 *                     1e-10 S(j, j) counts as zero (gain -inf: j lies in the
 *                     span of A). The original's code computes the
 *                     quadratic form S_jA S_A^+ S_Aj instead, which its own
 *                     comment calls this gain and which picks the samples
 *                     most alike the chosen ones; ours is the function the
 *                     name and the comment describe.
 * Optimizers (the original's names):
 *   NaiveGreedy, LazyGreedy  exact greedy: each step the largest gain,
 *     ties to the lower position. Both run lazily (Minoux): stale gains are
 *     upper bounds because every gain above only falls as A grows - also in
 *     floating point, since each is a fixed-order sum of terms that only
 *     fall - so the result is the naive greedy's, bit for bit.
 *   StochasticGreedy  each step the best of a uniform sample of
 *     max(round(-ln(0.9) n / budget), 1) unchosen samples (rng).
 *   ApproximateLazyGreedy  takes the stale top once its fresh gain is at
 *     least 0.9 x its stale gain (for a negative stale gain g, at least
 *     g - 0.1 |g|: the original's test never passes there and loops).
 * A group per sample (Craig's per-class similarity) makes S zero between
 * groups without asking the callback.
 *
 * Cost: FacilityLocation O(n^2) similarity calls for the first gains plus
 * O(n) per re-evaluation; GraphCut O(n^2) plus O(n) per step; LogDeterminant
 * O(n) calls and O(n r) per step (r <= rank of S). Memory O(n) (O(n r) for
 * LogDeterminant), plus the similarity blocks when the caller asks to cache
 * them and they fit. This module does not know what the samples are. */
#ifndef MH_SUBMODULAR_H
#define MH_SUBMODULAR_H

#include <stdint.h>

#include "core/rng.h"

enum { SUBMOD_FACILITY_LOCATION, SUBMOD_GRAPH_CUT, SUBMOD_LOG_DETERMINANT };
enum { GREEDY_NAIVE, GREEDY_LAZY, GREEDY_STOCHASTIC, GREEDY_APPROXIMATE_LAZY };

/* NULL-terminated, in enum order: the YAML values. */
extern const char *const submod_function_names[];
extern const char *const submod_optimizer_names[];

typedef struct {
  int64_t n; /* samples */
  double (*sim)(const void *ctx, int64_t i, int64_t j); /* S(i, j) = S(j, i) */
  const void *ctx; /* for sim */
  const int32_t *group; /* [n] or NULL: S = 0 between different groups */
  int cache; /* FacilityLocation, GraphCut: hold each group's S in memory when the
                blocks total at most 8M values (64 MiB): the same values, each
                computed once */
} Similarity;

/* Choose budget (1 <= budget <= n) samples: sel[budget] gets positions in
 * the order chosen. assign (NULL or [n]; FacilityLocation only): for each
 * sample, the chosen position most similar to it, ties and all-zero
 * similarities to the lower position (the original's argmax over the
 * chosen rows in position order). */
int submod_maximize(const Similarity *s, int function, int optimizer, int64_t budget, Rng *rng,
                    int64_t *sel, int64_t *assign);

#endif

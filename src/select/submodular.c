/* submodular.c - see submodular.h. */
#include "select/submodular.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

const char *const submod_function_names[] = {"FacilityLocation", "GraphCut", "LogDeterminant",
                                             NULL};
const char *const submod_optimizer_names[] = {"NaiveGreedy", "LazyGreedy", "StochasticGreedy",
                                              "ApproximateLazyGreedy", NULL};

/* A Schur complement below this fraction of S(j, j) is rounding noise: j
 * lies in the span of the chosen samples. */
#define LOGDET_EPS 1e-10

/* ---- the set functions: state, gain, add ------------------------------------
 */

typedef struct {
  const Similarity *s;
  int function;
  int64_t n;
  int64_t *members; /* [n] positions sorted by (group, position) */
  int64_t *glo; /* [n] sample i's group is members[glo[i] .. ghi[i]) */
  int64_t *ghi;
  unsigned char *chosen; /* [n] */
  double *cur; /* FacilityLocation: max similarity to the chosen, per sample */
  int64_t *best; /* FacilityLocation: the chosen position giving it; -1: none */
  double *colsum; /* GraphCut: sum_i S(i, j) */
  double *acc; /* GraphCut: sum_{s chosen} S(s, j) */
  double *diag, *d2; /* LogDeterminant: S(j, j), Schur complement given the chosen */
  double **basis; /* LogDeterminant: Cholesky columns, [nbasis][n] */
  int64_t nbasis;
  double *cache; /* Similarity.cache: S(i, j) at cache[coff[i] + rank[i] * size + rank[j]] */
  int64_t *coff, *rank;
} SetFn;

/* Most similarity values the cache holds (64 MiB of doubles). */
#define SUBMOD_CACHE_MAX (8 << 20)

static double sim_at(const SetFn *f, int64_t i, int64_t j) {
  const Similarity *s = f->s;
  if (s->group && s->group[i] != s->group[j]) return 0.0;
  if (f->cache) return f->cache[f->coff[i] + f->rank[i] * (f->ghi[i] - f->glo[i]) + f->rank[j]];
  return s->sim(s->ctx, i, j);
}

/* Each group's block of S, computed once by the caller's function (so the
 * values are the same as without the cache). */
static int fill_cache(SetFn *f) {
  const int64_t n = f->n;
  int64_t cells = 0;
  for (int64_t a = 0; a < n; a = f->ghi[f->members[a]]) {
    const int64_t m = f->ghi[f->members[a]] - a;
    cells += m * m;
  }
  if (cells > SUBMOD_CACHE_MAX) return MH_OK;
  f->coff = mh_malloc((size_t)(n + 1) * sizeof(int64_t));
  f->rank = mh_malloc((size_t)(n + 1) * sizeof(int64_t));
  double *c = mh_malloc((size_t)(cells + 1) * sizeof(double));
  if (!f->coff || !f->rank || !c) {
    free(c);
    return MH_ERR;
  }
  int64_t off = 0;
  for (int64_t a = 0; a < n;) {
    const int64_t b = f->ghi[f->members[a]], m = b - a;
    for (int64_t x = a; x < b; x++) {
      f->coff[f->members[x]] = off;
      f->rank[f->members[x]] = x - a;
      for (int64_t y = a; y < b; y++)
        c[off + (x - a) * m + (y - a)] = f->s->sim(f->s->ctx, f->members[x], f->members[y]);
    }
    off += m * m;
    a = b;
  }
  f->cache = c;
  return MH_OK;
}

static int cmp_group_pos(const void *a, const void *b, void *ctx) {
  const int32_t *group = ctx;
  const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  if (group[x] != group[y]) return group[x] < group[y] ? -1 : 1;
  return (x > y) - (x < y);
}

static void setfn_free(SetFn *f) {
  free(f->members);
  free(f->glo);
  free(f->ghi);
  free(f->chosen);
  free(f->cur);
  free(f->best);
  free(f->colsum);
  free(f->acc);
  free(f->diag);
  free(f->d2);
  for (int64_t r = 0; r < f->nbasis; r++) free(f->basis[r]);
  free(f->basis);
  free(f->cache);
  free(f->coff);
  free(f->rank);
  memset(f, 0, sizeof *f);
}

static int setfn_init(SetFn *f, const Similarity *s, int function, int64_t budget) {
  memset(f, 0, sizeof *f);
  const int64_t n = s->n;
  f->s = s;
  f->function = function;
  f->n = n;
  const size_t sz = (size_t)(n + 1);
  f->members = mh_malloc(sz * sizeof(int64_t));
  f->glo = mh_malloc(sz * sizeof(int64_t));
  f->ghi = mh_malloc(sz * sizeof(int64_t));
  f->chosen = mh_calloc(sz, 1);
  if (!f->members || !f->glo || !f->ghi || !f->chosen) return MH_ERR;
  for (int64_t i = 0; i < n; i++) f->members[i] = i;
  if (s->group) qsort_r(f->members, (size_t)n, sizeof(int64_t), cmp_group_pos, (void *)s->group);
  for (int64_t a = 0; a < n;) {
    int64_t b = a + 1;
    while (b < n && s->group && s->group[f->members[b]] == s->group[f->members[a]]) b++;
    if (!s->group) b = n;
    for (int64_t q = a; q < b; q++) {
      f->glo[f->members[q]] = a;
      f->ghi[f->members[q]] = b;
    }
    a = b;
  }
  /* LogDeterminant asks for O(n) similarities per step: no cache */
  if (s->cache && function != SUBMOD_LOG_DETERMINANT) MH_TRY(fill_cache(f));
  if (function == SUBMOD_FACILITY_LOCATION) {
    f->cur = mh_calloc(sz, sizeof(double));
    f->best = mh_malloc(sz * sizeof(int64_t));
    if (!f->cur || !f->best) return MH_ERR;
    for (int64_t i = 0; i < n; i++) f->best[i] = -1;
  } else if (function == SUBMOD_GRAPH_CUT) {
    f->colsum = mh_calloc(sz, sizeof(double));
    f->acc = mh_calloc(sz, sizeof(double));
    if (!f->colsum || !f->acc) return MH_ERR;
    for (int64_t j = 0; j < n; j++)
      for (int64_t q = f->glo[j]; q < f->ghi[j]; q++) f->colsum[j] += sim_at(f, f->members[q], j);
  } else {
    f->diag = mh_malloc(sz * sizeof(double));
    f->d2 = mh_malloc(sz * sizeof(double));
    f->basis = mh_calloc((size_t)budget + 1, sizeof(double *));
    if (!f->diag || !f->d2 || !f->basis) return MH_ERR;
    for (int64_t j = 0; j < n; j++) f->diag[j] = f->d2[j] = sim_at(f, j, j);
  }
  return MH_OK;
}

static double setfn_gain(const SetFn *f, int64_t j) {
  switch (f->function) {
    case SUBMOD_FACILITY_LOCATION: {
      double g = 0.0;
      for (int64_t q = f->glo[j]; q < f->ghi[j]; q++) {
        const int64_t i = f->members[q];
        const double d = sim_at(f, i, j) - f->cur[i];
        if (d > 0) g += d;
      }
      return g;
    }
    case SUBMOD_GRAPH_CUT: return f->colsum[j] - 2.0 * f->acc[j];
    default:
      if (!(f->d2[j] > LOGDET_EPS * fabs(f->diag[j])) || !(f->d2[j] > 0)) return -INFINITY;
      return log(f->d2[j]);
  }
}

static int setfn_add(SetFn *f, int64_t s) {
  f->chosen[s] = 1;
  const int64_t lo = f->glo[s], hi = f->ghi[s];
  if (f->function == SUBMOD_FACILITY_LOCATION) {
    for (int64_t q = lo; q < hi; q++) {
      const int64_t i = f->members[q];
      const double v = sim_at(f, i, s);
      if (v > f->cur[i] || (v == f->cur[i] && f->best[i] >= 0 && s < f->best[i])) {
        f->cur[i] = v;
        f->best[i] = s;
      }
    }
  } else if (f->function == SUBMOD_GRAPH_CUT) {
    for (int64_t q = lo; q < hi; q++) {
      const int64_t j = f->members[q];
      if (!f->chosen[j]) f->acc[j] += sim_at(f, s, j);
    }
  } else {
    const double ds2 = f->d2[s];
    f->d2[s] = 0.0;
    /* s in the span of the chosen: S_A gains no new direction */
    if (!(ds2 > LOGDET_EPS * fabs(f->diag[s])) || !(ds2 > 0)) return MH_OK;
    const double ds = sqrt(ds2);
    double *e = mh_calloc((size_t)f->n + 1, sizeof(double));
    if (!e) return MH_ERR;
    e[s] = ds;
    /* one more column of the Cholesky factor of S restricted to A + j:
     * e_j = (S(s, j) - <c_s, c_j>) / d_s; the Schur complement drops by e_j^2
     */
    for (int64_t q = lo; q < hi; q++) {
      const int64_t j = f->members[q];
      if (f->chosen[j]) continue;
      double dot = 0.0;
      for (int64_t r = 0; r < f->nbasis; r++) dot += f->basis[r][s] * f->basis[r][j];
      e[j] = (sim_at(f, s, j) - dot) / ds;
      f->d2[j] -= e[j] * e[j];
      if (f->d2[j] < 0) f->d2[j] = 0.0;
    }
    f->basis[f->nbasis++] = e;
  }
  return MH_OK;
}

/* ---- the optimizers
 * ----------------------------------------------------------- */

typedef struct {
  double ub; /* gain when last evaluated: an upper bound of the current one */
  int64_t pos; /* sample */
  int64_t stamp; /* step at which ub was evaluated */
} HeapItem;

/* Larger gain first; equal gains: lower position first. */
static int heap_before(const HeapItem *a, const HeapItem *b) {
  if (a->ub != b->ub) return a->ub > b->ub;
  return a->pos < b->pos;
}

static void heap_down(HeapItem *h, int64_t m, int64_t i) {
  for (;;) {
    int64_t l = 2 * i + 1, r = l + 1, top = i;
    if (l < m && heap_before(&h[l], &h[top])) top = l;
    if (r < m && heap_before(&h[r], &h[top])) top = r;
    if (top == i) return;
    HeapItem t = h[i];
    h[i] = h[top];
    h[top] = t;
    i = top;
  }
}

/* Exact greedy, lazily: the top of the heap is taken once its gain is
 * fresh (evaluated in this step); every other entry's stale gain bounds its
 * current one from above, so no unchosen sample beats it. */
static int greedy_lazy(SetFn *f, int64_t budget, int64_t *sel) {
  const int64_t n = f->n;
  HeapItem *h = mh_malloc((size_t)n * sizeof *h);
  if (!h) return MH_ERR;
  for (int64_t j = 0; j < n; j++) h[j] = (HeapItem){setfn_gain(f, j), j, 0};
  for (int64_t i = n / 2 - 1; i >= 0; i--) heap_down(h, n, i);
  int64_t m = n;
  int rc = MH_OK;
  for (int64_t t = 0; !rc && t < budget; t++) {
    while (h[0].stamp != t) {
      h[0].ub = setfn_gain(f, h[0].pos);
      h[0].stamp = t;
      heap_down(h, m, 0);
    }
    sel[t] = h[0].pos;
    h[0] = h[--m];
    heap_down(h, m, 0);
    rc = setfn_add(f, sel[t]);
  }
  free(h);
  return rc;
}

static int greedy_stochastic(SetFn *f, int64_t budget, Rng *rng, int64_t *sel) {
  const int64_t n = f->n;
  int64_t size = (int64_t)nearbyint(-log(0.9) * (double)n / (double)budget);
  if (size < 1) size = 1;
  int64_t *left = mh_malloc((size_t)n * sizeof(int64_t));
  if (!left) return MH_ERR;
  for (int64_t j = 0; j < n; j++) left[j] = j;
  int64_t m = n;
  int rc = MH_OK;
  for (int64_t t = 0; !rc && t < budget; t++) {
    const int64_t take = size < m ? size : m;
    int64_t best = -1;
    double bg = 0.0;
    /* a uniform sample of `take` unchosen samples: the first `take` of a
     * partial Fisher-Yates shuffle of those left */
    for (int64_t q = 0; q < take; q++) {
      const int64_t r = q + (int64_t)rng_below(rng, (uint64_t)(m - q));
      const int64_t tmp = left[q];
      left[q] = left[r];
      left[r] = tmp;
      const double g = setfn_gain(f, left[q]);
      if (best < 0 || g > bg || (g == bg && left[q] < left[best])) {
        best = q;
        bg = g;
      }
    }
    sel[t] = left[best];
    left[best] = left[--m];
    rc = setfn_add(f, sel[t]);
  }
  free(left);
  return rc;
}

static int greedy_approximate_lazy(SetFn *f, int64_t budget, int64_t *sel) {
  const double beta = 0.9;
  const int64_t n = f->n;
  double *stale = mh_malloc((size_t)n * sizeof(double));
  if (!stale) return MH_ERR;
  for (int64_t j = 0; j < n; j++) stale[j] = setfn_gain(f, j);
  int rc = MH_OK;
  for (int64_t t = 0; !rc && t < budget; t++) {
    for (;;) {
      int64_t top = -1;
      for (int64_t j = 0; j < n; j++)
        if (!f->chosen[j] && (top < 0 || stale[j] > stale[top])) top = j;
      const double st = stale[top], g = setfn_gain(f, top);
      const double need = st >= 0 ? beta * st : st - (1.0 - beta) * fabs(st);
      if (g >= need || isnan(g) || isnan(st)) { /* NaN (a broken model): take it, do not loop */
        sel[t] = top;
        rc = setfn_add(f, top);
        break;
      }
      stale[top] = g;
    }
  }
  free(stale);
  return rc;
}

int submod_maximize(const Similarity *s, int function, int optimizer, int64_t budget, Rng *rng,
                    int64_t *sel, int64_t *assign) {
  if (budget < 1 || budget > s->n)
    return mh_errorf("submodular selection of %lld out of %lld samples", (long long)budget,
                     (long long)s->n);
  if (assign && function != SUBMOD_FACILITY_LOCATION)
    return mh_errorf("submodular selection: assignments exist for FacilityLocation only");
  SetFn f;
  int rc = setfn_init(&f, s, function, budget);
  if (!rc) {
    if (optimizer == GREEDY_STOCHASTIC)
      rc = greedy_stochastic(&f, budget, rng, sel);
    else if (optimizer == GREEDY_APPROXIMATE_LAZY)
      rc = greedy_approximate_lazy(&f, budget, sel);
    else
      rc = greedy_lazy(&f, budget, sel);
  }
  if (!rc && assign) {
    int64_t lowest = sel[0];
    for (int64_t t = 1; t < budget; t++)
      if (sel[t] < lowest) lowest = sel[t];
    for (int64_t i = 0; i < s->n; i++) assign[i] = f.best[i] >= 0 ? f.best[i] : lowest;
  }
  setfn_free(&f);
  return rc;
}

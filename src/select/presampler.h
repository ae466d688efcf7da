/* presampler.h - CoresetStrategy's presampling (`presampling_config`):
 * which keys of a trigger's window go on to training (or to downsampling).
 *
 * A presampler picks indices of the key state (key_state.h) inside the
 * window [begin, ks->n), in increasing order (= timestamp order, as the
 * original returns them). Each is one file plus one line in
 * presampler_registry.c. The sizes follow the original exactly:
 *   target = min(limit, int(window * ratio / ratio_max))
 * (float division, truncated), and the balanced ones share the target
 * fairly among labels or triggers (presample_balanced.c).
 *
 * Presamplers run on rank 0 inside the strategy's select(); they do not
 * know the model (downsampling does, downsampler.h). */
#ifndef MH_PRESAMPLER_H
#define MH_PRESAMPLER_H

#include <stdint.h>

#include "config/cfgtree.h"
#include "core/rng.h"
#include "core/vec.h"
#include "select/key_state.h"

typedef struct {
  char strategy[32];              /* presampling_config.strategy */
  int64_t ratio;                  /* percent of the window by default */
  int64_t ratio_max;              /* 100: ratio is percent; 1000: per mille */
  int force_column_balancing;     /* balanced: every group gets the smallest group's size */
  int force_required_target_size; /* balanced: top up to exactly the target */
} PresampleConfig;

/* One trigger's request. */
typedef struct {
  KeyState *ks;      /* rank 0's key state (RandomNoReplacement writes last_used) */
  int64_t begin;     /* window: [begin, ks->n) */
  int64_t trigger;   /* the trigger being selected for */
  int64_t limit;     /* -1: none, else at most this many keys */
  Rng *rng;          /* seeded per trigger by the strategy */
} PresampleCall;

typedef struct Presampler Presampler;

typedef struct {
  const char *name; /* presampling_config.strategy */
  /* cfg: the presampling_config map (own fields already checked);
   * tail_triggers: the strategy's (-1 = none). */
  int (*create)(const CfgRef *cfg, const PresampleConfig *pc, int64_t tail_triggers,
                Presampler **out);
} PresamplerType;

struct Presampler {
  const PresamplerType *type;
  PresampleConfig cfg;
  void *impl; /* freed by presampler_free */
  /* Append the chosen indices, increasing, to out (cleared first). */
  int (*sample)(Presampler *p, const PresampleCall *c, I64Vec *out);
  void (*destroy)(Presampler *p); /* may be NULL */
};

/* From a presampling_config map (absent or null: `No`). Errors name file:line. */
int presampler_create(const CfgRef *cfg, int64_t tail_triggers, Presampler **out);
/* The `No` presampler (warm-up triggers). */
int presampler_create_none(Presampler **out);
void presampler_free(Presampler *p);
/* A new Presampler with the given sample function (for the plug-ins). */
Presampler *presampler_alloc(const PresampleConfig *pc,
                             int (*sample)(Presampler *, const PresampleCall *, I64Vec *));

/* ---- helpers the plug-ins share ------------------------------------------ */

/* The original's target size: min(limit, int(n * ratio / ratio_max)). */
int64_t presample_target(const PresampleConfig *pc, int64_t n, int64_t limit);
/* Fair share of capacity among groups asking for requests[g] (groups with
 * 0 are absent and ignored): groups at or under the share keep their
 * request and the rest share what is left, recursively (the original's
 * get_fair_share). */
int64_t presample_fair_share(int64_t capacity, const int64_t *requests, int64_t ngroups);
/* Balanced presampling over group column col (labels or arrival
 * triggers), whose values in the window lie in [gmin, gmax]. */
int presample_balanced(const PresampleConfig *pc, const PresampleCall *c, const int32_t *col,
                       int32_t gmin, int32_t gmax, I64Vec *out);
/* Uniform sample of k indices of [begin, end) where keep(i) holds (NULL:
 * all), appended increasing. count must be the number of such indices. */
int presample_uniform(Rng *rng, int64_t begin, int64_t end, int64_t count, int64_t k,
                      int (*keep)(const void *ctx, int64_t i), const void *ctx, I64Vec *out);

#endif

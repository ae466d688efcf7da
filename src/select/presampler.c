/* presampler.c - presampling_config parsing, registry lookup and the
 * helpers the presamplers share (see presampler.h). */
#include "select/presampler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/plugin.h"

extern const PresamplerType *const presampler_registry[];

static const char *const presample_keys[] = {
    "strategy", "ratio", "ratio_max", "force_column_balancing", "force_required_target_size",
    "custom_prompt", "api_key", "base_url", "model", NULL};

/* The original's LLMEvaluation fields: its dumped configurations carry them
 * as null, which is accepted; a value means an LLM presampler we lack. */
static const char *const llm_keys[] = {"custom_prompt", "api_key", "base_url", "model", NULL};

/* Strategies of the original that this version does not offer. */
static const char *const unsupported[] = {"LLMEvaluation", "OriginalSet", NULL};

Presampler *presampler_alloc(const PresampleConfig *pc,
                             int (*sample)(Presampler *, const PresampleCall *, I64Vec *)) {
  Presampler *p = mh_calloc(1, sizeof *p);
  if (!p) return NULL;
  p->cfg = *pc;
  p->sample = sample;
  return p;
}

void presampler_free(Presampler *p) {
  if (!p) return;
  if (p->destroy) p->destroy(p);
  free(p->impl);
  free(p);
}

static const PresamplerType *find(const char *name) {
  static const PluginExtra none; /* presamplers are built in only */
  return plugin_find((const void *const *)presampler_registry, &none, name);
}

int presampler_create(const CfgRef *cfg, int64_t tail_triggers, Presampler **out) {
  *out = NULL;
  PresampleConfig pc;
  memset(&pc, 0, sizeof pc);
  if (cfg_is_null(cfg)) { /* absent or null: no presampling */
    snprintf(pc.strategy, sizeof pc.strategy, "No");
    pc.ratio = pc.ratio_max = 100;
    return find("No")->create(cfg, &pc, tail_triggers, out);
  }
  MH_TRY(cfg_expect_map(cfg));
  MH_TRY(cfg_check_keys(cfg, presample_keys));
  MH_TRY(cfg_req_string(cfg, "strategy", pc.strategy, sizeof pc.strategy));
  CfgRef at;
  cfg_child(cfg, "strategy", &at);
  const PresamplerType *type = find(pc.strategy);
  if (!type) {
    for (int i = 0; unsupported[i]; i++)
      if (!strcmp(unsupported[i], pc.strategy))
        return cfg_errorf(&at, "presampling strategy \"%s\" of the original is not available "
                               "here; use Random, RandomNoReplacement, LabelBalanced, "
                               "TriggerBalanced or No", pc.strategy);
    char list[256];
    plugin_names((const void *const *)presampler_registry, list, sizeof list);
    return cfg_errorf(&at, "unknown presampling strategy \"%s\"; available: %s", pc.strategy, list);
  }
  for (int i = 0; llm_keys[i]; i++) {
    CfgRef f;
    if (cfg_child(cfg, llm_keys[i], &f) && !cfg_is_null(&f))
      return cfg_errorf(&f, "only the original's LLMEvaluation presampler uses this field, and "
                            "it is not available here; remove it or set it to null");
  }
  MH_TRY(cfg_get_int(cfg, "ratio_max", 100, 1, INT32_MAX, &pc.ratio_max));
  /* `No` keeps everything: its ratio is implicitly ratio_max (the original
   * rejects any other value); the others need one. */
  if (!strcmp(type->name, "No")) {
    MH_TRY(cfg_get_int(cfg, "ratio", pc.ratio_max, pc.ratio_max, pc.ratio_max, &pc.ratio));
  } else {
    MH_TRY(cfg_req_int(cfg, "ratio", 0, pc.ratio_max, &pc.ratio));
  }
  MH_TRY(cfg_get_bool(cfg, "force_column_balancing", 0, &pc.force_column_balancing));
  MH_TRY(cfg_get_bool(cfg, "force_required_target_size", 0, &pc.force_required_target_size));
  if (type->create(cfg, &pc, tail_triggers, out)) {
    presampler_free(*out);
    *out = NULL;
    return MH_ERR;
  }
  (*out)->type = type;
  return MH_OK;
}

int presampler_create_none(Presampler **out) {
  PresampleConfig pc;
  memset(&pc, 0, sizeof pc);
  snprintf(pc.strategy, sizeof pc.strategy, "No");
  pc.ratio = pc.ratio_max = 100;
  MH_TRY(find("No")->create(NULL, &pc, -1, out));
  (*out)->type = find("No");
  return MH_OK;
}

/* ---- shared helpers ----------------------------------------------------------- */

int64_t presample_target(const PresampleConfig *pc, int64_t n, int64_t limit) {
  /* Python's int(n * ratio / ratio_max): the product is exact, the true
   * division a correctly rounded double, int() truncates. */
  int64_t t = (int64_t)((double)(n * pc->ratio) / (double)pc->ratio_max);
  if (limit >= 0 && limit < t) t = limit;
  return t;
}

int64_t presample_fair_share(int64_t capacity, const int64_t *requests, int64_t ngroups) {
  /* The original recurses on the groups above the share. It collects the
   * groups under the share with list.index(), which names only the first of
   * equal requests, so equal small groups stay in the next round and the
   * share comes out too small (e.g. requests 100, 100, 500 with capacity
   * 350 give 75, not 150). We take every group at or under the share: the
   * same result whenever those requests differ, the intended one otherwise. */
  int64_t *cur = mh_malloc((size_t)(ngroups + 1) * sizeof(int64_t));
  if (!cur) return 0;
  int64_t m = 0;
  for (int64_t g = 0; g < ngroups; g++)
    if (requests[g] > 0) cur[m++] = requests[g];
  int64_t share = 0;
  while (m > 0) {
    share = capacity / m;
    int64_t below = 0, taken = 0, keep = 0;
    for (int64_t g = 0; g < m; g++) {
      if (cur[g] <= share) {
        below++;
        taken += cur[g];
      } else {
        cur[keep++] = cur[g];
      }
    }
    if (below == 0 || below == m) break;
    capacity -= taken;
    m = keep;
  }
  free(cur);
  return share;
}

int presample_uniform(Rng *rng, int64_t begin, int64_t end, int64_t count, int64_t k,
                      int (*keep)(const void *ctx, int64_t i), const void *ctx, I64Vec *out) {
  if (k > count) k = count;
  if (k <= 0) return MH_OK;
  MH_TRY(i64vec_reserve(out, out->len + k));
  /* Selection sampling (Knuth's algorithm S): one pass in index order, the
   * i-th candidate taken with probability need/left. Every k-subset is
   * equally likely and the result comes out sorted, with no scratch. */
  int64_t need = k, left = count;
  for (int64_t i = begin; i < end && need > 0; i++) {
    if (keep && !keep(ctx, i)) continue;
    if (need == left || (int64_t)rng_below(rng, (uint64_t)left) < need) {
      out->data[out->len++] = i;
      need--;
    }
    left--;
  }
  return MH_OK;
}

/* downsampler.c - downsampling_config parsing, the registry, the two modes
 * (BatchFilter for BtS, EpochHook for StB), the schedule, and the
 * sampling helpers the downsamplers share (see downsampler.h). */
#include "select/downsampler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/plugin.h"

extern const DownsamplerType *const downsampler_registry[];

const char *const downsampler_common_keys[] = {"strategy", "sample_then_batch", "ratio",
                                               "ratio_max", "period", NULL};

/* Downsamplers of the original that this version does not offer yet. */
static const char *const not_yet[] = {"TokenUncertainty", NULL};

Downsampler *downsampler_alloc(const DownsampleCommon *c, unsigned outputs,
                               int (*choose)(Downsampler *, const PassBatch *, int64_t, Rng *,
                                             int64_t *, float *, int64_t *)) {
  Downsampler *d = mh_calloc(1, sizeof *d);
  if (!d) return NULL;
  d->common = *c;
  d->outputs = outputs;
  d->choose = choose;
  return d;
}

void downsampler_free(Downsampler *d) {
  if (!d) return;
  if (d->destroy) d->destroy(d);
  free(d->impl);
  free(d);
}

int downsampler_check_keys(const CfgRef *cfg, const char *const *own) {
  const char *keys[32];
  int k = 0;
  for (int i = 0; downsampler_common_keys[i]; i++) keys[k++] = downsampler_common_keys[i];
  for (int i = 0; own && own[i] && k < 31; i++) keys[k++] = own[i];
  keys[k] = NULL;
  return cfg_check_keys(cfg, keys);
}

static const DownsamplerType *find(const char *name) {
  static const PluginExtra none; /* downsamplers are built in only */
  return plugin_find((const void *const *)downsampler_registry, &none, name);
}

int downsampler_create(const CfgRef *cfg, Downsampler **out) {
  *out = NULL;
  DownsampleCommon c;
  memset(&c, 0, sizeof c);
  MH_TRY(cfg_expect_map(cfg));
  MH_TRY(cfg_req_string(cfg, "strategy", c.strategy, sizeof c.strategy));
  CfgRef at;
  cfg_child(cfg, "strategy", &at);
  const DownsamplerType *type = find(c.strategy);
  if (!type) {
    char list[256];
    plugin_names((const void *const *)downsampler_registry, list, sizeof list);
    for (int i = 0; not_yet[i]; i++)
      if (!strcmp(not_yet[i], c.strategy))
        return cfg_errorf(&at, "downsampling strategy \"%s\" of the original is not available "
                               "yet; available: %s", c.strategy, list);
    return cfg_errorf(&at, "unknown downsampling strategy \"%s\"; available: %s", c.strategy,
                      list);
  }
  MH_TRY(cfg_get_bool(cfg, "sample_then_batch", 0, &c.sample_then_batch));
  MH_TRY(cfg_get_int(cfg, "ratio_max", 100, 1, INT32_MAX, &c.ratio_max));
  /* `No` keeps everything: its ratio is fixed at 100 (the original's
   * Literal[100]); every other downsampler needs one. */
  if (!strcmp(type->name, "No"))
    MH_TRY(cfg_get_int(cfg, "ratio", 100, 100, 100, &c.ratio));
  else
    MH_TRY(cfg_req_int(cfg, "ratio", 0, c.ratio_max, &c.ratio));
  MH_TRY(cfg_get_int(cfg, "period", 1, 0, INT32_MAX, &c.period));
  if (type->create(cfg, &c, out)) {
    downsampler_free(*out);
    *out = NULL;
    return MH_ERR;
  }
  (*out)->type = type;
  return MH_OK;
}

int64_t downsample_target(const DownsampleCommon *c, int64_t n) {
  if (n <= 0) return 0;
  /* Python's max(int(ratio * n / ratio_max), 1): exact product, correctly
   * rounded true division, truncation. */
  int64_t t = (int64_t)((double)(c->ratio * n) / (double)c->ratio_max);
  if (t < 1) t = 1;
  if (t > n) t = n;
  return t;
}

/* ---- balance: per label ---------------------------------------------------------- */

typedef struct {
  int64_t pos;
  float w;
} Kept;

static int cmp_kept(const void *a, const void *b) {
  const Kept *x = a, *y = b;
  return (x->pos > y->pos) - (x->pos < y->pos);
}

static int cmp_label_pos(const void *a, const void *b, void *ctx) {
  const int32_t *labels = ctx;
  const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  if (labels[x] != labels[y]) return labels[x] < labels[y] ? -1 : 1;
  return (x > y) - (x < y);
}

/* Copy rows idx[m] of one per-sample field of width w (4-byte values). */
static void gather_rows(const void *src, int64_t w, const int64_t *idx, int64_t m, void *dst) {
  for (int64_t i = 0; i < m; i++)
    memcpy((char *)dst + i * w * 4, (const char *)src + idx[i] * w * 4, (size_t)w * 4);
}

/* Each label's samples as their own set: the original's label-by-label
 * selection (requires_data_label_by_label), each label keeping
 * max(int(n_label * ratio / ratio_max), 1). */
static int run_balanced(Downsampler *d, const PassBatch *g, Rng *rng, int64_t *keep,
                        float *weights, int64_t *nkeep) {
  const int64_t n = g->n;
  *nkeep = 0;
  if (!g->labels) return mh_errorf("%s downsampling with balance needs labels", d->type->name);
  int64_t *order = mh_malloc((size_t)(n + 1) * sizeof(int64_t));
  int64_t *sub_keep = mh_malloc((size_t)(n + 1) * sizeof(int64_t));
  float *sub_w = mh_malloc((size_t)(n + 1) * sizeof(float));
  Kept *all = mh_malloc((size_t)(n + 1) * sizeof(Kept));
  const int64_t K = g->K, D = g->D;
  const int64_t width = 1 + K + 1 + 1 + D + K * (D + 1) + 1; /* labels .. gradnorm */
  float *scratch = mh_malloc((size_t)(n * width + 1) * sizeof(float));
  int rc = (order && sub_keep && sub_w && all && scratch) ? MH_OK : MH_ERR;
  int64_t total = 0;
  if (!rc) {
    for (int64_t i = 0; i < n; i++) order[i] = i;
    qsort_r(order, (size_t)n, sizeof(int64_t), cmp_label_pos, (void *)g->labels);
  }
  for (int64_t s = 0; !rc && s < n;) {
    int64_t e = s;
    while (e < n && g->labels[order[e]] == g->labels[order[s]]) e++;
    const int64_t m = e - s;
    const int64_t *idx = order + s;
    PassBatch sub;
    memset(&sub, 0, sizeof sub);
    sub.n = m;
    sub.K = g->K;
    sub.D = g->D;
    float *cur = scratch;
    int32_t *labels = (int32_t *)cur;
    gather_rows(g->labels, 1, idx, m, labels);
    sub.labels = labels;
    cur += m;
    struct {
      const void *src;
      int64_t w;
      void **dst;
    } cols[] = {{g->logits, K, (void **)&sub.logits}, {g->pred, 1, (void **)&sub.pred},
                {g->loss, 1, (void **)&sub.loss},     {g->embed, D, (void **)&sub.embed},
                {g->grad, K * (D + 1), (void **)&sub.grad},
                {g->gradnorm, 1, (void **)&sub.gradnorm}};
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
      if (!cols[c].src) continue;
      gather_rows(cols[c].src, cols[c].w, idx, m, cur);
      *cols[c].dst = cur;
      cur += m * cols[c].w;
    }
    int64_t k = 0;
    rc = d->choose(d, &sub, downsample_target(&d->common, m), rng, sub_keep, sub_w, &k);
    for (int64_t i = 0; !rc && i < k; i++) all[total++] = (Kept){idx[sub_keep[i]], sub_w[i]};
    s = e;
  }
  if (!rc) {
    qsort(all, (size_t)total, sizeof *all, cmp_kept);
    for (int64_t i = 0; i < total; i++) {
      keep[i] = all[i].pos;
      weights[i] = all[i].w;
    }
    *nkeep = total;
  }
  free(order);
  free(sub_keep);
  free(sub_w);
  free(all);
  free(scratch);
  return rc;
}

int downsampler_run(Downsampler *d, const PassBatch *g, Rng *rng, int64_t *keep, float *weights,
                    int64_t *nkeep) {
  *nkeep = 0;
  if (g->n <= 0) return MH_OK;
  if (d->balance) return run_balanced(d, g, rng, keep, weights, nkeep);
  return d->choose(d, g, downsample_target(&d->common, g->n), rng, keep, weights, nkeep);
}

/* ---- batch-then-sample: the trainer's filter -------------------------------------- */

typedef struct {
  Downsampler *d; /* owned by the strategy, which outlives the filter */
  uint64_t seed;  /* the strategy's seed and the trigger */
} FilterImpl;

static int filter_select(BatchFilter *f, const PassBatch *g, int64_t step, int64_t *keep,
                         float *weights, int64_t *nkeep) {
  FilterImpl *fi = f->impl;
  Rng rng;
  rng_seed(&rng, rng_derive(fi->seed, (uint64_t)step));
  return downsampler_run(fi->d, g, &rng, keep, weights, nkeep);
}

int downsampler_batch_filter(Downsampler *d, uint64_t seed, int64_t trigger, BatchFilter **out) {
  *out = NULL;
  BatchFilter *f = mh_calloc(1, sizeof *f);
  FilterImpl *fi = mh_calloc(1, sizeof *fi);
  if (!f || !fi) {
    free(f);
    free(fi);
    return MH_ERR;
  }
  fi->d = d;
  fi->seed = rng_derive(seed, (uint64_t)trigger);
  f->impl = fi;
  f->outputs = d->outputs;
  f->select = filter_select;
  f->ratio = d->common.ratio;
  f->ratio_max = d->common.ratio_max;
  *out = f;
  return MH_OK;
}

/* ---- sample-then-batch inside training: the epoch hook ----------------------------- */

int downsampler_selects_at(const Downsampler *d, int64_t epoch) {
  const int64_t p = d->common.period;
  return p == 0 ? epoch == 0 : epoch % p == 0;
}

typedef struct {
  Downsampler *d; /* owned by the strategy, which outlives the hook */
  PluginEnv *env; /* events (rank 0); may be NULL */
  uint64_t seed; /* the strategy's seed and the trigger */
  int64_t trigger;
  void *state; /* choose_epoch's, rank 0 */
  int64_t *rows; /* [n] store rows of the view's keys (first selection on) */
  int32_t *labels; /* [n] their labels */
  int64_t *keep; /* [n] */
  float *w; /* [n] */
} HookImpl;

static void hook_destroy(EpochHook *h) {
  HookImpl *hi = h->impl;
  if (!hi) return;
  if (hi->state && hi->d->state_free) hi->d->state_free(hi->state);
  free(hi->rows);
  free(hi->labels);
  free(hi->keep);
  free(hi->w);
}

/* FNV-1a over the chosen keys and weights: a short fingerprint of a
 * selection in events.jsonl (equal runs choose equal sets). */
static uint64_t selection_hash(const int64_t *keys, const float *w, int64_t n) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t i = 0; i < n; i++) {
    unsigned char bytes[12];
    memcpy(bytes, &keys[i], 8);
    memcpy(bytes + 8, &w[i], 4);
    for (int b = 0; b < 12; b++) h = (h ^ bytes[b]) * 1099511628211ull;
  }
  return h;
}

static int hook_begin(EpochHook *h, const EpochView *v, int64_t epoch, EpochSet *out) {
  HookImpl *hi = h->impl;
  Downsampler *d = hi->d;
  const Dist *dist = v->dist;
  const int64_t n = v->n;
  if (!downsampler_selects_at(d, epoch) || n <= 0) return MH_OK;
  /* The set's rows and labels once per trigger (every rank has the store's
   * labels). */
  int rc = MH_OK;
  if (!hi->rows) {
    hi->rows = mh_malloc((size_t)n * sizeof(int64_t));
    hi->labels = mh_malloc((size_t)n * sizeof(int32_t));
    hi->keep = mh_malloc((size_t)n * sizeof(int64_t));
    hi->w = mh_malloc((size_t)n * sizeof(float));
    rc = hi->rows && hi->labels && hi->keep && hi->w ? MH_OK : MH_ERR;
    if (!rc) rc = store_find_rows(v->store, v->keys, n, hi->rows);
    for (int64_t i = 0; !rc && i < n; i++) hi->labels[i] = v->store->labels[hi->rows[i]];
    MH_TRY(dist_agree(dist, rc));
  }
  /* The scores: one pass of the model being trained over the set, on
   * every rank, gathered to rank 0 in set order. */
  PassResult r;
  memset(&r, 0, sizeof r);
  if (d->outputs) {
    PassRequest req = {hi->rows, n, v->batch_size, NULL, NULL, 0, d->outputs, v->bce, 1, NULL,
                       NULL};
    MH_TRY(model_pass_run(dist, v->model, v->store, &req, &r));
    out->scored = n;
  }
  /* Rank 0 chooses; every rank gets the choice. */
  int64_t k = 0;
  if (dist->rank == 0) {
    PassBatch g = {n,      r.K,     r.D,    hi->labels, r.logits, r.pred,
                   r.loss, r.embed, r.grad, r.gradnorm, NULL};
    d->batch_size = v->batch_size; /* GradMatch and Craig scale by it, as the original */
    Rng rng;
    rng_seed(&rng, rng_derive(hi->seed, (uint64_t)epoch));
    if (d->choose_epoch && !d->balance)
      rc = d->choose_epoch(d, &g, downsample_target(&d->common, n), epoch, &hi->state, &rng,
                           hi->keep, hi->w, &k);
    else
      rc = downsampler_run(d, &g, &rng, hi->keep, hi->w, &k);
    if (!rc && (k < 0 || k > n))
      rc = mh_errorf("%s downsampling kept %lld of %lld samples", d->type->name, (long long)k,
                     (long long)n);
  }
  pass_result_free(&r);
  MH_TRY(dist_agree(dist, rc));
  MH_TRY(dist_bcast_i64(dist, &k, 1));
  MH_TRY(dist_bcast_i64(dist, hi->keep, k));
  MH_TRY(dist_bcast_f32(dist, hi->w, k));
  rc = i64vec_reserve(&out->keys, k);
  if (!rc) rc = f32vec_reserve(&out->weights, k);
  MH_TRY(dist_agree(dist, rc));
  for (int64_t i = 0; i < k; i++) {
    const int64_t p = hi->keep[i];
    out->keys.data[i] = v->keys[p];
    out->weights.data[i] = hi->w[i] * (v->weights ? v->weights[p] : 1.0f);
  }
  out->keys.len = out->weights.len = k;
  out->replaced = 1;
  if (dist->rank == 0 && hi->env && hi->env->event) {
    char line[512];
    snprintf(line, sizeof line,
             "{\"event\":\"epoch_selection\",\"trigger\":%lld,\"epoch\":%lld,"
             "\"downsampling\":\"%s\",\"scored\":%lld,\"training_set\":%lld,"
             "\"keys_hash\":\"%016llx\"}",
             (long long)hi->trigger, (long long)epoch, d->type->name, (long long)out->scored,
             (long long)k,
             (unsigned long long)selection_hash(out->keys.data, out->weights.data, k));
    hi->env->event(hi->env, line);
  }
  rc = MH_OK;
  if (dist->rank == 0 && hi->env && hi->env->record_selection)
    rc = hi->env->record_selection(hi->env, hi->trigger, epoch, d->type->name, out->keys.data,
                                   out->weights.data, k);
  return dist_agree(dist, rc);
}

int downsampler_epoch_hook(Downsampler *d, PluginEnv *env, uint64_t seed, int64_t trigger,
                           EpochHook **out) {
  *out = NULL;
  EpochHook *h = mh_calloc(1, sizeof *h);
  HookImpl *hi = mh_calloc(1, sizeof *hi);
  if (!h || !hi) {
    free(h);
    free(hi);
    return MH_ERR;
  }
  hi->d = d;
  hi->env = env;
  hi->seed = seed;
  hi->trigger = trigger;
  h->impl = hi;
  h->begin_epoch = hook_begin;
  h->destroy = hook_destroy;
  h->ratio = d->common.ratio;
  h->ratio_max = d->common.ratio_max;
  *out = h;
  return MH_OK;
}
/* ---- importance sampling and top-k ------------------------------------------------ */

typedef struct {
  double key;
  int64_t pos;
} Ranked;

/* Larger key first; equal keys by position. */
static int cmp_ranked_desc(const void *a, const void *b) {
  const Ranked *x = a, *y = b;
  if (x->key != y->key) return x->key > y->key ? -1 : 1;
  return (x->pos > y->pos) - (x->pos < y->pos);
}

static int cmp_i64(const void *a, const void *b) {
  const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int downsample_importance(const float *score, int64_t n, int64_t target, Rng *rng, int64_t *keep,
                          float *weights, int64_t *nkeep) {
  *nkeep = 0;
  if (target > n) target = n;
  if (target <= 0) return MH_OK;
  double sum = 0.0;
  for (int64_t i = 0; i < n; i++) sum += score[i] > 0 ? score[i] : 0.0;
  if (fabs(sum) <= 1e-8) {
    /* torch.isclose(sum, 0) in the original: every score is (about) zero,
     * so draw uniformly, weights 1. */
    int64_t need = target, left = n;
    for (int64_t i = 0; i < n && need > 0; i++, left--)
      if (need == left || (int64_t)rng_below(rng, (uint64_t)left) < need) {
        keep[*nkeep] = i;
        weights[(*nkeep)++] = 1.0f;
        need--;
      }
    return MH_OK;
  }
  /* Successive draws without replacement, each proportional to the score
   * among those left, have the law of the `target` largest keys
   * log(u_i) / score_i, u_i uniform in (0, 1] (Efraimidis & Spirakis): one
   * sort instead of `target` passes over the scores. */
  Ranked *r = mh_malloc((size_t)n * sizeof *r);
  if (!r) return MH_ERR;
  for (int64_t i = 0; i < n; i++) {
    const double u = 1.0 - rng_uniform(rng); /* (0, 1] */
    r[i].key = score[i] > 0 ? log(u) / (double)score[i] : -INFINITY;
    r[i].pos = i;
  }
  qsort(r, (size_t)n, sizeof *r, cmp_ranked_desc);
  for (int64_t i = 0; i < target; i++) keep[i] = r[i].pos;
  free(r);
  qsort(keep, (size_t)target, sizeof *keep, cmp_i64);
  for (int64_t i = 0; i < target; i++) {
    const double s = score[keep[i]];
    /* weight 1 / (n p): rarely drawn samples count more, which keeps the
     * gradient estimate unbiased. A zero score is drawn only when fewer
     * scores than the target are positive (the original stops with an
     * error there); it gets weight 0 and so adds nothing. */
    weights[i] = s > 0 ? (float)(sum / ((double)n * s)) : 0.0f;
  }
  *nkeep = target;
  return MH_OK;
}

int downsample_smallest(const float *score, int64_t n, int64_t target, int64_t *keep,
                        float *weights, int64_t *nkeep) {
  *nkeep = 0;
  if (target > n) target = n;
  if (target <= 0) return MH_OK;
  Ranked *r = mh_malloc((size_t)n * sizeof *r);
  if (!r) return MH_ERR;
  for (int64_t i = 0; i < n; i++) {
    /* negated so that the descending sort puts the smallest first; NaN last */
    r[i].key = isnan(score[i]) ? -INFINITY : -(double)score[i];
    r[i].pos = i;
  }
  qsort(r, (size_t)n, sizeof *r, cmp_ranked_desc);
  for (int64_t i = 0; i < target; i++) keep[i] = r[i].pos;
  free(r);
  qsort(keep, (size_t)target, sizeof *keep, cmp_i64);
  for (int64_t i = 0; i < target; i++) weights[i] = 1.0f;
  *nkeep = target;
  return MH_OK;
}

/* ---- RS2 epochs -------------------------------------------------------------------- */

int rs2_epochs_init(Rs2Epochs *r, int64_t n, int64_t target, int with_replacement) {
  memset(r, 0, sizeof *r);
  if (n < 1 || target < 1 || target > n)
    return mh_errorf("RS2: subsets of %lld out of %lld samples", (long long)target, (long long)n);
  r->n = n;
  r->target = target;
  r->with_replacement = with_replacement;
  r->current = -1;
  r->nsubsets = n / target;
  r->perm = mh_malloc((size_t)n * sizeof(int64_t));
  if (!r->perm) return MH_ERR;
  for (int64_t i = 0; i < n; i++) r->perm[i] = i;
  return MH_OK;
}

int rs2_epochs_next(Rs2Epochs *r, Rng *rng, int64_t *out, int64_t *nout) {
  if (r->with_replacement) {
    /* a fresh uniform subset every epoch */
    rng_shuffle_i64(rng, r->perm, r->n);
    r->current = 0;
  } else {
    /* the next subset of this pass; a new shuffled pass when they run out
     * (the n mod target samples left over sit that pass out) */
    r->current++;
    if (r->current == 0 || r->current >= r->nsubsets) {
      rng_shuffle_i64(rng, r->perm, r->n);
      r->current = 0;
    }
  }
  memcpy(out, r->perm + r->current * r->target, (size_t)r->target * sizeof(int64_t));
  qsort(out, (size_t)r->target, sizeof *out, cmp_i64);
  *nout = r->target;
  return MH_OK;
}

void rs2_epochs_free(Rs2Epochs *r) {
  free(r->perm);
  memset(r, 0, sizeof *r);
}

/* ---- the schedule ------------------------------------------------------------------ */

void downsample_schedule_free(DownsampleSchedule *s) {
  for (int i = 0; i < s->n; i++) downsampler_free(s->list[i]);
  free(s->list);
  free(s->thresholds);
  memset(s, 0, sizeof *s);
}

int downsample_schedule_parse(const CfgRef *cfg, DownsampleSchedule *s) {
  static const char *const multi_keys[] = {"downsampling_list", "downsampling_thresholds", NULL};
  memset(s, 0, sizeof *s);
  if (cfg_is_null(cfg)) return MH_OK;
  MH_TRY(cfg_expect_map(cfg));
  CfgRef list;
  if (!cfg_child(cfg, "downsampling_list", &list)) {
    s->list = mh_calloc(1, sizeof *s->list);
    if (!s->list) return MH_ERR;
    MH_TRY(downsampler_create(cfg, &s->list[0]));
    s->n = 1;
    return MH_OK;
  }
  MH_TRY(cfg_check_keys(cfg, multi_keys));
  MH_TRY(cfg_expect_seq(&list));
  const int n = cfg_len(&list);
  if (n < 1) return cfg_errorf(&list, "must list at least one downsampler");
  s->list = mh_calloc((size_t)n, sizeof *s->list);
  s->thresholds = mh_calloc((size_t)n, sizeof *s->thresholds);
  if (!s->list || !s->thresholds) return MH_ERR;
  for (int i = 0; i < n; i++) {
    CfgRef item = cfg_item(&list, i);
    MH_TRY(downsampler_create(&item, &s->list[i]));
    s->n = i + 1;
  }
  CfgRef th;
  cfg_child(cfg, "downsampling_thresholds", &th);
  if (cfg_is_null(&th))
    return cfg_errorf(&th, "missing required field (one trigger index per switch between "
                           "consecutive downsamplers)");
  /* One threshold may be written without brackets when there are two
   * downsamplers, as the original allows. */
  const int nth = th.node->kind == CFG_SEQ ? cfg_len(&th) : 1;
  if (nth != n - 1)
    return cfg_errorf(&th, "needs %d threshold%s for %d downsamplers, got %d", n - 1,
                      n - 1 == 1 ? "" : "s", n, nth);
  for (int i = 0; i < nth; i++) {
    CfgRef item = th.node->kind == CFG_SEQ ? cfg_item(&th, i) : th;
    MH_TRY(cfg_as_int(&item, 0, INT32_MAX, &s->thresholds[i]));
    if (i > 0 && s->thresholds[i] <= s->thresholds[i - 1])
      return cfg_errorf(&item, "thresholds must increase strictly (got %lld after %lld)",
                        (long long)s->thresholds[i], (long long)s->thresholds[i - 1]);
  }
  return MH_OK;
}

Downsampler *downsample_schedule_at(const DownsampleSchedule *s, int64_t trigger) {
  if (s->n == 0) return NULL;
  int i = 0;
  while (i < s->n - 1 && trigger >= s->thresholds[i]) i++;
  Downsampler *d = s->list[i];
  return d->choose ? d : NULL;
}

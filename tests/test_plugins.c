/* test_plugins.c - the plug-in seam end to end, without touching the
 * orchestrator: two test-only plug-ins registered at run time drive whole
 * pipelines (pipeline_run) on the synthetic dataset.
 *
 *   EmbeddingProbeTrigger  fires every num_samples samples, like
 *       DataAmountTrigger; in inform() it asks env->pass for the embeddings
 *       and losses of the chunk's samples and checks them, bit for bit,
 *       against its own forward of the same model on rank 0.
 *   HighLossHalfStrategy   the new data since the last trigger (like
 *       NewDataStrategy with tail_triggers: 0), trained through a batch
 *       filter that keeps the ceil(n/2) highest-loss samples of each global
 *       batch with weight 1.
 *
 * Runs (every rank in the first two; rank 0 alone in the third):
 *   A  probe trigger + half strategy, all ranks
 *   B  DataAmountTrigger + half strategy, all ranks: same triggers, same
 *      triggers.csv statistics and the same eval/matrix.csv bytes as A
 *      (asking for passes must not change training)
 *   C  as A on rank 0 alone (MPI_COMM_SELF): the same models within 1e-4,
 *      and the probe's first pass (the initial model) gives the same
 *      embeddings bit for bit.
 * Registered for 2 ranks; correct for any number (C is then a second 1-rank
 * run). Works in tmp_plugins_npN, so other registrations do not collide. */
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/pipeline.h"
#include "core/dist.h"
#include "core/error.h"
#include "core/log.h"
#include "core/vec.h"
#include "data/store.h"
#include "data/synth.h"
#include "orch/run.h"
#include "select/selector.h"
#include "testutil.h"
#include "train/checkpoint.h"
#include "train/loss.h"
#include "train/parallel.h"
#include "trigger/trigger.h"

/* ---- the dataset and the pipeline ------------------------------------------------- */

/* 10 years x 500 samples: more than one replay chunk (4096 samples in
 * replay.c), so that the probe's later passes run a trained model. */
enum {
  YEARS = 10,
  TRAIN_PER_YEAR = 500,
  TEST_PER_YEAR = 100,
  N_TRAIN = YEARS * TRAIN_PER_YEAR,
  NUM_SAMPLES = 700,  /* trigger every 700 samples: 7 triggers, 100 samples left over */
  BATCH = 27,         /* odd, and 700 = 25 * 27 + 25: ceil(n/2) and the short batch matter */
  EPOCHS = 2,
  HIDDEN = 8,         /* MLP [8]: the embedding is a hidden layer, not the input */
};

/* FNV-1a over bytes, chained through h. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 1099511628211ULL;
  }
  return h;
}
#define FNV_START 14695981039346656037ULL

/* ---- EmbeddingProbeTrigger ------------------------------------------------------------ */

/* What the probe saw, for the checks after the run (rank 0). */
static struct {
  int64_t passes;         /* env->pass calls */
  int64_t passes_trained; /* of those, with at least one trigger's model trained */
  int64_t checked;        /* samples compared */
  int64_t mismatches;     /* samples whose embedding, loss or label differed */
  uint64_t first_hash;    /* embeddings of the first pass (the initial model) */
  uint64_t hash;          /* embeddings of every pass, in order */
} g_probe;

typedef struct {
  int64_t num_samples;
  int64_t seen; /* samples since the last trigger */
} Probe;

/* The model's outputs on the chunk, once through the pass and once
 * directly in batches of env->batch_size (the pass's batches), compared
 * bitwise. */
static int probe_check(PluginEnv *env, const StreamChunk *c) {
  PassResult res;
  MH_TRY(env->pass(env, c->keys, c->n, PASS_EMBED | PASS_LOSS, PASS_MODEL_CURRENT, &res));
  g_probe.passes++;
  if (*env->models_done > 0) g_probe.passes_trained++;
  /* The pass has returned, so nothing else uses the model now: running it
   * here only overwrites its scratch activations. */
  Model *m = (Model *)env->model;
  Store *s = (Store *)env->store;
  const int64_t n = c->n, B = env->batch_size, E = s->feat_elems;
  const int K = m->num_outputs, D = m->embed_dim;
  int64_t *rows = mh_malloc((size_t)n * sizeof(int64_t));
  float *x = mh_malloc((size_t)(B * E) * sizeof(float));
  float *logits = mh_malloc((size_t)(B * K) * sizeof(float));
  float *loss = mh_malloc((size_t)B * sizeof(float));
  int32_t *lab = mh_malloc((size_t)B * sizeof(int32_t));
  int rc = rows && x && logits && loss && lab ? MH_OK : MH_ERR;
  if (!rc && (res.n != n || res.D != D || D <= 0 || !res.embed || !res.loss || !res.labels))
    rc = mh_errorf("probe: the pass returned n %lld, D %d (want %lld, %d)%s", (long long)res.n,
                   res.D, (long long)n, D, res.embed && res.loss ? "" : ", outputs missing");
  if (!rc) rc = store_find_rows(s, c->keys, n, rows);
  uint64_t h = FNV_START;
  for (int64_t b0 = 0; !rc && b0 < n; b0 += B) {
    const int64_t len = n - b0 < B ? n - b0 : B;
    rc = store_read_features_f32(s, rows + b0, len, x);
    for (int64_t i = 0; !rc && i < len; i++) lab[i] = s->labels[rows[b0 + i]];
    if (!rc) rc = m->forward(m, x, len, logits, 0);
    double sum = 0;
    if (!rc)
      rc = env->bce ? loss_bce_logits(logits, lab, NULL, len, NULL, &sum, loss)
                    : loss_softmax_ce(logits, lab, NULL, len, K, NULL, &sum, loss);
    const float *emb = rc ? NULL : m->embedding(m);
    for (int64_t i = 0; !rc && i < len; i++) {
      const int64_t j = b0 + i;
      int same = memcmp(emb + i * D, res.embed + j * D, (size_t)D * sizeof(float)) == 0 &&
                 memcmp(&loss[i], &res.loss[j], sizeof(float)) == 0 &&
                 res.labels[j] == lab[i] && c->labels[j] == lab[i];
      if (!same && g_probe.mismatches < 5)
        fprintf(stderr, "probe: key %lld: pass loss %.9g label %d, direct loss %.9g label %d\n",
                (long long)c->keys[j], res.loss[j], res.labels[j], loss[i], lab[i]);
      g_probe.mismatches += !same;
      g_probe.checked++;
    }
  }
  if (!rc) h = fnv(h, res.embed, (size_t)(n * D) * sizeof(float));
  if (!rc && g_probe.passes == 1) g_probe.first_hash = h;
  g_probe.hash = fnv(g_probe.hash, &h, sizeof h);
  pass_result_free(&res);
  free(rows);
  free(x);
  free(logits);
  free(loss);
  free(lab);
  return rc;
}

static int probe_inform(Trigger *t, const StreamChunk *c, I64Vec *fired) {
  Probe *p = t->impl;
  if (t->env && t->env->dist->rank == 0 && c->n > 0) MH_TRY(probe_check(t->env, c));
  for (int64_t i = 0; i < c->n; i++) {
    if (++p->seen == p->num_samples) {
      MH_TRY(i64vec_push(fired, i));
      p->seen = 0;
    }
  }
  return MH_OK;
}

static int probe_create(const CfgRef *cfg, PluginEnv *env, Trigger **out) {
  (void)env;
  static const char *const keys[] = {"id", "num_samples", NULL};
  MH_TRY(cfg_check_keys(cfg, keys));
  Probe *p = mh_calloc(1, sizeof *p);
  Trigger *t = mh_calloc(1, sizeof *t);
  if (!p || !t) {
    free(p);
    free(t);
    return MH_ERR;
  }
  t->impl = p;
  t->inform = probe_inform;
  *out = t;
  return cfg_req_int(cfg, "num_samples", 1, INT64_MAX, &p->num_samples);
}

static const TriggerType probe_trigger = {"EmbeddingProbeTrigger", probe_create};

/* ---- HighLossHalfStrategy --------------------------------------------------------------- */

/* What the filter saw on this rank, in call order. */
static struct {
  int64_t filters;  /* batch filters made (one per trigger) */
  I64Vec n;         /* per batch: global batch size */
  I64Vec nkeep;     /* per batch: kept */
  F32Vec loss;      /* every batch's losses, concatenated */
  I64Vec keep;      /* every batch's kept positions, concatenated */
  F32Vec weight;    /* their weights */
  uint64_t hash;    /* n, step, labels and losses of every batch */
} g_half;

static void half_reset(void) {
  i64vec_free(&g_half.n);
  i64vec_free(&g_half.nkeep);
  f32vec_free(&g_half.loss);
  i64vec_free(&g_half.keep);
  f32vec_free(&g_half.weight);
  memset(&g_half, 0, sizeof g_half);
  g_half.hash = FNV_START;
}

typedef struct {
  float loss;
  int64_t pos;
} Scored;

/* Highest loss first; equal losses by position. */
static int cmp_scored(const void *a, const void *b) {
  const Scored *x = a, *y = b;
  if (x->loss != y->loss) return x->loss > y->loss ? -1 : 1;
  return (x->pos > y->pos) - (x->pos < y->pos);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int half_select(BatchFilter *f, const PassBatch *g, int64_t step, int64_t *keep,
                       float *weights, int64_t *nkeep) {
  (void)f;
  const int64_t n = g->n, k = (n + 1) / 2;
  if (!g->loss) return mh_errorf("HighLossHalfStrategy: the batch has no losses");
  Scored *s = mh_malloc((size_t)(n + 1) * sizeof *s);
  if (!s) return MH_ERR;
  for (int64_t i = 0; i < n; i++) s[i] = (Scored){g->loss[i], i};
  qsort(s, (size_t)n, sizeof *s, cmp_scored);
  for (int64_t i = 0; i < k; i++) keep[i] = s[i].pos;
  free(s);
  qsort(keep, (size_t)k, sizeof *keep, cmp_i64);
  for (int64_t i = 0; i < k; i++) weights[i] = 1.0f;
  *nkeep = k;
  /* The record the test checks afterwards. */
  g_half.hash = fnv(g_half.hash, &n, sizeof n);
  g_half.hash = fnv(g_half.hash, &step, sizeof step);
  g_half.hash = fnv(g_half.hash, g->labels, (size_t)n * sizeof(int32_t));
  g_half.hash = fnv(g_half.hash, g->loss, (size_t)n * sizeof(float));
  MH_TRY(i64vec_push(&g_half.n, n));
  MH_TRY(i64vec_push(&g_half.nkeep, k));
  for (int64_t i = 0; i < n; i++) MH_TRY(f32vec_push(&g_half.loss, g->loss[i]));
  for (int64_t i = 0; i < k; i++) {
    MH_TRY(i64vec_push(&g_half.keep, keep[i]));
    MH_TRY(f32vec_push(&g_half.weight, weights[i]));
  }
  return MH_OK;
}

static int half_batch_filter(Selector *s, int64_t trigger, BatchFilter **out) {
  (void)s;
  (void)trigger;
  BatchFilter *f = mh_calloc(1, sizeof *f);
  if (!f) return MH_ERR;
  f->outputs = PASS_LOSS;
  f->select = half_select;
  g_half.filters++;
  *out = f;
  return MH_OK;
}

typedef struct {
  I64Vec keys; /* new keys since the last trigger */
} Half;

static int half_inform(Selector *s, const StreamChunk *c) {
  Half *h = s->impl;
  for (int64_t i = 0; i < c->n; i++) MH_TRY(i64vec_push(&h->keys, c->keys[i]));
  return MH_OK;
}

static int half_train_set(Selector *s, int64_t trigger, TrainingSet *out) {
  (void)trigger;
  Half *h = s->impl;
  training_set_clear(out);
  MH_TRY(i64vec_reserve(&out->keys, h->keys.len));
  memcpy(out->keys.data, h->keys.data, (size_t)h->keys.len * sizeof(int64_t));
  out->keys.len = h->keys.len;
  h->keys.len = 0;
  return MH_OK;
}

static void half_destroy(Selector *s) {
  Half *h = s->impl;
  if (h) i64vec_free(&h->keys);
}

static int half_create(const CfgRef *cfg, PluginEnv *env, Selector **out) {
  (void)env;
  MH_TRY(cfg_check_keys(cfg, selector_common_keys));
  Selector *s = mh_calloc(1, sizeof *s);
  Half *h = mh_calloc(1, sizeof *h);
  if (!s || !h) {
    free(s);
    free(h);
    return MH_ERR;
  }
  s->impl = h;
  s->inform = half_inform;
  s->select = half_train_set;
  s->batch_filter = half_batch_filter;
  s->destroy = half_destroy;
  *out = s;
  return selector_parse_common(cfg, &s->common);
}

static const SelectorType half_strategy = {"HighLossHalfStrategy", half_create};

/* ---- checks on the filter's record --------------------------------------------------- */

typedef struct {
  int64_t batches, scored, kept;
  int64_t wrong_count;   /* batches where nkeep != ceil(n/2) */
  int64_t bad_position;  /* kept positions out of range or not increasing */
  int64_t bad_order;     /* a dropped sample above a kept one (or tie broken wrongly) */
  int64_t bad_weight;    /* weights other than 1 */
} HalfCheck;

static HalfCheck half_check(void) {
  HalfCheck r;
  memset(&r, 0, sizeof r);
  int64_t lo = 0, ko = 0; /* offsets into the concatenated losses and kept positions */
  for (int64_t b = 0; b < g_half.n.len; b++) {
    const int64_t n = g_half.n.data[b], k = g_half.nkeep.data[b];
    const float *loss = g_half.loss.data + lo;
    const int64_t *keep = g_half.keep.data + ko;
    r.batches++;
    r.scored += n;
    r.kept += k;
    r.wrong_count += k != (n + 1) / 2;
    char *kept = calloc((size_t)n + 1, 1);
    for (int64_t i = 0; i < k; i++) {
      if (keep[i] < 0 || keep[i] >= n || (i > 0 && keep[i] <= keep[i - 1])) {
        r.bad_position++;
        continue;
      }
      kept[keep[i]] = 1;
      r.bad_weight += g_half.weight.data[ko + i] != 1.0f;
    }
    /* Every kept loss >= every dropped loss; at equal loss the kept sample
     * comes first. */
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++)
        if (kept[i] && !kept[j] && (loss[i] < loss[j] || (loss[i] == loss[j] && i > j)))
          r.bad_order++;
    free(kept);
    lo += n;
    ko += k;
  }
  return r;
}

/* ---- the run directory ---------------------------------------------------------------- */

/* Sum of the integer field "name" over the events.jsonl lines of trigger
 * events; *lines gets their count. */
static int64_t events_sum(const char *text, const char *name, int64_t *lines) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", name);
  int64_t sum = 0;
  *lines = 0;
  for (const char *l = text; l && *l;) {
    const char *end = strchr(l, '\n');
    size_t len = end ? (size_t)(end - l) : strlen(l);
    char line[2048];
    snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), l);
    const char *f = strstr(line, pat);
    if (strstr(line, "\"event\":\"trigger\"") && f) {
      sum += strtoll(f + strlen(pat), NULL, 10);
      (*lines)++;
    }
    l = end ? end + 1 : NULL;
  }
  return sum;
}

/* triggers.csv without its last two columns (train and eval seconds). */
static char *triggers_without_times(const char *path) {
  char *t = test_slurp(path);
  char *out = malloc(strlen(t) + 1), *o = out;
  for (const char *l = t; *l;) {
    const char *end = strchr(l, '\n');
    size_t len = end ? (size_t)(end - l) : strlen(l);
    const char *cut = l + len;
    for (int k = 0; k < 2; k++)
      while (cut > l && *--cut != ',') {}
    memcpy(o, l, (size_t)(cut - l));
    o += cut - l;
    *o++ = '\n';
    l = end ? end + 1 : l + len;
  }
  *o = '\0';
  free(t);
  return out;
}

/* Largest |a - b| over the weights of every trigger's checkpoint of two
 * runs; -1 when one cannot be read. */
static double max_model_diff(const PipelineConfig *cfg, const char *da, const char *db, int n) {
  CfgRef root = cfg_root(&cfg->doc), model_ref, id_ref;
  cfg_child(&root, "model", &model_ref);
  cfg_child(&model_ref, "id", &id_ref);
  ModelShape shape = {1, {16, 0, 0, 0}, 16, 4, 0};
  Model *a = NULL, *b = NULL;
  double worst = -1;
  if (model_create(cfg->model_id, &id_ref, &cfg->model_config, &shape, &a) ||
      model_create(cfg->model_id, &id_ref, &cfg->model_config, &shape, &b))
    goto out;
  worst = 0;
  for (int t = 0; t < n; t++) {
    char pa[1200], pb[1200];
    CheckpointMeta ma, mb;
    snprintf(pa, sizeof pa, "%s/models/trigger_%04d.h5", da, t);
    snprintf(pb, sizeof pb, "%s/models/trigger_%04d.h5", db, t);
    if (checkpoint_read(pa, a, NULL, &ma, NULL) || checkpoint_read(pb, b, NULL, &mb, NULL)) {
      fprintf(stderr, "%s\n", mh_error());
      worst = -1;
      goto out;
    }
    for (int64_t i = 0; i < a->nparams; i++) {
      double d = fabs((double)a->params[i] - b->params[i]);
      if (d > worst) worst = d;
    }
  }
out:
  model_free(a);
  model_free(b);
  return worst;
}

/* ---- the test ------------------------------------------------------------------------- */

static int load_config(const char *trigger_id, const char *data_dir, PipelineConfig *cfg) {
  char path[1200], trig[128];
  snprintf(path, sizeof path, "%s/configs/quickstart.yaml", getenv("MODYN_SOURCE_DIR"));
  snprintf(trig, sizeof trig, "trigger={id: %s, num_samples: %d}", trigger_id, NUM_SAMPLES);
  char batch[64], epochs[64];
  snprintf(batch, sizeof batch, "training.batch_size=%d", BATCH);
  snprintf(epochs, sizeof epochs, "training.epochs_per_trigger=%d", EPOCHS);
  const char *set[] = {trig,
                       "selection_strategy.name=HighLossHalfStrategy",
                       "model.id=MLP",
                       "model.config.hidden_sizes=[8]",
                       batch,
                       epochs};
  char *text = NULL;
  MH_TRY(cfg_read_text(path, &text, NULL));
  int rc = pipeline_parse(path, text, set, (int)(sizeof set / sizeof set[0]), data_dir, cfg);
  free(text);
  return rc;
}

/* Samples the half filter trains on: per trigger of n samples, every epoch,
 * ceil(len/2) of each batch of len (no drop_last). */
static int64_t expected_half(int64_t triggers, int64_t n) {
  int64_t per_epoch = 0;
  for (int64_t b0 = 0; b0 < n; b0 += BATCH) {
    int64_t len = n - b0 < BATCH ? n - b0 : BATCH;
    per_epoch += (len + 1) / 2;
  }
  return triggers * EPOCHS * per_epoch;
}

/* The filter's record must be the same on every rank: same number of
 * batches, same hash of their scores. */
static void check_filter_across_ranks(const Dist *d, const char *run) {
  uint64_t h[2] = {g_half.hash, g_half.hash}, hmin = 0, hmax = 0;
  int64_t b = g_half.n.len, bmin = 0, bmax = 0;
  MPI_Allreduce(&h[0], &hmin, 1, MPI_UINT64_T, MPI_MIN, d->comm);
  MPI_Allreduce(&h[1], &hmax, 1, MPI_UINT64_T, MPI_MAX, d->comm);
  MPI_Allreduce(&b, &bmin, 1, MPI_INT64_T, MPI_MIN, d->comm);
  MPI_Allreduce(&b, &bmax, 1, MPI_INT64_T, MPI_MAX, d->comm);
  if (d->rank == 0)
    printf("# run %s: filter record, ranks %d: batches %lld..%lld, score hash %016" PRIx64
           "..%016" PRIx64 "\n",
           run, d->size, (long long)bmin, (long long)bmax, hmin, hmax);
  CHECK(hmin == hmax);
  CHECK_EQ_INT(bmin, bmax);
}

/* The filter and the run's statistics on this rank (asserts on rank 0 for
 * what only rank 0 knows). */
static void check_half_run(const Dist *d, const char *run, const char *dir,
                           const RunSummary *sum) {
  const int64_t triggers = N_TRAIN / NUM_SAMPLES;
  HalfCheck hc = half_check();
  if (d->rank == 0)
    printf("# run %s: %lld batches, %lld scored, %lld kept; wrong count %lld, bad position "
           "%lld, bad order %lld, bad weight %lld\n",
           run, (long long)hc.batches, (long long)hc.scored, (long long)hc.kept,
           (long long)hc.wrong_count, (long long)hc.bad_position, (long long)hc.bad_order,
           (long long)hc.bad_weight);
  CHECK_EQ_INT(g_half.filters, triggers);
  /* 700 samples in batches of 27: 25 full batches and one of 25, 2 epochs. */
  CHECK_EQ_INT(hc.batches, triggers * EPOCHS * ((NUM_SAMPLES + BATCH - 1) / BATCH));
  CHECK_EQ_INT(hc.scored, triggers * EPOCHS * NUM_SAMPLES);
  CHECK_EQ_INT(hc.kept, expected_half(triggers, NUM_SAMPLES));
  CHECK_EQ_INT(hc.wrong_count, 0);
  CHECK_EQ_INT(hc.bad_position, 0);
  CHECK_EQ_INT(hc.bad_order, 0);
  CHECK_EQ_INT(hc.bad_weight, 0);
  check_filter_across_ranks(d, run);
  if (d->rank != 0) return;
  CHECK_EQ_INT(sum->triggers, triggers);
  /* 7 x 2 x (25 x 14 + 13) = 5082 */
  CHECK_EQ_INT(sum->samples_trained, expected_half(triggers, NUM_SAMPLES));
  CHECK_EQ_INT(sum->samples_trained, 5082);
  char path[1200];
  snprintf(path, sizeof path, "%s/events.jsonl", dir);
  char *ev = test_slurp(path);
  int64_t lines = 0, l2 = 0, l3 = 0, l4 = 0;
  int64_t trained = events_sum(ev, "samples_trained", &lines);
  int64_t scored = events_sum(ev, "scored", &l2);
  int64_t set = events_sum(ev, "training_set", &l3);
  int64_t epochs = events_sum(ev, "epochs", &l4);
  CHECK_EQ_INT(lines, triggers);
  CHECK_EQ_INT(l2, triggers);
  CHECK_EQ_INT(trained, sum->samples_trained);
  CHECK_EQ_INT(set, triggers * NUM_SAMPLES);
  CHECK_EQ_INT(scored, set * EPOCHS);
  CHECK_EQ_INT(epochs, triggers * EPOCHS);
  free(ev);
}

static void check_probe(const char *run) {
  printf("# run %s: probe: %lld passes (%lld with a trained model), %lld samples checked, "
         "%lld mismatches, first pass hash %016" PRIx64 "\n",
         run, (long long)g_probe.passes, (long long)g_probe.passes_trained,
         (long long)g_probe.checked, (long long)g_probe.mismatches, g_probe.first_hash);
  CHECK(g_probe.passes > 0);
  /* Every sample of the stream once: the trigger sees each chunk once. */
  CHECK_EQ_INT(g_probe.checked, N_TRAIN);
  CHECK_EQ_INT(g_probe.mismatches, 0);
}

static int run_pipeline(const Dist *d, const char *trigger_id, const char *data_dir,
                        const char *dir, RunSummary *sum) {
  PipelineConfig cfg;
  memset(&cfg, 0, sizeof cfg);
  memset(&g_probe, 0, sizeof g_probe);
  g_probe.hash = FNV_START;
  half_reset();
  int rc = load_config(trigger_id, data_dir, &cfg);
  if (!rc) rc = pipeline_run(d, &cfg, dir, 0, sum);
  if (rc) fprintf(stderr, "[rank %d] run %s failed: %s\n", d->rank, dir, mh_error());
  pipeline_free(&cfg);
  return rc;
}

/* The three runs and their checks. A failed run counts as a failed check
 * and ends the sequence on every rank (pipeline_run agrees on failure). */
static void run_all(const Dist *world, const char *data, const char *da, const char *db,
                   const char *dc) {
  /* A: the probe trigger on every rank. */
  RunSummary sa, sb, sc;
  int rc = run_pipeline(world, "EmbeddingProbeTrigger", data, da, &sa);
  CHECK_OK(rc);
  if (rc) return;
  if (world->rank == 0) check_probe("probe");
  check_half_run(world, "probe", da, &sa);
  const uint64_t first_hash = g_probe.first_hash;

  /* B: DataAmountTrigger, same num_samples: the same triggers and results. */
  rc = run_pipeline(world, "DataAmountTrigger", data, db, &sb);
  CHECK_OK(rc);
  if (rc) return;
  check_half_run(world, "amount", db, &sb);
  if (world->rank == 0) {
    CHECK_EQ_INT(g_probe.passes, 0);
    CHECK_EQ_INT(sa.triggers, sb.triggers);
    CHECK_EQ_INT(sa.samples_trained, sb.samples_trained);
    char pa[300], pb[300];
    snprintf(pa, sizeof pa, "%s/eval/matrix.csv", da);
    snprintf(pb, sizeof pb, "%s/eval/matrix.csv", db);
    char *ma = test_slurp(pa), *mb = test_slurp(pb);
    CHECK(strlen(ma) > 0);
    CHECK(strcmp(ma, mb) == 0);
    free(ma);
    free(mb);
    snprintf(pa, sizeof pa, "%s/triggers.csv", da);
    snprintf(pb, sizeof pb, "%s/triggers.csv", db);
    ma = triggers_without_times(pa);
    mb = triggers_without_times(pb);
    CHECK(strlen(ma) > 0);
    CHECK_STR(ma, mb);
    free(ma);
    free(mb);
  }

  /* C: the probe pipeline on rank 0 alone; the others wait at the barrier. */
  if (world->rank == 0) {
    Dist self = dist_self();
    int rc1 = run_pipeline(&self, "EmbeddingProbeTrigger", data, dc, &sc);
    CHECK_OK(rc1);
    if (!rc1) {
      check_probe("probe, 1 rank");
      check_half_run(&self, "probe, 1 rank", dc, &sc);
      /* The first pass runs the initial model: bit for bit the same
       * embeddings for any number of ranks. */
      CHECK(g_probe.first_hash == first_hash);
      CHECK_EQ_INT(sc.triggers, sa.triggers);
      CHECK_EQ_INT(sc.samples_trained, sa.samples_trained);
      PipelineConfig cfg;
      memset(&cfg, 0, sizeof cfg);
      CHECK_OK(load_config("EmbeddingProbeTrigger", data, &cfg));
      /* Asking for passes changed nothing: A and B hold the same models. */
      double ab = max_model_diff(&cfg, da, db, sa.triggers);
      double ac = max_model_diff(&cfg, da, dc, sa.triggers);
      printf("# max |weights| difference over %d triggers' models: probe vs amount %.3g "
             "(must be 0), %d ranks vs 1 rank %.3g (must be <= 1e-4)\n",
             sa.triggers, ab, world->size, ac);
      CHECK(ab == 0.0);
      CHECK(ac >= 0 && ac <= 1e-4);
      pipeline_free(&cfg);
    }
  }
  MPI_Barrier(world->comm);
}

int main(int argc, char **argv) {
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    fprintf(stderr, "test_plugins: MPI_Init failed\n");
    return 1;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  Dist world;
  if (dist_init(&world, MPI_COMM_WORLD)) mh_fatal_last();
  mh_log_init(&world);
  mh_hdf5_quiet();
  /* One thread per rank: the ranks share a small machine, and the 1-rank
   * and N-rank runs then use the same kernels. */
  par_init(1);
  if (!getenv("MODYN_SOURCE_DIR")) {
    if (world.rank == 0)
      fprintf(stderr, "test_plugins: MODYN_SOURCE_DIR is not set (run it from ctest)\n");
    MPI_Finalize();
    return 77;
  }
  if (trigger_register(&probe_trigger) || selector_register(&half_strategy)) mh_fatal_last();

  /* Rank 0 makes the working directory and the data; the others wait. */
  char name[64], root[128], data[256], da[256], db[256], dc[256];
  snprintf(name, sizeof name, "plugins_np%d", world.size);
  snprintf(root, sizeof root, "tmp_%s", name);
  snprintf(data, sizeof data, "%s/data", root);
  snprintf(da, sizeof da, "%s/run_probe", root);
  snprintf(db, sizeof db, "%s/run_amount", root);
  snprintf(dc, sizeof dc, "%s/run_probe_1rank", root);
  int rc = MH_OK;
  if (world.rank == 0) {
    test_tmpdir(name);
    SynthParams p;
    synth_defaults(&p);
    p.years = YEARS;
    p.train_per_year = TRAIN_PER_YEAR;
    p.test_per_year = TEST_PER_YEAR;
    char out[300];
    snprintf(out, sizeof out, "%s/quickstart", data);
    rc = synth_generate(&p, out, NULL);
  }
  if (dist_agree(&world, rc)) mh_fatal_last();

  run_all(&world, data, da, db, dc);
  half_reset();
  /* The verdict: any rank's failure fails the test. */
  int failed = test_failures, any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  int code = 0;
  if (world.rank == 0) {
    test_failures = any;
    code = test_finish("test_plugins");
  }
  MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Finalize();
  return code;
}

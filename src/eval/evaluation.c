/* evaluation.c - see evaluation.h. */
#include "eval/evaluation.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/timing.h"
#include "eval/composite.h"
#include "train/model_pass.h"

/* ---- setup ---------------------------------------------------------------- */

/* First position in rows_by_ts whose timestamp is >= t. */
static int64_t lower_bound(const EvalDataset *d, int64_t t) {
  int64_t lo = 0, hi = d->store.n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (d->store.timestamps[d->rows_by_ts[mid]] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int dataset_init(EvalDataset *d, const EvalDatasetConfig *dc, int num_classes,
                        const ModelShape *shape) {
  snprintf(d->id, sizeof d->id, "%s", dc->dataset_id[0] ? dc->dataset_id : dc->path);
  if (store_open(dc->path, &d->store))
    return mh_error_context("evaluation dataset \"%s\"", d->id);
  if (d->store.schema.num_classes != num_classes || d->store.feat_elems != shape->in_elems)
    return mh_errorf("evaluation dataset \"%s\" (%s) has %d classes and %lld features per "
                     "sample, but the model has %d and %lld",
                     d->id, dc->path, d->store.schema.num_classes, (long long)d->store.feat_elems,
                     num_classes, (long long)shape->in_elems);
  d->rows_by_ts = mh_malloc((size_t)(d->store.n + 1) * sizeof(int64_t));
  if (!d->rows_by_ts) return MH_ERR;
  for (int64_t i = 0; i < d->store.n; i++) d->rows_by_ts[i] = i;
  store_sort_rows_by_time(&d->store, d->rows_by_ts, d->store.n);
  d->batch_size = dc->batch_size;
  for (int m = 0; m < dc->num_metrics; m++) {
    MH_TRY(metric_create(&dc->metrics[m].ref, num_classes, &d->metrics[m]));
    d->nmetrics++;
    d->state_len += d->metrics[m]->state_len;
    d->npair += d->metrics[m]->uses_pairs;
  }
  return MH_OK;
}

static EvalContext data_context(const EvalDataset *d) {
  EvalContext ctx = {0, -1, 0, NULL, NULL};
  if (d->store.n > 0) {
    ctx.data_min_ts = d->store.timestamps[d->rows_by_ts[0]];
    ctx.data_max_ts = d->store.timestamps[d->rows_by_ts[d->store.n - 1]];
  }
  return ctx;
}

/* Append n intervals to t (owners shifted by owner_base). */
static int task_append(EvalTask *t, const EvalDataset *d, const EvalInterval *iv, int n,
                       int owner_base) {
  if (t->niv + n > t->cap) {
    int cap = (t->niv + n) * 2 + 8;
    EvalInterval *a = mh_realloc(t->iv, (size_t)cap * sizeof *a);
    if (!a) return MH_ERR;
    t->iv = a;
    int64_t *lo = mh_realloc(t->row_lo, (size_t)cap * sizeof *lo);
    if (!lo) return MH_ERR;
    t->row_lo = lo;
    int64_t *hi = mh_realloc(t->row_hi, (size_t)cap * sizeof *hi);
    if (!hi) return MH_ERR;
    t->row_hi = hi;
    t->cap = cap;
  }
  for (int i = 0; i < n; i++) {
    EvalInterval *x = &t->iv[t->niv];
    *x = iv[i];
    if (x->owner >= 0) x->owner += owner_base;
    t->row_lo[t->niv] = lower_bound(d, x->start);
    t->row_hi[t->niv] = lower_bound(d, x->end);
    t->niv++;
  }
  return MH_OK;
}

int evaluation_init(Evaluation *ev, const EvaluationConfig *cfg, int num_classes,
                    const ModelShape *shape) {
  memset(ev, 0, sizeof *ev);
  ev->cfg = cfg;
  const EvaluationConfig *ec = cfg;
  if (!ec->enabled) return MH_OK;
  for (int i = 0; i < ec->num_datasets; i++) {
    MH_TRY(dataset_init(&ev->datasets[i], &ec->datasets[i], num_classes, shape));
    ev->ndatasets++;
  }
  int cap = ec->num_handlers * (ec->num_datasets ? ec->num_datasets : 1);
  ev->tasks = mh_calloc((size_t)cap + 1, sizeof(EvalTask));
  if (!ev->tasks) return MH_ERR;
  for (int h = 0; h < ec->num_handlers; h++) {
    const EvalHandlerConfig *hc = &ec->handlers[h];
    const EvalStrategyType *st;
    MH_TRY(eval_strategy_find(&hc->strategy, &st));
    for (int j = 0; j < hc->num_datasets; j++) {
      int di = -1;
      for (int k = 0; k < ec->num_datasets; k++)
        if (!strcmp(ec->datasets[k].dataset_id, hc->datasets[j])) di = k;
      if (di < 0) return mh_errorf("evaluation handler %s: unknown dataset %s", hc->name, hc->datasets[j]);
      EvalDataset *d = &ev->datasets[di];
      EvalTask *t = &ev->tasks[ev->ntasks++];
      t->handler = h;
      t->dataset = di;
      t->strategy = st;
      t->after_pipeline = strcmp(hc->execution_time, "after_training") || st->after_pipeline_only;
      t->off = !strcmp(hc->execution_time, "manual");
      t->models = !strcmp(hc->models, "active") ? EVAL_MODELS_ACTIVE
                  : !strcmp(hc->models, "train") ? EVAL_MODELS_TRAIN
                                                  : EVAL_MODELS_MATRIX;
      EvalContext ctx = data_context(d);
      EvalInterval *iv = NULL;
      int n = 0;
      MH_TRY(st->intervals(&hc->strategy, &ctx, &iv, &n));
      int rc = task_append(t, d, iv, n, 0);
      free(iv);
      MH_TRY(rc);
    }
  }
  return MH_OK;
}

void evaluation_free(Evaluation *ev) {
  for (int i = 0; i < ev->ndatasets; i++) {
    EvalDataset *d = &ev->datasets[i];
    store_close(&d->store);
    free(d->rows_by_ts);
    for (int m = 0; m < d->nmetrics; m++) metric_free(d->metrics[m]);
  }
  for (int t = 0; t < ev->ntasks; t++) {
    free(ev->tasks[t].iv);
    free(ev->tasks[t].row_lo);
    free(ev->tasks[t].row_hi);
  }
  free(ev->tasks);
  free(ev->cells);
  memset(ev, 0, sizeof *ev);
}

void evaluation_all_after_pipeline(Evaluation *ev) {
  for (int t = 0; t < ev->ntasks; t++) {
    ev->tasks[t].after_pipeline = 1;
    ev->tasks[t].off = 0;
  }
}

int evaluation_pick_handlers(Evaluation *ev, const char *const *names, int n) {
  const EvaluationConfig *ec = ev->cfg;
  for (int i = 0; i < n; i++) {
    int found = 0;
    for (int h = 0; h < ec->num_handlers; h++) found |= !strcmp(ec->handlers[h].name, names[i]);
    if (found) continue;
    char list[EVAL_MAX_HANDLERS * (EVAL_NAME + 2)] = "";
    for (int h = 0; h < ec->num_handlers; h++) {
      if (h) strcat(list, ", ");
      strcat(list, ec->handlers[h].name);
    }
    return mh_errorf("no evaluation handler is named \"%s\"; the configuration has: %s",
                     names[i], list);
  }
  for (int t = 0; t < ev->ntasks; t++) {
    const char *name = ec->handlers[ev->tasks[t].handler].name;
    int picked = 0;
    for (int i = 0; i < n; i++) picked |= !strcmp(name, names[i]);
    ev->tasks[t].off = !picked;
  }
  return MH_OK;
}

int64_t evaluation_num_intervals(const Evaluation *ev) {
  int64_t n = 0;
  for (int t = 0; t < ev->ntasks; t++) n += ev->tasks[t].niv;
  return n;
}

int evaluation_has_after_pipeline(const Evaluation *ev) {
  for (int t = 0; t < ev->ntasks; t++)
    if (ev->tasks[t].after_pipeline && !ev->tasks[t].off) return 1;
  return 0;
}

/* ---- which cells ------------------------------------------------------------ */

/* Composite models at ref among meta[0..n-1] (see composite.h). */
/* Composite models (composite.h) over checkpoint metadata. */
static void select_at(const CheckpointMeta *meta, int n, int64_t ref, int *active, int *trained) {
  if (n == 0) {
    *active = *trained = -1;
    return;
  }
  composite_select_stride(&meta[0].last_timestamp, sizeof *meta, n, ref, active, trained);
}

static int cell_wanted(const EvalTask *t, const EvalInterval *iv, int model,
                       const CheckpointMeta *meta, int nmodels) {
  if (iv->owner >= 0) return model == iv->owner;
  if (t->models == EVAL_MODELS_MATRIX) return 1;
  int a, tr;
  select_at(meta, nmodels, iv->ref, &a, &tr);
  return model == (t->models == EVAL_MODELS_ACTIVE ? a : tr);
}

/* ---- the work plan ------------------------------------------------------------ */

typedef struct {
  int ncell;
  int *cell_iv, *cell_model; /* [ncell], grouped by interval */
  int *iv_first;             /* [niv + 1]: cells of interval i are iv_first[i] .. iv_first[i+1]-1 */
  int64_t nunit;
  int *unit_iv;              /* [nunit] */
  int64_t *unit_lo, *unit_len; /* positions in rows_by_ts: the pass's batches */
} Plan;

static void plan_free(Plan *p) {
  free(p->cell_iv);
  free(p->cell_model);
  free(p->iv_first);
  free(p->unit_iv);
  free(p->unit_lo);
  free(p->unit_len);
  memset(p, 0, sizeof *p);
}

static int plan_build(Plan *p, const EvalTask *t, const EvalDataset *d, int model_lo, int model_hi,
                      const CheckpointMeta *meta, int nmodels) {
  memset(p, 0, sizeof *p);
  int64_t maxcells = (int64_t)t->niv * (model_hi - model_lo);
  const int64_t B = d->batch_size;
  int64_t nunit = 0;
  for (int i = 0; i < t->niv; i++) nunit += (t->row_hi[i] - t->row_lo[i] + B - 1) / B;
  p->cell_iv = mh_malloc((size_t)(maxcells + 1) * sizeof(int));
  p->cell_model = mh_malloc((size_t)(maxcells + 1) * sizeof(int));
  p->iv_first = mh_malloc((size_t)(t->niv + 1) * sizeof(int));
  p->unit_iv = mh_malloc((size_t)(nunit + 1) * sizeof(int));
  p->unit_lo = mh_malloc((size_t)(nunit + 1) * sizeof(int64_t));
  p->unit_len = mh_malloc((size_t)(nunit + 1) * sizeof(int64_t));
  if (!p->cell_iv || !p->cell_model || !p->iv_first || !p->unit_iv || !p->unit_lo || !p->unit_len)
    return MH_ERR;
  for (int i = 0; i < t->niv; i++) {
    p->iv_first[i] = p->ncell;
    for (int j = model_lo; j < model_hi; j++)
      if (cell_wanted(t, &t->iv[i], j, meta, nmodels)) {
        p->cell_iv[p->ncell] = i;
        p->cell_model[p->ncell++] = j;
      }
  }
  p->iv_first[t->niv] = p->ncell;
  /* Batches from each interval's start (the model pass shares them out by
   * cost = rows x models). */
  for (int i = 0; i < t->niv; i++) {
    if (p->iv_first[i + 1] == p->iv_first[i]) continue;
    for (int64_t b0 = t->row_lo[i]; b0 < t->row_hi[i]; b0 += B) {
      p->unit_iv[p->nunit] = i;
      p->unit_lo[p->nunit] = b0;
      p->unit_len[p->nunit] = (b0 + B < t->row_hi[i] ? b0 + B : t->row_hi[i]) - b0;
      p->nunit++;
    }
  }
  return MH_OK;
}

/* ---- running a plan ---------------------------------------------------------- */

/* Rank 0: compute every pair metric of every cell from the gathered pairs,
 * laid out in global unit order: per unit, per cell of its interval, per
 * pair metric, the unit's rows. */
static int pair_results(const Plan *p, const EvalTask *t, const EvalDataset *d, ScorePair *all,
                        double *values) {
  const int npm = d->npair;
  /* Per (cell, pair metric): offset into a regrouped array. */
  int64_t *off = mh_malloc((size_t)(p->ncell * npm + 1) * sizeof(int64_t));
  int64_t *fill = mh_calloc((size_t)(p->ncell * npm + 1), sizeof(int64_t));
  int64_t total = 0;
  if (!off || !fill) {
    free(off);
    free(fill);
    return MH_ERR;
  }
  for (int c = 0; c < p->ncell; c++)
    for (int k = 0; k < npm; k++) {
      off[c * npm + k] = total;
      total += t->row_hi[p->cell_iv[c]] - t->row_lo[p->cell_iv[c]];
    }
  ScorePair *grouped = mh_malloc((size_t)(total + 1) * sizeof *grouped);
  if (!grouped) {
    free(off);
    free(fill);
    return MH_ERR;
  }
  int64_t cur = 0;
  for (int64_t u = 0; u < p->nunit; u++) {
    int i = p->unit_iv[u];
    int64_t n = p->unit_len[u];
    for (int c = p->iv_first[i]; c < p->iv_first[i + 1]; c++)
      for (int k = 0; k < npm; k++) {
        int64_t slot = c * npm + k;
        memcpy(grouped + off[slot] + fill[slot], all + cur, (size_t)n * sizeof *grouped);
        fill[slot] += n;
        cur += n;
      }
  }
  for (int c = 0; c < p->ncell; c++) {
    int pk = 0;
    for (int k = 0; k < d->nmetrics; k++) {
      const Metric *m = d->metrics[k];
      if (!m->uses_pairs) continue;
      int64_t slot = c * npm + pk++;
      values[(int64_t)c * d->nmetrics + k] = m->result_pairs(m, grouped + off[slot], fill[slot]);
    }
  }
  free(grouped);
  free(off);
  free(fill);
  return MH_OK;
}

/* ---- the model pass's visitor: metric states per cell ------------------------ */

typedef struct {
  const Plan *p;
  const EvalDataset *d;
  const EvalBank *bank; /* NULL: the model holds the one model to evaluate */
  int loaded;           /* bank model in the model now (-1 none) */
  double *state;        /* [ncell * state_len] summable metric states */
  ScorePair *pairs;     /* this rank's pairs, in unit order (pair metrics) */
  int64_t npairs, cap;
  double *scores;       /* [batch] */
} EvalVisit;

static int visit_runs(void *ctx, int64_t u) {
  const EvalVisit *v = ctx;
  int i = v->p->unit_iv[u];
  return v->p->iv_first[i + 1] - v->p->iv_first[i];
}

static int visit_prepare(void *ctx, int64_t u, int r, Model *m) {
  EvalVisit *v = ctx;
  int c = v->p->iv_first[v->p->unit_iv[u]] + r;
  if (v->bank && v->loaded != v->p->cell_model[c]) {
    v->loaded = v->p->cell_model[c];
    return eval_bank_use(v->bank, v->loaded, m);
  }
  return MH_OK;
}

static int visit_consume(void *ctx, int64_t u, int r, const PassBatch *b) {
  EvalVisit *v = ctx;
  const EvalDataset *d = v->d;
  const int c = v->p->iv_first[v->p->unit_iv[u]] + r;
  const int64_t n = b->n;
  double *st = v->state + (int64_t)c * d->state_len;
  for (int k = 0; k < d->nmetrics; k++) {
    const Metric *mt = d->metrics[k];
    if (!mt->uses_pairs) {
      mt->update(mt, st, b->logits, b->labels, n, b->K);
      st += mt->state_len;
      continue;
    }
    if (v->npairs + n > v->cap) {
      int64_t cap = (v->npairs + n) * 2;
      ScorePair *np = mh_realloc(v->pairs, (size_t)cap * sizeof *np);
      double *sc = mh_realloc(v->scores, (size_t)cap * sizeof *sc);
      if (np) v->pairs = np;
      if (sc) v->scores = sc;
      if (!np || !sc) return MH_ERR;
      v->cap = cap;
    }
    mt->score(mt, b->logits, n, b->K, v->scores);
    for (int64_t j = 0; j < n; j++) {
      ScorePair *x = &v->pairs[v->npairs + j];
      x->score = v->scores[j];
      x->label = b->labels[j];
      x->pad = 0;
    }
    v->npairs += n;
  }
  return MH_OK;
}

static int add_cells(Evaluation *ev, int ti, const Plan *p, const double *values) {
  const EvalTask *t = &ev->tasks[ti];
  int nm = ev->datasets[t->dataset].nmetrics;
  if (ev->ncells + p->ncell > ev->cells_cap) {
    int cap = (ev->ncells + p->ncell) * 2 + 16;
    EvalCell *c = mh_realloc(ev->cells, (size_t)cap * sizeof *c);
    if (!c) return MH_ERR;
    ev->cells = c;
    ev->cells_cap = cap;
  }
  for (int c = 0; c < p->ncell; c++) {
    EvalCell *x = &ev->cells[ev->ncells++];
    memset(x, 0, sizeof *x);
    x->task = ti;
    x->interval = p->cell_iv[c];
    x->model = p->cell_model[c];
    x->num_samples = t->row_hi[x->interval] - t->row_lo[x->interval];
    for (int k = 0; k < nm; k++) x->value[k] = values[(int64_t)c * nm + k];
  }
  return MH_OK;
}

/* Evaluate models [model_lo, model_hi) of task ti where wanted. bank NULL:
 * m already holds the one model. */
static int run_task(Evaluation *ev, int ti, const Dist *dist, Model *m, const EvalBank *bank,
                    int model_lo, int model_hi, const CheckpointMeta *meta, int nmodels) {
  EvalTask *t = &ev->tasks[ti];
  EvalDataset *d = &ev->datasets[t->dataset];
  Plan p;
  double *values = NULL;
  ScorePair *all = NULL;
  EvalVisit v = {&p, d, bank, -1, NULL, NULL, 0, 0, NULL};
  int rc = plan_build(&p, t, d, model_lo, model_hi, meta, nmodels);
  if (!rc) {
    v.state = mh_calloc((size_t)((int64_t)p.ncell * d->state_len + 1), sizeof(double));
    values = mh_calloc((size_t)((int64_t)p.ncell * d->nmetrics + 1), sizeof(double));
    if (!v.state || !values) rc = MH_ERR;
  }
  /* Every interval's batches through the model pass, each batch once for
   * all the models of its interval; the visitor folds the logits into the
   * cells' metric states. A failure on one rank must not leave the others
   * in the pass. */
  rc = dist_agree(dist, rc);
  if (!rc) {
    const PassVisitor visit = {&v, visit_runs, visit_prepare, visit_consume};
    PassRequest req = {d->rows_by_ts, d->store.n, d->batch_size, p.unit_lo, p.unit_len, p.nunit,
                       PASS_LOGITS, 0, 0, &visit, "evaluation"};
    PassResult res;
    rc = model_pass_run(dist, m, &d->store, &req, &res);
    if (!rc) pass_result_free(&res);
  }
  /* Summable states add up exactly (one rank per cell and batch). */
  if (!rc) rc = dist_allreduce_sum_f64(dist, v.state, (int64_t)p.ncell * d->state_len);
  for (int c = 0; !rc && c < p.ncell; c++) {
    const double *st = v.state + (int64_t)c * d->state_len;
    for (int k = 0; k < d->nmetrics; k++) {
      const Metric *mt = d->metrics[k];
      if (mt->uses_pairs) continue;
      values[(int64_t)c * d->nmetrics + k] = mt->result(mt, st);
      st += mt->state_len;
    }
  }
  if (!rc && d->npair > 0) {
    /* Pair metrics (RocAuc) need every (score, label) on rank 0, in unit
     * order: rank order is unit order, since ranks own contiguous runs. */
    int64_t total = 0;
    for (int64_t u = 0; u < p.nunit; u++) total += p.unit_len[u] * visit_runs(&v, u) * d->npair;
    if (dist->rank == 0) rc = (all = mh_malloc((size_t)(total + 1) * sizeof *all)) ? MH_OK : MH_ERR;
    rc = dist_agree(dist, rc);
    if (!rc) rc = dist_gather_bytes(dist, v.pairs, v.npairs, sizeof *v.pairs, all, NULL);
    if (!rc && dist->rank == 0) rc = pair_results(&p, t, d, all, values);
    rc = dist_agree(dist, rc);
    if (!rc) rc = dist_bcast_f64(dist, values, (int64_t)p.ncell * d->nmetrics);
  }
  if (!rc) rc = add_cells(ev, ti, &p, values);
  free(v.state);
  free(v.pairs);
  free(v.scores);
  free(values);
  free(all);
  plan_free(&p);
  if (rc) return mh_error_context("evaluating handler %s on %s",
                                  ev->cfg->handlers[t->handler].name, d->id);
  return MH_OK;
}

/* Per-model intervals of task ti for meta[lo..hi-1] (owners = model indices). */
static int add_model_intervals(Evaluation *ev, int ti, const CheckpointMeta *meta, int lo, int hi) {
  EvalTask *t = &ev->tasks[ti];
  EvalDataset *d = &ev->datasets[t->dataset];
  int n = hi - lo;
  int64_t *first = mh_malloc((size_t)(n + 1) * sizeof(int64_t));
  int64_t *last = mh_malloc((size_t)(n + 1) * sizeof(int64_t));
  if (!first || !last) {
    free(first);
    free(last);
    return MH_ERR;
  }
  for (int i = 0; i < n; i++) {
    first[i] = meta[lo + i].first_timestamp;
    last[i] = meta[lo + i].last_timestamp;
  }
  EvalContext ctx = data_context(d);
  ctx.nmodels = n;
  ctx.model_first_ts = first;
  ctx.model_last_ts = last;
  EvalInterval *iv = NULL;
  int niv = 0;
  int rc = t->strategy->intervals(&ev->cfg->handlers[t->handler].strategy, &ctx, &iv, &niv);
  if (!rc) rc = task_append(t, d, iv, niv, lo);
  free(iv);
  free(first);
  free(last);
  return rc;
}

int evaluation_after_training(Evaluation *ev, const Dist *d, Model *m, const CheckpointMeta *meta,
                              int nmodels) {
  int mi = nmodels - 1;
  for (int ti = 0; ti < ev->ntasks; ti++) {
    EvalTask *t = &ev->tasks[ti];
    if (t->after_pipeline || t->off) continue;
    if (t->strategy->per_model) MH_TRY(add_model_intervals(ev, ti, meta, mi, mi + 1));
    MH_TRY(run_task(ev, ti, d, m, NULL, mi, mi + 1, meta, nmodels));
  }
  return MH_OK;
}

int evaluation_after_pipeline(Evaluation *ev, const Dist *d, Model *m, const EvalBank *bank) {
  for (int ti = 0; ti < ev->ntasks; ti++) {
    EvalTask *t = &ev->tasks[ti];
    if (!t->after_pipeline || t->off) continue;
    double t0 = mh_now();
    if (t->strategy->per_model) MH_TRY(add_model_intervals(ev, ti, bank->meta, 0, bank->n));
    int before = ev->ncells;
    MH_TRY(run_task(ev, ti, d, m, bank, 0, bank->n, bank->meta, bank->n));
    LOG0("# evaluated handler %s on %s: %d models, %d intervals, %d cells in %.2f s\n",
         ev->cfg->handlers[t->handler].name, ev->datasets[t->dataset].id, bank->n,
         t->niv, ev->ncells - before, mh_now() - t0);
  }
  return MH_OK;
}

double evaluation_next_value(const Evaluation *ev, const CheckpointMeta *meta, int nmodels, int mi) {
  for (int ti = 0; ti < ev->ntasks; ti++) {
    const EvalTask *t = &ev->tasks[ti];
    if (t->after_pipeline || t->off) continue;
    int best = -1;
    for (int c = 0; c < ev->ncells; c++) {
      const EvalCell *x = &ev->cells[c];
      if (x->task != ti || x->model != mi || x->num_samples == 0) continue;
      if (t->iv[x->interval].ref <= meta[mi].last_timestamp) continue;
      if (best < 0 || x->interval < ev->cells[best].interval) best = c;
    }
    return best >= 0 ? ev->cells[best].value[0] : NAN;
  }
  return NAN;
}

/* ---- outputs ------------------------------------------------------------------- */

/* idx[i * nmodels + j] = cell of (task ti, interval i, model j), -1 none. */
static int *cell_index(const Evaluation *ev, int ti, int nmodels) {
  const EvalTask *t = &ev->tasks[ti];
  int64_t n = (int64_t)t->niv * nmodels;
  int *idx = mh_malloc((size_t)(n + 1) * sizeof(int));
  if (!idx) return NULL;
  for (int64_t i = 0; i < n; i++) idx[i] = -1;
  for (int c = 0; c < ev->ncells; c++) {
    const EvalCell *x = &ev->cells[c];
    if (x->task == ti && x->model < nmodels) idx[(int64_t)x->interval * nmodels + x->model] = c;
  }
  return idx;
}

int evaluation_write_matrix(const Evaluation *ev, const CheckpointMeta *meta, int nmodels,
                            const char *path) {
  int **idx = mh_calloc((size_t)ev->ntasks + 1, sizeof(int *));
  if (!idx) return MH_ERR;
  int rc = MH_OK;
  for (int t = 0; !rc && t < ev->ntasks; t++)
    if (!(idx[t] = cell_index(ev, t, nmodels))) rc = MH_ERR;
  AtomicFile f;
  if (!rc) rc = atomic_open(&f, path);
  if (!rc) {
    fprintf(f.fp, "model,trigger_first_ts,trigger_last_ts,handler,dataset,interval_start,"
                  "interval_end,num_samples,metric,value\n");
    for (int j = 0; j < nmodels; j++)
      for (int t = 0; t < ev->ntasks; t++) {
        const EvalTask *task = &ev->tasks[t];
        const EvalDataset *d = &ev->datasets[task->dataset];
        for (int i = 0; !task->off && i < task->niv; i++) {
          int c = idx[t][(int64_t)i * nmodels + j];
          if (c < 0 || !cell_wanted(task, &task->iv[i], j, meta, nmodels)) continue;
          for (int k = 0; k < d->nmetrics; k++)
            fprintf(f.fp, "%d,%lld,%lld,%s,%s,%lld,%lld,%lld,%s,%.6f\n", j,
                    (long long)meta[j].first_timestamp, (long long)meta[j].last_timestamp,
                    ev->cfg->handlers[task->handler].name, d->id,
                    (long long)task->iv[i].start, (long long)task->iv[i].end,
                    (long long)ev->cells[c].num_samples, d->metrics[k]->label, ev->cells[c].value[k]);
        }
      }
    rc = atomic_commit(&f);
  }
  for (int t = 0; t < ev->ntasks; t++) free(idx[t]);
  free(idx);
  return rc;
}

typedef struct {
  double sum, wsum, w;
  int n;
} Acc;

static void acc_add(Acc *a, double v, double w) {
  if (!isfinite(v)) return;
  a->sum += v;
  a->wsum += v * w;
  a->w += w;
  a->n++;
}

int evaluation_write_composite(const Evaluation *ev, const CheckpointMeta *meta, int nmodels,
                               const char *composite_path, const char *score_path,
                               EvalScore *first) {
  EvalScore none = {NAN, NAN, NAN, NAN, 0, 0};
  *first = none;
  AtomicFile f, g;
  MH_TRY(atomic_open(&f, composite_path));
  if (atomic_open(&g, score_path)) {
    atomic_abort(&f);
    return MH_ERR;
  }
  fprintf(f.fp, "handler,dataset,metric,interval_start,interval_end,reference_time,num_samples,"
                "active_model,active_value,trained_model,trained_value\n");
  fprintf(g.fp, "handler,dataset,metric,model,intervals,mean,time_weighted_mean\n");
  int rc = MH_OK, scored = 0;
  for (int t = 0; !rc && t < ev->ntasks; t++) {
    const EvalTask *task = &ev->tasks[t];
    const EvalDataset *d = &ev->datasets[task->dataset];
    const char *hname = ev->cfg->handlers[task->handler].name;
    if (task->off) continue;
    /* A composite that the handler's `models` does not evaluate has cells
     * only where it is the other one too (after the last trigger both are
     * the last model): a mean over those few intervals would pass for a
     * score, so it gets none. */
    const int scores[2] = {task->models != EVAL_MODELS_TRAIN, task->models != EVAL_MODELS_ACTIVE};
    int *idx = cell_index(ev, t, nmodels);
    if (!idx) {
      rc = MH_ERR;
      break;
    }
    Acc acc[EVAL_MAX_METRICS][2];
    memset(acc, 0, sizeof acc);
    for (int i = 0; i < task->niv; i++) {
      const EvalInterval *iv = &task->iv[i];
      if (iv->owner >= 0) continue; /* belongs to one model: no composite */
      int a, tr;
      select_at(meta, nmodels, iv->ref, &a, &tr);
      int ca = a >= 0 ? idx[(int64_t)i * nmodels + a] : -1;
      int ct = tr >= 0 ? idx[(int64_t)i * nmodels + tr] : -1;
      int64_t count = task->row_hi[i] - task->row_lo[i];
      for (int k = 0; k < d->nmetrics; k++) {
        double va = ca >= 0 ? ev->cells[ca].value[k] : NAN;
        double vt = ct >= 0 ? ev->cells[ct].value[k] : NAN;
        fprintf(f.fp, "%s,%s,%s,%lld,%lld,%lld,%lld,%d,%.6f,%d,%.6f\n", hname, d->id,
                d->metrics[k]->label, (long long)iv->start, (long long)iv->end, (long long)iv->ref,
                (long long)count, a, va, tr, vt);
        if (count > 0) {
          double w = (double)(iv->end - iv->start);
          if (a >= 0 && scores[0]) acc_add(&acc[k][0], va, w);
          if (tr >= 0 && scores[1]) acc_add(&acc[k][1], vt, w);
        }
      }
    }
    free(idx);
    for (int k = 0; k < d->nmetrics; k++)
      for (int s = 0; s < 2; s++) {
        const Acc *x = &acc[k][s];
        double mean = x->n ? x->sum / x->n : NAN, tw = x->w > 0 ? x->wsum / x->w : NAN;
        fprintf(g.fp, "%s,%s,%s,%s,%d,%.6f,%.6f\n", hname, d->id, d->metrics[k]->label,
                s ? "trained" : "active", x->n, mean, tw);
        if (!scored && k == 0) {
          if (s == 0) first->mean_active = mean, first->tw_active = tw, first->n_active = x->n;
          else first->mean_trained = mean, first->tw_trained = tw, first->n_trained = x->n;
        }
      }
    scored = 1;
  }
  if (rc) {
    atomic_abort(&f);
    atomic_abort(&g);
    return rc;
  }
  rc = atomic_commit(&f);
  if (rc) {
    atomic_abort(&g);
    return rc;
  }
  return atomic_commit(&g);
}

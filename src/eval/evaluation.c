/* evaluation.c - see evaluation.h. */
#include "eval/evaluation.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "train/dist.h"

static const Store *g_sort_store; /* qsort comparator context (single-threaded setup) */

static int cmp_rows_by_ts(const void *a, const void *b) {
  int64_t ra = *(const int64_t *)a, rb = *(const int64_t *)b;
  const Store *s = g_sort_store;
  if (s->timestamps[ra] != s->timestamps[rb]) return s->timestamps[ra] < s->timestamps[rb] ? -1 : 1;
  return (s->keys[ra] > s->keys[rb]) - (s->keys[ra] < s->keys[rb]);
}

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
                     "sample, but the training store has %d and %lld",
                     d->id, dc->path, d->store.schema.num_classes, (long long)d->store.feat_elems,
                     num_classes, (long long)shape->in_elems);
  d->rows_by_ts = mh_malloc((size_t)d->store.n * sizeof(int64_t));
  if (!d->rows_by_ts) return MH_ERR;
  for (int64_t i = 0; i < d->store.n; i++) d->rows_by_ts[i] = i;
  g_sort_store = &d->store;
  qsort(d->rows_by_ts, (size_t)d->store.n, sizeof(int64_t), cmp_rows_by_ts);
  d->batch_size = dc->batch_size;
  for (int m = 0; m < dc->num_metrics; m++) {
    MH_TRY(metric_create(&dc->metrics[m].ref, num_classes, &d->metrics[m]));
    d->nmetrics++;
  }
  return MH_OK;
}

int evaluation_init(Evaluation *ev, const PipelineConfig *cfg, int num_classes,
                    const ModelShape *shape) {
  memset(ev, 0, sizeof *ev);
  const EvaluationConfig *ec = &cfg->evaluation;
  if (!ec->enabled) return MH_OK;
  for (int i = 0; i < ec->num_datasets; i++) {
    MH_TRY(dataset_init(&ev->datasets[i], &ec->datasets[i], num_classes, shape));
    ev->ndatasets++;
  }
  int cap = ec->num_handlers * (ec->num_datasets ? ec->num_datasets : 1);
  ev->tasks = mh_calloc((size_t)cap, sizeof(EvalTask));
  if (!ev->tasks) return MH_ERR;
  for (int h = 0; h < ec->num_handlers; h++) {
    const EvalHandlerConfig *hc = &ec->handlers[h];
    for (int j = 0; j < hc->num_datasets; j++) {
      int di = -1;
      for (int k = 0; k < ec->num_datasets; k++)
        if (!strcmp(ec->datasets[k].dataset_id, hc->datasets[j])) di = k;
      if (di < 0) return mh_errorf("evaluation handler %s: unknown dataset %s", hc->name, hc->datasets[j]);
      EvalDataset *d = &ev->datasets[di];
      EvalTask *t = &ev->tasks[ev->ntasks++];
      t->handler = h;
      t->dataset = di;
      EvalContext ctx = {0, 0};
      if (d->store.n > 0) {
        ctx.data_min_ts = d->store.timestamps[d->rows_by_ts[0]];
        ctx.data_max_ts = d->store.timestamps[d->rows_by_ts[d->store.n - 1]];
      }
      MH_TRY(eval_strategy_intervals(&hc->strategy, &ctx, &t->iv, &t->niv));
      t->row_lo = mh_malloc((size_t)t->niv * sizeof(int64_t));
      t->row_hi = mh_malloc((size_t)t->niv * sizeof(int64_t));
      if (!t->row_lo || !t->row_hi) return MH_ERR;
      for (int i = 0; i < t->niv; i++) {
        t->row_lo[i] = lower_bound(d, t->iv[i].start);
        t->row_hi[i] = lower_bound(d, t->iv[i].end);
      }
      ev->values_per_model += (int64_t)t->niv * d->nmetrics;
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
  memset(ev, 0, sizeof *ev);
}

int64_t evaluation_offset(const Evaluation *ev, int t) {
  int64_t off = 0;
  for (int i = 0; i < t; i++) off += (int64_t)ev->tasks[i].niv * ev->datasets[ev->tasks[i].dataset].nmetrics;
  return off;
}

/* Run m over rows_by_ts[lo, hi) of d (this rank's share) into the metrics. */
static int eval_rows(EvalDataset *d, Model *m, int64_t lo, int64_t hi, float *x, float *logits,
                     int64_t *rows, int32_t *labels) {
  for (int64_t b0 = lo; b0 < hi; b0 += d->batch_size) {
    int64_t n = hi - b0 < d->batch_size ? hi - b0 : d->batch_size;
    for (int64_t i = 0; i < n; i++) {
      rows[i] = d->rows_by_ts[b0 + i];
      labels[i] = d->store.labels[rows[i]];
    }
    MH_TRY(store_read_features_f32(&d->store, rows, n, x));
    MH_TRY(m->forward(m, x, n, logits, 0));
    for (int k = 0; k < d->nmetrics; k++)
      d->metrics[k]->update(d->metrics[k], logits, labels, n, m->num_outputs);
  }
  return MH_OK;
}

int evaluation_run(Evaluation *ev, Model *m, double *values, int64_t *counts) {
  int64_t vpos = 0, cpos = 0;
  for (int t = 0; t < ev->ntasks; t++) {
    EvalTask *task = &ev->tasks[t];
    EvalDataset *d = &ev->datasets[task->dataset];
    const int64_t B = d->batch_size;
    float *x = mh_malloc((size_t)(B * m->shape.in_elems) * sizeof(float));
    float *logits = mh_malloc((size_t)(B * m->num_outputs) * sizeof(float));
    int64_t *rows = mh_malloc((size_t)B * sizeof(int64_t));
    int32_t *labels = mh_malloc((size_t)B * sizeof(int32_t));
    int rc = (!x || !logits || !rows || !labels) ? MH_ERR : MH_OK;
    /* Pack every metric state of an interval into one reduction. */
    int64_t slen = 0;
    for (int k = 0; k < d->nmetrics; k++) slen += d->metrics[k]->state_len;
    double *pack = mh_malloc((size_t)(slen + 1) * sizeof(double));
    if (!pack) rc = MH_ERR;
    for (int i = 0; !rc && i < task->niv; i++) {
      int64_t lo, hi, len = task->row_hi[i] - task->row_lo[i];
      dist_slice(len, mh_log_rank, mh_log_nranks, &lo, &hi);
      for (int k = 0; k < d->nmetrics; k++) metric_reset(d->metrics[k]);
      rc = eval_rows(d, m, task->row_lo[i] + lo, task->row_lo[i] + hi, x, logits, rows, labels);
      if (rc) break;
      int64_t p = 0;
      for (int k = 0; k < d->nmetrics; k++) {
        memcpy(pack + p, d->metrics[k]->state, (size_t)d->metrics[k]->state_len * sizeof(double));
        p += d->metrics[k]->state_len;
      }
      rc = dist_allreduce_sum_f64(pack, slen);
      if (rc) break;
      p = 0;
      for (int k = 0; k < d->nmetrics; k++) {
        memcpy(d->metrics[k]->state, pack + p, (size_t)d->metrics[k]->state_len * sizeof(double));
        p += d->metrics[k]->state_len;
        values[vpos++] = d->metrics[k]->result(d->metrics[k]);
      }
      counts[cpos++] = len;
    }
    free(pack);
    free(x);
    free(logits);
    free(rows);
    free(labels);
    if (rc) return mh_error_context("evaluating on %s", d->id);
  }
  return MH_OK;
}

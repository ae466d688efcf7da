/* trainer.c - see trainer.h. */
#include "train/trainer.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/signals.h"
#include "core/timing.h"
#include "train/gpu.h"
#include "train/loss.h"
#ifdef MODYN_HAVE_CUDA
#include "train/layers_cuda.h"
#endif

/* The batch filter's scratch: this rank's scores, the global batch's, and
 * the kept subset, sized for the largest global batch seen. */
typedef struct {
  PassBuffers pass;
  int64_t gcap;
  int32_t *glabels;
  int64_t *gkeys;   /* the global batch's store keys */
  float *gvals;     /* gathered per-sample outputs, one block per output */
  int64_t *keep;
  float *kweights;
  int64_t *counts;  /* [ranks] samples of each rank's share */
  /* The accumulated kept samples (see trainer.h): this rank's, in order, and
   * for each kept sample of any rank, in global order, whether it is this
   * rank's. Fewer than batch_size wait between steps, and a scored batch
   * adds at most batch_size: room for 2 batch_size of each. */
  int64_t acap;     /* samples */
  int64_t an;       /* this rank's accumulated samples */
  int64_t agn;      /* every rank's */
  float *ax;        /* [acap * in_elems] */
  int32_t *alabels; /* [acap] */
  float *aweights;  /* [acap] */
  unsigned char *amine; /* [acap] */
  /* The same samples as every rank sees them (global order), for a
   * mid-trigger checkpoint: store rows, loss weights, the owning rank. */
  int64_t *agrows;  /* [acap] */
  float *agweights; /* [acap] */
  int32_t *agowner; /* [acap] */
} FilterBuffers;

static void filter_buffers_free(FilterBuffers *f) {
  pass_buffers_free(&f->pass);
  free(f->glabels);
  free(f->gkeys);
  free(f->gvals);
  free(f->keep);
  free(f->kweights);
  free(f->counts);
  free(f->ax);
  free(f->alabels);
  free(f->aweights);
  free(f->amine);
  free(f->agrows);
  free(f->agweights);
  free(f->agowner);
  memset(f, 0, sizeof *f);
}

/* The gradient allreduce of a CPU step, in buckets that start while
 * backward runs (as PyTorch's DDP does): fixed ranges of the flat
 * gradients, $MODYN_BUCKET_KB each (default 32, or a 16th of the model
 * when that is more; 0: one bucket), counted
 * from the end, since backward finishes the last layers first. When the
 * model says (Model.grads_ready) that the gradients from some offset on are
 * final, every bucket above that offset is copied into the communication
 * buffer and its non-blocking allreduce starts; an MPI_Testall after each
 * such call moves the ones in flight along. The lowest bucket carries the
 * COMM_SPARE floats in front of the gradients (loss sum, failures, weight
 * sum, stop signals) and starts last,
 * after backward and the fault check; a step then waits for all of them
 * before the optimizer. Bucket boundaries depend only on the parameter
 * count and the bucket size, and every rank starts them in the same order
 * (a rank whose backward stopped early starts the rest afterwards), so the
 * collectives match; the same ranks and bucket size give the same bits. */
#define COMM_SPARE 4 /* floats ahead of the gradients in Buffers.comm */

typedef struct {
  const struct Dist *d;
  Model *m;
  float *comm;      /* Buffers.comm */
  int64_t size;     /* floats per bucket */
  int nb;           /* buckets */
  int launched;     /* buckets started in this step */
  int rc;           /* the first failure to start one */
  MPI_Request *req; /* [nb] */
} Buckets;

typedef struct {
  int64_t *rows;    /* [n] store rows of the keys, in key-list order */
  int64_t *order;   /* [n] this epoch's visiting order (positions) */
  int64_t *erows;   /* [n * epochs] rows in visiting order, epoch after epoch */
  float *eweights;  /* [n * epochs] weights in visiting order (when weighted) */
  float *logits;    /* [local batch * K] */
  float *dlogits;   /* [local batch * K] */
  float *comm;      /* [COMM_SPARE + nparams]: the (weighted) loss sum, the count of ranks
                       that failed, the weight sum and the count of ranks that saw a stop
                       signal, then the gradients, reduced together in buckets (see
                       Buckets) */
  FilterBuffers f;  /* the batch filter's */
  Buckets bk;       /* the gradient allreduce's buckets (CPU models) */
  /* GPU models: the step's batch on the device (uploaded through page-locked
   * staging), logits and their gradient, the optimizer's state, and the
   * clipping norm. */
  float *pin_x, *pin_w;
  int32_t *pin_labels;
  float *dx, *dw, *dlog, *ddlog, *dm, *dv;
  int32_t *dlabels;
  double *dnorm;
} Buffers;

static void buffers_free(Buffers *b) {
  free(b->rows);
  free(b->order);
  free(b->erows);
  free(b->eweights);
  free(b->logits);
  free(b->dlogits);
  free(b->comm);
  free(b->bk.req);
  filter_buffers_free(&b->f);
  gpu_host_free(b->pin_x);
  gpu_host_free(b->pin_w);
  gpu_host_free(b->pin_labels);
  gpu_free(b->dx);
  gpu_free(b->dw);
  gpu_free(b->dlog);
  gpu_free(b->ddlog);
  gpu_free(b->dm);
  gpu_free(b->dv);
  gpu_free(b->dlabels);
  gpu_free(b->dnorm);
}

/* The device side of a GPU model's training: buffers for step_cap
 * samples, and the optimizer's state uploaded (downloaded again by
 * gpu_state_pull at the end of trainer_run). */
static int gpu_buffers_alloc(Buffers *b, const Model *m, const Optimizer *o,
                             int64_t step_cap) {
  const int64_t E = m->shape.in_elems, K = m->num_outputs, L = step_cap + 1;
  b->pin_x = gpu_host_alloc((size_t)(L * E) * sizeof(float));
  b->pin_w = gpu_host_alloc((size_t)L * sizeof(float));
  b->pin_labels = gpu_host_alloc((size_t)L * sizeof(int32_t));
  b->dx = gpu_malloc((size_t)(L * E) * sizeof(float));
  b->dw = gpu_malloc((size_t)L * sizeof(float));
  b->dlabels = gpu_malloc((size_t)L * sizeof(int32_t));
  b->dlog = gpu_malloc((size_t)(L * K) * sizeof(float));
  b->ddlog = gpu_malloc((size_t)(L * K) * sizeof(float));
  b->dm = gpu_malloc((size_t)(o->n + 1) * sizeof(float));
  b->dv = o->v ? gpu_malloc((size_t)(o->n + 1) * sizeof(float)) : NULL;
  b->dnorm = gpu_malloc(sizeof(double));
  if (!b->pin_x || !b->pin_w || !b->pin_labels || !b->dx || !b->dw || !b->dlabels ||
      !b->dlog || !b->ddlog || !b->dm || (o->v && !b->dv) || !b->dnorm)
    return MH_ERR;
  MH_TRY(gpu_upload(b->dm, o->m, (size_t)o->n * sizeof(float)));
  if (o->v) MH_TRY(gpu_upload(b->dv, o->v, (size_t)o->n * sizeof(float)));
  return model_push((Model *)m);
}

/* Trained values back to the host: the model and the optimizer's state. */
static int gpu_state_pull(Buffers *b, Model *m, Optimizer *o) {
  MH_TRY(gpu_download(o->m, b->dm, (size_t)o->n * sizeof(float)));
  if (o->v) MH_TRY(gpu_download(o->v, b->dv, (size_t)o->n * sizeof(float)));
  return model_pull(m);
}

/* Buffers for steps of up to step_cap samples on this rank. The key-list
 * arrays (rows, order, erows, eweights) are sized by plan_pass. */
static int buffers_alloc(Buffers *b, const Model *m, int64_t step_cap) {
  memset(b, 0, sizeof *b);
  const int K = m->num_outputs;
  b->logits = mh_malloc((size_t)(step_cap * K + 1) * sizeof(float));
  b->dlogits = mh_malloc((size_t)(step_cap * K + 1) * sizeof(float));
  b->comm = mh_malloc((size_t)(COMM_SPARE + m->nparams) * sizeof(float));
  if (!b->logits || !b->dlogits || !b->comm) return MH_ERR;
  return MH_OK;
}

/* Fault injection for tests of failure handling: MODYN_FAULT=RANK:STEP:KIND
 * makes rank RANK fail at its STEP-th training step of the run (counted over
 * all triggers): KIND "exit" ends the process abruptly (a crashed node),
 * "error" reports an error (a failed read), "nan" poisons the loss, and
 * "SIGUSR1", "SIGTERM", "SIGINT" or "SIGHUP" sends that signal to the rank
 * itself during the step (a preemption at a known step, for tests that
 * must not depend on timing). */
typedef struct {
  int rank;
  int64_t step;
  char kind[16];
} Fault;

static int fault_parse(Fault *f) {
  const char *e = getenv("MODYN_FAULT");
  f->rank = -1;
  if (!e || !*e) return 0;
  long long step = 0;
  if (sscanf(e, "%d:%lld:%15s", &f->rank, &step, f->kind) != 3) f->rank = -1;
  f->step = step;
  return f->rank >= 0;
}

static int64_t g_steps_run; /* training steps of this process, all triggers */

/* Where a rank's training time goes ($MODYN_NET_PROFILE=1): wall seconds
 * per phase of a step, the part of forward and backward spent inside the
 * layers' collectives (batchnorm's exchanges, the forward's agreement),
 * and CPU seconds of the training thread (and the part of them spent
 * waiting for other ranks, dist_comm_cpu_seconds) and of the whole process
 * (prefetch threads and MPI's progress included). One line
 * per rank and training run, on stderr. */
typedef struct {
  int on;
  double read, fwd, fwd_comm, loss, bwd, bwd_comm, allreduce, opt;
  double t0, cpu0, pcpu0, wcpu0;
  int64_t steps;
} StepProf;

static StepProf g_prof;

static double cpu_seconds(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void prof_begin(void) {
  memset(&g_prof, 0, sizeof g_prof);
  g_prof.on = getenv("MODYN_NET_PROFILE") != NULL;
  if (!g_prof.on) return;
  g_prof.t0 = mh_now();
  g_prof.cpu0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  g_prof.pcpu0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  g_prof.wcpu0 = dist_comm_cpu_seconds();
}

static void prof_end(const Dist *d) {
  const StepProf *p = &g_prof;
  if (!p->on || p->steps == 0) return;
  const double wall = mh_now() - p->t0, cpu = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - p->cpu0;
  const double pcpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - p->pcpu0;
  const double wcpu = dist_comm_cpu_seconds() - p->wcpu0;
  const double ms = 1e3 / (double)p->steps;
  const double other = wall - p->read - p->fwd - p->loss - p->bwd - p->allreduce - p->opt;
  fprintf(stderr,
          "# step profile rank %d/%d: %lld steps, %.3f s; ms/step: read %.3f, forward %.3f "
          "(collectives %.3f), loss %.3f, backward %.3f (collectives %.3f), allreduce %.3f, "
          "optimizer %.3f, other %.3f; cpu s: training thread %.3f (waiting for ranks %.3f), "
          "process %.3f\n",
          d->rank, d->size, (long long)p->steps, wall, p->read * ms, p->fwd * ms,
          p->fwd_comm * ms, p->loss * ms, p->bwd * ms, p->bwd_comm * ms, p->allreduce * ms,
          p->opt * ms, other * ms, cpu, wcpu, pcpu);
}

static int fault_signal(const char *kind) {
  static const struct {
    const char *name;
    int sig;
  } sigs[] = {{"SIGUSR1", SIGUSR1}, {"SIGTERM", SIGTERM}, {"SIGINT", SIGINT}, {"SIGHUP", SIGHUP}};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (!strcmp(kind, sigs[i].name)) return sigs[i].sig;
  return 0;
}

/* The step's fault check. A stop signal (signals.h): with a checkpointer
 * (can_save) this rank says so in *stop, which the step's allreduce carries
 * to every rank, and the step completes; without one the step fails here,
 * so every rank learns it from the allreduce and stops at the same step. */
static int fault_check(const Dist *d, float *loss, int can_save, float *stop) {
  static Fault f;
  static int parsed;
  if (!parsed) {
    parsed = 1;
    fault_parse(&f);
  }
  g_steps_run++;
  const int hit = f.rank == d->rank && g_steps_run == f.step;
  if (hit && fault_signal(f.kind)) raise(fault_signal(f.kind));
  *stop = mh_stop_signal() ? 1.0f : 0.0f;
  if (mh_stop_signal() && !can_save)
    return mh_errorf("stopped by %s during training", mh_signal_name(mh_stop_signal()));
  if (!hit || fault_signal(f.kind)) return MH_OK;
  if (!strcmp(f.kind, "exit")) _exit(3);
  if (!strcmp(f.kind, "nan")) {
    *loss = NAN;
    return MH_OK;
  }
  return mh_errorf("injected fault at step %lld (MODYN_FAULT=%s)", (long long)f.step,
                   getenv("MODYN_FAULT"));
}

/* This rank's weight sum of a step's share: the normaliser's part (the
 * number of samples when the batch carries no weights). */
static double weight_sum(const float *w, int64_t n) {
  if (!w) return (double)n;
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) s += w[i];
  return s;
}

/* 1 / (global weight sum): the original's dot(loss, w / sum(w)). A sum of
 * zero (every weight 0) leaves no gradient to scale: 1 / n then. */
static float step_scale(double wsum, int64_t global_len) {
  if (wsum > 0.0) return (float)(1.0 / wsum);
  return global_len > 0 ? 1.0f / (float)global_len : 0.0f;
}

/* Floats per bucket for P parameters: $MODYN_BUCKET_KB when set (0: one
 * bucket), else 32 KB, or P / 16 when that is more (at most 16 buckets: a
 * large model does not start thousands of small collectives). */
static int64_t bucket_floats(int64_t P) {
  const char *e = getenv("MODYN_BUCKET_KB");
  char *end = NULL;
  double f = 32.0 * 1024.0 / sizeof(float);
  if (e && *e) {
    const double kb = strtod(e, &end);
    if (end != e && !*end && kb >= 0.0) f = kb * 1024.0 / sizeof(float);
  } else if ((double)((P + 15) / 16) > f) {
    f = (double)((P + 15) / 16);
  }
  return f >= (double)(1 << 22) ? (int64_t)1 << 22 : (int64_t)f; /* 0: one bucket */
}

static int buckets_init(Buckets *k, const Dist *d, Model *m, float *comm) {
  k->d = d;
  k->m = m;
  k->comm = comm;
  const int64_t P = m->nparams;
  k->size = bucket_floats(P);
  if (k->size <= 0 || k->size >= P) k->size = P > 0 ? P : 1;
  k->nb = (int)((P + k->size - 1) / k->size);
  if (k->nb < 1) k->nb = 1;
  k->req = mh_malloc((size_t)k->nb * sizeof(MPI_Request));
  return k->req ? MH_OK : MH_ERR;
}

/* Bucket j covers gradients [lo, hi). */
static void bucket_range(const Buckets *k, int j, int64_t *lo, int64_t *hi) {
  *hi = k->m->nparams - (int64_t)j * k->size;
  *lo = j == k->nb - 1 ? 0 : *hi - k->size;
}

/* Copy bucket j's gradients and start its allreduce (the lowest bucket with
 * the spare floats in front). */
static void bucket_start(Buckets *k, int j) {
  int64_t lo, hi;
  bucket_range(k, j, &lo, &hi);
  memcpy(k->comm + COMM_SPARE + lo, k->m->grads + lo, (size_t)(hi - lo) * sizeof(float));
  k->req[j] = MPI_REQUEST_NULL;
  if (k->d->size > 1 && !k->rc) {
    float *start = j == k->nb - 1 ? k->comm : k->comm + COMM_SPARE + lo;
    const int64_t count = j == k->nb - 1 ? COMM_SPARE + hi : hi - lo;
    int e = MPI_Iallreduce(MPI_IN_PLACE, start, (int)count, MPI_FLOAT, MPI_SUM, k->d->comm,
                           &k->req[j]);
    if (e != MPI_SUCCESS) k->rc = mh_mpi_error(e, "MPI_Iallreduce", __FILE__, __LINE__);
  }
  k->launched = j + 1;
}

/* Model.grads_ready: start the buckets that lie wholly at or above `from`
 * (never the lowest), then move the ones in flight along. */
static void buckets_ready(void *ctx, const float *from) {
  Buckets *k = ctx;
  const int64_t off = from - k->m->grads;
  while (k->launched < k->nb - 1) {
    int64_t lo, hi;
    bucket_range(k, k->launched, &lo, &hi);
    if (lo < off) break;
    bucket_start(k, k->launched);
  }
  if (k->launched > 0 && k->d->size > 1 && !k->rc) {
    int flag = 0;
    MPI_Testall(k->launched, k->req, &flag, MPI_STATUSES_IGNORE);
  }
}

/* After backward: start the rest (the lowest last) and wait for all. */
static int buckets_finish(Buckets *k) {
  while (k->launched < k->nb) bucket_start(k, k->launched);
  MH_TRY(k->rc);
  for (int j = 0; j < k->nb; j++)
    if (k->req[j] != MPI_REQUEST_NULL) MH_TRY(dist_wait(k->d, &k->req[j]));
  return MH_OK;
}

/* A stop signal in a step (fault_check). */
typedef struct {
  int can_save;   /* in: a checkpointer saves on a stop signal */
  int stop;       /* out: some rank saw a stop signal; the step completed */
} StepStop;

/* One global batch: forward/backward on this rank's share, one allreduce of
 * the summed gradients, loss and weights, one identical optimizer step
 * everywhere. Forward and backward run even on an empty share: layers with
 * global-batch statistics meet the other ranks inside them. A rank that
 * failed (failed != MH_OK: its read failed; or its loss or fault check
 * fails here) still joins every collective with an empty share, and the
 * allreduce tells every rank that the step failed (*any_failed), so they
 * all stop at the same step and nobody waits. Returns this rank's own
 * status; the global (weighted) loss sum goes to *loss and the global
 * weight sum to *wsum. */
static int train_step_gpu(const Dist *d, Model *m, Optimizer *o, Buffers *b, const Batch *bt,
                          int failed, double clip, int bce, double *loss, double *wsum,
                          int *any_failed, StepStop *ss, TrainStats *st);

static int train_step(const Dist *d, Model *m, Optimizer *o, Buffers *b, const Batch *bt,
                      int failed, double clip, int bce, double *loss, double *wsum, int *any_failed,
                      StepStop *ss, TrainStats *st) {
  if (m->gpu)
    return train_step_gpu(d, m, o, b, bt, failed, clip, bce, loss, wsum, any_failed, ss, st);
  int rc = failed;
  model_zero_grad(m);
  Buckets *bk = &b->bk;
  bk->launched = 0;
  bk->rc = MH_OK;
  double lsum = 0.0;
  const int64_t n = rc ? 0 : bt->n;
  const float *x = rc ? NULL : bt->x;
  const int32_t *labels = rc ? NULL : bt->labels;
  const float *w = rc ? NULL : bt->weights;
  StepProf *pf = &g_prof;
  double tp = pf->on ? mh_now() : 0.0, cp = pf->on ? dist_comm_seconds() : 0.0;
  int frc = m->forward(m, x, n, b->logits, 1);
  if (pf->on) {
    const double t = mh_now(), c = dist_comm_seconds();
    pf->fwd += t - tp;
    pf->fwd_comm += c - cp;
    tp = t;
    cp = c;
  }
  if (!frc) {
    int lrc =
        bce ? loss_bce_logits(b->logits, labels, w, n, b->dlogits, &lsum, NULL)
            : loss_softmax_ce(b->logits, labels, w, n, m->num_outputs, b->dlogits, &lsum, NULL);
    if (lrc) { /* a bad label: backward still runs (its collectives), with no
                  gradient */
      rc = lrc;
      memset(b->dlogits, 0, (size_t)(n * m->num_outputs) * sizeof(float));
    }
    if (pf->on) {
      const double t = mh_now();
      pf->loss += t - tp;
      tp = t;
    }
    m->grads_ready = buckets_ready;
    m->grads_ready_ctx = bk;
    frc = m->backward(m, x, b->dlogits, n);
    m->grads_ready = NULL;
    m->grads_ready_ctx = NULL;
    if (pf->on) {
      const double t = mh_now(), c = dist_comm_seconds();
      pf->bwd += t - tp;
      pf->bwd_comm += c - cp;
    }
  }
  if (frc) rc = frc;
  const int64_t P = m->nparams;
  float *tail = b->comm, *g = b->comm + COMM_SPARE;
  tail[0] = (float)lsum;
  tail[3] = 0.0f;
  if (!rc) rc = fault_check(d, &tail[0], ss->can_save, &tail[3]);
  tail[1] = rc ? 1.0f : 0.0f;
  tail[2] = rc ? 0.0f : (float)weight_sum(w, n);
  double t0 = mh_now();
  MH_TRY(buckets_finish(bk));
  const double t1 = mh_now();
  st->comm_seconds += t1 - t0;
  pf->allreduce += t1 - t0;
  pf->steps++;
  *any_failed = tail[1] > 0.0f;
  ss->stop = tail[3] > 0.0f;
  if (*any_failed) return rc;
  *wsum = tail[2];
  const float scale = step_scale(*wsum, bt->global_len);
  for (int64_t i = 0; i < P; i++) m->grads[i] = g[i] * scale;
  *loss = tail[0];
  if (clip > 0) {
    /* torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6). */
    double sq = 0;
    for (int64_t i = 0; i < P; i++) sq += (double)m->grads[i] * m->grads[i];
    double norm = sqrt(sq);
    if (norm > clip) {
      float f = (float)(clip / (norm + 1e-6));
      for (int64_t i = 0; i < P; i++) m->grads[i] *= f;
    }
  }
  optim_step(o, m->params, m->grads);
  if (pf->on) pf->opt += mh_now() - t1;
  return MH_OK;
}

#ifdef MODYN_HAVE_CUDA
/* The loss functions' label checks, on the host before the upload. */
static int labels_check(const int32_t *labels, int64_t n, int K, int bce) {
  for (int64_t i = 0; i < n; i++) {
    if (bce && labels[i] != 0 && labels[i] != 1)
      return mh_errorf("label %d is not 0 or 1 (BCEWithLogitsLoss needs binary labels)", labels[i]);
    if (!bce && (labels[i] < 0 || labels[i] >= K))
      return mh_errorf("label %d is outside [0, %d)", labels[i], K);
  }
  return MH_OK;
}

/* train_step on the GPU: the same protocol, with the loss sum, the failure
 * count, the weight sum and the stop count riding in the four spare floats
 * after the device gradients (one allreduce, NCCL where it is loaded), and
 * one small download per step that tells every rank the loss, the
 * normaliser, whether anyone failed and whether anyone was asked to stop. */
static int train_step_gpu(const Dist *d, Model *m, Optimizer *o, Buffers *b, const Batch *bt,
                          int failed, double clip, int bce, double *loss, double *wsum,
                          int *any_failed, StepStop *ss, TrainStats *st) {
  int rc = failed;
  const int64_t P = m->nparams, E = m->shape.in_elems;
  const int K = m->num_outputs;
  if (gpu_zero(m->dgrads, (size_t)(P + 4) * sizeof(float))) rc = MH_ERR;
  if (!rc) rc = labels_check(bt->labels, bt->n, K, bce);
  const int64_t n = rc ? 0 : bt->n;
  if (n > 0) {
    memcpy(b->pin_x, bt->x, (size_t)(n * E) * sizeof(float));
    memcpy(b->pin_labels, bt->labels, (size_t)n * sizeof(int32_t));
    rc = gpu_upload(b->dx, b->pin_x, (size_t)(n * E) * sizeof(float));
    if (!rc) rc = gpu_upload(b->dlabels, b->pin_labels, (size_t)n * sizeof(int32_t));
    if (!rc && bt->weights) {
      memcpy(b->pin_w, bt->weights, (size_t)n * sizeof(float));
      rc = gpu_upload(b->dw, b->pin_w, (size_t)n * sizeof(float));
    }
  }
  const int64_t nn = rc ? 0 : n;
  const float *w = bt->weights ? b->dw : NULL;
  int frc = m->forward(m, b->dx, nn, b->dlog, 1);
  if (!frc) {
    frc = bce ? loss_bce_logits_cuda(b->dlog, b->dlabels, w, nn, b->ddlog, NULL, m->dgrads + P)
              : loss_softmax_ce_cuda(b->dlog, b->dlabels, w, nn, K, b->ddlog, NULL, m->dgrads + P);
    int brc = m->backward(m, b->dx, b->ddlog, nn);
    if (!frc) frc = brc;
  }
  if (frc && !rc) rc = frc;
  float tail[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  float stop = 0.0f;
  if (!rc) {
    float poison = 0.0f;
    rc = fault_check(d, &poison, ss->can_save, &stop);
    if (!rc && isnan(poison)) rc = gpu_upload(m->dgrads + P, (float[]){NAN}, sizeof(float));
  }
  if (!rc) { /* this rank's weight sum, from the host copy of the weights, and its stop */
    const float ws[2] = {(float)weight_sum(bt->weights, nn), stop};
    rc = gpu_upload(m->dgrads + P + 2, ws, sizeof ws);
  }
  if (rc) { /* joins the allreduce with no gradient and a failure (and its stop) */
    tail[1] = 1.0f;
    tail[3] = stop;
    gpu_zero(m->dgrads, (size_t)P * sizeof(float));
    gpu_upload(m->dgrads + P, tail, sizeof tail);
  }
  double t0 = mh_now();
  MH_TRY(gpu_allreduce_sum(d, m->dgrads, P + 4, 0));
  MH_TRY(gpu_download(tail, m->dgrads + P, sizeof tail));
  st->comm_seconds += mh_now() - t0;
  *any_failed = tail[1] > 0.0f;
  ss->stop = tail[3] > 0.0f;
  if (*any_failed) return rc;
  *loss = tail[0];
  *wsum = tail[2];
  float scale = step_scale(*wsum, bt->global_len);
  if (clip > 0) {
    double sq = 0.0;
    MH_TRY(sum_squares_cuda(m->dgrads, P, b->dnorm));
    MH_TRY(gpu_download(&sq, b->dnorm, sizeof sq));
    double norm = sqrt(sq) * scale;
    if (norm > clip) scale *= (float)(clip / (norm + 1e-6));
  }
  return optim_step_cuda(o, m->dparams, m->dgrads, b->dm, b->dv, scale);
}
#else
static int train_step_gpu(const Dist *d, Model *m, Optimizer *o, Buffers *b, const Batch *bt,
                          int failed, double clip, int bce, double *loss, double *wsum,
                          int *any_failed, StepStop *ss, TrainStats *st) {
  (void)ss;
  *any_failed = 1;
  return mh_errorf("GPU training: built without the CUDA backend");
}
#endif

/* ---- batch-then-sample: the filter hook ------------------------------------ */

void batch_filter_free(BatchFilter *f) {
  if (!f) return;
  if (f->destroy) f->destroy(f);
  free(f->impl);
  free(f);
}

static int filter_reserve(FilterBuffers *b, const Model *m, int64_t global) {
  if (global <= b->gcap) return MH_OK;
  const int64_t K = m->num_outputs, D = m->embed_dim;
  /* widest per-sample record: logits, loss, pred, embedding, gradients, norm */
  const int64_t width = K + 3 + D + K * (D + 1);
  free(b->glabels);
  free(b->gkeys);
  free(b->gvals);
  free(b->keep);
  free(b->kweights);
  b->glabels = mh_malloc((size_t)global * sizeof(int32_t));
  b->gkeys = mh_malloc((size_t)global * sizeof(int64_t));
  b->gvals = mh_malloc((size_t)(global * width) * sizeof(float));
  b->keep = mh_malloc((size_t)global * sizeof(int64_t));
  b->kweights = mh_malloc((size_t)global * sizeof(float));
  if (!b->glabels || !b->gkeys || !b->gvals || !b->keep || !b->kweights) {
    b->gcap = 0;
    return MH_ERR;
  }
  b->gcap = global;
  return MH_OK;
}

/* The accumulator, for batches of B: room for 2 B samples (see
 * FilterBuffers); and the gathered share sizes. */
static int accum_alloc(FilterBuffers *b, const Model *m, int64_t B, int ranks) {
  b->acap = 2 * B;
  b->an = b->agn = 0;
  b->ax = mh_malloc((size_t)(b->acap * m->shape.in_elems) * sizeof(float));
  b->alabels = mh_malloc((size_t)b->acap * sizeof(int32_t));
  b->aweights = mh_malloc((size_t)b->acap * sizeof(float));
  b->amine = mh_malloc((size_t)b->acap);
  b->agrows = mh_malloc((size_t)b->acap * sizeof(int64_t));
  b->agweights = mh_malloc((size_t)b->acap * sizeof(float));
  b->agowner = mh_malloc((size_t)b->acap * sizeof(int32_t));
  b->counts = mh_malloc((size_t)ranks * sizeof(int64_t));
  return b->ax && b->alabels && b->aweights && b->amine && b->agrows && b->agweights &&
                 b->agowner && b->counts
             ? MH_OK
             : MH_ERR;
}

/* The first `take` accumulated samples (global order) as this rank's share
 * of a step's batch. */
static void accum_batch(const FilterBuffers *b, int64_t take, Batch *out) {
  int64_t mine = 0;
  for (int64_t i = 0; i < take; i++) mine += b->amine[i];
  memset(out, 0, sizeof *out);
  out->n = mine;
  out->global_len = take;
  out->x = b->ax;
  out->labels = b->alabels;
  out->weights = b->aweights;
}

/* Drop the first `take` accumulated samples (they trained). */
static void accum_consume(FilterBuffers *b, const Model *m, int64_t take) {
  int64_t mine = 0;
  for (int64_t i = 0; i < take; i++) mine += b->amine[i];
  const int64_t E = m->shape.in_elems, rest = b->an - mine, grest = b->agn - take;
  memmove(b->ax, b->ax + mine * E, (size_t)(rest * E) * sizeof(float));
  memmove(b->alabels, b->alabels + mine, (size_t)rest * sizeof(int32_t));
  memmove(b->aweights, b->aweights + mine, (size_t)rest * sizeof(float));
  memmove(b->amine, b->amine + take, (size_t)grest);
  memmove(b->agrows, b->agrows + take, (size_t)grest * sizeof(int64_t));
  memmove(b->agweights, b->agweights + take, (size_t)grest * sizeof(float));
  memmove(b->agowner, b->agowner + take, (size_t)grest * sizeof(int32_t));
  b->an = rest;
  b->agn = grest;
}

/* Score this rank's share, gather every rank's scores, let the filter pick
 * the same subset on every rank, and append the kept samples to the
 * accumulator (this rank's own samples, and every rank's in global order).
 * rows: the global batch's store rows (every rank knows the visiting
 * order), whose keys the filter sees; gweights: its strategy weights (NULL:
 * unweighted).
 * failed: this rank could not read its share; it joins with nothing.
 * Returns this rank's own status; *any_failed says that some rank could
 * not score, *stop (set, never cleared) that some rank got a stop signal
 * (every rank learns both from the gathered counts). */
#define FILTER_STOP ((int64_t)1 << 48) /* added to a share's size: a stop signal */

static int filter_batch(const Dist *d, Model *m, BatchFilter *f, FilterBuffers *b, const Batch *bt,
                        const Store *store, const int64_t *rows, const float *gweights, int failed,
                        int bce, int64_t step, int *any_failed, int *stop, TrainStats *st) {
  *any_failed = 0;
  PassBatch mine, g;
  memset(&mine, 0, sizeof mine);
  /* Scoring may fail on this rank alone: it then reports a share of -1. */
  int own = failed;
  if (!own) own = model_pass_batch(m, bt->x, bt->labels, bt->n, f->outputs, bce, &b->pass, &mine);
  /* Each rank's share size once (-1: failed; FILTER_STOP added: this rank
   * got a stop signal, so every rank learns it here, without a collective
   * of its own, in batches that train no step), then one gather per output. */
  int64_t *counts = b->counts;
  MH_TRY(dist_allgather_i64(d, own ? -1 : mine.n + (mh_stop_signal() ? FILTER_STOP : 0), counts));
  /* This rank's share starts where the shares of the ranks before it end
   * (the reader cuts a global batch into contiguous slices in rank order). */
  int64_t off = 0, G = 0;
  for (int r = 0; r < d->size; r++) {
    if (counts[r] >= FILTER_STOP) {
      counts[r] -= FILTER_STOP;
      *stop = 1;
    }
    if (counts[r] < 0) *any_failed = 1;
    if (r < d->rank) off += counts[r];
    G += counts[r];
  }
  if (*any_failed) return own;
  /* Every rank knows G now: the buffers grow at the same step everywhere,
   * and a failed allocation leaves nobody in the gathers below. */
  if (G > b->gcap) MH_TRY(dist_agree(d, filter_reserve(b, m, G)));
  int rc = dist_allgatherv(d, bt->labels, counts, sizeof(int32_t), b->glabels);
  memset(&g, 0, sizeof g);
  g.n = G;
  g.K = m->num_outputs;
  g.D = m->embed_dim;
  g.labels = b->glabels;
  for (int64_t i = 0; i < G; i++) b->gkeys[i] = store->keys[rows[i]];
  g.keys = b->gkeys;
  float *cur = b->gvals;
  struct {
    unsigned flag;
    const void *src;
    int64_t width;
    void **dst;
  } cols[] = {
      {PASS_LOGITS, mine.logits, g.K, (void **)&g.logits},
      {PASS_PRED, mine.pred, 1, (void **)&g.pred},
      {PASS_LOSS, mine.loss, 1, (void **)&g.loss},
      {PASS_EMBED, mine.embed, g.D, (void **)&g.embed},
      {PASS_GRAD, mine.grad, (int64_t)g.K * (g.D + 1), (void **)&g.grad},
      {PASS_GRADNORM, mine.gradnorm, 1, (void **)&g.gradnorm},
  };
  for (size_t c = 0; !rc && c < sizeof cols / sizeof cols[0]; c++) {
    if (!(f->outputs & cols[c].flag)) continue;
    /* int32 and float are both 4 bytes: one float-typed area holds either */
    rc = dist_allgatherv(d, cols[c].src, counts, 4 * (size_t)cols[c].width, cur);
    *cols[c].dst = cur;
    cur += G * cols[c].width;
  }
  MH_TRY(rc);
  int64_t nkeep = 0;
  MH_TRY(f->select(f, &g, step, b->keep, b->kweights, &nkeep));
  if (nkeep < 0 || nkeep > G)
    return mh_errorf("batch filter kept %lld of %lld samples", (long long)nkeep, (long long)G);
  if (b->agn + nkeep > b->acap)
    return mh_errorf("batch filter: %lld kept samples do not fit the accumulator (%lld)",
                     (long long)(b->agn + nkeep), (long long)b->acap);
  st->scored += G;
  /* The kept samples, in order, with weights = the filter's times the
   * strategy's: this rank's copied, every rank's marked. */
  const int64_t E = m->shape.in_elems;
  int owner = 0;
  int64_t owner_end = counts[0];
  for (int64_t i = 0; i < nkeep; i++) {
    if (i > 0 && b->keep[i] <= b->keep[i - 1])
      return mh_errorf("batch filter: kept positions must increase");
    const int64_t q = b->keep[i], p = q - off;
    const int is_mine = p >= 0 && p < bt->n;
    while (q >= owner_end && owner + 1 < d->size) owner_end += counts[++owner];
    b->agrows[b->agn] = rows[q];
    b->agweights[b->agn] = b->kweights[i] * (gweights ? gweights[q] : 1.0f);
    b->agowner[b->agn] = owner;
    b->amine[b->agn++] = (unsigned char)is_mine;
    if (!is_mine) continue;
    memcpy(b->ax + b->an * E, bt->x + p * E, (size_t)E * sizeof(float));
    b->alabels[b->an] = bt->labels[p];
    b->aweights[b->an] = b->kweights[i] * (bt->weights ? bt->weights[p] : 1.0f);
    b->an++;
  }
  return MH_OK;
}

/* ---- sample-then-batch: the epoch hook -------------------------------------- */

void epoch_hook_free(EpochHook *h) {
  if (!h) return;
  if (h->destroy) h->destroy(h);
  free(h->impl);
  free(h);
}

/* ---- the training loop ---------------------------------------------------------- */

/* What the loop carries from batch to batch, across the reader's passes. */
typedef struct {
  const Dist *d;
  Model *m;
  Optimizer *o;
  Buffers *b;
  const TrainOptions *opt;
  const TrainPlan *plan;
  TrainStats *st;
  LrSchedule sched;  /* plan->sched, its placeholders resolved for this run */
  int64_t epoch;     /* the epoch of the batch at hand */
  double epoch_loss; /* its (weighted) loss sum */
  double epoch_wsum; /* its weight sum (samples, unweighted) */
  int64_t visited;   /* samples of the global batches read, before any filter */
  Store *store;
  const int64_t *erows;    /* the reader pass's visiting order (Batch.start indexes it) */
  const float *eweights;   /* its weights in the same order, or NULL */
  int any;           /* some rank failed a step: every rank stops */
  StepStop ss;       /* a stop signal, agreed in the steps' allreduce */
  TrainCheckpointer *ckpt; /* mid-trigger checkpoints, or NULL */
  int64_t batches;   /* global batches of the pass read */
  int64_t saved_at;  /* steps at the last save (or the start) */
  double t_start;    /* when trainer_run began (less the resumed point's seconds) */
  Progress prog;
} Loop;

/* An epoch ended: count it and record its mean loss. */
static void end_epoch(Loop *L) {
  TrainStats *st = L->st;
  if (L->epoch_wsum <= 0.0) return;
  st->epochs++;
  const double mean = L->epoch_loss / L->epoch_wsum;
  if (st->epochs == 1) st->first_loss = mean;
  st->last_loss = mean;
  L->epoch_loss = L->epoch_wsum = 0.0;
}

/* One optimizer step on bt (this rank's share) at the schedule's lr.
 * Returns this rank's own status (L->any: some rank failed). */
static int loop_step(Loop *L, const Batch *bt, int own) {
  Optimizer *o = L->o;
  for (int g = 0; g < o->ngroups; g++)
    o->groups[g].lr =
        sched_lr(&L->sched, o->groups[g].lr0, L->sched.per_batch ? L->st->steps : L->epoch);
  double loss = 0.0, wsum = 0.0;
  own = train_step(L->d, L->m, o, L->b, bt, own, L->opt->clip_grad_norm, L->opt->bce, &loss, &wsum,
                   &L->any, &L->ss, L->st);
  if (L->any) return own;
  if (!isfinite(loss))
    return mh_errorf(
        "training loss became %s at epoch %lld, step %lld; lower the learning "
        "rate (training.optimizers[0].param_groups[0].config.lr) or check the "
        "data for NaN/inf features",
        isnan(loss) ? "NaN" : "infinite", (long long)L->epoch, (long long)L->st->steps);
  L->epoch_loss += loss;
  L->epoch_wsum += wsum;
  L->st->samples += bt->global_len;
  L->st->steps++;
  return MH_OK;
}

/* Steps on the accumulated kept samples: one per full batch (all: also
 * the last, smaller one). */
static int loop_drain(Loop *L, int all) {
  FilterBuffers *f = &L->b->f;
  const int64_t B = L->opt->batch_size;
  while (f->agn >= B || (all && f->agn > 0)) {
    const int64_t take = f->agn < B ? f->agn : B;
    Batch acc;
    accum_batch(f, take, &acc);
    int own = loop_step(L, &acc, MH_OK);
    if (own || L->any) return own;
    accum_consume(f, L->m, take);
  }
  return MH_OK;
}

/* ---- mid-trigger checkpoints ---------------------------------------------------- */

void train_point_pack(const TrainPoint *p, int64_t *iv, double *fv) {
  const int64_t i[TRAIN_POINT_NI] = {p->steps, p->samples, p->scored,  p->epochs, p->epoch,
                                     p->visited, p->batches, p->ranks, p->nacc,   p->nrng};
  const double f[TRAIN_POINT_NF] = {p->first_loss, p->last_loss, p->seconds, p->epoch_loss,
                                    p->epoch_wsum};
  memcpy(iv, i, sizeof i);
  memcpy(fv, f, sizeof f);
}

void train_point_unpack(TrainPoint *p, const int64_t *iv, const double *fv) {
  p->steps = iv[0];
  p->samples = iv[1];
  p->scored = iv[2];
  p->epochs = iv[3];
  p->epoch = iv[4];
  p->visited = iv[5];
  p->batches = iv[6];
  p->ranks = (int)iv[7];
  p->nacc = iv[8];
  p->nrng = iv[9];
  p->first_loss = fv[0];
  p->last_loss = fv[1];
  p->seconds = fv[2];
  p->epoch_loss = fv[3];
  p->epoch_wsum = fv[4];
}

void train_point_free(TrainPoint *p) {
  if (!p) return;
  free(p->acc_rows);
  free(p->acc_weights);
  free(p->acc_owner);
  free(p->rng);
  p->acc_rows = NULL;
  p->acc_weights = NULL;
  p->acc_owner = NULL;
  p->rng = NULL;
  p->nacc = p->nrng = 0;
}

#define MAX_RNGS 64

int trainer_rngs_gather(const Dist *d, Model *m, uint64_t **rng, int64_t *nstreams) {
  Rng *r[MAX_RNGS];
  const int n = m->rngs ? m->rngs(m, r, MAX_RNGS) : 0;
  *rng = NULL;
  *nstreams = 0;
  if (n > MAX_RNGS) return mh_errorf("the model has %d random streams, at most %d", n, MAX_RNGS);
  if (n == 0) return MH_OK;
  uint64_t mine[MAX_RNGS * 4];
  for (int i = 0; i < n; i++) memcpy(mine + 4 * i, r[i]->s, sizeof r[i]->s);
  int64_t *counts = mh_malloc((size_t)d->size * sizeof *counts);
  *rng = mh_malloc((size_t)(d->size * n * 4) * sizeof **rng);
  int rc = dist_agree(d, counts && *rng ? MH_OK : MH_ERR);
  for (int i = 0; !rc && i < d->size; i++) counts[i] = 4 * n;
  if (!rc) rc = dist_allgatherv(d, mine, counts, sizeof *mine, *rng);
  free(counts);
  if (!rc) *nstreams = n;
  return rc;
}

void trainer_rngs_restore(const Dist *d, Model *m, const uint64_t *rng, int64_t nstreams,
                          int ranks) {
  Rng *r[MAX_RNGS];
  const int n = m->rngs ? m->rngs(m, r, MAX_RNGS) : 0;
  if (n != nstreams || n > MAX_RNGS || ranks != d->size || !rng) return;
  for (int i = 0; i < n; i++) memcpy(r[i]->s, rng + (d->rank * n + i) * 4, sizeof r[i]->s);
}

/* After a global batch: save where training stands when a stop signal
 * reached some rank (then end training) or when `interval` more steps ran.
 * Every rank decides alike (the stop is agreed, the steps are counted
 * everywhere). Returns MH_ERR on every rank when training stops here. */
static int loop_checkpoint(Loop *L) {
  TrainCheckpointer *c = L->ckpt;
  const int stop = L->ss.stop;
  const int periodic =
      c->interval > 0 && L->st->steps / c->interval > L->saved_at / c->interval;
  if (!stop && !periodic) return MH_OK;
  const TrainStats *st = L->st;
  const FilterBuffers *f = &L->b->f;
  TrainPoint p = {.steps = st->steps,
                  .samples = st->samples,
                  .scored = st->scored,
                  .epochs = st->epochs,
                  .first_loss = st->first_loss,
                  .last_loss = st->last_loss,
                  .seconds = mh_now() - L->t_start,
                  .epoch = L->epoch,
                  .epoch_loss = L->epoch_loss,
                  .epoch_wsum = L->epoch_wsum,
                  .visited = L->visited,
                  .batches = L->batches,
                  .ranks = L->d->size,
                  .nacc = L->plan->filter ? f->agn : 0,
                  .acc_rows = f->agrows,
                  .acc_weights = f->agweights,
                  .acc_owner = f->agowner};
  /* a GPU model's trained state comes back to the host arrays first */
  int rc = MH_OK;
  if (L->m->gpu) rc = dist_agree(L->d, gpu_state_pull(L->b, L->m, L->o));
  if (!rc) rc = trainer_rngs_gather(L->d, L->m, &p.rng, &p.nrng);
  char where[1100] = "";
  if (!rc) rc = c->save(c, &p, stop, where, sizeof where);
  free(p.rng);
  L->saved_at = st->steps;
  if (rc || !stop) return rc;
  if (!mh_stop_signal()) mh_stop_learned(); /* another rank got it: this one stops too */
  return mh_errorf("stopped by %s during training after step %lld (epoch %lld), saved in %s "
                   "for resume to go on from",
                   mh_signal_name(mh_stop_signal()), (long long)st->steps, (long long)L->epoch,
                   where[0] ? where : "the run directory");
}

/* Train on the reader's pass; its epoch 0 is epoch e0 of the trigger.
 * Returns this rank's own status (L->any: some rank failed). */
static int loop_pass(Loop *L, Reader *rd, int64_t e0, const int64_t *erows,
                     const float *eweights) {
  const TrainPlan *plan = L->plan;
  L->erows = erows;
  L->eweights = eweights;
  for (;;) {
    Batch bt;
    const double tr = g_prof.on ? mh_now() : 0.0;
    int more = reader_next(rd, &bt);
    if (g_prof.on) g_prof.read += mh_now() - tr;
    if (more == 0) return MH_OK;
    int own = more < 0 ? MH_ERR : MH_OK; /* a failed read joins the step empty */
    if (!own && e0 + bt.epoch != L->epoch) { /* an epoch ended: its mean loss */
      end_epoch(L);
      L->epoch = e0 + bt.epoch;
    }
    if (plan->filter) {
      /* the batch's rows and weights in the pass's visiting order */
      const int64_t *rows = own ? L->erows : L->erows + bt.start;
      const float *gw = own || !L->eweights ? NULL : L->eweights + bt.start;
      /* a batch may train no step: a stop is agreed in its gather as well */
      int stop = 0;
      own = filter_batch(L->d, L->m, plan->filter, &L->b->f, &bt, L->store, rows, gw, own,
                         L->opt->bce, L->st->steps, &L->any, &stop, L->st);
      if (own || L->any) return own; /* a failure every rank shares, or one they all saw */
      own = loop_drain(L, 0);
      if (stop && L->ckpt) L->ss.stop = 1;
    } else {
      own = loop_step(L, &bt, own);
    }
    if (own || L->any) return own;
    L->visited += bt.global_len;
    L->batches = bt.index + 1;
    progress_update(&L->prog, L->visited);
    if (L->ckpt) MH_TRY(loop_checkpoint(L));
  }
}

/* A resumed point's waiting kept samples back in the accumulator: each rank
 * reads the features of its own. With another rank count than the one that
 * saved them, they are dealt out in contiguous runs (the result then agrees
 * within rounding, as any run on another rank count does). */
static int accum_restore(FilterBuffers *b, const Dist *d, Model *m, Store *store,
                         const TrainPoint *p) {
  if (p->nacc > b->acap)
    return mh_errorf("checkpoint: %lld waiting samples do not fit the accumulator (%lld)",
                     (long long)p->nacc, (long long)b->acap);
  b->an = 0;
  for (int64_t i = 0; i < p->nacc; i++) {
    const int owner = p->ranks == d->size ? p->acc_owner[i] : (int)(i * d->size / p->nacc);
    b->agrows[i] = p->acc_rows[i];
    b->agweights[i] = p->acc_weights[i];
    b->agowner[i] = owner;
    b->amine[i] = owner == d->rank;
    if (owner != d->rank) continue;
    if (p->acc_rows[i] < 0 || p->acc_rows[i] >= store->n)
      return mh_errorf("checkpoint: waiting sample row %lld is outside the store",
                       (long long)p->acc_rows[i]);
    b->alabels[b->an] = store->labels[p->acc_rows[i]];
    b->aweights[b->an] = p->acc_weights[i];
    MH_TRY(store_read_features_f32(store, &p->acc_rows[i], 1, b->ax + b->an * m->shape.in_elems));
    b->an++;
  }
  b->agn = p->nacc;
  return MH_OK;
}

/* Row lookups and every epoch's visiting order for one reader pass over
 * keys[n] (epochs e0 .. e0 + epochs - 1); weights may be NULL. */
typedef struct {
  int64_t n, cap, ecap;
} Sizes;

static int plan_pass(Buffers *b, Sizes *z, Store *store, const int64_t *keys, const float *weights,
                     int64_t n, int64_t e0, int64_t epochs, const TrainOptions *opt,
                     const TrainPlan *plan) {
  if (n > z->cap) {
    free(b->rows);
    free(b->order);
    b->rows = mh_malloc((size_t)n * sizeof(int64_t));
    b->order = mh_malloc((size_t)n * sizeof(int64_t));
    if (!b->rows || !b->order) return MH_ERR;
    z->cap = n;
  }
  if (n * epochs > z->ecap) {
    free(b->erows);
    free(b->eweights);
    b->erows = mh_malloc((size_t)(n * epochs) * sizeof(int64_t));
    b->eweights = mh_malloc((size_t)(n * epochs) * sizeof(float));
    if (!b->erows || !b->eweights) return MH_ERR;
    z->ecap = n * epochs;
  }
  z->n = n;
  MH_TRY(store_find_rows(store, keys, n, b->rows));
  /* shuffle: the original's order, partitions of maximum_keys_in_memory
   * keys in random order, each shuffled (one partition: a plain shuffle). */
  for (int64_t k = 0; k < epochs; k++) {
    if (opt->shuffle) {
      Rng rng;
      rng_seed(&rng, rng_derive(plan->seed, (uint64_t)(e0 + k)));
      MH_TRY(rng_partition_order(&rng, b->order, n, plan->io.partition_keys));
    } else {
      for (int64_t i = 0; i < n; i++) b->order[i] = i;
    }
    for (int64_t i = 0; i < n; i++) {
      b->erows[k * n + i] = b->rows[b->order[i]];
      if (weights) b->eweights[k * n + i] = weights[b->order[i]];
    }
  }
  return MH_OK;
}

void trainer_expected_sizes(int64_t n, const TrainOptions *opt, const TrainPlan *plan,
                            int64_t *batches, int64_t *epochs) {
  const int64_t B = opt->batch_size, per_epoch = n / B;
  int64_t samples = per_epoch * B, ratio = 0, ratio_max = 0;
  if (plan->filter && plan->filter->ratio_max > 0) {
    ratio = plan->filter->ratio;
    ratio_max = plan->filter->ratio_max;
  } else if (plan->epoch_hook && plan->epoch_hook->ratio_max > 0) {
    ratio = plan->epoch_hook->ratio;
    ratio_max = plan->epoch_hook->ratio_max;
  }
  if (ratio_max > 0) {
    samples = ratio * samples / ratio_max;
    if (samples < 1) samples = 1;
  }
  *batches = samples / B * opt->epochs;
  *epochs = opt->epochs;
  if (opt->num_samples_to_pass > 0) {
    *batches = (opt->num_samples_to_pass + B - 1) / B;
    *epochs = per_epoch > 0 ? (*batches + per_epoch - 1) / per_epoch : 1;
  }
}

/* The epoch hook's call at the start of epoch e: a GPU model's trained
 * weights come back to the host first (the hook's passes run from them). */
static int call_hook(const TrainPlan *plan, const EpochView *v, int64_t e, EpochSet *set,
                     TrainStats *st) {
  set->replaced = 0;
  set->scored = 0;
  /* agreed before the hook's collectives: a rank that failed must not be
   * missing from them */
  MH_TRY(dist_agree(v->dist, v->model->gpu ? model_pull(v->model) : MH_OK));
  MH_TRY(plan->epoch_hook->begin_epoch(plan->epoch_hook, v, e, set));
  if (set->replaced && set->weights.len != 0 && set->weights.len != set->keys.len)
    return mh_errorf("epoch hook: %lld weights for %lld keys", (long long)set->weights.len,
                     (long long)set->keys.len);
  st->scored += set->scored;
  return MH_OK;
}

int trainer_run(const Dist *d, Model *m, Optimizer *o, Store *store, const int64_t *keys,
                const float *weights, int64_t n, const TrainOptions *opt, const TrainPlan *plan,
                TrainStats *st) {
  memset(st, 0, sizeof *st);
  double t_start = mh_now();
  prof_begin();
  if (n == 0) return MH_OK;
  const int64_t B = opt->batch_size;
  const int64_t local_batch = (B + d->size - 1) / d->size;
  /* A step trains a share of at most local_batch samples, or, on kept
   * samples accumulated from several batches, of up to B. */
  const int64_t step_cap = plan->filter ? B : local_batch;
  Buffers b;
  Reader *rd = NULL;
  Sizes z = {0, 0, 0};
  int rc = buffers_alloc(&b, m, step_cap);
  if (!rc) rc = buckets_init(&b.bk, d, m, b.comm);
  if (!rc && m->gpu) rc = gpu_buffers_alloc(&b, m, o, step_cap);
  if (!rc && plan->filter) rc = accum_alloc(&b.f, m, B, d->size);
  if (!rc) rc = reader_create(store, &plan->io, d->rank, d->size, &rd);
  /* epochs_per_trigger epochs, each dropping its own partial last batch
   * when drop_last_batch is set (PyTorch's DataLoader); num_samples_to_pass,
   * when set, replaces the epoch count: as many epochs as it takes. */
  const int64_t per_epoch = opt->drop_last_batch ? n / B * B : n;
  int64_t epochs = opt->epochs, limit = -1;
  if (opt->num_samples_to_pass > 0) {
    limit = opt->num_samples_to_pass;
    epochs = per_epoch > 0 ? (limit + per_epoch - 1) / per_epoch : 0;
  }
  if (per_epoch == 0 && !plan->epoch_hook) epochs = 0;
  /* Without a hook, every epoch's visiting order up front, so that the
   * reader's prefetch threads run across epoch boundaries; with one, each
   * epoch is a pass of its own over the set the hook leaves. */
  if (!rc && epochs > 0 && !plan->epoch_hook)
    rc = plan_pass(&b, &z, store, keys, weights, n, 0, epochs, opt, plan);
  /* A failed allocation or lookup on one rank must not leave the others in
   * the first step's collectives. */
  rc = dist_agree(d, rc);
  model_set_dist(m, d);
  Loop L;
  memset(&L, 0, sizeof L);
  L.d = d;
  L.m = m;
  L.o = o;
  L.b = &b;
  L.opt = opt;
  L.plan = plan;
  L.st = st;
  L.store = store;
  L.t_start = t_start;
  /* An epoch hook's per-epoch state is not saved: no mid-trigger checkpoints
   * then (a signal fails the step, and the trigger restarts on resume). */
  L.ckpt = plan->epoch_hook ? NULL : plan->ckpt;
  L.ss.can_save = L.ckpt != NULL;
  const TrainPoint *rp = L.ckpt ? L.ckpt->resume : NULL;
  if (rp) { /* continue where a mid-trigger checkpoint left off */
    st->steps = rp->steps;
    st->samples = rp->samples;
    st->scored = rp->scored;
    st->epochs = rp->epochs;
    st->first_loss = rp->first_loss;
    st->last_loss = rp->last_loss;
    L.epoch = rp->epoch;
    L.epoch_loss = rp->epoch_loss;
    L.epoch_wsum = rp->epoch_wsum;
    L.visited = rp->visited;
    L.batches = rp->batches;
    L.saved_at = rp->steps;
    L.t_start = t_start - rp->seconds;
    if (!rc && plan->filter) rc = accum_restore(&b.f, d, m, store, rp);
    trainer_rngs_restore(d, m, rp->rng, rp->nrng, rp->ranks);
    rc = dist_agree(d, rc);
  }
  int64_t want_batches = 0, want_epochs = 0;
  trainer_expected_sizes(n, opt, plan, &want_batches, &want_epochs);
  L.sched = sched_resolve(&plan->sched, want_batches, want_epochs);
  progress_begin(&L.prog, plan->progress, "samples",
                 plan->epoch_hook                          ? 0
                 : limit > 0 && limit < epochs * per_epoch ? limit
                                                           : epochs * per_epoch);
  /* rc: this rank's own failure; L.any: some rank's (all ranks stop at the
   * same step, then agree on the first failing rank's message). */
  if (L.visited > 0) progress_update(&L.prog, L.visited); /* resumed mid-trigger */
  if (!rc && epochs > 0 && !plan->epoch_hook) {
    const float *ew = weights ? b.eweights : NULL;
    rc = reader_start_at(rd, b.erows, ew, n, epochs, B, opt->drop_last_batch, limit, L.batches);
    if (!rc) rc = loop_pass(&L, rd, 0, b.erows, ew);
    st->read_seconds += reader_wait_seconds(rd);
    reader_finish(rd);
  }
  EpochSet set;
  memset(&set, 0, sizeof set);
  if (!rc && plan->epoch_hook) {
    const EpochView v = {d, m, store, opt->bce, B, keys, weights, n};
    const int64_t *ek = keys;
    const float *ew = weights;
    int64_t en = n;
    /* num_samples_to_pass: epochs until that many samples passed */
    for (int64_t e = 0; !rc && !L.any && (limit > 0 || e < epochs); e++) {
      const int64_t left = limit > 0 ? limit - L.visited : -1;
      if (limit > 0 && left <= 0) break;
      rc = call_hook(plan, &v, e, &set, st);
      rc = dist_agree(d, rc);
      if (rc) break;
      if (set.replaced) {
        ek = set.keys.data;
        ew = set.weights.len ? set.weights.data : NULL;
        en = set.keys.len;
      }
      const int64_t passed = opt->drop_last_batch ? en / B * B : en;
      if (passed == 0) { /* nothing to train on: so will every later epoch of a limit */
        if (limit > 0) break;
        continue;
      }
      rc = dist_agree(d, plan_pass(&b, &z, store, ek, ew, en, e, 1, opt, plan));
      if (!rc)
        rc =
            reader_start(rd, b.erows, ew ? b.eweights : NULL, en, 1, B, opt->drop_last_batch, left);
      if (!rc) rc = loop_pass(&L, rd, e, b.erows, ew ? b.eweights : NULL);
      st->read_seconds += reader_wait_seconds(rd);
      reader_finish(rd);
    }
  }
  i64vec_free(&set.keys);
  f32vec_free(&set.weights);
  /* The kept samples left over train as one last smaller step, as a
   * partial last batch does (not with drop_last_batch). */
  if (!rc && !L.any && plan->filter && !opt->drop_last_batch) rc = loop_drain(&L, 1);
  progress_end(&L.prog);
  /* A step failed somewhere: every rank is here; the lowest failing rank's
   * message becomes everyone's. */
  if (L.any) rc = dist_agree(d, rc);
  /* a signal failed the step (no checkpointer here): every rank learned it
   * in the step's allreduce and ends alike */
  if (rc && L.ss.stop && !mh_stop_signal()) mh_stop_learned();
  if (rc && L.ss.stop && plan->ckpt && !L.ckpt)
    mh_errorf("stopped by %s during training; a sample-then-batch downsampler's per-epoch state "
              "cannot be saved mid-trigger, so `modyn resume` trains this trigger again from its "
              "start", mh_signal_name(mh_stop_signal()));
  if (!rc) end_epoch(&L);
  for (int g = 0; g < o->ngroups; g++) o->groups[g].lr = o->groups[g].lr0;
  if (m->gpu && b.dm) {
    int prc = gpu_state_pull(&b, m, o);
    if (!rc) rc = prc;
  }
  reader_free(rd);
  buffers_free(&b);
  st->seconds = mh_now() - L.t_start;
  prof_end(d);
  return rc;
}

/* model_pass.h - one model run over data, split across all ranks: the
 * seam every policy that needs a model goes through (downsamplers' scores,
 * drift triggers' embeddings, performance triggers' predictions,
 * evaluation's metrics).
 *
 * A pass covers a list of store rows cut into fixed batches: batch_size
 * rows counted from the start, or batches the caller lays out. Batches do
 * not depend on the number of ranks; each rank takes a contiguous run of
 * batches of about equal cost (rows x model runs), reads them through the
 * Reader (one prefetch thread) and runs the model in eval mode
 * (forward(train = 0): no dropout, BatchNorm with running statistics, no
 * collectives). Per batch it computes what the caller asks for:
 *   PASS_LOGITS    logits [n * K]
 *   PASS_PRED      argmax class [n] (BCE models: logit > 0)
 *   PASS_LOSS      per-sample loss [n] (the training criterion)
 *   PASS_EMBED     penultimate-layer embeddings [n * D]
 *   PASS_GRAD      last-layer gradients, closed form [n * K * (D + 1)]
 *   PASS_GRADNORM  their L2 norms [n]
 * and then either hands them to a visitor on the rank that computed them
 * (evaluation folds them into metric states), or gathers them to rank 0 in
 * row order (a plug-in's scores or embeddings). Loss sum and correct count
 * are reduced onto every rank, summed batch by batch in batch order.
 *
 * Since batches are fixed and a batch's outputs depend only on its rows
 * and the weights, the result is the same, bit for bit, for any number of
 * ranks (at a fixed thread count).
 *
 * model_pass_batch computes the same outputs on one in-memory batch without
 * any communication: the trainer's per-batch hook (batch-then-sample
 * downsampling) uses it on each rank's share of a global batch.
 *
 * This module does not choose which model runs (the caller loads weights,
 * e.g. through the visitor's prepare or the orchestrator's plug-in
 * environment), and does not train. */
#ifndef MH_MODEL_PASS_H
#define MH_MODEL_PASS_H

#include <stdint.h>

#include "core/dist.h"
#include "data/store.h"
#include "train/model.h"

enum {
  PASS_LOGITS = 1u << 0,
  PASS_PRED = 1u << 1,
  PASS_LOSS = 1u << 2,
  PASS_EMBED = 1u << 3,
  PASS_GRAD = 1u << 4,
  PASS_GRADNORM = 1u << 5,
};

/* One batch's outputs (pointers NULL where not asked for). */
typedef struct {
  int64_t n;              /* samples */
  int K, D;               /* logits and embedding width per sample */
  const int32_t *labels;  /* [n] */
  float *logits;          /* [n * K] */
  int32_t *pred;          /* [n] */
  float *loss;            /* [n] */
  float *embed;           /* [n * D] */
  float *grad;            /* [n * K * (D + 1)] */
  float *gradnorm;        /* [n] */
  const int64_t *keys;    /* [n] the samples' store keys: set by the trainer for a batch
                             filter (a plug-in may keep per-key state, e.g. RHOLoss's
                             irreducible losses); NULL elsewhere */
} PassBatch;

/* Scratch for model_pass_batch, grown to the largest batch seen. */
typedef struct {
  int64_t cap;
  unsigned outputs;
  int K, D;         /* the model's widths the buffers were sized for */
  float *logits, *loss, *embed, *grad, *gradnorm, *dlogits;
  int32_t *pred;
  float *hemb;               /* a GPU model's embeddings, downloaded [cap * D] */
  float *dx, *dlog;          /* a GPU model's input and logits on the device */
  int64_t dx_cap, dlog_cap;  /* bytes */
} PassBuffers;

void pass_buffers_free(PassBuffers *b);

/* Outputs of m on x [n * in_elems] with labels [n] into b's buffers, eval
 * mode; out points at them. bce: the loss is BCEWithLogits (one output).
 * x is host memory; a GPU model (Model.gpu) runs on the device with the
 * device weights as they are (model_pass_run pushes the host weights
 * first; inside training they are the ones being trained). */
int model_pass_batch(Model *m, const float *x, const int32_t *labels, int64_t n, unsigned outputs,
                     int bce, PassBuffers *b, PassBatch *out);

/* Called on the rank that ran the batch. runs() may be NULL (one run per
 * batch); prepare() may be NULL (m as it is). */
typedef struct {
  void *ctx;
  /* Model runs over batch b (each costs a forward); 0 skips the batch. */
  int (*runs)(void *ctx, int64_t b);
  /* Before run r over batch b: load the weights it needs into m (and,
   * when they changed, model_push them to a GPU model). */
  int (*prepare)(void *ctx, int64_t b, int r, Model *m);
  /* Run r's outputs over batch b. */
  int (*consume)(void *ctx, int64_t b, int r, const PassBatch *out);
} PassVisitor;

typedef struct {
  const int64_t *rows;     /* store rows, in pass order */
  int64_t n;               /* rows */
  int64_t batch_size;      /* fixed batches of this many rows (>= 1)... */
  const int64_t *start;    /* ...or nbatches caller-laid batches rows[start[i] .. + len[i]) */
  const int64_t *len;
  int64_t nbatches;
  unsigned outputs;        /* PASS_* */
  int bce;                 /* loss is BCEWithLogitsLoss (else softmax cross-entropy) */
  int gather;              /* 1: per-sample outputs to rank 0, in row order (one run per batch) */
  const PassVisitor *visit;/* NULL: none */
  const char *progress;    /* label of rank 0's progress line over its batches
                              (core/progress.h); NULL: none */
} PassRequest;

/* What a pass returns. Per-sample arrays are filled on rank 0 when the
 * request gathers (NULL elsewhere); the sums are on every rank. */
typedef struct {
  int64_t n;              /* samples */
  int K, D;
  int32_t *labels;        /* [n] */
  float *logits;          /* [n * K] */
  int32_t *pred;          /* [n] */
  float *loss;            /* [n] */
  float *embed;           /* [n * D] */
  float *grad;            /* [n * K * (D + 1)] */
  float *gradnorm;        /* [n] */
  double loss_sum;        /* over all samples (PASS_LOSS) */
  int64_t correct;        /* predictions equal to the label (PASS_PRED) */
  double seconds;         /* wall time of the pass */
} PassResult;

void pass_result_free(PassResult *r);

/* Collective: every rank calls it with the same request (rows included)
 * and a model holding the same weights. */
int model_pass_run(const Dist *d, Model *m, Store *s, const PassRequest *req, PassResult *res);

/* The batch split: owner[b] = the rank that runs batch b, for batches of
 * the given costs; contiguous and nondecreasing, about equal cost per rank. */
void model_pass_split(const int64_t *cost, int64_t nbatches, int nranks, int *owner);

#endif

/* model.h - the model interface and registry.
 *
 * A model owns one flat buffer of trainable parameters and one of gradients
 * in the same layout, so data-parallel training averages gradients with a
 * single allreduce and broadcasts a model with a single broadcast. Buffers
 * that are state but not trained (batchnorm running statistics) live in a
 * second flat buffer. Each model type is a plug-in: one file that defines a
 * ModelType, plus one line in model_registry.c. Losses are separate
 * (loss.h); a model maps inputs to logits and back-propagates d(loss)/d(logits). */
#ifndef MH_MODEL_H
#define MH_MODEL_H

#include <stdint.h>

#include "config/cfgtree.h"
#include "core/rng.h"

struct Dist; /* core/dist.h */

typedef struct {
  int ndims;           /* per-sample input dims */
  int64_t dims[4];     /* per-sample input shape, e.g. {3, 32, 32} */
  int64_t in_elems;    /* product of dims */
  int num_classes;     /* from the store; model.config.num_classes must agree */
  int token_ids;       /* 1: the store's features are integer ids (int32), 0: numbers */
} ModelShape;

typedef struct Model Model;

/* A named range of a model's flat parameters, for optimizer param groups
 * (PyTorch-style module names: "model.layers.2", "model.sparse_arch"). */
#define MODEL_MAX_PARTS 64
typedef struct {
  char name[48];
  int64_t off, len;
} ModelPart;

typedef struct {
  const char *id; /* model.id in the YAML, e.g. "LogisticRegression" */
  /* Validate model.config (keys, ranges; errors via cfg_errorf) and build an
   * uninitialised model for inputs of the given shape. */
  int (*create)(const CfgRef *config, const ModelShape *shape, Model **out);
} ModelType;

struct Model {
  const ModelType *type;
  ModelShape shape;
  int num_outputs;   /* logits per sample */
  int64_t nparams;   /* trainable parameters */
  float *params;     /* [nparams] */
  float *grads;      /* [nparams], accumulated by backward */
  int64_t nbuffers;  /* non-trained state (e.g. BN running stats) */
  float *buffers;    /* [nbuffers] or NULL */
  int nparts;        /* named parameter ranges, in order; 0 = just "model" */
  ModelPart parts[MODEL_MAX_PARTS];
  int embed_dim;     /* size of the penultimate representation (the input of the
                        last linear layer); 0 when the model has none */
  const struct Dist *dist; /* ranks that train it data-parallel (model_set_dist); NULL:
                              this process alone */
  /* The GPU (model_to_device): with gpu = 1, forward/backward take and give
   * device pointers (x, logits, dlogits), the layers use the device copies
   * below, and embedding() points into device memory. The host arrays above
   * stay the reference copy between phases: model_push uploads them,
   * model_pull brings the trained values back (the trainer does both). */
  int gpu;
  float *dparams;    /* [nparams] on the device */
  float *dgrads;     /* [nparams + 4]: the 4 spare floats carry the trainer's loss,
                        failure count, weight sum and stop count through the same
                        allreduce */
  float *dbuffers;   /* [nbuffers] */
  /* Rebind the model's layers to dparams/dgrads/dbuffers; NULL: this model
   * type has no GPU path (model_to_device says so). */
  int (*to_device)(Model *m);
  void *impl;        /* the model type's own state */
  /* Default initialisation (PyTorch's rules), drawn from rng. */
  void (*init)(Model *m, Rng *rng);
  /* logits[n * num_outputs] for x[n * in_elems]. train = 1 keeps what
   * backward needs and uses training-mode layers. */
  int (*forward)(Model *m, const float *x, int64_t n, float *logits, int train);
  /* Add to grads the gradient of sum_i loss_i, given dlogits = d(sum loss)/d(logits)
   * of the last forward(train = 1) on the same x. With a Dist of several
   * ranks, forward(train = 1) and backward are collective (batchnorm's
   * global statistics): every rank calls them for every step, with n = 0
   * when its slice is empty. forward(train = 0) never is. */
  int (*backward)(Model *m, const float *x, const float *dlogits, int64_t n);
  /* Penultimate-layer embeddings of the last forward(), [n * embed_dim],
   * valid until the next forward; NULL when embed_dim is 0. Drift
   * detection, KCenter and CRAIG use these. */
  const float *(*embedding)(const Model *m);
  /* The random streams training draws from (dropout masks), up to cap of
   * them into out; returns how many. Each rank has its own (it draws for
   * its own slice). NULL: the model draws nothing. */
  int (*rngs)(Model *m, Rng **out, int cap);
  void (*destroy)(Model *m);
  /* Pass the rank context to the layers that need it; NULL when no layer
   * talks across ranks. Called by model_set_dist. */
  void (*set_dist)(Model *m, const struct Dist *d);
  /* Set by the trainer around a CPU backward (NULL otherwise): a model may
   * call it during backward with `from` pointing into grads when
   * grads[from - grads, nparams) are final, so that their allreduce starts
   * while the rest of backward runs (net models call it after each layer
   * with parameters; others never do, which is fine). */
  void (*grads_ready)(void *ctx, const float *from);
  void *grads_ready_ctx;
};

/* Create model id from a YAML text of its model.config (errors name
 * "model.yaml:LINE") and initialise it from seed: what tests and benchmarks
 * build models with. NULL with the error recorded on failure. */
Model *model_from_yaml(const char *id, const char *yaml, const ModelShape *shape, uint64_t seed);

/* Look up a model type by id; NULL if unknown. */
const ModelType *model_find(const char *id);
/* Comma-separated list of registered ids, for error messages. */
const char *model_list(void);
/* Create model.id with model.config: unknown ids give a FILE:LINE error. */
int model_create(const char *id, const CfgRef *id_ref, const CfgRef *config,
                 const ModelShape *shape, Model **out);
void model_free(Model *m);
void model_zero_grad(Model *m);
/* Train data-parallel over the ranks of d (NULL: this process alone): set
 * m->dist and reach every layer, so that batchnorm normalises with the
 * global batch's statistics (SyncBatchNorm). Does not communicate. */
void model_set_dist(Model *m, const struct Dist *d);

/* Move m's computation to the GPU this process opened (gpu_open): device
 * copies of params, grads and buffers, uploaded from the host arrays. */
int model_to_device(Model *m);
/* Upload the host params and buffers to the device (after the host copy
 * changed: a checkpoint load, a broadcast). No-op on the CPU. */
int model_push(Model *m);
/* Download the device params and buffers into the host arrays. No-op on
 * the CPU. */
int model_pull(Model *m);

/* Per-sample gradient of the last linear layer (weights then bias), in
 * closed form from the embedding of the last forward and dlogits:
 * out[i] = dlogits_i (x) [emb_i, 1], [n * num_outputs * (embed_dim + 1)].
 * GradNorm, CRAIG and GradMatch use it. MH_ERR when embed_dim is 0. */
int model_last_layer_grads(const Model *m, const float *dlogits, int64_t n, float *out);
/* The same from host embeddings emb [n * embed_dim] (a GPU model's, downloaded). */
void last_layer_grads(const float *emb, int K, int E, const float *dlogits, int64_t n,
                      float *out);

/* Helpers for model implementations: allocate params/grads (zeroed). */
int model_alloc(Model *m, int64_t nparams, int64_t nbuffers);

#endif

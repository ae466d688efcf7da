/* layers.h - the layers of the CPU training engine, each with forward and
 * backward, behind one small vtable so that a sequential container (net.h)
 * can chain them.
 *
 * Tensors are float32, contiguous, NCHW: a batch of n samples of per-sample
 * shape Dims {c, h, w} (a flat vector is {d, 1, 1}). A layer never owns its
 * trainable parameters: the owner (a model) binds views into its one flat
 * params/grads buffer, and non-trained state (batchnorm running statistics)
 * into its flat buffers array. Parameter order within a layer follows
 * PyTorch's state_dict (weight [out, in] or [out, in, kh, kw] row-major, then
 * bias), so weights can be copied between this engine and an equivalent
 * nn.Module. Layers keep their own workspace (im2col columns, dropout masks,
 * max-pool argmax), grown on demand to the largest batch seen, so steady-state
 * forward/backward does not allocate.
 *
 * Each operation also has a plain reference implementation (suffix _ref)
 * used by the tests to check the fast one. Speed comes from OpenBLAS GEMM and
 * OpenMP over the batch (parallel.h). This header does not provide models,
 * losses or optimizers (model.h, loss.h, optim.h). */
#ifndef MH_LAYERS_H
#define MH_LAYERS_H

#include <stdint.h>

#include "core/rng.h"

struct Dist; /* core/dist.h: the rank context, for layers that talk across ranks */

typedef struct {
  int c, h, w; /* channels, height, width; a flat vector of d values is {d, 1, 1} */
} Dims;

static inline int64_t dims_elems(Dims d) { return (int64_t)d.c * d.h * d.w; }

typedef struct Layer Layer;

typedef struct {
  const char *name; /* "linear", "conv2d", ... (for messages) */
  /* PyTorch default initialisation of the bound parameters and buffers;
   * NULL for layers without any. */
  void (*init)(Layer *l, Rng *rng);
  /* y[n * out] from x[n * in]. train = 1 keeps what backward needs (masks,
   * statistics) and uses training-mode behaviour (dropout, batch statistics).
   * n may be 0 (a rank's empty slice of a global batch): nothing to compute,
   * but a layer that talks across ranks (batchnorm with a Dist) still joins
   * its collectives, so every rank must call forward and backward alike. */
  int (*forward)(Layer *l, const float *x, float *y, int64_t n, int train);
  /* Given x and y of the last forward(train = 1) and dy = d(loss)/dy, add the
   * parameter gradients to the bound grads and write dx (not accumulate);
   * dx == NULL skips the input gradient. dy is scratch: a layer may
   * overwrite it. */
  int (*backward)(Layer *l, const float *x, const float *y, float *dy, float *dx, int64_t n);
  void (*destroy)(Layer *l); /* frees impl and workspace; NULL if nothing to free */
  int fuse_relu;             /* 1: the layer can apply a following ReLU itself (Layer.relu) */
  int collective;            /* 1: with a Layer.dist of several ranks, training forward and
                                backward are collective (every rank calls them) */
  /* The CUDA twins of forward and backward (layers_cuda.h): the same
   * contract, on device pointers (x, y, dy, dx and the bound params, grads
   * and buffers). NULL: the layer has no GPU path (net_to_device says so).
   * Set them with LAYER_CUDA(f, b), which is NULL, NULL in a CPU-only build. */
  int (*forward_cuda)(Layer *l, const float *x, float *y, int64_t n, int train);
  int (*backward_cuda)(Layer *l, const float *x, const float *y, float *dy, float *dx, int64_t n);
  /* Composite layers (a residual block holds nets): called after the owner
   * changed the layer's params/grads/buffers views, dist or gpu, to pass
   * them on to the parts. NULL for plain layers. */
  void (*rebind)(Layer *l);
} LayerOps;

#ifdef MODYN_HAVE_CUDA
#define LAYER_CUDA(f, b) f, b
#else
#define LAYER_CUDA(f, b) NULL, NULL
#endif

struct Layer {
  const LayerOps *ops;
  Dims in, out;      /* per-sample input and output shapes */
  int64_t nparams;   /* trainable values this layer uses */
  int64_t nbuffers;  /* non-trained state values */
  float *params;     /* view into the owner's params [nparams] (bound by the owner) */
  float *grads;      /* view into the owner's grads [nparams] */
  float *buffers;    /* view into the owner's buffers [nbuffers] */
  int alias;         /* 1: the output is the input itself (flatten): no copy */
  int relu;          /* 1: a ReLU is fused into the output: y = max(0, layer(x)). net_add
                        sets it when a ReLU follows a layer whose ops->fuse_relu is 1,
                        saving a pass over memory and a buffer (no parameters change) */
  const struct Dist *dist; /* ranks that share one global batch (SyncBatchNorm); NULL or
                              one rank: this process's batch alone. Set by net_set_dist */
  int gpu;           /* 1: the views above and the layer's inputs and outputs are device
                        memory, and ops->forward_cuda/backward_cuda run (net_to_device) */
  void *dws;         /* the CUDA twin's device workspace (gpu_grow), freed by layer_free */
  int64_t dws_bytes;
  void *impl;        /* the layer's own hyper-parameters and workspace */
};

/* Free a layer made by one of the constructors below (NULL is fine). */
void layer_free(Layer *l);

/* ---- constructors (NULL on allocation failure or bad sizes, with an error
 * recorded via mh_errorf) ---------------------------------------------- */

/* nn.Linear(in.c*in.h*in.w, out): y = x W^T + b; params W [out, in], b [out]. */
Layer *layer_linear(Dims in, int out);
/* nn.Conv2d(in.c, cout, k, stride, padding), square kernel, with bias;
 * params W [cout, cin, k, k], b [cout]. */
Layer *layer_conv2d(Dims in, int cout, int k, int stride, int pad);
/* nn.BatchNorm2d(in.c) (also BatchNorm1d for {d, 1, 1}): params gamma, beta
 * [c]; buffers running_mean, running_var [c]; momentum 0.1, eps 1e-5, the
 * running variance is updated with the unbiased batch variance. With a
 * Layer.dist of several ranks, training is nn.SyncBatchNorm's: statistics
 * of the global batch (collective: every rank calls forward/backward, an
 * empty slice included), the same running statistics on every rank. */
Layer *layer_batchnorm(Dims in);
Layer *layer_relu(Dims in);
/* nn.MaxPool2d(k, stride), no padding, floor mode. */
Layer *layer_maxpool2d(Dims in, int k, int stride);
/* Mean over h and w: {c, h, w} -> {c, 1, 1}. */
Layer *layer_global_avgpool(Dims in);
/* nn.Dropout(p): in training zeroes each value with probability p and
 * scales the rest by 1/(1-p); identity in eval. The mask comes from the
 * layer's own seeded Rng (reseeded by init). */
Layer *layer_dropout(Dims in, double p);
/* A dropout layer's mask stream (what a mid-trigger checkpoint saves);
 * NULL for any other layer. */
Rng *layer_dropout_rng(Layer *l);
/* nn.Flatten: {c, h, w} -> {c*h*w, 1, 1}, no copy. */
Layer *layer_flatten(Dims in);

typedef enum { EMBBAG_SUM = 0, EMBBAG_MEAN = 1 } EmbBagMode;
/* nn.EmbeddingBag(num_embeddings, dim, mode) over a fixed-length list of
 * in.c*in.h*in.w token ids per sample, given as floats (cast back to
 * integers; id < 0 is padding and ignored; ids are taken modulo
 * num_embeddings). An empty bag gives zeros. params W [num_embeddings, dim].
 * Ids have no gradient: backward writes dx = 0 when asked. */
Layer *layer_embedding_bag(Dims in, int64_t num_embeddings, int dim, EmbBagMode mode);

/* ---- kernels shared by layers and models ---------------------------------- */

/* y = max(y, 0) in place (the forward of a fused ReLU). */
void relu_inplace(float *y, int64_t len);
/* dy = y > 0 ? dy : 0 in place, given the ReLU's output y (its backward). */
void relu_mask_grad(const float *y, float *dy, int64_t len);


/* Embedding table lookup: out[i, :] = W[ids[i] mod V, :] for n ids (floats
 * cast back to integers, stride id_stride between consecutive samples);
 * out rows are out_stride apart. A negative id gives a zero row. */
void embedding_gather(const float *W, int64_t V, int D, const float *ids, int64_t id_stride,
                      int64_t n, float *out, int64_t out_stride);
/* dW[ids[i] mod V, :] += dout[i, :] (the adjoint of embedding_gather). */
void embedding_scatter_add(float *dW, int64_t V, int D, const float *ids, int64_t id_stride,
                           int64_t n, const float *dout, int64_t out_stride);

/* DLRM dot interaction (as in the DLRM paper and torchrec's InteractionArch):
 * for each sample, T = [dense; emb_0; ...; emb_{F-1}] is (F+1) x D;
 * out = [dense (D values), T_i . T_j for 0 <= i < j <= F in row-major order]
 * of size D + F(F+1)/2. dense [n, D], emb [n, F, D]. */
int64_t interaction_out_dim(int F, int D);
void interaction_forward(const float *dense, const float *emb, int64_t n, int F, int D,
                         float *out);
/* Gradients of the above: ddense [n, D] and demb [n, F, D] (written). */
void interaction_backward(const float *dense, const float *emb, const float *dout, int64_t n,
                          int F, int D, float *ddense, float *demb);

/* ---- plain reference kernels, for tests --------------------------------- */

/* Direct convolution, y[n, cout, ho, wo]; bias may be NULL. */
void conv2d_forward_ref(const float *x, const float *W, const float *b, int64_t n, Dims in,
                        int cout, int k, int stride, int pad, float *y);
/* dW and db accumulate (+=, db may be NULL); dx written when not NULL. */
void conv2d_backward_ref(const float *x, const float *W, const float *dy, int64_t n, Dims in,
                         int cout, int k, int stride, int pad, float *dW, float *db, float *dx);
/* Output size of a convolution / pooling along one axis (0 when the
 * window does not fit). */
static inline int conv_out_size(int in, int k, int stride, int pad) {
  return in + 2 * pad < k ? 0 : (in + 2 * pad - k) / stride + 1;
}

#endif

/* net.h - a sequential network: layers (layers.h) chained in order, with
 * the activations and gradient buffers that forward/backward need, grown to
 * the largest batch seen (no allocation in steady state). The net does not
 * own parameters: its owner binds one flat params/grads/buffers region, laid
 * out layer after layer in the order the layers were added (PyTorch's
 * state_dict order for an nn.Sequential of the same layers).
 *
 * net_model_create wraps a net whose last layer is linear into a Model
 * (model.h) that owns the flat buffers; every sequential model plug-in
 * (MLP, SmallCNN, YearbookNet, TextBag) is a net. Models with branches
 * (DLRM) use nets as parts and bind them into their own buffer.
 * A ReLU added right after a linear, conv2d or batchnorm layer is fused into
 * it (Layer.relu): nlayers then counts one layer less than were added.
 * $MODYN_NET_PROFILE=1 times every layer and prints the table when the net
 * is freed; $MODYN_NO_FUSION=1 keeps ReLUs separate (for comparisons).
 * A batch of n = 0 is valid (a rank's empty slice of a global batch): every
 * layer still runs, so that a layer with a Dist (net_set_dist) joins its
 * collectives on every rank. With such layers (Net.sync), a training
 * forward fails on every rank or on none, and a rank whose backward fails
 * still runs the rest of it on an empty batch (its error is returned; the
 * trainer's gradient allreduce tells the others).
 * Not thread-safe: one forward/backward at a time per net. */
#ifndef MH_NET_H
#define MH_NET_H

#include <stdint.h>

#include "train/layers.h"
#include "train/model.h"

typedef struct {
  Dims in;              /* per-sample input shape */
  int nlayers, cap;
  Layer **layers;       /* owned */
  int64_t nparams;      /* sum over layers */
  int64_t nbuffers;
  float **bufs;         /* [nlayers] output buffers of non-alias layers, [batch_cap * out] */
  const float **outs;   /* [nlayers] outputs of the last forward (aliases point at inputs) */
  const float *last_x;  /* input of the last forward */
  float *grad[2];       /* ping-pong gradient buffers, [batch_cap * widest] */
  int64_t batch_cap;    /* batch the buffers are sized for */
  double *prof;         /* [2 * cap] seconds in forward/backward per layer, when
                           $MODYN_NET_PROFILE is set (printed to stderr by net_free) */
  const struct Dist *dist; /* the layers' rank context (net_set_dist); NULL: none */
  int gpu;              /* 1: the layers run on the GPU (net_to_device); the buffers above
                           are device memory */
  int sync;             /* 1: some layer's training pass is collective over dist
                           (batchnorm on several ranks) */
  /* Called by net_backward after each layer with parameters (NULL: not),
   * with the layer's grads: every gradient from there to the end of the
   * net's region is final (Model.grads_ready). */
  void (*grads_ready)(void *ctx, const float *from);
  void *grads_ready_ctx;
} Net;

void net_init(Net *net, Dims in);
void net_free(Net *net);
/* Append a layer (the net takes ownership, also on failure). NULL l (a
 * failed constructor) passes its recorded error on. The layer's input must
 * have as many values per sample as the net's current output. */
int net_add(Net *net, Layer *l);
/* Per-sample shape of the net's output (its input when empty). */
Dims net_out(const Net *net);
/* Point each layer at its slice of params/grads/buffers. */
void net_bind(Net *net, float *params, float *grads, float *buffers);
/* Run the net on the GPU this process opened: every layer must have a CUDA
 * twin (else an error naming the first that has none); the layers are
 * bound to the device copies params/grads/buffers (laid out as for
 * net_bind), and inputs and outputs of forward/backward become device
 * pointers. */
int net_to_device(Net *net, float *params, float *grads, float *buffers);
/* PyTorch's default initialisation of every layer. */
void net_init_params(Net *net, Rng *rng);
/* Give every layer the rank context d (NULL: this process alone); with
 * several ranks, batchnorm layers compute global-batch statistics. */
void net_set_dist(Net *net, const struct Dist *d);
/* Run all layers; *out points at the output [n * out] (owned by the net,
 * valid until the next forward). Collective when Net.sync and train. */
int net_forward(Net *net, const float *x, int64_t n, int train, const float **out);
/* Back-propagate dout [n * out] through the last forward(train = 1) on x:
 * adds parameter gradients, and writes dx [n * in] when dx is not NULL. */
int net_backward(Net *net, const float *x, const float *dout, int64_t n, float *dx);
/* Input of layer i in the last forward ([n * layers[i]->in]). */
const float *net_layer_input(const Net *net, int i);

/* Wrap net (moved into the model; emptied here, also on failure) into a
 * Model for inputs of shape: one flat params/grads/buffers allocation, the
 * logits are the net's output, the embedding is the input of the last layer,
 * which must be linear. */
int net_model_create(Net *net, const ModelShape *shape, Model **out);

#endif

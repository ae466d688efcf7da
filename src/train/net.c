/* net.c - see net.h. */
#include "train/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/error.h"
#include "core/timing.h"
#include "train/gpu.h"
#include "train/parallel.h"

void layer_free(Layer *l) {
  if (!l) return;
  if (l->ops && l->ops->destroy) l->ops->destroy(l);
  gpu_free(l->dws);
  free(l);
}

/* Activation and gradient buffers live where the layers run. */
static void net_buf_free(const Net *net, void *p) {
  if (net->gpu) gpu_free(p);
  else free(p);
}

static int net_buf_grow(const Net *net, float **p, int64_t floats) {
  if (!net->gpu) {
    float *q = mh_realloc(*p, (size_t)floats * sizeof(float));
    if (!q) return MH_ERR;
    *p = q;
    return MH_OK;
  }
  gpu_free(*p);
  *p = gpu_malloc((size_t)floats * sizeof(float));
  return *p ? MH_OK : MH_ERR;
}

static int net_copy(const Net *net, float *dst, const float *src, int64_t floats) {
  if (net->gpu) return gpu_copy(dst, src, (size_t)floats * sizeof(float));
  memcpy(dst, src, (size_t)floats * sizeof(float));
  return MH_OK;
}

void net_init(Net *net, Dims in) {
  memset(net, 0, sizeof *net);
  net->in = in;
}

/* Per-layer time, for finding what to optimise ($MODYN_NET_PROFILE=1). */
static void net_profile_print(const Net *net) {
  double total = 0;
  for (int i = 0; i < 2 * net->nlayers; i++) total += net->prof[i];
  fprintf(stderr, "# net profile: %-16s %10s %10s %6s\n", "layer", "fwd_s", "bwd_s", "%");
  for (int i = 0; i < net->nlayers; i++) {
    const Layer *l = net->layers[i];
    fprintf(stderr, "# net profile: %2d %-13s %10.3f %10.3f %6.1f   %dx%dx%d -> %dx%dx%d\n", i,
            l->ops->name, net->prof[2 * i], net->prof[2 * i + 1],
            100.0 * (net->prof[2 * i] + net->prof[2 * i + 1]) / (total > 0 ? total : 1), l->in.c,
            l->in.h, l->in.w, l->out.c, l->out.h, l->out.w);
  }
}

void net_free(Net *net) {
  if (net->prof) {
    net_profile_print(net);
    free(net->prof);
  }
  for (int i = 0; i < net->nlayers; i++) {
    layer_free(net->layers[i]);
    net_buf_free(net, net->bufs[i]);
  }
  free(net->layers);
  free(net->bufs);
  free(net->outs);
  net_buf_free(net, net->grad[0]);
  net_buf_free(net, net->grad[1]);
  memset(net, 0, sizeof *net);
}

Dims net_out(const Net *net) { return net->nlayers ? net->layers[net->nlayers - 1]->out : net->in; }

int net_add(Net *net, Layer *l) {
  if (!l) return MH_ERR;
  Dims cur = net_out(net);
  if (dims_elems(l->in) != dims_elems(cur)) {
    int rc = mh_errorf("net: a %s layer expecting %lld values per sample cannot follow an output "
                       "of %dx%dx%d", l->ops->name, (long long)dims_elems(l->in), cur.c, cur.h,
                       cur.w);
    layer_free(l);
    return rc;
  }
  /* A ReLU right after a layer that can apply it itself is fused into that
   * layer (no parameters change, one pass over memory and a buffer saved). */
  if (!strcmp(l->ops->name, "relu") && net->nlayers > 0 && !getenv("MODYN_NO_FUSION")) {
    Layer *prev = net->layers[net->nlayers - 1];
    if (prev->ops->fuse_relu && !prev->relu) {
      prev->relu = 1;
      layer_free(l);
      return MH_OK;
    }
  }
  if (net->nlayers == net->cap) {
    int cap = net->cap ? 2 * net->cap : 8;
    Layer **ls = mh_realloc(net->layers, (size_t)cap * sizeof *ls);
    if (ls) net->layers = ls;
    float **bs = ls ? mh_realloc(net->bufs, (size_t)cap * sizeof *bs) : NULL;
    if (bs) net->bufs = bs;
    const float **os = bs ? mh_realloc(net->outs, (size_t)cap * sizeof *os) : NULL;
    if (!os) {
      layer_free(l);
      return MH_ERR;
    }
    net->outs = os;
    net->cap = cap;
    if (getenv("MODYN_NET_PROFILE")) {
      double *pr = mh_realloc(net->prof, (size_t)(2 * cap) * sizeof(double));
      if (!pr) {
        layer_free(l);
        return MH_ERR;
      }
      for (int i = 2 * net->nlayers; i < 2 * cap; i++) pr[i] = 0.0;
      net->prof = pr;
    }
  }
  net->layers[net->nlayers] = l;
  net->bufs[net->nlayers] = NULL;
  net->outs[net->nlayers] = NULL;
  net->nlayers++;
  net->nparams += l->nparams;
  net->nbuffers += l->nbuffers;
  net->batch_cap = 0; /* buffers must be sized again */
  return MH_OK;
}

void net_bind(Net *net, float *params, float *grads, float *buffers) {
  for (int i = 0; i < net->nlayers; i++) {
    Layer *l = net->layers[i];
    l->params = l->nparams ? params : NULL;
    l->grads = l->nparams ? grads : NULL;
    l->buffers = l->nbuffers ? buffers : NULL;
    if (l->ops->rebind) l->ops->rebind(l);
    params += l->nparams;
    grads += l->nparams;
    buffers += l->nbuffers;
  }
}

int net_to_device(Net *net, float *params, float *grads, float *buffers) {
  for (int i = 0; i < net->nlayers; i++) {
    const Layer *l = net->layers[i];
    if (!l->alias && (!l->ops->forward_cuda || !l->ops->backward_cuda))
      return mh_errorf("the %s layer has no GPU path yet; set training.device to cpu (or auto, "
                       "which falls back to the CPU for this model)",
                       l->ops->name);
  }
  /* the host activations go; the device ones are allocated by the next forward */
  for (int i = 0; i < net->nlayers; i++) {
    net_buf_free(net, net->bufs[i]);
    net->bufs[i] = NULL;
    net->outs[i] = NULL;
  }
  for (int k = 0; k < 2; k++) {
    net_buf_free(net, net->grad[k]);
    net->grad[k] = NULL;
  }
  net->batch_cap = 0;
  net->gpu = 1;
  for (int i = 0; i < net->nlayers; i++) net->layers[i]->gpu = 1;
  net_bind(net, params, grads, buffers);
  return MH_OK;
}

void net_init_params(Net *net, Rng *rng) {
  for (int i = 0; i < net->nlayers; i++)
    if (net->layers[i]->ops->init) net->layers[i]->ops->init(net->layers[i], rng);
}

void net_set_dist(Net *net, const struct Dist *d) {
  net->dist = d;
  net->sync = 0;
  for (int i = 0; i < net->nlayers; i++) {
    net->layers[i]->dist = d;
    if (net->layers[i]->ops->rebind) net->layers[i]->ops->rebind(net->layers[i]);
    if (net->layers[i]->ops->collective && d && d->size > 1) net->sync = 1;
  }
}

static int net_reserve(Net *net, int64_t n) {
  /* at least one sample: an empty batch still passes every layer real
   * (unused) buffers, and backward does not stop early on a NULL one */
  if (n < 1) n = 1;
  if (n <= net->batch_cap) return MH_OK;
  int64_t widest = dims_elems(net->in);
  for (int i = 0; i < net->nlayers; i++) {
    Layer *l = net->layers[i];
    int64_t o = dims_elems(l->out);
    if (o > widest) widest = o;
    if (l->alias) continue;
    MH_TRY(net_buf_grow(net, &net->bufs[i], n * o));
  }
  for (int k = 0; k < 2; k++) MH_TRY(net_buf_grow(net, &net->grad[k], n * widest));
  net->batch_cap = n;
  return MH_OK;
}

/* With collective layers (net->sync), a rank whose step failed locally
 * (an allocation) does not leave: it runs the remaining layers on an empty
 * batch, joining their collectives, and reports its error afterwards, so
 * that no rank waits for it inside a layer. */
int net_forward(Net *net, const float *x, int64_t n, int train, const float **out) {
  const int sync = net->sync && train;
  int rc = net_reserve(net, n);
  if (rc && !sync) return rc;
  net->last_x = rc ? NULL : x;
  const float *cur = net->last_x;
  for (int i = 0; i < net->nlayers; i++) {
    Layer *l = net->layers[i];
    if (!l->alias) {
      double t0 = net->prof ? mh_now() : 0.0;
      float *y = rc ? NULL : net->bufs[i];
      int lrc = (l->gpu ? l->ops->forward_cuda : l->ops->forward)(l, cur, y, rc ? 0 : n, train);
      if (net->prof) net->prof[2 * i] += mh_now() - t0;
      if (lrc && !sync) return lrc;
      if (lrc && !rc) rc = lrc;
      cur = y;
    }
    net->outs[i] = cur;
  }
  /* a failure on any rank is a failure on every rank: callers (the trainer)
   * may then skip backward everywhere without leaving one rank waiting */
  if (sync) MH_TRY(dist_agree(net->dist, rc));
  *out = cur;
  return MH_OK;
}

const float *net_layer_input(const Net *net, int i) { return i == 0 ? net->last_x : net->outs[i - 1]; }

int net_backward(Net *net, const float *x, const float *dout, int64_t n, float *dx) {
  int rc = MH_OK;
  if (n > net->batch_cap)
    rc = mh_errorf("net: backward on a batch of %lld, larger than the last forward's",
                   (long long)n);
  if (rc && !net->sync) return rc;
  if (rc) n = 0; /* collective layers: join them with an empty batch (see net_forward) */
  /* Input gradients are needed down to the first layer with parameters
   * (or to the input when the caller asks for dx). */
  int first = net->nlayers;
  for (int i = 0; i < net->nlayers; i++)
    if (net->layers[i]->nparams) {
      first = i;
      break;
    }
  if (dx) first = 0;
  const int64_t out_sz = dims_elems(net_out(net));
  int which = 0;
  float *g = net->grad[0];
  if (n > 0) MH_TRY(net_copy(net, g, dout, n * out_sz));
  for (int i = net->nlayers - 1; i >= first; i--) {
    Layer *l = net->layers[i];
    const float *xin = i == 0 ? x : net->outs[i - 1];
    if (l->alias) {
      if (i == 0 && dx && n > 0) MH_TRY(net_copy(net, dx, g, n * dims_elems(l->in)));
      continue;
    }
    float *dst = NULL;
    if (i > first) dst = net->grad[1 - which];
    else if (i == 0 && dx) dst = dx;
    double t0 = net->prof ? mh_now() : 0.0;
    int lrc = (l->gpu ? l->ops->backward_cuda : l->ops->backward)(l, xin, net->outs[i], g, dst, n);
    if (net->prof) net->prof[2 * i + 1] += mh_now() - t0;
    if (lrc && !net->sync) return lrc;
    if (net->grads_ready && l->nparams) net->grads_ready(net->grads_ready_ctx, l->grads);
    if (lrc && !rc) {
      rc = lrc;
      n = 0;
    }
    g = dst; /* NULL below `first`, where the loop ends */
    which = 1 - which;
  }
  return rc;
}

/* ---- the Model wrapper ---------------------------------------------------- */

typedef struct {
  Net net;
} NetModel;

static void netmodel_init(Model *m, Rng *rng) { net_init_params(&((NetModel *)m->impl)->net, rng); }

static int netmodel_forward(Model *m, const float *x, int64_t n, float *logits, int train) {
  Net *net = &((NetModel *)m->impl)->net;
  const float *y;
  MH_TRY(net_forward(net, x, n, train, &y));
  if (n > 0) MH_TRY(net_copy(net, logits, y, n * m->num_outputs));
  return MH_OK;
}

static int netmodel_to_device(Model *m) {
  return net_to_device(&((NetModel *)m->impl)->net, m->dparams, m->dgrads, m->dbuffers);
}

static int netmodel_backward(Model *m, const float *x, const float *dlogits, int64_t n) {
  Net *net = &((NetModel *)m->impl)->net;
  /* the net's region is the model's whole gradient buffer */
  net->grads_ready = net->gpu ? NULL : m->grads_ready;
  net->grads_ready_ctx = m->grads_ready_ctx;
  return net_backward(net, x, dlogits, n, NULL);
}

static int netmodel_rngs(Model *m, Rng **out, int cap) {
  Net *net = &((NetModel *)m->impl)->net;
  int n = 0;
  for (int i = 0; i < net->nlayers; i++) {
    Rng *r = layer_dropout_rng(net->layers[i]);
    if (r && n < cap) out[n] = r;
    n += r != NULL;
  }
  return n;
}

static void netmodel_set_dist(Model *m, const struct Dist *d) {
  net_set_dist(&((NetModel *)m->impl)->net, d);
}

static const float *netmodel_embedding(const Model *m) {
  const Net *net = &((const NetModel *)m->impl)->net;
  return net_layer_input(net, net->nlayers - 1);
}

static void netmodel_destroy(Model *m) {
  NetModel *nm = m->impl;
  if (nm) net_free(&nm->net);
  free(nm);
}

int net_model_create(Net *net, const ModelShape *shape, Model **out) {
  if (!net->nlayers || strcmp(net->layers[net->nlayers - 1]->ops->name, "linear")) {
    net_free(net);
    return mh_errorf("net model: the last layer must be linear");
  }
  Model *m = mh_calloc(1, sizeof *m);
  NetModel *nm = m ? mh_calloc(1, sizeof *nm) : NULL;
  if (!nm) {
    free(m);
    net_free(net);
    return MH_ERR;
  }
  nm->net = *net;
  memset(net, 0, sizeof *net);
  m->impl = nm;
  m->destroy = netmodel_destroy;
  m->shape = *shape;
  Net *nn = &nm->net;
  if (model_alloc(m, nn->nparams, nn->nbuffers)) {
    model_free(m);
    return MH_ERR;
  }
  net_bind(nn, m->params, m->grads, m->buffers);
  /* Name each layer with parameters "model.layers.<i>" (i counts the net's
   * layers) for optimizer param groups. */
  int64_t off = 0;
  for (int i = 0; i < nn->nlayers && m->nparts < MODEL_MAX_PARTS; i++) {
    if (nn->layers[i]->nparams == 0) continue;
    ModelPart *p = &m->parts[m->nparts++];
    snprintf(p->name, sizeof p->name, "model.layers.%d", i);
    p->off = off;
    p->len = nn->layers[i]->nparams;
    off += nn->layers[i]->nparams;
  }
  if (off != m->nparams) m->nparts = 0; /* more layers than parts: one part "model" */
  m->num_outputs = (int)dims_elems(net_out(nn));
  m->embed_dim = (int)dims_elems(nn->layers[nn->nlayers - 1]->in);
  m->embedding = netmodel_embedding;
  m->init = netmodel_init;
  m->forward = netmodel_forward;
  m->backward = netmodel_backward;
  m->set_dist = netmodel_set_dist;
  m->rngs = netmodel_rngs;
  m->to_device = netmodel_to_device;
  *out = m;
  return MH_OK;
}

/* residual.c - see residual.h.
 *
 * Forward runs the body and the shortcut on the same input and joins them:
 * y = relu(a + b). Backward masks dy by y > 0 (in place: dy is scratch),
 * back-propagates it through the body (input gradient straight into dx)
 * and the shortcut (into the layer's scratch), then adds the two; for an
 * identity shortcut the second term is the masked dy itself.
 *
 * The drivers below do not touch tensor memory themselves: the three
 * elementwise steps and the scratch allocation come from a kernel table
 * (ResidualKernels), and the sub-nets dispatch per layer. A CUDA twin is
 * therefore a second table (device kernels, scratch in Layer.dws via
 * gpu_grow) and two one-line wrappers set as forward_cuda/backward_cuda,
 * plus passing Layer.gpu on to the sub-nets in rebind.
 *
 * Ranks: with collective layers inside (Net.sync), a failure on one rank
 * must not leave the others waiting in a batchnorm exchange. As in net.c, a
 * rank that fails locally runs the rest of the block on an empty batch and
 * returns its error afterwards; a sub-net's own training forward already
 * agrees on failure across ranks, so every rank takes the same branch. */
#include "train/residual.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/parallel.h"
#ifdef MODYN_HAVE_CUDA
#include "train/gpu.h"
#include "train/layers_cuda.h"
#endif

typedef struct {
  Net body;
  Net shortcut;     /* empty (nlayers 0) for the identity */
  int has_shortcut;
  float *scratch;   /* the shortcut's input gradient [batch * in], grown by forward */
  int64_t scratch_cap;
  int64_t reserved;  /* floats of scratch the last training forward reserved (either device) */
} Residual;

/* The device-specific steps, on plain pointers (see the file comment). */
typedef struct {
  void (*add_relu)(const float *a, const float *b, float *y, int64_t len);
  void (*mask)(const float *y, float *dy, int64_t len); /* dy = y > 0 ? dy : 0 */
  void (*grad_add)(float *dx, const float *d, int64_t len);
  int (*reserve)(Layer *l, int64_t len); /* scratch of at least len floats */
  float *(*scratch)(Layer *l);
} ResidualKernels;

/* ---- CPU kernels ------------------------------------------------------------ */

/* y = max(a + b, 0) (forward's join of the two paths). */
static void residual_add_relu_cpu(const float *a, const float *b, float *y, int64_t len) {
#pragma omp parallel for simd schedule(static) if (len > 32768)
  for (int64_t i = 0; i < len; i++) {
    const float v = a[i] + b[i];
    y[i] = v > 0.0f ? v : 0.0f;
  }
}

/* dx += d (backward's join: the shortcut's input gradient, or dy itself
 * for an identity shortcut, added to the body's). */
static void residual_grad_add_cpu(float *dx, const float *d, int64_t len) {
#pragma omp parallel for simd schedule(static) if (len > 32768)
  for (int64_t i = 0; i < len; i++) dx[i] += d[i];
}

static int residual_reserve_cpu(Layer *l, int64_t len) {
  Residual *r = l->impl;
  if (len < 1) len = 1;
  if (len <= r->scratch_cap) return MH_OK;
  float *p = mh_realloc(r->scratch, (size_t)len * sizeof(float));
  if (!p) return MH_ERR;
  r->scratch = p;
  r->scratch_cap = len;
  return MH_OK;
}

static float *residual_scratch_cpu(Layer *l) { return ((Residual *)l->impl)->scratch; }

static const ResidualKernels residual_cpu = {residual_add_relu_cpu, relu_mask_grad,
                                             residual_grad_add_cpu, residual_reserve_cpu,
                                             residual_scratch_cpu};

/* ---- CUDA kernels (the device twin: the same drivers, these steps) ---------- */

#ifdef MODYN_HAVE_CUDA
/* Launch errors surface at the next synchronisation (the trainer's). */
static void residual_add_relu_gpu(const float *a, const float *b, float *y, int64_t len) {
  add_act_cuda(a, b, y, len, 1);
}

static void residual_mask_gpu(const float *y, float *dy, int64_t len) {
  relu_backward_cuda(y, dy, dy, len);
}

static void residual_grad_add_gpu(float *dx, const float *d, int64_t len) {
  add_act_cuda(dx, d, dx, len, 0);
}

static int residual_reserve_gpu(Layer *l, int64_t len) {
  return gpu_grow(&l->dws, &l->dws_bytes, (len < 1 ? 1 : len) * (int64_t)sizeof(float));
}

static float *residual_scratch_gpu(Layer *l) { return l->dws; }

static const ResidualKernels residual_gpu = {residual_add_relu_gpu, residual_mask_gpu,
                                             residual_grad_add_gpu, residual_reserve_gpu,
                                             residual_scratch_gpu};
#endif

/* ---- drivers ---------------------------------------------------------------- */

static int residual_sync(const Residual *r) { return r->body.sync || r->shortcut.sync; }

static int residual_forward_with(Layer *l, const float *x, float *y, int64_t n, int train,
                                 const ResidualKernels *k) {
  Residual *r = l->impl;
  const int sync = train && residual_sync(r);
  int rc = MH_OK;
  /* backward's scratch is reserved here, so that backward cannot fail on
   * one rank alone */
  if (train && r->has_shortcut) {
    rc = k->reserve(l, n * dims_elems(l->in));
    r->reserved = rc ? 0 : n * dims_elems(l->in);
  }
  if (rc && !sync) return rc;
  int64_t m = rc ? 0 : n;
  const float *a = NULL, *b = x;
  int prc = net_forward(&r->body, x, m, train, &a);
  if (prc && !sync) return prc;
  if (prc) {
    if (!rc) rc = prc;
    m = 0;
  }
  if (r->has_shortcut) {
    prc = net_forward(&r->shortcut, x, m, train, &b);
    if (prc && !sync) return prc;
    if (prc) {
      if (!rc) rc = prc;
      m = 0;
    }
  }
  if (m > 0) k->add_relu(a, b, y, m * dims_elems(l->out));
  return rc;
}

static int residual_backward_with(Layer *l, const float *x, const float *y, float *dy, float *dx,
                                  int64_t n, const ResidualKernels *k) {
  Residual *r = l->impl;
  const int sync = residual_sync(r);
  const int64_t in_len = n * dims_elems(l->in);
  int rc = MH_OK;
  if (r->has_shortcut && dx && in_len > r->reserved)
    rc = mh_errorf("residual block: backward on a batch of %lld, larger than the last "
                   "training forward's", (long long)n);
  if (rc && !sync) return rc;
  int64_t m = rc ? 0 : n;
  if (m > 0) k->mask(y, dy, m * dims_elems(l->out));
  /* the body's input gradient goes straight to dx; net_backward copies dy,
   * so the shortcut below still sees it */
  int prc = net_backward(&r->body, x, dy, m, dx);
  if (prc && !sync) return prc;
  if (prc) {
    if (!rc) rc = prc;
    m = 0;
  }
  if (r->has_shortcut) {
    float *dsc = dx && m ? k->scratch(l) : NULL;
    prc = net_backward(&r->shortcut, x, dy, m, dsc);
    if (prc && !sync) return prc;
    if (prc) {
      if (!rc) rc = prc;
      m = 0;
    }
    if (dsc && m > 0) k->grad_add(dx, dsc, in_len);
  } else if (dx && m > 0) {
    k->grad_add(dx, dy, in_len); /* identity: in and out have the same shape */
  }
  return rc;
}

/* ---- LayerOps ------------------------------------------------------------------ */

static int residual_forward(Layer *l, const float *x, float *y, int64_t n, int train) {
  return residual_forward_with(l, x, y, n, train, &residual_cpu);
}

static int residual_backward(Layer *l, const float *x, const float *y, float *dy, float *dx,
                             int64_t n) {
  return residual_backward_with(l, x, y, dy, dx, n, &residual_cpu);
}

#ifdef MODYN_HAVE_CUDA
static int residual_forward_gpu(Layer *l, const float *x, float *y, int64_t n, int train) {
  return residual_forward_with(l, x, y, n, train, &residual_gpu);
}

static int residual_backward_gpu(Layer *l, const float *x, const float *y, float *dy, float *dx,
                                 int64_t n) {
  return residual_backward_with(l, x, y, dy, dx, n, &residual_gpu);
}
#endif

static void residual_init(Layer *l, Rng *rng) {
  Residual *r = l->impl;
  net_init_params(&r->body, rng);
  net_init_params(&r->shortcut, rng);
}

/* Pass the owner's views and rank context on: body first, then shortcut. */
static void residual_rebind(Layer *l) {
  Residual *r = l->impl;
  float *p = l->params, *g = l->grads, *b = l->buffers;
  float *sp = p ? p + r->body.nparams : NULL, *sg = g ? g + r->body.nparams : NULL,
        *sb = b ? b + r->body.nbuffers : NULL;
  if (l->gpu && !r->body.gpu) { /* the owner moved to the GPU: the parts follow */
    net_to_device(&r->body, p, g, b);
    if (r->has_shortcut) net_to_device(&r->shortcut, sp, sg, sb);
  } else {
    net_bind(&r->body, p, g, b);
    if (r->has_shortcut) net_bind(&r->shortcut, sp, sg, sb);
  }
  net_set_dist(&r->body, l->dist);
  net_set_dist(&r->shortcut, l->dist);
}

static void residual_destroy(Layer *l) {
  Residual *r = l->impl;
  if (!r) return;
  net_free(&r->body);
  net_free(&r->shortcut);
  free(r->scratch);
  free(r);
}

static const LayerOps residual_ops = {
    .name = "residual",
    .init = residual_init,
    .forward = residual_forward,
    .backward = residual_backward,
    .destroy = residual_destroy,
    .fuse_relu = 0,  /* the block ends in its own ReLU */
    .collective = 1, /* batchnorm inside */
#ifdef MODYN_HAVE_CUDA
    .forward_cuda = residual_forward_gpu,
    .backward_cuda = residual_backward_gpu,
#endif
    .rebind = residual_rebind,
};

static int dims_eq(Dims a, Dims b) { return a.c == b.c && a.h == b.h && a.w == b.w; }

Layer *layer_residual(Net *body, Net *shortcut) {
  Net b = *body, s;
  memset(body, 0, sizeof *body);
  if (shortcut) {
    s = *shortcut;
    memset(shortcut, 0, sizeof *shortcut);
  } else {
    net_init(&s, b.in);
  }
  const Dims out = net_out(&b), sout = net_out(&s);
  const int has_sc = s.nlayers > 0;
  int rc = MH_OK;
  if (!b.nlayers)
    rc = mh_errorf("residual block: the body has no layers");
  else if (has_sc && (!dims_eq(s.in, b.in) || !dims_eq(sout, out)))
    rc = mh_errorf("residual block: the shortcut maps %dx%dx%d to %dx%dx%d, but the body maps "
                   "%dx%dx%d to %dx%dx%d", s.in.c, s.in.h, s.in.w, sout.c, sout.h, sout.w,
                   b.in.c, b.in.h, b.in.w, out.c, out.h, out.w);
  else if (!has_sc && !dims_eq(b.in, out))
    rc = mh_errorf("residual block: an identity shortcut needs the body to keep the shape, but "
                   "it maps %dx%dx%d to %dx%dx%d (give a projection shortcut)", b.in.c, b.in.h,
                   b.in.w, out.c, out.h, out.w);
  Layer *l = rc ? NULL : mh_calloc(1, sizeof *l);
  Residual *r = l ? mh_calloc(1, sizeof *r) : NULL;
  if (!r) {
    free(l);
    net_free(&b);
    net_free(&s);
    return NULL;
  }
  par_init(0);
  r->body = b;
  r->shortcut = s;
  r->has_shortcut = has_sc;
  l->ops = &residual_ops;
  l->impl = r;
  l->in = b.in;
  l->out = out;
  l->nparams = b.nparams + s.nparams;
  l->nbuffers = b.nbuffers + s.nbuffers;
  return l;
}

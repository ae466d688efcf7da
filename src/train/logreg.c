/* logreg.c - LogisticRegression: a linear softmax classifier,
 * logits = x W^T + b with W [K x D], b [K] (PyTorch nn.Linear layout).
 * Initialisation follows nn.Linear: W, b ~ U(-1/sqrt(D), 1/sqrt(D)).
 * model.config: num_classes (must match the store), input_dim (optional;
 * must match the store's flattened feature size). */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "train/model.h"
#include "train/model_config.h"
#include "train/parallel.h"
#ifdef MODYN_HAVE_CUDA
#include "train/layers_cuda.h"
#endif

static void logreg_init(Model *m, Rng *rng) {
  double bound = 1.0 / sqrt((double)m->shape.in_elems);
  for (int64_t i = 0; i < m->nparams; i++)
    m->params[i] = (float)((2.0 * rng_uniform(rng) - 1.0) * bound);
}

/* The "penultimate layer" of a linear model is its input: keep a pointer to
 * the last forward's x (valid while the caller keeps x alive). */
typedef struct {
  const float *last_x;
} LogReg;

static const float *logreg_embedding(const Model *m) { return ((const LogReg *)m->impl)->last_x; }

static void logreg_destroy(Model *m) { free(m->impl); }

static int logreg_forward(Model *m, const float *x, int64_t n, float *logits, int train) {
  ((LogReg *)m->impl)->last_x = x;
  const int K = m->num_outputs;
  const int64_t D = m->shape.in_elems;
#ifdef MODYN_HAVE_CUDA
  if (m->gpu) /* one linear layer's CUDA twin */
    return linear_forward_cuda(x, m->dparams, m->dparams + (int64_t)K * D, n, (int)D, K, 0, logits);
#endif
  const float *W = m->params, *b = m->params + (int64_t)K * D;
  for (int64_t i = 0; i < n; i++)
    for (int k = 0; k < K; k++) logits[i * K + k] = b[k];
  if (n > 0)
    par_sgemm(0, 1, (int)n, K, (int)D, 1.0f, x, (int)D, W, (int)D, 1.0f, logits, K);
  return MH_OK;
}

static int logreg_backward(Model *m, const float *x, const float *dlogits, int64_t n) {
  const int K = m->num_outputs;
  const int64_t D = m->shape.in_elems;
  float *dW = m->grads, *db = m->grads + (int64_t)K * D;
  if (n == 0) return MH_OK;
#ifdef MODYN_HAVE_CUDA
  if (m->gpu) /* without a fused ReLU, dlogits is only read */
    return linear_backward_cuda(x, m->dparams, NULL, (float *)dlogits, m->dgrads,
                                m->dgrads + (int64_t)K * D, NULL, n, (int)D, K, 0);
#endif
  /* dW += dlogits^T x ; db += column sums of dlogits */
  par_sgemm(1, 0, K, (int)D, (int)n, 1.0f, dlogits, K, x, (int)D, 1.0f, dW, (int)D);
  for (int64_t i = 0; i < n; i++)
    for (int k = 0; k < K; k++) db[k] += dlogits[i * K + k];
  return MH_OK;
}

/* The device copies are all the GPU path needs (forward/backward look at m->gpu). */
static int logreg_to_device(Model *m) { return MH_OK; }

static int logreg_create(const CfgRef *config, const ModelShape *shape, Model **out) {
  static const char *const keys[] = {"num_classes", "input_dim", NULL};
  MH_TRY(cfg_check_keys(config, keys));
  int64_t k = 0, d = 0;
  MH_TRY(mcfg_num_classes(config, shape, &k));
  MH_TRY(mcfg_input_dim(config, shape, &d));
  Model *m = mh_calloc(1, sizeof *m);
  if (!m) return MH_ERR;
  m->num_outputs = (int)k;
  m->shape = *shape;
  if (model_alloc(m, k * d + k, 0)) {
    model_free(m);
    return MH_ERR;
  }
  m->impl = mh_calloc(1, sizeof(LogReg));
  if (!m->impl) {
    model_free(m);
    return MH_ERR;
  }
  m->embed_dim = (int)d;
  m->embedding = logreg_embedding;
  m->destroy = logreg_destroy;
  m->init = logreg_init;
  m->forward = logreg_forward;
  m->backward = logreg_backward;
  m->to_device = logreg_to_device;
  *out = m;
  return MH_OK;
}

const ModelType model_logistic_regression = {"LogisticRegression", logreg_create};

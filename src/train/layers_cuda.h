/* layers_cuda.h - the CUDA kernels behind the layers' GPU twins, with plain
 * arguments (device pointers, sizes), one .cu file per layer kind beside
 * its CPU file: linear_cuda.cu, conv2d_cuda.cu, batchnorm_cuda.cu,
 * pool_cuda.cu, elementwise_cuda.cu, loss_cuda.cu, optim_cuda.cu. The
 * layers' forward_cuda/backward_cuda (in the CPU files, LAYER_CUDA) keep
 * the bookkeeping in C and call these. Every function queues work on the
 * process's stream (gpu.h) and returns MH_OK or MH_ERR with a message.
 * Reductions run in a fixed order (no atomics): the same bits every run.
 * Only built with MODYN_HAVE_CUDA. */
#ifndef MH_LAYERS_CUDA_H
#define MH_LAYERS_CUDA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- elementwise_cuda.cu ---- */
/* y = max(x, 0) */
int relu_forward_cuda(const float *x, float *y, int64_t len);
/* dx = y > 0 ? dy : 0 (dx may be dy) */
int relu_backward_cuda(const float *y, const float *dy, float *dx, int64_t len);
/* y[(i, c, p)] = act(y + b[c]) over rows x C channels x P positions */
int bias_act_cuda(float *y, const float *b, int64_t rows, int C, int64_t P, int relu);
/* y = relu(a + b) (relu = 1) or a + b */
int add_act_cuda(const float *a, const float *b, float *y, int64_t len, int relu);
/* y = x * m */
int mul_cuda(const float *x, const float *m, float *y, int64_t len);
/* out[c] (+)= sum over rows and P of x[(i, c, p)] (a bias gradient) */
int channel_sums_cuda(const float *x, int64_t rows, int C, int64_t P, float *out, int accumulate);

/* ---- linear_cuda.cu: y = x W^T + b, W [out, in] ---- */
int linear_forward_cuda(const float *x, const float *W, const float *b, int64_t n, int in,
                        int out, int relu, float *y);
/* dW += dy^T x, db += sums of dy, dx = dy W (dx may be NULL); dy is masked
 * by the fused ReLU in place first. */
int linear_backward_cuda(const float *x, const float *W, const float *y, float *dy, float *dW,
                         float *db, float *dx, int64_t n, int in, int out, int relu);

/* ---- conv2d_cuda.cu (cuDNN) ---- */
typedef struct {
  int cin, h, w, cout, k, stride, pad, ho, wo;
} ConvShape;
/* *plan caches the descriptors and algorithms for one batch size. */
int conv2d_forward_cuda(void **plan, const ConvShape *s, const float *x, const float *W,
                        const float *b, int64_t n, int relu, float *y);
int conv2d_backward_cuda(void **plan, const ConvShape *s, const float *x, const float *W,
                         const float *y, float *dy, float *dW, float *db, float *dx, int64_t n,
                         int relu);
void conv2d_plan_free_cuda(void *plan);

/* ---- batchnorm_cuda.cu ---- */
/* rec [1 + 2C] doubles: count, mean[C], M2[C] (sum of squared deviations)
 * of this process's batch x [n, C, P]. */
int bn_stats_cuda(const float *x, int64_t n, int C, int64_t P, double *rec);
/* From a record (count, mean, M2) of the batch the layer normalises with:
 * mean, invstd, scale, shift [C] and, when update, the running statistics
 * (momentum, unbiased variance). */
int bn_finalize_cuda(const double *rec, const float *gamma, const float *beta, float *rmean,
                     float *rvar, float *mean, float *invstd, float *scale, float *shift, int C,
                     double momentum, double eps, int update);
/* Eval: scale, shift from the running statistics. */
int bn_eval_coef_cuda(const float *gamma, const float *beta, const float *rmean,
                      const float *rvar, float *scale, float *shift, int C, double eps);
/* y = act(x * scale[c] + shift[c]) */
int bn_apply_cuda(const float *x, float *y, int64_t n, int C, int64_t P, const float *scale,
                  const float *shift, int relu);
/* sums [2C] doubles: sum dy, sum dy * (x - mean), per channel (dy masked by
 * the fused ReLU in place first, when relu). */
int bn_backward_sums_cuda(const float *x, const float *y, float *dy, const float *mean, int64_t n,
                          int C, int64_t P, int relu, double *sums);
/* dgamma += sums_dyx * invstd, dbeta += sums_dy (this process's sums). */
int bn_param_grads_cuda(const double *sums, const float *invstd, float *dgamma, float *dbeta,
                        int C);
/* dx = k1 dy + k2 (x - mean) + k3, the k's from the (global) sums over count values. */
int bn_dx_cuda(const float *x, const float *dy, const float *mean, const float *invstd,
               const float *gamma, const double *sums, double count, int64_t n, int C, int64_t P,
               float *dx);

/* ---- pool_cuda.cu ---- */
/* Max pooling without padding; argmax [n * C * Ho * Wo] (the window offset
 * kh * k + kw of the first maximum, pool.c's layout) is written when not
 * NULL. */
int maxpool_forward_cuda(const float *x, float *y, int32_t *argmax, int64_t n, int C,
                         int H, int W, int Ho, int Wo, int k, int stride);
int maxpool_backward_cuda(const float *dy, const int32_t *argmax, float *dx, int64_t n,
                          int C, int H, int W, int Ho, int Wo, int k, int stride);
int gap_forward_cuda(const float *x, float *y, int64_t planes, int64_t P);
int gap_backward_cuda(const float *dy, float *dx, int64_t planes, int64_t P);

/* ---- loss_cuda.cu ---- */
/* Softmax cross-entropy / BCE-with-logits as loss.h, on the device: dlogits,
 * per-sample losses (unweighted) into per_sample [n], and the weighted sum
 * into *sum (one float, on the device). Labels are checked by the caller. */
int loss_softmax_ce_cuda(const float *logits, const int32_t *labels, const float *weights,
                         int64_t n, int K, float *dlogits, float *per_sample, float *sum);
int loss_bce_logits_cuda(const float *logits, const int32_t *labels, const float *weights,
                         int64_t n, float *dlogits, float *per_sample, float *sum);
/* *out = sum of squares of x [n], as a double on the device (clip_grad_norm). */
int sum_squares_cuda(const float *x, int64_t n, double *out);

/* ---- optim_cuda.cu: torch.optim's rules on [lo, hi), gradients times scale ---- */
int sgd_update_cuda(float *p, const float *g, float *m, int64_t lo, int64_t hi, float scale,
                    float lr, float momentum, float wd, int nesterov, int first);
int adam_update_cuda(float *p, const float *g, float *m, float *v, int64_t lo, int64_t hi,
                     float scale, float lr, double b1, double b2, float eps, float wd,
                     int decoupled, double bc1, double bc2);

#ifdef __cplusplus
}
#endif

#endif

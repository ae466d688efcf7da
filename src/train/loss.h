/* loss.h - losses over a batch, each returning the summed loss and
 * d(sum of weighted losses)/d(logits). Sums, not means: data-parallel
 * training adds the per-rank sums and divides once by the global batch size,
 * so the result does not depend on how the batch is split. */
#ifndef MH_LOSS_H
#define MH_LOSS_H

#include <stdint.h>

/* Softmax cross-entropy. weights may be NULL (all 1); per_sample may be NULL.
 * dlogits[i, k] = w_i * (softmax_ik - [k == y_i]). Returns sum_i w_i * loss_i
 * in *loss_sum (double). A label outside [0, K) is an error. */
int loss_softmax_ce(const float *logits, const int32_t *labels, const float *weights, int64_t n,
                    int K, float *dlogits, double *loss_sum, float *per_sample);

/* Binary cross-entropy on one logit per sample (PyTorch's BCEWithLogitsLoss
 * with reduction='sum'): loss_i = log(1 + e^z) - y_i z, computed stably.
 * weights and per_sample may be NULL; per_sample holds the unweighted
 * loss_i. dlogits[i] = w_i * (sigmoid(z_i) - y_i). A label other than 0 or
 * 1 is an error. */
int loss_bce_logits(const float *logits, const int32_t *labels, const float *weights, int64_t n,
                    float *dlogits, double *loss_sum, float *per_sample);

#endif

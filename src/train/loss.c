/* loss.c - see loss.h. */
#include "train/loss.h"

#include <math.h>

#include "core/error.h"

int loss_softmax_ce(const float *logits, const int32_t *labels, const float *weights, int64_t n,
                    int K, float *dlogits, double *loss_sum, float *per_sample) {
  double total = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const float *z = logits + i * K;
    int32_t y = labels[i];
    if (y < 0 || y >= K) return mh_errorf("label %d is outside [0, %d)", y, K);
    float zmax = z[0];
    for (int k = 1; k < K; k++) zmax = z[k] > zmax ? z[k] : zmax;
    double se = 0.0;
    for (int k = 0; k < K; k++) se += exp((double)(z[k] - zmax));
    double lse = (double)zmax + log(se);
    double li = lse - (double)z[y];
    double w = weights ? (double)weights[i] : 1.0;
    total += w * li;
    if (per_sample) per_sample[i] = (float)li;
    if (dlogits) {
      for (int k = 0; k < K; k++) {
        double p = exp((double)z[k] - lse);
        dlogits[i * K + k] = (float)(w * (p - (k == y ? 1.0 : 0.0)));
      }
    }
  }
  *loss_sum = total;
  return MH_OK;
}

int loss_bce_logits(const float *logits, const int32_t *labels, const float *weights, int64_t n,
                    float *dlogits, double *loss_sum, float *per_sample) {
  double total = 0.0;
  for (int64_t i = 0; i < n; i++) {
    int32_t y = labels[i];
    if (y != 0 && y != 1)
      return mh_errorf("label %d is not 0 or 1 (BCEWithLogitsLoss needs binary labels)", y);
    const double z = logits[i];
    /* log(1 + e^z) - y z = max(z, 0) - y z + log(1 + e^-|z|) */
    double li = (z > 0 ? z : 0.0) - (double)y * z + log1p(exp(-fabs(z)));
    double w = weights ? (double)weights[i] : 1.0;
    total += w * li;
    if (per_sample) per_sample[i] = (float)li;
    if (dlogits) {
      double s = z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
      dlogits[i] = (float)(w * (s - (double)y));
    }
  }
  *loss_sum = total;
  return MH_OK;
}

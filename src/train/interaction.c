/* interaction.c - DLRM's dot interaction (see layers.h): the bottom MLP's
 * output and the F embeddings are (F+1) vectors of size D per sample; the
 * output is the bottom output followed by the dot products of every pair
 * i < j in row-major (torch.triu_indices(F+1, F+1, 1)) order. */
#include <string.h>

#include "train/layers.h"

int64_t interaction_out_dim(int F, int D) { return (int64_t)D + (int64_t)F * (F + 1) / 2; }

/* Row r of sample i's stacked matrix T: the dense vector, then the embeddings. */
static inline const float *inter_row(const float *dense, const float *emb, int64_t i, int F,
                                     int D, int r) {
  return r == 0 ? dense + i * D : emb + (i * F + (r - 1)) * (int64_t)D;
}

void interaction_forward(const float *dense, const float *emb, int64_t n, int F, int D,
                         float *out) {
  const int64_t od = interaction_out_dim(F, D);
#pragma omp parallel for schedule(static) if (n * F * F * D > 65536)
  for (int64_t i = 0; i < n; i++) {
    float *o = out + i * od;
    memcpy(o, dense + i * D, (size_t)D * sizeof(float));
    int64_t q = D;
    for (int a = 0; a <= F; a++) {
      const float *ta = inter_row(dense, emb, i, F, D, a);
      for (int b = a + 1; b <= F; b++) {
        const float *tb = inter_row(dense, emb, i, F, D, b);
        float s = 0.0f;
        for (int e = 0; e < D; e++) s += ta[e] * tb[e];
        o[q++] = s;
      }
    }
  }
}

void interaction_backward(const float *dense, const float *emb, const float *dout, int64_t n,
                          int F, int D, float *ddense, float *demb) {
  const int64_t od = interaction_out_dim(F, D);
#pragma omp parallel for schedule(static) if (n * F * F * D > 65536)
  for (int64_t i = 0; i < n; i++) {
    const float *g = dout + i * od;
    float *dd = ddense + i * D;
    memcpy(dd, g, (size_t)D * sizeof(float));
    memset(demb + i * F * (int64_t)D, 0, (size_t)F * D * sizeof(float));
    int64_t q = D;
    for (int a = 0; a <= F; a++) {
      const float *ta = inter_row(dense, emb, i, F, D, a);
      float *da = a == 0 ? dd : demb + (i * F + (a - 1)) * (int64_t)D;
      for (int b = a + 1; b <= F; b++) {
        const float *tb = inter_row(dense, emb, i, F, D, b);
        float *db = demb + (i * F + (b - 1)) * (int64_t)D;
        const float gq = g[q++];
        for (int e = 0; e < D; e++) {
          da[e] += gq * tb[e];
          db[e] += gq * ta[e];
        }
      }
    }
  }
}

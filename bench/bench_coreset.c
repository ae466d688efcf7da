/* bench_coreset.c - time of the coreset downsamplers' choice (KcenterGreedy,
 * Craig, GradMatch, Submodular) over a sample-then-batch-sized set: the
 * O(n^2) part of those strategies, which runs on rank 0 (StB) or on every
 * rank per batch (BtS). No peer: the original computes the same on one GPU
 * with NumPy/PyTorch.
 *
 *   bench_coreset [--samples N]     (default 3000)
 *
 * Synthetic scores: K = 10 classes with uniform labels, logits N(0, 1) plus
 * 1 on the label, embeddings N(0, 1) of width D = 32, last-layer gradients
 * N(0, 0.01) of width K (D + 1) = 330; ratio 50, training batch size 64.
 * One line per configuration: kept samples, sum of weights, seconds. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/cfgtree.h"
#include "core/error.h"
#include "core/rng.h"
#include "select/downsampler.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char *const configs[] = {
    "{strategy: KcenterGreedy}",
    "{strategy: Craig}",
    "{strategy: Craig, full_grad_approximation: LastLayerWithEmbedding}",
    "{strategy: GradMatch}",
    "{strategy: GradMatch, full_grad_approximation: LastLayerWithEmbedding}",
    "{strategy: Submodular, submodular_function: FacilityLocation}",
    "{strategy: Submodular, submodular_function: FacilityLocation, "
    "submodular_optimizer: StochasticGreedy}",
    "{strategy: Submodular, submodular_function: FacilityLocation, "
    "submodular_optimizer: ApproximateLazyGreedy}",
    "{strategy: Submodular, submodular_function: GraphCut}",
    "{strategy: Submodular, submodular_function: LogDeterminant}",
    "{strategy: Submodular, submodular_function: LogDeterminant, "
    "full_grad_approximation: LastLayerWithEmbedding}",
};

int main(int argc, char **argv) {
  static const struct option opts[] = {{"samples", required_argument, NULL, 'n'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int64_t n = 3000;
  for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    if (c == 'n')
      n = atoll(optarg);
    else {
      fprintf(c == 'h' ? stdout : stderr, "usage: bench_coreset [--samples N]\n");
      return c == 'h' ? 0 : 2;
    }
  }
  if (n < 1) {
    fprintf(stderr, "bench_coreset: --samples must be >= 1\n");
    return 2;
  }
  enum { K = 10, D = 32 };
  float *logits = malloc((size_t)n * K * sizeof(float));
  float *emb = malloc((size_t)n * D * sizeof(float));
  float *grad = malloc((size_t)n * K * (D + 1) * sizeof(float));
  int32_t *labels = malloc((size_t)n * sizeof(int32_t));
  int64_t *keep = malloc((size_t)n * sizeof(int64_t));
  float *w = malloc((size_t)n * sizeof(float));
  if (!logits || !emb || !grad || !labels || !keep || !w) {
    fprintf(stderr, "bench_coreset: out of memory\n");
    return 1;
  }
  Rng rng;
  rng_seed(&rng, 1);
  for (int64_t i = 0; i < n; i++) {
    labels[i] = (int32_t)rng_below(&rng, K);
    for (int k = 0; k < K; k++)
      logits[i * K + k] = (float)rng_normal(&rng) + (k == labels[i] ? 1.0f : 0.0f);
    for (int e = 0; e < D; e++) emb[i * D + e] = (float)rng_normal(&rng);
    for (int k = 0; k < K * (D + 1); k++)
      grad[i * K * (D + 1) + k] = 0.1f * (float)rng_normal(&rng);
  }
  PassBatch g = {n, K, D, labels, logits, NULL, NULL, emb, grad, NULL, NULL};
  printf("# n = %lld, K = %d, D = %d, ratio 50, sample_then_batch, batch_size 64\n", (long long)n,
         K, D);
  printf("# %8s %10s %9s  %s\n", "kept", "sum_w", "seconds", "downsampling_config");
  for (size_t c = 0; c < sizeof configs / sizeof *configs; c++) {
    char yaml[512];
    snprintf(yaml, sizeof yaml, "%.*s, ratio: 50, sample_then_batch: true}",
             (int)strlen(configs[c]) - 1, configs[c]);
    CfgDoc doc;
    Downsampler *d = NULL;
    if (cfg_load_string("bench.yaml", yaml, &doc)) return 1;
    CfgRef root = cfg_root(&doc);
    if (downsampler_create(&root, &d)) {
      fprintf(stderr, "bench_coreset: %s\n", mh_error());
      return 1;
    }
    d->batch_size = 64;
    int64_t k = 0;
    const double t0 = now();
    if (downsampler_run(d, &g, &rng, keep, w, &k)) {
      fprintf(stderr, "bench_coreset: %s\n", mh_error());
      return 1;
    }
    const double t1 = now();
    double sum = 0.0;
    for (int64_t i = 0; i < k; i++) sum += w[i];
    printf("  %8lld %10.4g %9.3f  %s\n", (long long)k, sum, t1 - t0, configs[c]);
    downsampler_free(d);
    cfg_doc_free(&doc);
  }
  free(logits);
  free(emb);
  free(grad);
  free(labels);
  free(keep);
  free(w);
  return 0;
}

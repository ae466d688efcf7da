/* test_resnet_ranks.c - ResNet18 (residual blocks holding batchnorm)
 * trained across MPI ranks, run on 3: groups of 1, 2 and 3 ranks split a
 * global batch into slices (7 samples: 7, (3, 4), (2, 2, 3); 2 samples on
 * 3 ranks leave one empty) and are checked against one process on the
 * whole batch:
 *  - the logits of each rank's slice, the gradients summed over the group
 *    and the running statistics within 1e-5 abs + 1e-4 rel (the block
 *    passes the Dist on to the batchnorm layers inside it, so statistics
 *    are the global batch's); running statistics bit-identical on every
 *    rank of a group. The images are 16x16 so that the last stage's
 *    batchnorm still sees 2x2 values per sample: at 8x8 (1x1 there, 7 or 2
 *    values per channel) the float32 rounding of the differently ordered
 *    sums is amplified to ~3e-4 relative in the gradients;
 *  - a forward that fails on one rank only (an allocation) fails on every
 *    rank, a backward that fails on one rank fails there alone, nobody
 *    waits inside a block, and the next step works everywhere.
 * The worst differences are printed. */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"
#include "core/dist.h"
#include "core/error.h"
#include "core/rng.h"
#include "testutil.h"
#include "train/loss.h"
#include "train/model.h"

enum { D = 2 * 16 * 16, K = 3 }; /* 2x16x16 images, 3 classes */

static Model *resnet(void) {
  ModelShape shape = {3, {2, 16, 16, 0}, D, K, 0};
  return model_from_yaml("ResNet18", "{width: 2}", &shape, 3);
}

static void fill(float *v, int64_t n, uint64_t seed) {
  Rng rng;
  rng_seed(&rng, seed);
  for (int64_t i = 0; i < n; i++) v[i] = (float)(0.5 + rng_normal(&rng));
}

/* One step on N samples; grads summed over the group; logits of this
 * rank's slice at their global place. */
static int step(const Dist *d, int64_t N, Model **out, float *logits) {
  Model *m = resnet();
  *out = m;
  if (!m) return MH_ERR;
  model_set_dist(m, d);
  const int size = d ? d->size : 1, r = d ? d->rank : 0;
  const int64_t lo = N * r / size, hi = N * (r + 1) / size;
  float *x = malloc((size_t)(N * D) * sizeof(float)), dl[8 * K];
  int32_t y[8];
  fill(x, N * D, 21);
  for (int64_t i = 0; i < N; i++) y[i] = (int32_t)(i % K);
  double ls = 0.0;
  model_zero_grad(m);
  int rc = m->forward(m, x + lo * D, hi - lo, logits + lo * K, 1);
  if (!rc) rc = loss_softmax_ce(logits + lo * K, y + lo, NULL, hi - lo, K, dl, &ls, NULL);
  if (!rc) rc = m->backward(m, x + lo * D, dl, hi - lo);
  if (!rc && d) rc = dist_allreduce_sum_f32(d, m->grads, m->nparams);
  free(x);
  return rc;
}

/* max over i of |a - b| / (1e-5 + 1e-4 |b|) */
static double worst(const float *a, const float *b, int64_t n, double *maxdiff) {
  double w = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const double d = fabs((double)a[i] - (double)b[i]);
    w = fmax(w, d / (1e-5 + 1e-4 * fabs((double)b[i])));
    *maxdiff = fmax(*maxdiff, d);
  }
  return w;
}

static int same_on_all(const Dist *d, const float *v, int n) {
  float *root = malloc((size_t)n * sizeof(float));
  memcpy(root, v, (size_t)n * sizeof(float));
  MPI_Bcast(root, n, MPI_FLOAT, 0, d->comm);
  int same = !memcmp(root, v, (size_t)n * sizeof(float)), all = 0;
  MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, d->comm);
  free(root);
  return all;
}

static void test_step(const Dist *d, int64_t N) {
  float lref[8 * K] = {0}, lgot[8 * K] = {0};
  Model *ref = NULL, *got = NULL;
  CHECK_OK(step(NULL, N, &ref, lref));
  CHECK_OK(step(d, N, &got, lgot));
  if (ref && got) {
    const int64_t lo = N * d->rank / d->size, hi = N * (d->rank + 1) / d->size;
    double md = 0.0, w = worst(lgot + lo * K, lref + lo * K, (hi - lo) * K, &md);
    w = fmax(w, worst(got->grads, ref->grads, ref->nparams, &md));
    w = fmax(w, worst(got->buffers, ref->buffers, ref->nbuffers, &md));
    if (d->rank == 0)
      printf("ResNet18 width 2 step, %lld samples on %d rank(s): max |diff| %.3g, worst scaled "
             "%.3g (must be <= 1)\n", (long long)N, d->size, md, w);
    CHECK(w <= 1.0);
    CHECK(same_on_all(d, got->buffers, (int)got->nbuffers));
  }
  model_free(ref);
  model_free(got);
}

/* Local failures inside the blocks' collectives: nobody hangs. */
static void test_rank_failures(const Dist *d) {
  if (d->size < 2) return;
  Model *m = resnet();
  CHECK(m != NULL);
  if (!m) return;
  model_set_dist(m, d);
  enum { N = 4 };
  float x[N * D], logits[N * K], dl[N * K];
  fill(x, N * D, 4);
  for (int i = 0; i < N * K; i++) dl[i] = i % 2 ? 0.25f : -0.25f;
  const int last = d->rank == d->size - 1;
  const int64_t huge = (int64_t)1 << 40; /* never read: the allocation fails first */
  CHECK(m->forward(m, x, last ? huge : N, logits, 1) == MH_ERR);
  CHECK_OK(m->forward(m, x, N, logits, 1));
  CHECK_EQ_INT(m->backward(m, x, dl, last ? N + 1 : N), last ? MH_ERR : MH_OK);
  model_zero_grad(m);
  CHECK_OK(m->forward(m, x, N, logits, 1));
  CHECK_OK(m->backward(m, x, dl, N));
  CHECK(same_on_all(d, m->buffers, (int)m->nbuffers));
  if (d->rank == 0) printf("ResNet18 on %d ranks: one rank's failures fail cleanly\n", d->size);
  model_free(m);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  for (int g = 1; g <= size && g <= 3; g++) {
    MPI_Comm comm;
    MPI_Comm_split(MPI_COMM_WORLD, rank < g ? 0 : MPI_UNDEFINED, rank, &comm);
    if (comm == MPI_COMM_NULL) continue;
    Dist d;
    CHECK_OK(dist_init(&d, comm));
    test_step(&d, 7);
    test_step(&d, 2); /* 3 ranks: an empty slice */
    test_rank_failures(&d);
    MPI_Comm_free(&comm);
  }
  int fails = test_failures, all = 0;
  MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  int rc = 0;
  if (rank == 0) {
    test_failures = all;
    rc = test_finish("test_resnet_ranks");
  }
  MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Finalize();
  return rc;
}

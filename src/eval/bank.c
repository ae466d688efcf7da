/* bank.c - see bank.h. */
#include "eval/bank.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Rank 0: number of checkpoints trigger_0000.h5 .. trigger_{n-1}.h5. */
static int count_checkpoints(const char *run_dir, int *n) {
  char dir[1100];
  snprintf(dir, sizeof dir, "%s/models", run_dir);
  DIR *d = opendir(dir);
  if (!d) return mh_errorf("cannot open %s: no models of a run there (is %s a run directory?)", dir, run_dir);
  int maxi = -1, count = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    int i;
    char tail[8];
    if (sscanf(e->d_name, "trigger_%d.h%7s", &i, tail) == 2 && !strcmp(tail, "5") && i >= 0) {
      count++;
      if (i > maxi) maxi = i;
    }
  }
  closedir(d);
  if (count == 0)
    return mh_errorf("%s holds no checkpoints (trigger_NNNN.h5): the run has no trigger to "
                     "evaluate", dir);
  if (count != maxi + 1)
    return mh_errorf("%s holds %d checkpoints but numbers up to trigger_%04d.h5; a checkpoint is "
                     "missing", dir, count, maxi);
  *n = count;
  return MH_OK;
}

static int load_rank0(EvalBank *b, Model *m, const char *run_dir) {
  MH_TRY(count_checkpoints(run_dir, &b->n));
  b->meta = mh_calloc((size_t)b->n + 1, sizeof *b->meta);
  b->params = mh_malloc(((size_t)b->n * (size_t)b->nparams + 1) * sizeof(float));
  b->buffers = mh_malloc(((size_t)b->n * (size_t)b->nbuffers + 1) * sizeof(float));
  if (!b->meta || !b->params || !b->buffers) return MH_ERR;
  for (int i = 0; i < b->n; i++) {
    char path[1200];
    snprintf(path, sizeof path, "%s/models/trigger_%04d.h5", run_dir, i);
    MH_TRY(checkpoint_read(path, m, NULL, &b->meta[i],
                           i > 0 ? b->params + (int64_t)(i - 1) * b->nparams : NULL));
    memcpy(b->params + (int64_t)i * b->nparams, m->params, (size_t)b->nparams * sizeof(float));
    if (b->nbuffers)
      memcpy(b->buffers + (int64_t)i * b->nbuffers, m->buffers, (size_t)b->nbuffers * sizeof(float));
  }
  return MH_OK;
}

int eval_bank_load(EvalBank *b, const Dist *d, Model *m, const char *run_dir) {
  memset(b, 0, sizeof *b);
  b->nparams = m->nparams;
  b->nbuffers = m->nbuffers;
  MH_TRY(dist_agree(d, d->rank == 0 ? load_rank0(b, m, run_dir) : MH_OK));
  MH_TRY(dist_bcast(d, &b->n, 1, MPI_INT));
  int rc = MH_OK;
  if (d->rank != 0) {
    b->meta = mh_calloc((size_t)b->n + 1, sizeof *b->meta);
    b->params = mh_malloc(((size_t)b->n * (size_t)b->nparams + 1) * sizeof(float));
    b->buffers = mh_malloc(((size_t)b->n * (size_t)b->nbuffers + 1) * sizeof(float));
    if (!b->meta || !b->params || !b->buffers) rc = MH_ERR;
  }
  MH_TRY(dist_agree(d, rc));
  MH_TRY(dist_bcast_i64(d, (int64_t *)b->meta, (int64_t)b->n * (int64_t)(sizeof *b->meta / sizeof(int64_t))));
  MH_TRY(dist_bcast_f32(d, b->params, (int64_t)b->n * b->nparams));
  MH_TRY(dist_bcast_f32(d, b->buffers, (int64_t)b->n * b->nbuffers));
  return MH_OK;
}

int eval_bank_use(const EvalBank *b, int i, Model *m) {
  memcpy(m->params, b->params + (int64_t)i * b->nparams, (size_t)b->nparams * sizeof(float));
  if (b->nbuffers)
    memcpy(m->buffers, b->buffers + (int64_t)i * b->nbuffers, (size_t)b->nbuffers * sizeof(float));
  return model_push(m);
}

void eval_bank_free(EvalBank *b) {
  free(b->meta);
  free(b->params);
  free(b->buffers);
  memset(b, 0, sizeof *b);
}

/* bank.h - the weights of every model of a run, held in memory for
 * evaluating many models over the same data (after_pipeline handlers,
 * `modyn eval`). Rank 0 reads models/trigger_NNNN.h5 of a run directory
 * (train/checkpoint.h) and every rank gets a copy, so any rank can evaluate
 * any model. Memory: models x (parameters + buffers) floats per rank.
 * It does not evaluate (evaluation.h). */
#ifndef MH_EVAL_BANK_H
#define MH_EVAL_BANK_H

#include <stdint.h>

#include "core/dist.h"
#include "train/checkpoint.h"
#include "train/model.h"

typedef struct {
  int n;                  /* models, in trigger order */
  CheckpointMeta *meta;   /* [n] */
  int64_t nparams;        /* per model */
  int64_t nbuffers;       /* per model */
  float *params;          /* [n * nparams] */
  float *buffers;         /* [n * nbuffers] */
} EvalBank;

/* Collective. Read every RUN_DIR/models/trigger_NNNN.h5 (numbers 0..n-1,
 * no gaps) into the bank; m is a model of the run's type and size (its
 * weights are overwritten). A missing or foreign checkpoint is an error on
 * every rank (rank 0's message; the others say rank 0 failed). */
int eval_bank_load(EvalBank *b, const Dist *d, Model *m, const char *run_dir);
/* Copy model i's weights into m (and to its device copy, on a GPU). */
int eval_bank_use(const EvalBank *b, int i, Model *m);
void eval_bank_free(EvalBank *b);

#endif

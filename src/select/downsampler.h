/* downsampler.h - CoresetStrategy's downsampling (`downsampling_config`):
 * which of a set of scored samples to train on, and with what weights.
 *
 * A downsampler looks at the model's outputs on candidate samples (PASS_*
 * of model_pass.h: per-sample loss, logits, ...) and keeps `target` of
 * them, where, as in the original,
 *     target = max(int(n * ratio / ratio_max), 1)   (n > 0)
 * n being the samples it sees at once. It runs in one of two modes:
 *   batch-then-sample (BtS, default): inside training, on every global
 *     batch, through a BatchFilter (trainer.h) that every rank runs on the
 *     same scores (downsampler_batch_filter);
 *   sample-then-batch (StB, `sample_then_batch: true`): inside training,
 *     at the start of every `period`-th epoch (period 0: the first only),
 *     through an EpochHook (trainer.h; downsampler_epoch_hook): the
 *     trigger's whole presampled set is scored by one model pass of the
 *     model being trained (model_pass_run, all ranks), rank 0 chooses, and
 *     every rank trains the epochs until the next selection on the chosen
 *     keys with their weights. As in the original, where the trainer
 *     re-runs the selection every `period` epochs.
 * A downsampling_list with downsampling_thresholds switches downsamplers
 * at given triggers (DownsampleSchedule).
 *
 * Each downsampler is one file plus one line in downsampler_registry.c.
 * This module does not train: scores come from the trainer's per-batch
 * hook (BtS) or, in the epoch hook (StB), from one model pass over the
 * trigger's set (model_pass_run) with the model being trained. */
#ifndef MH_DOWNSAMPLER_H
#define MH_DOWNSAMPLER_H

#include <stdint.h>

#include "config/cfgtree.h"
#include "core/rng.h"
#include "orch/plugin_env.h"
#include "select/selector.h"
#include "train/model_pass.h"
#include "train/trainer.h"

typedef struct {
  char strategy[32];     /* downsampling_config.strategy */
  int sample_then_batch; /* StB (1) or BtS (0) */
  int64_t ratio;         /* kept per ratio_max scored */
  int64_t ratio_max;     /* 100: percent; 1000: per mille */
  int64_t period;        /* StB: select every `period` epochs (0: once per trigger) */
} DownsampleCommon;

typedef struct Downsampler Downsampler;

typedef struct {
  const char *name; /* downsampling_config.strategy */
  /* cfg: the downsampler's map; c: the shared fields, already parsed. The
   * type checks its own keys (downsampler_common_keys plus its own). */
  int (*create)(const CfgRef *cfg, const DownsampleCommon *c, Downsampler **out);
} DownsamplerType;

struct Downsampler {
  const DownsamplerType *type;
  DownsampleCommon common;
  unsigned outputs; /* PASS_* it scores with; 0: none (random downsamplers) */
  int balance;      /* choose within each label separately (StB only) */
  int64_t batch_size; /* StB: the training batch size (the original's loader batches, which
                         GradMatch's gradient scale follows); 0 (BtS): one batch of all */
  void *impl;       /* freed by downsampler_free */
  /* Keep `target` (1 <= target <= g->n) of the g->n scored samples: kept
   * positions, increasing, and their loss weights; *nkeep their number. */
  int (*choose)(Downsampler *d, const PassBatch *g, int64_t target, Rng *rng, int64_t *keep,
                float *weights, int64_t *nkeep);
  void (*destroy)(Downsampler *d); /* may be NULL */
  /* Optional (NULL: choose() anew at each selection). StB: the selection
   * of epoch `epoch`, for downsamplers whose choice depends on the epochs
   * before (RS2): *state is NULL at a trigger's first selection and is
   * kept until its last, then freed with state_free. */
  int (*choose_epoch)(Downsampler *d, const PassBatch *g, int64_t target, int64_t epoch,
                      void **state, Rng *rng, int64_t *keep, float *weights, int64_t *nkeep);
  void (*state_free)(void *state);
  /* Optional (NULL: none). Rank 0, when trigger `trigger`'s set is chosen
   * (the strategy's select()): new_keys[n_new] are the keys that arrived
   * since the previous trigger, set the training set just made; seed is
   * the trigger's own. Keeps what the trigger's training will need
   * (RHOLoss: the holdout and the set's keys). */
  int (*prepare)(Downsampler *d, PluginEnv *env, int64_t trigger, uint64_t seed,
                 const int64_t *new_keys, int64_t n_new, const TrainingSet *set);
  /* Optional. Collective: every rank, before trigger `trigger` trains (when
   * its batch filter or epoch hook is made), with the same arguments. May
   * broadcast what rank 0's prepare kept, train a model of its own
   * (trainer_run) and run passes (model_pass_run): RHOLoss trains its
   * irreducible-loss model here and scores the set with it. */
  int (*before_training)(Downsampler *d, PluginEnv *env, int64_t trigger);
};

/* Keys every downsampler accepts. */
extern const char *const downsampler_common_keys[];
/* cfg_check_keys with the common keys plus own (NULL-terminated). */
int downsampler_check_keys(const CfgRef *cfg, const char *const *own);
/* One downsampler from its map (errors name file:line). */
int downsampler_create(const CfgRef *cfg, Downsampler **out);
void downsampler_free(Downsampler *d);
Downsampler *downsampler_alloc(const DownsampleCommon *c, unsigned outputs,
                               int (*choose)(Downsampler *, const PassBatch *, int64_t, Rng *,
                                             int64_t *, float *, int64_t *));

/* The original's target: max(int(n * ratio / ratio_max), 1); 0 for n = 0. */
int64_t downsample_target(const DownsampleCommon *c, int64_t n);
/* Choose from g (balance: per label, each label's own target), positions
 * increasing. keep and weights have room for g->n. */
int downsampler_run(Downsampler *d, const PassBatch *g, Rng *rng, int64_t *keep, float *weights,
                    int64_t *nkeep);
/* BtS: a filter for training trigger `trigger` (every rank). Its draws are
 * seeded by seed, the trigger and the step, nothing else. */
int downsampler_batch_filter(Downsampler *d, uint64_t seed, int64_t trigger, BatchFilter **out);
/* StB: the epoch hook for training trigger `trigger` (every rank). Its
 * draws are seeded by seed and the epoch; env (may be NULL) gets one
 * `epoch_selection` event per selection on rank 0. */
int downsampler_epoch_hook(Downsampler *d, PluginEnv *env, uint64_t seed, int64_t trigger,
                           EpochHook **out);
/* Whether StB selects at the start of epoch e (period 0: e == 0 only). */
int downsampler_selects_at(const Downsampler *d, int64_t epoch);

/* ---- shared by the plug-ins ---------------------------------------------- */

/* Importance sampling without replacement (Loss, GradNorm): `target`
 * draws, each with probability proportional to score among those not yet
 * drawn (torch.multinomial(replacement=False)); weight 1 / (n * p_i) with
 * p_i = score_i / sum. A sum of (about) zero draws uniformly, weights 1. */
int downsample_importance(const float *score, int64_t n, int64_t target, Rng *rng, int64_t *keep,
                          float *weights, int64_t *nkeep);
/* The `target` smallest scores (ties: lower position first), weights 1. */
int downsample_smallest(const float *score, int64_t n, int64_t target, int64_t *keep,
                        float *weights, int64_t *nkeep);

/* RHOLoss's choice: the `target` largest loss[i] - il[i] (the reducible
 * holdout loss; ties: lower position first), weights 1. */
int downsample_rho_select(const float *loss, const float *il, int64_t n, int64_t target,
                          int64_t *keep, float *weights, int64_t *nkeep);
/* A RHOLoss downsampler's irreducible losses of trigger `trigger` (what its
 * before_training computes), set directly: for tests and embedding
 * programs. */
int downsample_rho_set_losses(Downsampler *d, int64_t trigger, const int64_t *keys,
                              const float *il, int64_t n);

/* RS2's subsets, epoch after epoch, over n samples (n >= 1): with
 * replacement a fresh uniform subset of `target` each epoch; without, a
 * shuffled pass cut into floor(n / target) subsets used in turn, reshuffled
 * when they run out, so no sample repeats before the pass is done. */
typedef struct {
  int64_t n, target;
  int with_replacement;
  int64_t *perm;    /* [n] the current shuffled pass */
  int64_t current;  /* subset of the pass in use; -1 before the first epoch */
  int64_t nsubsets; /* floor(n / target) */
} Rs2Epochs;

int rs2_epochs_init(Rs2Epochs *r, int64_t n, int64_t target, int with_replacement);
/* The next epoch's subset: positions, increasing, into out[target]. */
int rs2_epochs_next(Rs2Epochs *r, Rng *rng, int64_t *out, int64_t *nout);
void rs2_epochs_free(Rs2Epochs *r);

/* ---- the schedule ---------------------------------------------------------- */

typedef struct {
  Downsampler **list;  /* [n] */
  int64_t *thresholds; /* [n - 1] increasing: list[i + 1] from trigger thresholds[i] */
  int n;               /* 0: no downsampling */
} DownsampleSchedule;

/* From downsampling_config (absent: no downsampling): one downsampler's
 * map, or {downsampling_list, downsampling_thresholds}. */
int downsample_schedule_parse(const CfgRef *cfg, DownsampleSchedule *s);
void downsample_schedule_free(DownsampleSchedule *s);
/* The downsampler of trigger t (NULL: none, or `No`). */
Downsampler *downsample_schedule_at(const DownsampleSchedule *s, int64_t trigger);

#endif

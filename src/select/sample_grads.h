/* sample_grads.h - per-sample gradient vectors for the gradient-based
 * coreset downsamplers (Craig, GradMatch, Submodular), built from a
 * PassBatch as the original's `full_grad_approximation` says:
 *   LastLayer               the loss gradient w.r.t. the logits, closed
 *                           form: softmax(z) - onehot(y) (K values;
 *                           one-output BCE models: sigmoid(z) - y);
 *   LastLayerWithEmbedding  the last linear layer's weight and bias
 *                           gradients, d (x) [e, 1] (PASS_GRAD's
 *                           K * (D + 1) values; the original orders them
 *                           [d, d (x) e], a permutation that changes no
 *                           distance or inner product).
 * Also what the coreset plug-ins (KcenterGreedy, Craig, GradMatch,
 * Submodular) share: `balance` / `full_grad_approximation` parsing and
 * handing chosen positions back in increasing order. This module does not
 * select anything. */
#ifndef MH_SAMPLE_GRADS_H
#define MH_SAMPLE_GRADS_H

#include <stdint.h>

#include "config/cfgtree.h"
#include "select/downsampler.h"
#include "train/model_pass.h"

enum { GRAD_LAST_LAYER, GRAD_LAST_LAYER_WITH_EMBEDDING };

/* NULL-terminated, in enum order: the YAML values. */
extern const char *const grad_approx_names[];

/* The PASS_* outputs sample_grads needs for an approximation. */
unsigned grad_approx_outputs(int approx);

/* One row of *dim doubles per sample of g into *out (mh_malloc'd, n rows;
 * the caller frees it). Errors when g lacks the outputs. */
int sample_grads(const PassBatch *g, int approx, double **out, int64_t *dim);

/* `full_grad_approximation` (LastLayer by default) into *approx. */
int sample_grads_parse(const CfgRef *cfg, int *approx);

/* `balance` (false) into d->balance; refused with batch-then-sample unless
 * bts_ok (the original's matrix downsamplers select label by label only
 * in sample-then-batch). */
int coreset_parse_balance(const CfgRef *cfg, Downsampler *d, int bts_ok);

/* Positions sel[k] (any order) with weights w[k] (NULL: all 1) into keep
 * (increasing) and weights, as Downsampler.choose returns them; entries
 * whose weight is not > 0 are left out when drop_zero (GradMatch keeps
 * only the non-zero weights of its fit, as the original). */
int coreset_emit(const int64_t *sel, const double *w, int64_t k, int drop_zero, int64_t *keep,
                 float *weights, int64_t *nkeep);

#endif

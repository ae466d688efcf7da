/* model_storage.h - how checkpoints store weights, under the original's
 * `model_storage` names.
 *
 * model_storage:
 *   full_model_strategy:
 *     name: PyTorchFullModel | BinaryFullModel   (same file layout here)
 *     zip: false                 (true: HDF5 deflate on the weights)
 *     zip_algorithm: ZIP_DEFLATED
 *   incremental_model_strategy:  (optional)
 *     name: WeightsDifference
 *     config: {operator: sub | xor}
 *     full_model_interval: 10    (every Nth trigger stores a full model)
 *
 * WeightsDifference stores each model as the difference to the previous
 * trigger's stored model, computed on the float32 bit patterns: `xor` of
 * the two 32-bit words, or `sub` = their difference modulo 2^32. Both are
 * exact, so a model loads back bit-identically, and deflate compresses the
 * differences well (neighbouring models share signs and exponents). */
#ifndef MH_MODEL_STORAGE_H
#define MH_MODEL_STORAGE_H

#include <stdint.h>

#include "config/cfgtree.h"

typedef enum { DELTA_SUB = 0, DELTA_XOR = 1 } DeltaOp;

typedef struct {
  int zip;                     /* deflate full models */
  int incremental;             /* WeightsDifference configured */
  DeltaOp op;                  /* sub | xor */
  int64_t full_model_interval; /* trigger % interval == 0 stores a full model */
} ModelStorage;

int model_storage_parse(const CfgRef *cfg, ModelStorage *ms);
/* Whether trigger t is stored as a difference (needs a previous model). */
int model_storage_is_delta(const ModelStorage *ms, int64_t trigger);
/* delta[i] = op(bits(params[i]), bits(base[i])); apply inverts it in place. */
void model_storage_delta(DeltaOp op, const float *params, const float *base, int64_t n,
                         uint32_t *delta);
void model_storage_apply(DeltaOp op, const uint32_t *delta, float *params_inout, int64_t n);

#endif

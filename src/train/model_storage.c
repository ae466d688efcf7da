/* model_storage.c - see model_storage.h. */
#include "train/model_storage.h"

#include <string.h>

#include "core/error.h"

int model_storage_parse(const CfgRef *cfg, ModelStorage *ms) {
  static const char *const keys[] = {"full_model_strategy", "incremental_model_strategy", NULL};
  static const char *const full_keys[] = {"name", "zip", "zip_algorithm", "config", NULL};
  static const char *const full_names[] = {"PyTorchFullModel", "BinaryFullModel", NULL};
  static const char *const zips[] = {"ZIP_DEFLATED", NULL};
  static const char *const inc_keys[] = {"name", "config", "full_model_interval", NULL};
  static const char *const inc_names[] = {"WeightsDifference", NULL};
  static const char *const op_keys[] = {"operator", "split_exponent", "rle", NULL};
  static const char *const ops[] = {"sub", "xor", NULL};
  memset(ms, 0, sizeof *ms);
  ms->full_model_interval = 1;
  if (!cfg_present(cfg) || cfg_is_null(cfg)) return MH_OK;
  MH_TRY(cfg_check_keys(cfg, keys));
  CfgRef full, inc;
  if (cfg_child(cfg, "full_model_strategy", &full) && !cfg_is_null(&full)) {
    int name = 0, zip = 0;
    MH_TRY(cfg_check_keys(&full, full_keys));
    MH_TRY(cfg_get_enum(&full, "name", full_names, 0, &name));
    MH_TRY(cfg_get_bool(&full, "zip", 0, &ms->zip));
    MH_TRY(cfg_get_enum(&full, "zip_algorithm", zips, 0, &zip));
  }
  if (cfg_child(cfg, "incremental_model_strategy", &inc) && !cfg_is_null(&inc)) {
    int name = 0, op = 0, flag = 0;
    MH_TRY(cfg_check_keys(&inc, inc_keys));
    MH_TRY(cfg_req_enum(&inc, "name", inc_names, &name));
    CfgRef c;
    cfg_child(&inc, "config", &c);
    MH_TRY(cfg_check_keys(&c, op_keys));
    MH_TRY(cfg_get_enum(&c, "operator", ops, 0, &op));
    /* The original's bit-splitting and run-length options: deflate already
     * removes what they would; accepted and ignored. */
    MH_TRY(cfg_get_bool(&c, "split_exponent", 0, &flag));
    MH_TRY(cfg_get_bool(&c, "rle", 0, &flag));
    MH_TRY(cfg_get_int(&inc, "full_model_interval", 10, 1, INT32_MAX, &ms->full_model_interval));
    ms->incremental = 1;
    ms->op = (DeltaOp)op;
  }
  return MH_OK;
}

int model_storage_is_delta(const ModelStorage *ms, int64_t trigger) {
  return ms->incremental && trigger % ms->full_model_interval != 0;
}

void model_storage_delta(DeltaOp op, const float *params, const float *base, int64_t n,
                         uint32_t *delta) {
  for (int64_t i = 0; i < n; i++) {
    uint32_t a, b;
    memcpy(&a, &params[i], 4);
    memcpy(&b, &base[i], 4);
    delta[i] = op == DELTA_XOR ? a ^ b : a - b;
  }
}

void model_storage_apply(DeltaOp op, const uint32_t *delta, float *params, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    uint32_t b;
    memcpy(&b, &params[i], 4);
    uint32_t a = op == DELTA_XOR ? delta[i] ^ b : delta[i] + b;
    memcpy(&params[i], &a, 4);
  }
}

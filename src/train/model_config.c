/* model_config.c - see model_config.h. */
#include "train/model_config.h"

#include <stdio.h>

#include "core/error.h"

int mcfg_num_classes(const CfgRef *config, const ModelShape *shape, int64_t *k) {
  MH_TRY(cfg_get_int(config, "num_classes", shape->num_classes, 2, 1 << 20, k));
  if (*k != shape->num_classes) {
    CfgRef at;
    cfg_child(config, "num_classes", &at);
    return cfg_errorf(&at, "is %lld but the training store has %d classes", (long long)*k,
                      shape->num_classes);
  }
  return MH_OK;
}

int mcfg_input_dim(const CfgRef *config, const ModelShape *shape, int64_t *d) {
  MH_TRY(cfg_get_int(config, "input_dim", shape->in_elems, 1, INT32_MAX, d));
  if (*d != shape->in_elems) {
    CfgRef at;
    cfg_child(config, "input_dim", &at);
    return cfg_errorf(&at, "is %lld but the training store has %lld features per sample",
                      (long long)*d, (long long)shape->in_elems);
  }
  return MH_OK;
}

static void shape_text(const ModelShape *s, char *buf, size_t cap) {
  int off = snprintf(buf, cap, "[");
  for (int i = 0; i < s->ndims && off < (int)cap; i++)
    off += snprintf(buf + off, cap - (size_t)off, "%s%lld", i ? ", " : "", (long long)s->dims[i]);
  if (off < (int)cap) snprintf(buf + off, cap - (size_t)off, "]");
}

int mcfg_image(const CfgRef *config, const char *key, int64_t def, const ModelShape *shape,
               int min_hw, Dims *out) {
  int64_t c = 0;
  MH_TRY(cfg_get_int(config, key, def, 1, 1 << 16, &c));
  char sh[96];
  shape_text(shape, sh, sizeof sh);
  Dims d = {0, 0, 0};
  if (shape->ndims == 3) d = (Dims){(int)shape->dims[0], (int)shape->dims[1], (int)shape->dims[2]};
  else if (shape->ndims == 2) d = (Dims){1, (int)shape->dims[0], (int)shape->dims[1]};
  CfgRef at;
  cfg_child(config, key, &at);
  if (d.c == 0)
    return cfg_errorf(&at, "the model needs images [channels, height, width], but the training "
                      "store's samples have shape %s", sh);
  if (d.c != c)
    return cfg_errorf(&at, "is %lld but the training store's samples have shape %s (%d "
                      "channels)", (long long)c, sh, d.c);
  if (d.h < min_hw || d.w < min_hw)
    return cfg_errorf(&at, "the model needs images of at least %dx%d, but the training store's "
                      "samples have shape %s", min_hw, min_hw, sh);
  *out = d;
  return MH_OK;
}

int mcfg_int_list(const CfgRef *config, const char *key, const int64_t *def, int ndef,
                  int64_t min, int64_t max, int allow_scalar, int allow_empty, int64_t *out,
                  int *count) {
  CfgRef r;
  if (!cfg_child(config, key, &r) || cfg_is_null(&r)) {
    for (int i = 0; i < ndef; i++) out[i] = def[i];
    *count = ndef;
    return MH_OK;
  }
  if (allow_scalar && r.node->kind == CFG_SCALAR) {
    MH_TRY(cfg_as_int(&r, min, max, out));
    *count = 1;
    return MH_OK;
  }
  if (r.node->kind != CFG_SEQ)
    return cfg_errorf(&r, "expected %s", allow_scalar ? "an integer or a list of integers"
                                                      : "a list of integers");
  int n = cfg_len(&r);
  if (n > MCFG_MAX_LIST || (n == 0 && !allow_empty))
    return cfg_errorf(&r, "expected %d to %d integers, got %d", allow_empty ? 0 : 1, MCFG_MAX_LIST,
                      n);
  for (int i = 0; i < n; i++) {
    CfgRef it = cfg_item(&r, i);
    MH_TRY(cfg_as_int(&it, min, max, &out[i]));
  }
  *count = n;
  return MH_OK;
}

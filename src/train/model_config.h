/* model_config.h - model.config checks shared by the model plug-ins: the
 * class count and image shape against the training store, and integer
 * lists (hidden sizes, table sizes). Errors name the field
 * (FILE:LINE: model.config.KEY: ...). It does not build models. */
#ifndef MH_MODEL_CONFIG_H
#define MH_MODEL_CONFIG_H

#include <stdint.h>

#include "config/cfgtree.h"
#include "train/layers.h"
#include "train/model.h"

#define MCFG_MAX_LIST 64 /* longest list a model config may give */

/* num_classes (default: the store's) must agree with the store. */
int mcfg_num_classes(const CfgRef *config, const ModelShape *shape, int64_t *k);
/* input_dim (default: the store's features per sample); any other value
 * is an error at its line. */
int mcfg_input_dim(const CfgRef *config, const ModelShape *shape, int64_t *d);
/* Images: the store's per-sample shape must be [c, h, w] (or [h, w] with
 * one channel) with c equal to config[key] (default def), and at least
 * min_hw x min_hw. */
int mcfg_image(const CfgRef *config, const char *key, int64_t def, const ModelShape *shape,
               int min_hw, Dims *out);
/* config[key] as a list of 1..MCFG_MAX_LIST integers in [min, max]; absent
 * gives def[0..ndef). allow_scalar accepts a single integer as a list of
 * one. allow_empty accepts []. *count is the length. */
int mcfg_int_list(const CfgRef *config, const char *key, const int64_t *def, int ndef,
                  int64_t min, int64_t max, int allow_scalar, int allow_empty, int64_t *out,
                  int *count);

#endif

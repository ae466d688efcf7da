/* mlp.c - MLP: a multi-layer perceptron on the flattened features,
 * Linear(D, h1) ReLU [Dropout] ... Linear(hk, K) - the nn.Sequential of the
 * same layers has the same parameter order. model.config: hidden_sizes
 * (list, default [256]; [] is logistic regression), dropout (0, in [0, 1)),
 * num_classes (default and must-match: the store's), input_dim (optional;
 * must match the store's features per sample). */
#include "core/error.h"
#include "train/model_config.h"
#include "train/net.h"

static int mlp_create(const CfgRef *config, const ModelShape *shape, Model **out) {
  static const char *const keys[] = {"hidden_sizes", "dropout", "num_classes", "input_dim", NULL};
  MH_TRY(cfg_check_keys(config, keys));
  int64_t k = 0, d = 0, hidden[MCFG_MAX_LIST];
  int nh = 0;
  double p = 0.0;
  static const int64_t def_hidden[] = {256};
  MH_TRY(mcfg_int_list(config, "hidden_sizes", def_hidden, 1, 1, 1 << 20, 0, 1, hidden, &nh));
  MH_TRY(cfg_get_double(config, "dropout", 0.0, 0.0, 0.999999, &p));
  MH_TRY(mcfg_num_classes(config, shape, &k));
  MH_TRY(mcfg_input_dim(config, shape, &d));
  Net net;
  net_init(&net, (Dims){(int)d, 1, 1});
  int rc = MH_OK;
  for (int i = 0; i < nh && !rc; i++) {
    rc = net_add(&net, layer_linear(net_out(&net), (int)hidden[i]));
    if (!rc) rc = net_add(&net, layer_relu(net_out(&net)));
    if (!rc && p > 0.0) rc = net_add(&net, layer_dropout(net_out(&net), p));
  }
  if (!rc) rc = net_add(&net, layer_linear(net_out(&net), (int)k));
  if (rc) {
    net_free(&net);
    return MH_ERR;
  }
  return net_model_create(&net, shape, out);
}

const ModelType model_mlp = {"MLP", mlp_create};

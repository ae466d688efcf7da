/* yearbooknet.c - YearbookNet (Modyn's model for the Yearbook dataset):
 * 4 x [Conv2d(3x3, 32 channels, padding 1), BatchNorm2d, ReLU, MaxPool2d(2)],
 * the mean over height and width, Linear(32, num_classes). model.config:
 * num_input_channels (default and must-match: the store's image channels),
 * num_classes (default and must-match: the store's). Images must be at
 * least 16x16. */
#include "core/error.h"
#include "train/model_config.h"
#include "train/net.h"

#define YEARBOOK_HIDDEN 32

static int yearbook_create(const CfgRef *config, const ModelShape *shape, Model **out) {
  static const char *const keys[] = {"num_input_channels", "num_classes", NULL};
  MH_TRY(cfg_check_keys(config, keys));
  int64_t k = 0;
  Dims in;
  int64_t def_c = shape->ndims == 3 ? shape->dims[0] : 1;
  MH_TRY(mcfg_image(config, "num_input_channels", def_c, shape, 16, &in));
  MH_TRY(mcfg_num_classes(config, shape, &k));
  Net net;
  net_init(&net, in);
  int rc = MH_OK;
  for (int b = 0; b < 4 && !rc; b++) {
    rc = net_add(&net, layer_conv2d(net_out(&net), YEARBOOK_HIDDEN, 3, 1, 1));
    if (!rc) rc = net_add(&net, layer_batchnorm(net_out(&net)));
    if (!rc) rc = net_add(&net, layer_relu(net_out(&net)));
    if (!rc) rc = net_add(&net, layer_maxpool2d(net_out(&net), 2, 2));
  }
  if (!rc) rc = net_add(&net, layer_global_avgpool(net_out(&net)));
  if (!rc) rc = net_add(&net, layer_linear(net_out(&net), (int)k));
  if (rc) {
    net_free(&net);
    return MH_ERR;
  }
  return net_model_create(&net, shape, out);
}

const ModelType model_yearbooknet = {"YearbookNet", yearbook_create};

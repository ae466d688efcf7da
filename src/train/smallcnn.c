/* smallcnn.c - SmallCNN, the classic small CNN for 28x28 images (the
 * PyTorch MNIST example without dropout): Conv2d(c, 32, 3) ReLU,
 * Conv2d(32, 64, 3) ReLU, MaxPool2d(2), Flatten, Linear(9216, 128) ReLU,
 * Linear(128, num_classes). model.config: num_input_channels (default and
 * must-match: the store's), num_classes (same), channels ([32, 64]),
 * hidden (128). Other image sizes work too (at least 6x6); the flattened
 * size follows from them. */
#include "core/error.h"
#include "train/model_config.h"
#include "train/net.h"

static int smallcnn_create(const CfgRef *config, const ModelShape *shape, Model **out) {
  static const char *const keys[] = {"num_input_channels", "num_classes", "channels", "hidden",
                                     NULL};
  MH_TRY(cfg_check_keys(config, keys));
  int64_t k = 0, hidden = 0, ch[MCFG_MAX_LIST];
  int nch = 0;
  Dims in;
  int64_t def_c = shape->ndims == 3 ? shape->dims[0] : 1;
  MH_TRY(mcfg_image(config, "num_input_channels", def_c, shape, 6, &in));
  MH_TRY(mcfg_num_classes(config, shape, &k));
  static const int64_t def_ch[] = {32, 64};
  MH_TRY(mcfg_int_list(config, "channels", def_ch, 2, 1, 1 << 16, 0, 0, ch, &nch));
  if (nch != 2) {
    CfgRef at;
    cfg_child(config, "channels", &at);
    return cfg_errorf(&at, "expected 2 channel counts (first and second convolution), got %d",
                      nch);
  }
  MH_TRY(cfg_get_int(config, "hidden", 128, 1, 1 << 20, &hidden));
  Net net;
  net_init(&net, in);
  int rc = net_add(&net, layer_conv2d(in, (int)ch[0], 3, 1, 0));
  if (!rc) rc = net_add(&net, layer_relu(net_out(&net)));
  if (!rc) rc = net_add(&net, layer_conv2d(net_out(&net), (int)ch[1], 3, 1, 0));
  if (!rc) rc = net_add(&net, layer_relu(net_out(&net)));
  if (!rc) rc = net_add(&net, layer_maxpool2d(net_out(&net), 2, 2));
  if (!rc) rc = net_add(&net, layer_flatten(net_out(&net)));
  if (!rc) rc = net_add(&net, layer_linear(net_out(&net), (int)hidden));
  if (!rc) rc = net_add(&net, layer_relu(net_out(&net)));
  if (!rc) rc = net_add(&net, layer_linear(net_out(&net), (int)k));
  if (rc) {
    net_free(&net);
    return MH_ERR;
  }
  return net_model_create(&net, shape, out);
}

const ModelType model_smallcnn = {"SmallCNN", smallcnn_create};

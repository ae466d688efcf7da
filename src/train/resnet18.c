/* resnet18.c - ResNet-18 in its CIFAR form (He et al. 2016; the common
 * CIFAR-10 variant of torchvision's resnet18): a 3x3 stem convolution
 * (stride 1, padding 1) + BatchNorm2d + ReLU and no max-pool, then 4 stages
 * of 2 BasicBlocks with w, 2w, 4w, 8w channels, the mean over height and
 * width, Linear(8w, num_classes). A BasicBlock (residual.h) is
 * relu(body(x) + shortcut(x)) with body = conv3x3(stride s) BN ReLU
 * conv3x3 BN; the first block of stages 2-4 has s = 2 and a projection
 * shortcut conv1x1(stride 2) + BN, the others the identity.
 *
 * Differences from torchvision: the convolutions keep a bias (our conv2d
 * has one; before a batchnorm it changes nothing but the parameter count),
 * so width 64 on 3x32x32 with 10 classes has 11,178,762 parameters instead
 * of 11,173,962 (4,800 biases more), and they are initialised with
 * nn.Conv2d's default, not torchvision's kaiming_normal_(fan_out).
 *
 * model.config: num_input_channels (default and must-match: the store's
 * image channels), num_classes (default and must-match: the store's), width
 * (64: the first stage's channels). Images must be at least 8x8 (32x32 is
 * the intended size; the spatial size halves three times). Parts for
 * optimizer param groups: model.layers.<i> per layer, each block one. */
#include "core/error.h"
#include "train/model_config.h"
#include "train/net.h"
#include "train/residual.h"

/* conv kxk (stride, padding) then batchnorm, optionally ReLU, onto net */
static int conv_bn(Net *net, int cout, int k, int stride, int pad, int relu) {
  int rc = net_add(net, layer_conv2d(net_out(net), cout, k, stride, pad));
  if (!rc) rc = net_add(net, layer_batchnorm(net_out(net)));
  if (!rc && relu) rc = net_add(net, layer_relu(net_out(net)));
  return rc;
}

/* One BasicBlock from the net's current output to cout channels. */
static int basic_block(Net *net, int cout, int stride) {
  const Dims in = net_out(net);
  Net body, sc;
  net_init(&body, in);
  net_init(&sc, in);
  int rc = conv_bn(&body, cout, 3, stride, 1, 1);
  if (!rc) rc = conv_bn(&body, cout, 3, 1, 1, 0);
  if (!rc && (stride != 1 || in.c != cout)) rc = conv_bn(&sc, cout, 1, stride, 0, 0);
  if (rc) {
    net_free(&body);
    net_free(&sc);
    return MH_ERR;
  }
  return net_add(net, layer_residual(&body, &sc)); /* moves both, also on failure */
}

static int resnet18_create(const CfgRef *config, const ModelShape *shape, Model **out) {
  static const char *const keys[] = {"num_input_channels", "num_classes", "width", NULL};
  MH_TRY(cfg_check_keys(config, keys));
  int64_t k = 0, w = 0;
  Dims in;
  int64_t def_c = shape->ndims == 3 ? shape->dims[0] : 1;
  MH_TRY(mcfg_image(config, "num_input_channels", def_c, shape, 8, &in));
  MH_TRY(mcfg_num_classes(config, shape, &k));
  MH_TRY(cfg_get_int(config, "width", 64, 1, 1 << 12, &w));
  Net net;
  net_init(&net, in);
  int rc = conv_bn(&net, (int)w, 3, 1, 1, 1);
  for (int s = 0; s < 4 && !rc; s++)
    for (int b = 0; b < 2 && !rc; b++)
      rc = basic_block(&net, (int)(w << s), s > 0 && b == 0 ? 2 : 1);
  if (!rc) rc = net_add(&net, layer_global_avgpool(net_out(&net)));
  if (!rc) rc = net_add(&net, layer_linear(net_out(&net), (int)k));
  if (rc) {
    net_free(&net);
    return MH_ERR;
  }
  return net_model_create(&net, shape, out);
}

const ModelType model_resnet18 = {"ResNet18", resnet18_create};

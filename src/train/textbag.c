/* textbag.c - TextBag: a bag-of-tokens text classifier, EmbeddingBag(mean
 * or sum) over each sample's token ids, then Linear(embedding_dim,
 * num_classes). The store's int32 token features arrive as floats (cast
 * back); id < 0 is padding; ids are taken modulo num_embeddings.
 * model.config: num_embeddings (vocabulary / hash size, default 10000),
 * embedding_dim (64), num_classes (default and must-match: the store's),
 * mode (mean | sum, default mean). */
#include "core/error.h"
#include "train/model_config.h"
#include "train/net.h"

static int textbag_create(const CfgRef *config, const ModelShape *shape, Model **out) {
  static const char *const keys[] = {"num_embeddings", "embedding_dim", "num_classes", "mode",
                                     NULL};
  static const char *const modes[] = {"sum", "mean", NULL}; /* indexes match EmbBagMode */
  MH_TRY(cfg_check_keys(config, keys));
  if (!shape->token_ids)
    return mh_errorf("TextBag reads token ids, but the store's features are numbers (float32 or "
                     "uint8); store the text as int32 token ids (modyn ingest, a store with "
                     "feature type int32), or choose a model for numeric features");
  int64_t V = 0, D = 0, k = 0;
  int mode = EMBBAG_MEAN;
  MH_TRY(cfg_get_int(config, "num_embeddings", 10000, 1, (int64_t)1 << 31, &V));
  MH_TRY(cfg_get_int(config, "embedding_dim", 64, 1, 1 << 16, &D));
  MH_TRY(mcfg_num_classes(config, shape, &k));
  MH_TRY(cfg_get_enum(config, "mode", modes, EMBBAG_MEAN, &mode));
  Dims in = {(int)shape->in_elems, 1, 1};
  Net net;
  net_init(&net, in);
  int rc = net_add(&net, layer_embedding_bag(in, V, (int)D, (EmbBagMode)mode));
  if (!rc) rc = net_add(&net, layer_linear(net_out(&net), (int)k));
  if (rc) {
    net_free(&net);
    return MH_ERR;
  }
  return net_model_create(&net, shape, out);
}

const ModelType model_textbag = {"TextBag", textbag_create};

/* fuzz_config.c - libFuzzer harness: the input is a pipeline YAML file.
 * Parses and validates it (pipeline_parse), and when that succeeds checks
 * it the way `modyn validate` does (pipeline_check: lr scheduler, model
 * storage, trigger, selection strategy, store, model, optimizer,
 * evaluation). Dataset ids resolve against a scratch data directory that
 * holds tiny stores (8 rows, 4 classes) under the names the test configs
 * and configs/ use: float32 [4] (synth_train, quickstart/train, ...), uint8
 * [3, 32, 32] (yearbook, synth_images/...), uint8 [1, 28, 28] (fashion/...)
 * and int32 token ids [6] (tokens). A bad file must give an error, never a crash
 * or an exit. MPI is initialised once, with this process as its one rank. */
#include "fuzz_util.h"

#include <mpi.h>

#include "config/pipeline.h"
#include "core/dist.h"
#include "core/error.h"
#include "data/store.h"
#include "orch/run.h"

static char data_dir[600];

/* DATA_DIR/name: 8 rows of features of the given type and shape, 4 classes. */
static void make_store(const char *name, FeatType type, int ndims, int64_t d0, int64_t d1,
                       int64_t d2) {
  char dir[700];
  snprintf(dir, sizeof dir, "%s/%s", data_dir, name);
  StoreSchema sc;
  memset(&sc, 0, sizeof sc);
  sc.type = type;
  sc.ndims = ndims;
  sc.dims[0] = d0;
  sc.dims[1] = d1;
  sc.dims[2] = d2;
  sc.num_classes = 4;
  int64_t elems = 1;
  for (int i = 0; i < ndims; i++) elems *= sc.dims[i];
  int64_t keys[8], ts[8];
  int32_t labels[8];
  unsigned char *feats = calloc((size_t)(8 * elems), 4);
  if (!feats) abort();
  for (int i = 0; i < 8; i++) {
    keys[i] = i;
    ts[i] = 10 * i;
    labels[i] = i % 4;
    for (int64_t j = 0; j < elems; j++) {
      const int64_t k = i * elems + j;
      if (type == FEAT_F32) ((float *)feats)[k] = (float)(i - j % 5) / 8.0f;
      else if (type == FEAT_U8) feats[k] = (unsigned char)(i * 31 + j);
      else ((int32_t *)feats)[k] = (int32_t)((i + j) % 7);
    }
  }
  StoreWriter w;
  if (store_writer_open(dir, &sc, 0, &w) || store_write_shard(&w, 8, keys, ts, labels, feats)) {
    fprintf(stderr, "fuzz_config: cannot write the scratch store %s: %s\n", name, mh_error());
    abort();
  }
  free(feats);
}

/* The dataset ids the test configs and configs/ name. */
static void make_stores(void) {
  static const char *const vec[] = {"synth_train", "synth_test", "holdout", "quickstart/train",
                                    "quickstart/test"};
  for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) make_store(vec[i], FEAT_F32, 1, 4, 0, 0);
  static const char *const rgb[] = {"yearbook", "yearbook-test", "synth_images/train",
                                    "synth_images/test"};
  for (size_t i = 0; i < sizeof rgb / sizeof rgb[0]; i++)
    make_store(rgb[i], FEAT_U8, 3, 3, 32, 32);
  make_store("fashion/train", FEAT_U8, 3, 1, 28, 28);
  make_store("fashion/test", FEAT_U8, 3, 1, 28, 28);
  make_store("tokens", FEAT_I32, 1, 6, 0, 0);
}

static void finalize_mpi(void) {
  int fin = 0;
  MPI_Finalized(&fin);
  if (!fin) MPI_Finalize();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
  atexit(finalize_mpi);
  fz_init("config");
  mh_hdf5_quiet();
  fz_path(data_dir, sizeof data_dir, "data");
  mkdir(data_dir, 0755);
  make_stores();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  PipelineConfig *cfg = calloc(1, sizeof *cfg);
  if (!cfg) abort();
  if (pipeline_parse("fuzz.yaml", text, NULL, 0, data_dir, cfg) == MH_OK) {
    const Dist d = dist_self();
    fz_note(pipeline_check(&d, cfg) == MH_OK ? "valid" : "check failed", mh_error());
  } else {
    fz_note("rejected", mh_error());
    FZ_ASSERT(mh_error()[0] != '\0', "pipeline_parse failed without a message");
  }
  pipeline_free(cfg);
  free(cfg);
  FZ_ASSERT(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0, "HDF5 objects left open");
  free(text);
  mh_error_clear();
  return 0;
}

/* gpu.c - the CPU-only build's answers (see gpu.h); gpu_cuda.cu replaces
 * these when the CUDA backend is built. */
#include "train/gpu.h"

#ifndef MODYN_HAVE_CUDA
#include "core/error.h"

static int no_backend(void) {
  return mh_errorf("this modyn was built without the CUDA backend (nvcc was not found at "
                   "configure time); set training.device to cpu, or rebuild with "
                   "-DMODYN_CUDA=ON on a machine with the CUDA toolkit");
}

int gpu_device_count(void) { return 0; }
const char *gpu_backend(void) { return "none"; }
int gpu_open(int index) {
  (void)index;
  return no_backend();
}
void gpu_set_amp(int bf16) { (void)bf16; }
const char *gpu_describe(void) { return ""; }
void gpu_close(void) {}
void *gpu_malloc(size_t bytes) {
  (void)bytes;
  no_backend();
  return NULL;
}
void gpu_free(void *p) { (void)p; }
int gpu_grow(void **p, int64_t *cap, int64_t bytes) {
  (void)p, (void)cap, (void)bytes;
  return no_backend();
}
void *gpu_host_alloc(size_t bytes) {
  (void)bytes;
  no_backend();
  return NULL;
}
void gpu_host_free(void *p) { (void)p; }
int gpu_upload(void *dst, const void *src, size_t bytes) {
  (void)dst, (void)src, (void)bytes;
  return no_backend();
}
int gpu_download(void *dst, const void *src, size_t bytes) {
  (void)dst, (void)src, (void)bytes;
  return no_backend();
}
int gpu_copy(void *dst, const void *src, size_t bytes) {
  (void)dst, (void)src, (void)bytes;
  return no_backend();
}
int gpu_zero(void *p, size_t bytes) {
  (void)p, (void)bytes;
  return no_backend();
}
int gpu_sync(void) { return no_backend(); }
int gpu_allreduce_sum(const struct Dist *d, float *buf, int64_t n, int force_nccl) {
  (void)d, (void)buf, (void)n, (void)force_nccl;
  return no_backend();
}
const char *gpu_allreduce_backend(void) { return "none"; }
#endif

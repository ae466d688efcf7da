/* test_gpu.c - the CUDA backend's device query. Skipped (exit 77) without
 * a device; with one, the runtime must report a version and a device count
 * that agrees with CUDA_VISIBLE_DEVICES when that is set. The CUDA kernels
 * of the training engine will be checked against the CPU reference here. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "train/gpu.h"

int main(void) {
  int n = gpu_device_count();
  printf("CUDA backend: %s, %d device(s)\n", gpu_backend(), n);
  if (n == 0) {
    printf("test_gpu: no CUDA device; skipped\n");
    return 77;
  }
  CHECK(strncmp(gpu_backend(), "cuda ", 5) == 0);
  const char *vis = getenv("CUDA_VISIBLE_DEVICES");
  if (vis && *vis && !strchr(vis, ',')) CHECK_EQ_INT(n, 1);
  return test_finish("test_gpu");
}

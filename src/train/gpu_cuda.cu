// gpu_cuda.cu - the CUDA backend's device query (see gpu.h). A missing
// driver or device is not an error: the count is 0 and training uses the CPU.
#include <cuda_runtime.h>
#include <stdio.h>

#include "train/gpu.h"

extern "C" int gpu_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver/device" status
    return 0;
  }
  return n;
}

extern "C" const char *gpu_backend(void) {
  static char buf[64];
  int v = 0;
  cudaRuntimeGetVersion(&v);
  snprintf(buf, sizeof buf, "cuda %d.%d", v / 1000, (v % 1000) / 10);
  return buf;
}

/* gpu.c - the CPU-only build's answers (see gpu.h); gpu_cuda.cu replaces
 * these when the CUDA backend is built. */
#include "train/gpu.h"

#ifndef MODYN_HAVE_CUDA
int gpu_device_count(void) { return 0; }
const char *gpu_backend(void) { return "none"; }
#endif

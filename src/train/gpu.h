/* gpu.h - what the CUDA backend can see at run time. The backend is built
 * whenever nvcc is found (MODYN_HAVE_CUDA); without a device every feature
 * runs on the CPU. */
#ifndef MH_GPU_H
#define MH_GPU_H

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices; 0 without the backend, driver or device. */
int gpu_device_count(void);
/* "cuda <runtime version>" or "none", for the configure/run banner. */
const char *gpu_backend(void);

#ifdef __cplusplus
}
#endif

#endif

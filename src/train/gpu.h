/* gpu.h - the CUDA backend as the C engine sees it: which device this rank
 * uses, device memory, copies, and the rank's stream. The backend is built
 * whenever nvcc is found (MODYN_HAVE_CUDA); cuBLAS, cuDNN and NCCL are
 * loaded at run time (dlopen), so the binary starts, and every feature runs
 * on the CPU, on machines with no GPU or CUDA libraries at all. Without the
 * backend every function here fails with a message (gpu_device_count is 0).
 *
 * One process uses one device (gpu_open), and all its work goes onto one
 * stream in order: copies, kernels, cuBLAS, cuDNN and NCCL calls. Functions
 * that return data to the host (gpu_download) wait for the stream; the
 * others only queue work. Errors are recorded with mh_errorf and name the
 * CUDA call and what to do. */
#ifndef MH_GPU_H
#define MH_GPU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct Dist;

/* Number of usable CUDA devices; 0 without the backend, driver or device. */
int gpu_device_count(void);
/* "cuda <runtime version>" or "none", for the configure/run banner. */
const char *gpu_backend(void);

/* Use device `index` for this process: set it, create the stream and the
 * cuBLAS and cuDNN handles (loading the libraries). Opening the same device
 * again is a no-op; another one is an error. */
int gpu_open(int index);
/* training.amp: 1 runs the products of linear and conv2d layers on bf16
 * tensor cores (inputs rounded to bf16, float32 sums; weights, activations,
 * batchnorm, losses and optimizer stay float32), like torch.autocast with
 * dtype=torch.bfloat16. 0: float32 throughout (no TF32). */
void gpu_set_amp(int bf16);
/* "NVIDIA H200 (device 0, 132 SMs, 141 GiB)" for log lines; "" when closed. */
const char *gpu_describe(void);
/* Release the handles and the NCCL communicator (at exit; idempotent). */
void gpu_close(void);

/* Device memory (NULL on failure, with an error recorded). */
void *gpu_malloc(size_t bytes);
void gpu_free(void *p);
/* Grow *p to at least bytes (the old contents are not kept). */
int gpu_grow(void **p, int64_t *cap, int64_t bytes);
/* Page-locked host memory for fast, asynchronous uploads. */
void *gpu_host_alloc(size_t bytes);
void gpu_host_free(void *p);

/* Queue a host-to-device copy. From page-locked src it is asynchronous
 * (src must stay until the stream passes it); from ordinary memory the
 * bytes are taken before the call returns, so src may change at once. */
int gpu_upload(void *dst, const void *src, size_t bytes);
/* Device-to-host copy; waits for the stream first, so dst is ready. */
int gpu_download(void *dst, const void *src, size_t bytes);
/* Device-to-device copy and memset, queued. */
int gpu_copy(void *dst, const void *src, size_t bytes);
int gpu_zero(void *p, size_t bytes);
/* Wait for all queued work; reports a failed kernel. */
int gpu_sync(void);

/* Sum a device float buffer over the ranks of d, in place: NCCL when the
 * library is there (the communicator is made on first use: rank 0 creates
 * the id and broadcasts it with MPI), else through the host and
 * MPI_Allreduce. One rank: nothing to do, unless force_nccl (tests). */
int gpu_allreduce_sum(const struct Dist *d, float *buf, int64_t n, int force_nccl);
/* "nccl 2.28.3", "mpi (NCCL not found: ...)" or "none": what the last
 * gpu_allreduce_sum used, for the run log. */
const char *gpu_allreduce_backend(void);

#ifdef __cplusplus
}
#endif

#endif

// gpu_cuda.cu - the CUDA backend's runtime (see gpu.h): device choice,
// the stream, cuBLAS/cuDNN/NCCL loaded with dlopen, memory and copies,
// the gradient allreduce. A missing driver or device is not an error until
// someone asks for the GPU: the count is 0 and training uses the CPU.
#include <dlfcn.h>
#include <nccl.h>
#include <stdio.h>
#include <string.h>

#include "train/gpu_internal.cuh"

#include <mpi.h>
extern "C" {
#include "core/dist.h"
}

#define MH_DEFINE_FN(f) decltype(&f) p_##f;
MH_CUBLAS_FNS(MH_DEFINE_FN)
MH_CUDNN_FNS(MH_DEFINE_FN)
#undef MH_DEFINE_FN

#define MH_NCCL_FNS(X) \
  X(ncclGetVersion)    \
  X(ncclGetUniqueId)   \
  X(ncclCommInitRank)  \
  X(ncclAllReduce)     \
  X(ncclCommDestroy)   \
  X(ncclGetErrorString)
#define MH_DEFINE_FN(f) static decltype(&f) p_##f;
MH_NCCL_FNS(MH_DEFINE_FN)
#undef MH_DEFINE_FN

// cublasGemmEx is overloaded in C++: its C entry point, by hand.
typedef cublasStatus_t (*GemmExFn)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int,
                                   int, const void *, const void *, cudaDataType, int,
                                   const void *, cudaDataType, int, const void *, void *,
                                   cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
static GemmExFn p_cublasGemmEx;

cudaStream_t g_stream;
int g_amp;
cublasHandle_t g_cublas;
cudnnHandle_t g_cudnn;
int g_num_sms = 1;

static int g_device = -1;
static char g_describe[512];

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

int gpu_fail_cuda(cudaError_t e, const char *call, const char *file, int line) {
  return mh_errorf("CUDA error in %s (%s:%d): %s (%s)%s", call, file, line,
                   cudaGetErrorString(e), cudaGetErrorName(e),
                   e == cudaErrorMemoryAllocation
                       ? "; the GPU is out of memory: lower training.batch_size or use a "
                         "smaller model"
                       : "");
}

int gpu_fail_lib(const char *lib, int status, const char *what, const char *call,
                 const char *file, int line) {
  return mh_errorf("%s error %d%s%s in %s (%s:%d)", lib, status, *what ? ": " : "", what, call,
                   file, line);
}

// dlopen the first library of names that loads and resolve every entry
// point; the message names what is missing and how to provide it.
static void *load_library(const char *const *names, const char *what, char *err, size_t cap) {
  for (int i = 0; names[i]; i++) {
    void *h = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
    if (h) return h;
  }
  snprintf(err, cap,
           "cannot load %s (%s): %s; install it (it ships with the CUDA toolkit, or as the "
           "nvidia-* pip packages) and add its folder to LD_LIBRARY_PATH",
           what, names[0], dlerror());
  return NULL;
}

#define MH_RESOLVE(f)                                                        \
  if (!(p_##f = (decltype(p_##f))dlsym(h, #f)))                               \
    return mh_errorf("%s: missing entry point %s (version too old?)", lib, #f);

static int load_cublas(void) {
  static const char *const names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so",
                                      NULL};
  const char *lib = "cuBLAS";
  char err[512];
  void *h = load_library(names, lib, err, sizeof err);
  if (!h) return mh_errorf("%s", err);
  MH_CUBLAS_FNS(MH_RESOLVE)
  if (!(p_cublasGemmEx = (GemmExFn)dlsym(h, "cublasGemmEx")))
    return mh_errorf("%s: missing entry point cublasGemmEx", lib);
  return MH_OK;
}

static int load_cudnn(void) {
  static const char *const names[] = {"libcudnn.so.9", "libcudnn.so", NULL};
  const char *lib = "cuDNN";
  char err[512];
  void *h = load_library(names, lib, err, sizeof err);
  if (!h) return mh_errorf("%s", err);
  MH_CUDNN_FNS(MH_RESOLVE)
  return MH_OK;
}

extern "C" void gpu_set_amp(int bf16) { g_amp = bf16 != 0; }

extern "C" const char *gpu_describe(void) { return g_device >= 0 ? g_describe : ""; }

extern "C" int gpu_open(int index) {
  if (g_device >= 0) {
    if (index == g_device) return MH_OK;
    return mh_errorf("this process already uses GPU %d; one process drives one GPU", g_device);
  }
  int n = gpu_device_count();
  if (n == 0)
    return mh_errorf("no CUDA device is visible (driver missing, or CUDA_VISIBLE_DEVICES "
                     "empty); set training.device to cpu or auto");
  if (index < 0 || index >= n)
    return mh_errorf("GPU %d does not exist: this node shows %d device%s (0..%d); check "
                     "training.device and the ranks per node",
                     index, n, n == 1 ? "" : "s", n - 1);
  CUDA_TRY(cudaSetDevice(index));
  cudaDeviceProp prop;
  CUDA_TRY(cudaGetDeviceProperties(&prop, index));
  g_num_sms = prop.multiProcessorCount;
  CUDA_TRY(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking));
  MH_TRY(load_cublas());
  MH_TRY(load_cudnn());
  CUBLAS_TRY(p_cublasCreate_v2(&g_cublas));
  CUBLAS_TRY(p_cublasSetStream_v2(g_cublas, g_stream));
  // float32 stays float32: no TF32 tensor-core rounding (the CPU reference
  // and PyTorch's default for matmul agree on that)
  CUBLAS_TRY(p_cublasSetMathMode(g_cublas, CUBLAS_DEFAULT_MATH));
  CUDNN_TRY(p_cudnnCreate(&g_cudnn));
  CUDNN_TRY(p_cudnnSetStream(g_cudnn, g_stream));
  snprintf(g_describe, sizeof g_describe, "%s (device %d of %d, %d SMs, %.0f GiB, cuDNN %zu)",
           prop.name, index, n, prop.multiProcessorCount,
           (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), p_cudnnGetVersion());
  g_device = index;
  return MH_OK;
}

static ncclComm_t g_nccl;
static int g_nccl_state;  // 0 untried, 1 ready, -1 unavailable (MPI path)
static char g_allreduce_backend[256] = "none";

extern "C" void gpu_close(void) {
  if (g_device < 0) return;
  cudaStreamSynchronize(g_stream);
  if (g_nccl_state == 1) p_ncclCommDestroy(g_nccl);
  g_nccl_state = 0;
  if (g_cudnn) p_cudnnDestroy(g_cudnn);
  if (g_cublas) p_cublasDestroy_v2(g_cublas);
  cudaStreamDestroy(g_stream);
  g_cudnn = NULL;
  g_cublas = NULL;
  g_device = -1;
}

extern "C" void *gpu_malloc(size_t bytes) {
  void *p = NULL;
  cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
  if (e != cudaSuccess) {
    cudaGetLastError();
    mh_errorf("cannot allocate %.1f MiB on the GPU: %s; lower training.batch_size or use a "
              "smaller model",
              (double)bytes / 1048576.0, cudaGetErrorString(e));
    return NULL;
  }
  return p;
}

extern "C" void gpu_free(void *p) {
  if (p) cudaFree(p);
}

extern "C" int gpu_grow(void **p, int64_t *cap, int64_t bytes) {
  if (bytes <= *cap && *p) return MH_OK;
  gpu_free(*p);
  *p = NULL;
  *cap = 0;
  // a little headroom, so a batch that grows by a few samples does not reallocate
  int64_t want = bytes + bytes / 8 + 256;
  *p = gpu_malloc((size_t)want);
  if (!*p) return MH_ERR;
  *cap = want;
  return MH_OK;
}

extern "C" void *gpu_host_alloc(size_t bytes) {
  void *p = NULL;
  cudaError_t e = cudaMallocHost(&p, bytes ? bytes : 1);
  if (e != cudaSuccess) {
    cudaGetLastError();
    mh_errorf("cannot allocate %.1f MiB of page-locked host memory: %s",
              (double)bytes / 1048576.0, cudaGetErrorString(e));
    return NULL;
  }
  return p;
}

extern "C" void gpu_host_free(void *p) {
  if (p) cudaFreeHost(p);
}

extern "C" int gpu_upload(void *dst, const void *src, size_t bytes) {
  if (bytes) CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, g_stream));
  return MH_OK;
}

extern "C" int gpu_download(void *dst, const void *src, size_t bytes) {
  if (bytes) CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, g_stream));
  CUDA_TRY(cudaStreamSynchronize(g_stream));
  return MH_OK;
}

extern "C" int gpu_copy(void *dst, const void *src, size_t bytes) {
  if (bytes) CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, g_stream));
  return MH_OK;
}

extern "C" int gpu_zero(void *p, size_t bytes) {
  if (bytes) CUDA_TRY(cudaMemsetAsync(p, 0, bytes, g_stream));
  return MH_OK;
}

extern "C" int gpu_sync(void) {
  CUDA_TRY(cudaStreamSynchronize(g_stream));
  return MH_OK;
}

// ---- GEMM and reductions shared by the layers ------------------------------

int gpu_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
  if (m <= 0 || n <= 0) return MH_OK;
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T.
  const cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (g_amp) {
    // autocast: float32 in and out, bf16 tensor-core products, float32 sums
    CUBLAS_TRY(p_cublasGemmEx(g_cublas, ob, oa, n, m, k, &alpha, B, CUDA_R_32F, ldb, A,
                              CUDA_R_32F, lda, &beta, C, CUDA_R_32F, ldc,
                              CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT));
    return MH_OK;
  }
  CUBLAS_TRY(p_cublasSgemm_v2(g_cublas, ob, oa, n, m, k, &alpha, B, ldb, A, lda, &beta, C, ldc));
  return MH_OK;
}

// One block per group of 32 columns; threads walk the rows in a fixed
// pattern and combine in a fixed tree: the same bits every run.
__global__ void col_sums_kernel(const float *in, int64_t rows, int64_t cols, float *out,
                                int accumulate) {
  __shared__ float part[8][33];
  const int tx = threadIdx.x, ty = threadIdx.y;  // 32 x 8
  const int64_t j = (int64_t)blockIdx.x * 32 + tx;
  float acc = 0.0f;
  if (j < cols)
    for (int64_t i = ty; i < rows; i += 8) acc += in[i * cols + j];
  part[ty][tx] = acc;
  __syncthreads();
  if (ty == 0 && j < cols) {
    float s = 0.0f;
    for (int r = 0; r < 8; r++) s += part[r][tx];
    out[j] = accumulate ? out[j] + s : s;
  }
}

int gpu_col_sums(const float *in, int64_t rows, int64_t cols, float *out, int accumulate) {
  if (cols <= 0) return MH_OK;
  dim3 block(32, 8);
  col_sums_kernel<<<(unsigned)((cols + 31) / 32), block, 0, g_stream>>>(in, rows, cols, out,
                                                                        accumulate);
  CUDA_LAUNCHED();
  return MH_OK;
}

// ---- the gradient allreduce -------------------------------------------------

static int load_nccl(char *why, size_t cap) {
  static const char *const names[] = {"libnccl.so.2", "libnccl.so", NULL};
  void *h = load_library(names, "NCCL", why, cap);
  if (!h) return MH_ERR;
#define MH_RESOLVE_NCCL(f)                                                \
  if (!(p_##f = (decltype(p_##f))dlsym(h, #f))) {                         \
    snprintf(why, cap, "NCCL: missing entry point %s", #f);              \
    return MH_ERR;                                                        \
  }
  MH_NCCL_FNS(MH_RESOLVE_NCCL)
#undef MH_RESOLVE_NCCL
  return MH_OK;
}

// Make the communicator: every rank of d calls this at the same point.
// Whether NCCL loaded is agreed first, so all ranks take the same path.
static int nccl_setup(const Dist *d) {
  char why[512] = "";
  int ok = load_nccl(why, sizeof why) == MH_OK;
  int all_ok = ok;
  MPI_CHECK(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, d->comm));
  if (!all_ok) {
    g_nccl_state = -1;
    snprintf(g_allreduce_backend, sizeof g_allreduce_backend, "mpi (NCCL not loaded: %s)",
             ok ? "on another rank" : why);
    return MH_OK;
  }
  ncclUniqueId id;
  if (d->rank == 0) {
    ncclResult_t r = p_ncclGetUniqueId(&id);
    if (r != ncclSuccess) memset(&id, 0, sizeof id);
  }
  MH_TRY(dist_bcast(d, &id, (int64_t)sizeof id, MPI_BYTE));
  ncclResult_t r = p_ncclCommInitRank(&g_nccl, d->size, id, d->rank);
  int good = r == ncclSuccess, all_good = good;
  MPI_CHECK(MPI_Allreduce(&good, &all_good, 1, MPI_INT, MPI_MIN, d->comm));
  if (!all_good) {
    if (good) p_ncclCommDestroy(g_nccl);
    g_nccl_state = -1;
    snprintf(g_allreduce_backend, sizeof g_allreduce_backend, "mpi (NCCL init failed: %s)",
             good ? "on another rank" : p_ncclGetErrorString(r));
    return MH_OK;
  }
  int v = 0;
  p_ncclGetVersion(&v);
  snprintf(g_allreduce_backend, sizeof g_allreduce_backend, "nccl %d.%d.%d over %d rank%s",
           v / 10000, (v / 100) % 100, v % 100, d->size, d->size == 1 ? "" : "s");
  g_nccl_state = 1;
  return MH_OK;
}

extern "C" const char *gpu_allreduce_backend(void) { return g_allreduce_backend; }

extern "C" int gpu_allreduce_sum(const Dist *d, float *buf, int64_t n, int force_nccl) {
  if (n <= 0 || (d->size == 1 && !force_nccl)) return MH_OK;
  if (g_nccl_state == 0) MH_TRY(nccl_setup(d));
  if (g_nccl_state == 1) {
    ncclResult_t r =
        p_ncclAllReduce(buf, buf, (size_t)n, ncclFloat32, ncclSum, g_nccl, g_stream);
    if (r != ncclSuccess)
      return mh_errorf("NCCL allreduce of %lld floats failed: %s", (long long)n,
                       p_ncclGetErrorString(r));
    return MH_OK;
  }
  // MPI through the host: the same sums as the CPU path
  static float *host;
  static int64_t cap;
  if (n > cap) {
    gpu_host_free(host);
    host = (float *)gpu_host_alloc((size_t)n * sizeof(float));
    cap = host ? n : 0;
    if (!host) return MH_ERR;
  }
  MH_TRY(gpu_download(host, buf, (size_t)n * sizeof(float)));
  MH_TRY(dist_allreduce_sum_f32(d, host, n));
  return gpu_upload(buf, host, (size_t)n * sizeof(float));
}

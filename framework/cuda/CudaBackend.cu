// The CUDA backend (`simulation.backend: cuda`, `laminar run --gpu`): the kernels of Kernels.hpp
// launched on the GPU over buffers that stay in GPU memory for the whole run (Buffer.hpp). This file
// holds only what is CUDA-specific: device selection, memory, launches and a per-row reduction.
// The arithmetic is KernelBackend/Kernels.hpp's, tested on the host by the device emulation backend.
//
// cuBLAS (the dense GEMM delivery) is loaded with dlopen on first use, so that the laminar executable
// needs no CUDA library to start: CPU runs work on machines without the toolkit's runtime libraries.
//
// One device per process: the process's node-local rank (from the MPI launcher's environment)
// modulo the visible devices. Every launch and copy goes to the legacy default stream, so kernels
// run in issue order and host copies wait for them: no explicit synchronisation is needed.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "framework/Error.hpp"
#include "framework/KernelBackend.hpp"

namespace laminar {
namespace {

using kernels::index;

// A CUDA failure: the message names the call and CUDA's error. Kernel faults are reported by the
// next call that synchronises; LAMINAR_CUDA_SYNC=1 synchronises after every launch to name the kernel.
[[noreturn]] void fail(cudaError_t e, const std::string& what) {
  throw UserError("CUDA error in " + what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")" +
                  (e == cudaErrorIllegalAddress || e == cudaErrorLaunchFailure
                       ? "; the GPU context is lost (a kernel fault: please report it, with LAMINAR_CUDA_SYNC=1 "
                         "to name the kernel)"
                       : ""));
}
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(e, what);
}
const bool kSyncEveryLaunch = [] {
  const char* v = std::getenv("LAMINAR_CUDA_SYNC");
  return v && *v && std::string(v) != "0";
}();
void after_launch(const char* what) {
  check(cudaGetLastError(), what);
  if (kSyncEveryLaunch) check(cudaDeviceSynchronize(), what);
}

template <class F>
__global__ void each_kernel(index n, F f) {
  const index stride = index(blockDim.x) * gridDim.x;
  for (index i = index(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) f(i);
}

constexpr int kReduceThreads = 256;
constexpr int kReduceChunk = 8192;  // values per block: a row of `len` values uses ceil(len / kReduceChunk) blocks

// partial[row * chunks + c] = sum of value(row * len + j) over chunk c of the row: a 2-D grid (chunks x
// rows), each block a tree in double over its chunk.
template <class F>
__global__ void reduce_partial_kernel(index len, int chunks, F value, double* partial) {
  __shared__ double part[kReduceThreads];
  const index begin = index(blockIdx.x) * kReduceChunk;
  const index end = begin + kReduceChunk < len ? begin + kReduceChunk : len;
  const index base = index(blockIdx.y) * len;
  double sum = 0.0;
  for (index j = begin + threadIdx.x; j < end; j += blockDim.x) sum += value(base + j);
  part[threadIdx.x] = sum;
  __syncthreads();
  for (int w = kReduceThreads / 2; w > 0; w /= 2) {
    if (int(threadIdx.x) < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[index(blockIdx.y) * chunks + blockIdx.x] = part[0];
}

// out[row] = the row's partial sums added in chunk order (deterministic).
__global__ void reduce_rows_kernel(int rows, int chunks, const double* partial, double* out) {
  const int row = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (row >= rows) return;
  double sum = 0.0;
  for (int c = 0; c < chunks; ++c) sum += partial[index(row) * chunks + c];
  out[row] = sum;
}

// The process's rank on its node, as the MPI launchers export it (0 without one).
int local_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MV2_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID",
                           "PMI_LOCAL_RANK"})
    if (const char* v = std::getenv(name)) return std::atoi(v);
  return 0;
}

// cuBLAS, loaded on first use. Calls go to the legacy default stream, like every launch here.
class Cublas {
 public:
  Cublas() {
    std::string tried;
    for (const char* name : {LAMINAR_CUBLAS_SONAME, LAMINAR_CUBLAS_PATH}) {
      lib_ = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (lib_) break;
      tried += std::string(tried.empty() ? "" : "; ") + dlerror();
    }
    if (!lib_)
      throw UserError("the CUDA backend's GEMM convolution needs cuBLAS, which cannot be loaded (" + tried +
                      "); put the CUDA toolkit's lib64 folder on LD_LIBRARY_PATH, or set "
                      "simulation.device_convolution: direct");
    auto create = reinterpret_cast<decltype(&cublasCreate_v2)>(dlsym(lib_, "cublasCreate_v2"));
    sgemm_ = reinterpret_cast<decltype(&cublasSgemm_v2)>(dlsym(lib_, "cublasSgemm_v2"));
    if (!create || !sgemm_) throw UserError("cuBLAS library without cublasCreate_v2/cublasSgemm_v2");
    if (create(&handle_) != CUBLAS_STATUS_SUCCESS) throw UserError("cuBLAS: cublasCreate failed");
  }
  void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb,
             float beta, float* C, int ldc) {
    const cublasStatus_t st = sgemm_(handle_, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
                                     &alpha, A, lda, B, ldb, &beta, C, ldc);
    if (st != CUBLAS_STATUS_SUCCESS) throw UserError("cuBLAS sgemm failed with status " + std::to_string(int(st)));
  }

 private:
  void* lib_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  decltype(&cublasSgemm_v2) sgemm_ = nullptr;
};

class CudaExec final : public DeviceMemory {
 public:
  CudaExec() {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
      throw UserError(std::string("backend 'cuda' (or --gpu) needs an NVIDIA GPU, and none can be used here: ") +
                      (e != cudaSuccess ? std::string(cudaGetErrorString(e)) : std::string("no CUDA device")) +
                      "; run with backend: cpu");
    device_ = local_rank() % count;
    check(cudaSetDevice(device_), "cudaSetDevice");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device_), "cudaGetDeviceProperties");
    sms_ = prop.multiProcessorCount;
    description_ = "GPU " + std::to_string(device_) + " of " + std::to_string(count) + ": " + prop.name + ", " +
                   std::to_string(prop.totalGlobalMem >> 20) + " MiB, compute capability " + std::to_string(prop.major) +
                   "." + std::to_string(prop.minor);
  }

  std::string name() const { return "cuda"; }
  double free_bytes() const {
    std::size_t free = 0, total = 0;
    return cudaMemGetInfo(&free, &total) == cudaSuccess ? double(free) : 0.0;
  }
  std::string description() const { return description_; }

  void* allocate(std::size_t bytes) override {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess && e != cudaErrorMemoryAllocation) fail(e, "cudaMalloc");  // e.g. an earlier kernel fault
    if (e != cudaSuccess) {
      std::size_t free = 0, total = 0;
      cudaGetLastError();  // clear the error
      cudaMemGetInfo(&free, &total);
      throw UserError("out of GPU memory: allocating " + std::to_string(bytes >> 20) + " MiB with " +
                      std::to_string(free >> 20) + " of " + std::to_string(total >> 20) +
                      " MiB free (" + cudaGetErrorString(e) + "); use a smaller batch_size or network, or more "
                      "processes (mpirun)");
    }
    return p;
  }
  void release(void* p) noexcept override { cudaFree(p); }
  void upload(void* dst, const void* src, std::size_t bytes) override {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "upload");
  }
  void download(void* dst, const void* src, std::size_t bytes) override {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "download");
  }
  void copy(void* dst, const void* src, std::size_t bytes) override {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "device copy");
  }
  void fill(float* dst, std::size_t n, float value) override { for_each(index(n), kernels::Fill{dst, value}); }

  template <class F>
  void for_each(index n, const F& f) {
    if (n <= 0) return;
    constexpr int threads = 256;
    const index wanted = (n + threads - 1) / threads;
    const index cap = index(sms_) * 32;  // grid-stride beyond this many blocks
    each_kernel<<<unsigned(wanted < cap ? wanted : cap), threads>>>(n, f);
    after_launch("kernel launch");
  }
  void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb,
            float beta, float* C, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (!cublas_) cublas_ = std::make_unique<Cublas>();
    cublas_->sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    if (kSyncEveryLaunch) check(cudaDeviceSynchronize(), "cuBLAS sgemm");
  }
  template <class F>
  void reduce_rows(int rows, index len, const F& value, double* out) {
    if (rows <= 0) return;
    const index chunks = len > 0 ? (len + kReduceChunk - 1) / kReduceChunk : 1;
    const std::size_t need = std::size_t(rows) * std::size_t(chunks);
    if (need > partial_capacity_) {
      if (partial_) cudaFree(partial_);  // waits for the kernels still reading it
      partial_ = nullptr;
      partial_capacity_ = 0;
      partial_ = static_cast<double*>(allocate(sizeof(double) * need));
      partial_capacity_ = need;
    }
    // One stream: the next reduction's partial kernel runs after this one's row kernel has read them.
    reduce_partial_kernel<<<dim3(unsigned(chunks), unsigned(rows)), kReduceThreads>>>(len, int(chunks), value, partial_);
    after_launch("reduction");
    reduce_rows_kernel<<<unsigned((rows + 127) / 128), 128>>>(rows, int(chunks), partial_, out);
    after_launch("reduction");
  }

 private:
  int device_ = 0, sms_ = 1;
  std::string description_;
  double* partial_ = nullptr;  // reduce_rows' per-chunk partial sums
  std::size_t partial_capacity_ = 0;
  std::unique_ptr<Cublas> cublas_;
};

}  // namespace

Backend& cuda_backend() {
  // Made on first use (a run that asks for it), never destroyed: buffers freed during static
  // destruction would otherwise race the CUDA runtime's own teardown.
  static Backend* backend = new KernelBackend<CudaExec>();
  return *backend;
}

}  // namespace laminar

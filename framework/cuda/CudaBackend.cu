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

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw UserError(std::string("CUDA error in ") + what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) +
                    ")");
}

template <class F>
__global__ void each_kernel(index n, F f) {
  const index stride = index(blockDim.x) * gridDim.x;
  for (index i = index(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) f(i);
}

constexpr int kReduceThreads = 256;

// out[row] = sum_{j < len} value(row * len + j): one block per row, a tree over the block in double.
template <class F>
__global__ void reduce_kernel(index len, F value, double* out) {
  __shared__ double part[kReduceThreads];
  double sum = 0.0;
  const index base = index(blockIdx.x) * len;
  for (index j = threadIdx.x; j < len; j += blockDim.x) sum += value(base + j);
  part[threadIdx.x] = sum;
  __syncthreads();
  for (int w = kReduceThreads / 2; w > 0; w /= 2) {
    if (int(threadIdx.x) < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = part[0];
}

// The process's rank on its node, as the MPI launchers export it (0 without one).
int local_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID", "PMI_LOCAL_RANK"})
    if (const char* v = std::getenv(name)) return std::atoi(v);
  return 0;
}

// cuBLAS, loaded on first use. Calls go to the legacy default stream, like every launch here.
class Cublas {
 public:
  Cublas() {
    std::string tried;
    for (const char* name : {LAMINAR_CUBLAS_SONAME, "libcublas.so", LAMINAR_CUBLAS_PATH}) {
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
  std::string description() const { return description_; }

  void* allocate(std::size_t bytes) override {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
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
    check(cudaGetLastError(), "kernel launch");
  }
  void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb,
            float beta, float* C, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (!cublas_) cublas_ = std::make_unique<Cublas>();
    cublas_->sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  }
  template <class F>
  void reduce_rows(int rows, index len, const F& value, double* out) {
    if (rows <= 0) return;
    if (rows > reduce_capacity_) {
      if (reduce_out_) cudaFree(reduce_out_);
      reduce_out_ = static_cast<double*>(allocate(sizeof(double) * std::size_t(rows)));
      reduce_capacity_ = rows;
    }
    reduce_kernel<<<unsigned(rows), kReduceThreads>>>(len, value, reduce_out_);
    check(cudaGetLastError(), "reduction launch");
    check(cudaMemcpy(out, reduce_out_, sizeof(double) * std::size_t(rows), cudaMemcpyDeviceToHost), "reduction");
  }

 private:
  int device_ = 0, sms_ = 1;
  std::string description_;
  double* reduce_out_ = nullptr;
  int reduce_capacity_ = 0;
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

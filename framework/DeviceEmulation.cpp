// The device emulation backend (`simulation.backend: device_emulation`): the device kernels of
// Kernels.hpp, run by OpenMP loops on a host allocation that stands in for device memory. Every
// buffer is then copied in and out exactly as on a GPU, so the CPU test suite checks the CUDA
// backend's kernels, its residency rules and its transfers; only the CUDA launches and runtime calls
// (framework/cuda/CudaBackend.cu) are left for a machine with a GPU. Slow: it is for testing.
#include <cstdlib>
#include <cstring>
#include <new>

#include "framework/KernelBackend.hpp"

namespace laminar {
namespace {

class HostExec final : public DeviceMemory {
 public:
  std::string name() const { return "device_emulation"; }
  std::string description() const { return "device kernels emulated on the host (for testing)"; }
  // Unknown (0) unless LAMINAR_EMULATED_DEVICE_MEMORY gives a size in bytes: a pretend GPU's free memory,
  // so that the refusal of a network too large for the GPU can be tested without one.
  double free_bytes() const {
    const char* v = std::getenv("LAMINAR_EMULATED_DEVICE_MEMORY");
    return v ? std::strtod(v, nullptr) : 0.0;
  }

  void* allocate(std::size_t bytes) override {
    void* p = std::malloc(bytes ? bytes : 1);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void release(void* p) noexcept override { std::free(p); }
  void upload(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void download(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void fill(float* dst, std::size_t n, float value) override {
    for_each(kernels::index(n), kernels::Fill{dst, value});
  }

  template <class F>
  void for_each(kernels::index n, const F& f) {
#pragma omp parallel for schedule(static)
    for (kernels::index i = 0; i < n; ++i) f(i);
  }
  // Column-major C = alpha op(A) op(B) + beta C, as BLAS's sgemm (C not read when beta is 0).
  void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb,
            float beta, float* C, int ldc) {
#pragma omp parallel for schedule(static)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        float sum = 0.0f;
        for (int l = 0; l < k; ++l)
          sum += (ta ? A[l + std::size_t(i) * lda] : A[i + std::size_t(l) * lda]) *
                 (tb ? B[j + std::size_t(l) * ldb] : B[l + std::size_t(j) * ldb]);
        float& c = C[i + std::size_t(j) * ldc];
        c = beta == 0.0f ? alpha * sum : alpha * sum + beta * c;
      }
  }
  template <class F>
  void reduce_rows(int rows, kernels::index len, const F& value, double* out) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; ++r) {
      double sum = 0.0;
      for (kernels::index j = 0; j < len; ++j) sum += value(kernels::index(r) * len + j);
      out[r] = sum;
    }
  }
};

}  // namespace

Backend& device_emulation_backend() {
  static Backend* b = new KernelBackend<HostExec>();  // never destroyed: buffers may outlive statics
  return *b;
}

}  // namespace laminar

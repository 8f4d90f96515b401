#include "framework/Backend.hpp"

#include <omp.h>

#include "framework/Error.hpp"

#include <algorithm>
#include <cmath>

namespace laminar {

ConvShape ConvShape::make(const Geometry& fine, const Geometry& coarse, int stride, int patch_y, int patch_x) {
  return make(fine, coarse, stride, stride, patch_y, patch_x);
}

ConvShape ConvShape::make(const Geometry& fine, const Geometry& coarse, int stride_y, int stride_x, int patch_y,
                          int patch_x) {
  ConvShape s;
  s.fine = fine;
  s.coarse = coarse;
  s.stride = stride_x;
  s.stride_y = stride_y;
  s.stride_x = stride_x;
  s.patch_y = patch_y;
  s.patch_x = patch_x;
  // Floor division (C++ '/' truncates toward zero, which differs when patch < stride is odd).
  auto floor_half = [](int d) { return d >= 0 ? d / 2 : -((-d + 1) / 2); };
  s.offset_y = -floor_half(patch_y - stride_y);
  s.offset_x = -floor_half(patch_x - stride_x);
  return s;
}

}  // namespace laminar

// ---------------------------------------------------------------------------------------------
// The CPU backend: the convolution kernels of CpuConvolution.cpp, and OpenMP loops over ElementMath.hpp for the element-wise
// updates, on host memory.
namespace laminar {
namespace {

// Element-wise passes over fewer values than this run on the calling thread: waking the other threads
// costs more than the pass (the paper network's upper layers and joint layer are a few thousand values).
constexpr std::ptrdiff_t kParallelMin = 1 << 15;

// One LCA element: u <- update(u, exc - inh + self a), a <- T(u), with `factor` the decay (exponential
// Euler) or the rate (forward Euler). The loops below pass exc/inh as constants where both channels
// are used, so the test folds away.
template <math::Threshold K, bool Euler>
inline void lca_element(std::ptrdiff_t i, const float* ge, const float* gi, float* u, float* a, float self,
                        float factor, const math::ThresholdParams& th, bool exc, bool inh) {
  const float drive = (exc ? ge[i] : 0.0f) - (inh ? gi[i] : 0.0f) + self * a[i];
  u[i] = Euler ? math::membrane_euler(u[i], drive, factor) : math::membrane_exponential(u[i], drive, factor);
  a[i] = math::threshold_of<K>(u[i], th);
}

// The LCA update with the threshold kind and integrator fixed at compile time, so that it is
// branch-free and vectorises (a runtime switch per element cost more than the membrane update).
template <math::Threshold K, bool Euler>
void lca_loop(std::ptrdiff_t n, const float* ge, const float* gi, float* u, float* a, const LcaStep& st) {
  const float self = st.self, factor = Euler ? st.rate : st.decay;
  const math::ThresholdParams th = st.threshold;
  if (ge && gi) {
#pragma omp parallel for simd schedule(static) if (parallel : n >= kParallelMin)
    for (std::ptrdiff_t i = 0; i < n; ++i) lca_element<K, Euler>(i, ge, gi, u, a, self, factor, th, true, true);
  } else {
    // One channel (or none): the unused one contributes nothing.
    const bool exc = ge != nullptr, inh = gi != nullptr;
#pragma omp parallel for simd schedule(static) if (parallel : n >= kParallelMin)
    for (std::ptrdiff_t i = 0; i < n; ++i) lca_element<K, Euler>(i, ge, gi, u, a, self, factor, th, exc, inh);
  }
}

template <math::Threshold K>
void lca_loop(std::ptrdiff_t n, const float* ge, const float* gi, float* u, float* a, const LcaStep& st) {
  if (st.euler) lca_loop<K, true>(n, ge, gi, u, a, st);
  else lca_loop<K, false>(n, ge, gi, u, a, st);
}

// A dt per batch element (st.factors): the constant-dt loop's element over each element's part of the
// buffers with that element's decay or rate, in one parallel region whose threads go on to the next
// element without waiting (elements share no values).
template <math::Threshold K, bool Euler>
void lca_loop_per_element(std::ptrdiff_t m, std::ptrdiff_t batch, const float* ge, const float* gi, float* u,
                          float* a, const LcaStep& st) {
  const float self = st.self;
  const float* factors = st.factors.data();
  const math::ThresholdParams th = st.threshold;
  const bool exc = ge != nullptr, inh = gi != nullptr;
#pragma omp parallel if (m * batch >= kParallelMin)
  for (std::ptrdiff_t b = 0; b < batch; ++b) {
    const float factor = factors[b];
    const std::ptrdiff_t o = b * m;
    if (exc && inh) {
#pragma omp for simd schedule(static) nowait
      for (std::ptrdiff_t i = o; i < o + m; ++i) lca_element<K, Euler>(i, ge, gi, u, a, self, factor, th, true, true);
    } else {
#pragma omp for simd schedule(static) nowait
      for (std::ptrdiff_t i = o; i < o + m; ++i) lca_element<K, Euler>(i, ge, gi, u, a, self, factor, th, exc, inh);
    }
  }
}

template <math::Threshold K>
void lca_loop_per_element(std::ptrdiff_t n, const float* ge, const float* gi, float* u, float* a, const LcaStep& st) {
  const std::ptrdiff_t batch = std::ptrdiff_t(st.factors.size());
  if (batch == 0 || n % batch != 0)
    throw InternalError("lca_update: " + std::to_string(st.factors.size()) + " per-element factors for " +
                        std::to_string(n) + " values");
  if (st.euler) lca_loop_per_element<K, true>(n / batch, batch, ge, gi, u, a, st);
  else lca_loop_per_element<K, false>(n / batch, batch, ge, gi, u, a, st);
}

template <math::Threshold K>
void lca_dispatch(std::ptrdiff_t n, const float* ge, const float* gi, float* u, float* a, const LcaStep& st) {
  if (st.factors.empty()) lca_loop<K>(n, ge, gi, u, a, st);
  else lca_loop_per_element<K>(n, ge, gi, u, a, st);
}

// Momentum (st.momentum > 0): either integrator's plain step, then math::membrane_momentum's heavy-ball
// update with each value's previous step `prev`; per batch element with its factor where st.factors has
// them (batch 1, the constant decay or rate, otherwise). A separate loop: momentum 0 runs the ones above.
template <math::Threshold K, bool Euler>
void lca_loop_momentum(std::ptrdiff_t m, std::ptrdiff_t batch, const float* ge, const float* gi, float* u,
                       float* a, float* prev, const LcaStep& st) {
  const float self = st.self, mu = st.momentum, constant = Euler ? st.rate : st.decay;
  const float* factors = st.factors.empty() ? nullptr : st.factors.data();
  const math::ThresholdParams th = st.threshold;
  const bool exc = ge != nullptr, inh = gi != nullptr;
#pragma omp parallel if (m * batch >= kParallelMin)
  for (std::ptrdiff_t b = 0; b < batch; ++b) {
    const float factor = factors ? factors[b] : constant;
    const std::ptrdiff_t o = b * m;
#pragma omp for simd schedule(static) nowait
    for (std::ptrdiff_t i = o; i < o + m; ++i) {
      const float drive = (exc ? ge[i] : 0.0f) - (inh ? gi[i] : 0.0f) + self * a[i];
      const float plain =
          Euler ? math::membrane_euler(u[i], drive, factor) : math::membrane_exponential(u[i], drive, factor);
      u[i] = math::membrane_momentum(u[i], plain, prev[i], mu);
      a[i] = math::threshold_of<K>(u[i], th);
    }
  }
}

template <math::Threshold K>
void lca_momentum(std::ptrdiff_t n, const float* ge, const float* gi, float* u, float* a, float* prev,
                  const LcaStep& st) {
  const std::ptrdiff_t batch = st.factors.empty() ? 1 : std::ptrdiff_t(st.factors.size());
  if (n % batch != 0)
    throw InternalError("lca_update: " + std::to_string(st.factors.size()) + " per-element factors for " +
                        std::to_string(n) + " values");
  if (st.euler) lca_loop_momentum<K, true>(n / batch, batch, ge, gi, u, a, prev, st);
  else lca_loop_momentum<K, false>(n / batch, batch, ge, gi, u, a, prev, st);
}

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  void scatter(const ConvShape& s, const Buffer& w, const Tensor& coarse, Tensor& fine, float scale) override {
    cpu::deliver_scatter(s, w.data(), coarse, fine, scale);
  }
  void gather(const ConvShape& s, const Buffer& wt, const Tensor& fine, Tensor& coarse, float scale) override {
    cpu::deliver_gather(s, wt.data(), fine, coarse, scale);
  }
  void transpose_weights(const ConvShape& s, const Buffer& w, Buffer& wt) override {
    cpu::transpose_weights(s, w.data(), wt.host_vector());
  }
  void hebbian(const ConvShape& s, const Tensor& coarse, const Tensor& fine, Buffer& dw, float scale) override {
    cpu::hebbian(s, coarse, fine, dw.data(), scale);
  }
  void normalize_l2(const ConvShape& s, Buffer& w, float strength) override {
    cpu::normalize_l2(s, w.data(), strength);
  }
  void weight_update(Buffer& w, Buffer& v, const Buffer& dw, float eta, float mu) override {
    float* wp = w.data();
    const float* d = dw.data();
    const std::size_t n = w.size();
    const std::ptrdiff_t m = std::ptrdiff_t(n);
    if (mu > 0.0f) {
      float* vp = v.data();
#pragma omp parallel for simd schedule(static) if (parallel : m >= kParallelMin)
      for (std::ptrdiff_t i = 0; i < m; ++i) {
        vp[i] = mu * vp[i] + d[i];
        wp[i] += eta * vp[i];
      }
    } else {
#pragma omp parallel for simd schedule(static) if (parallel : m >= kParallelMin)
      for (std::ptrdiff_t i = 0; i < m; ++i) wp[i] += eta * d[i];
    }
  }
  void lca_update(const LcaStep& st, const Tensor* exc, const Tensor* inh, Tensor& u, Tensor& a) override {
    const float* ge = exc ? exc->data() : nullptr;
    const float* gi = inh ? inh->data() : nullptr;
    const std::ptrdiff_t n = std::ptrdiff_t(u.size());
    float* up = u.data();
    float* ap = a.data();
    using T = math::Threshold;
    if (st.momentum > 0.0f) {
      if (!st.previous || st.previous->size() != u.size())
        throw InternalError("lca_update: momentum without a previous-step buffer of the membrane's size");
      float* pp = st.previous->data();
      switch (st.threshold.kind) {
        case T::Soft: return lca_momentum<T::Soft>(n, ge, gi, up, ap, pp, st);
        case T::SoftNonNegative: return lca_momentum<T::SoftNonNegative>(n, ge, gi, up, ap, pp, st);
        case T::Hard: return lca_momentum<T::Hard>(n, ge, gi, up, ap, pp, st);
        case T::Firm: return lca_momentum<T::Firm>(n, ge, gi, up, ap, pp, st);
      }
    }
    switch (st.threshold.kind) {
      case T::Soft: lca_dispatch<T::Soft>(n, ge, gi, up, ap, st); break;
      case T::SoftNonNegative: lca_dispatch<T::SoftNonNegative>(n, ge, gi, up, ap, st); break;
      case T::Hard: lca_dispatch<T::Hard>(n, ge, gi, up, ap, st); break;
      case T::Firm: lca_dispatch<T::Firm>(n, ge, gi, up, ap, st); break;
    }
  }
  void error_update(float scale, const Tensor* exc, const Tensor* inh, Tensor& e) override {
    const float* ge = exc ? exc->data() : nullptr;
    const float* gi = inh ? inh->data() : nullptr;
    float* ep = e.data();
    const std::ptrdiff_t n = std::ptrdiff_t(e.size());
#pragma omp parallel for simd schedule(static) if (parallel : n >= kParallelMin)
    for (std::ptrdiff_t i = 0; i < n; ++i) ep[i] = math::error_value(ge ? ge[i] : 0.0f, gi ? gi[i] : 0.0f, scale);
  }
  void axpy(float s, const Tensor& x, Tensor& y) override {
    const float* in = x.data();
    float* out = y.data();
    const std::ptrdiff_t n = std::ptrdiff_t(y.size());
#pragma omp parallel for simd schedule(static) if (parallel : n >= kParallelMin)
    for (std::ptrdiff_t i = 0; i < n; ++i) out[i] += s * in[i];
  }
  void reduce(Reduction r, const Tensor& t, std::vector<double>& out, const math::ThresholdParams* th) override {
    out.assign(std::size_t(t.batch()), 0.0);
    const math::ThresholdParams p = th ? *th : math::ThresholdParams{};
    for (int b = 0; b < t.batch(); ++b) {
      const auto e = t.element(b);
      out[std::size_t(b)] = reduce_one(r, e.data(), std::ptrdiff_t(e.size()), p);
    }
  }
  void reduce_many(const std::vector<ReduceItem>& items, std::vector<double>& out) override {
    // Every (item, batch element) on its own and in parallel (the NaN guard reads every buffer each
    // step): each is the same serial sum as reduce's, so the values do not depend on the threads. The
    // data pointers are taken here, outside the parallel loop.
    std::vector<std::size_t> start(items.size() + 1, 0);
    std::vector<const float*> data(items.size());
    std::ptrdiff_t values = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
      start[i + 1] = start[i] + std::size_t(items[i].tensor->batch());
      data[i] = items[i].tensor->data();
      values += std::ptrdiff_t(items[i].tensor->size());
    }
    out.assign(start.back(), 0.0);
    const std::ptrdiff_t n = std::ptrdiff_t(start.back());
#pragma omp parallel for schedule(dynamic, 1) if (values >= kParallelMin)
    for (std::ptrdiff_t j = 0; j < n; ++j) {
      const std::size_t i = std::size_t(std::upper_bound(start.begin(), start.end(), std::size_t(j)) - start.begin()) - 1;
      const std::size_t b = std::size_t(j) - start[i], m = items[i].tensor->size() / std::size_t(items[i].tensor->batch());
      out[std::size_t(j)] = reduce_one(items[i].reduction, data[i] + b * m, std::ptrdiff_t(m), items[i].threshold);
    }
  }

 private:
  static double reduce_one(Reduction r, const float* v, std::ptrdiff_t n, const math::ThresholdParams& p) {
    if (r == Reduction::SumSquares) return math::sum_squares(v, n);
    if (r == Reduction::SparsityCost) return math::total_sparsity_cost(v, n, p);
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (std::ptrdiff_t k = 0; k < n; ++k) sum += double(v[k]);
    return sum;
  }
};

}  // namespace

Backend& device_emulation_backend();  // DeviceEmulation.cpp
#ifdef LAMINAR_HAVE_CUDA
Backend& cuda_backend();  // cuda/CudaBackend.cu (throws UserError when no device can be used)
#endif

Backend& Backend::cpu() {
  static CpuBackend b;
  return b;
}

Backend& Backend::named(const std::string& name) {
  if (name == "cpu") return cpu();
  if (name == "device_emulation") return device_emulation_backend();
  if (name == "cuda") {
#ifdef LAMINAR_HAVE_CUDA
    return cuda_backend();
#else
    throw UserError(
        "backend 'cuda' is not available: this laminar was built without CUDA (nvcc was not found when it was "
        "configured, or -DLAMINAR_CUDA=OFF); rebuild on a machine with the CUDA toolkit, or use backend: cpu");
#endif
  }
  throw UserError("unknown backend '" + name + "' (expected cpu, cuda or device_emulation)");
}

const std::vector<std::string>& Backend::names() {
  static const std::vector<std::string> all{"cpu", "device_emulation", "cuda"};
  return all;
}

}  // namespace laminar

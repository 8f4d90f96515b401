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

// The LCA update over values [o, o + m) with one factor: u <- update(u, exc - inh + self a), a <- T(u),
// with `factor` the decay (exponential Euler) or the rate (forward Euler); with Momentum,
// math::membrane_momentum's heavy-ball step on top, with each value's previous step prev[i]. The threshold
// kind, integrator, momentum and the channels used are fixed at compile time, and the scalars are
// arguments (no store through u, a or prev can alias them), so the loop is branch-free and vectorises (a
// runtime test per element, even a loop-invariant one such as "is there an inhibitory channel", kept it
// scalar at 2-3 times the time). An orphaned `omp for`: it shares the work of the caller's parallel region.
template <math::Threshold K, bool Euler, bool Momentum, bool Exc, bool Inh>
void lca_range(std::ptrdiff_t o, std::ptrdiff_t m, const float* ge, const float* gi, float* u, float* a,
               float* prev, float self, float factor, float mu, math::ThresholdParams th) {
#pragma omp for simd schedule(static) nowait
  for (std::ptrdiff_t i = o; i < o + m; ++i) {
    float drive = self * a[i];
    if constexpr (Exc) drive += ge[i];
    if constexpr (Inh) drive -= gi[i];
    const float old = u[i];
    float v = Euler ? math::membrane_euler(old, drive, factor) : math::membrane_exponential(old, drive, factor);
    if constexpr (Momentum) {  // through locals: with the stores inside the call it stayed scalar
      float step = prev[i];
      v = math::membrane_momentum(old, v, step, mu);
      prev[i] = step;
    }
    u[i] = v;
    a[i] = math::threshold_of<K>(v, th);
  }
}

// The whole update: over each batch element's part of the buffers with its decay or rate where st.factors
// has them (a dt per batch element), else over all values at once with the constant one (batch 1); one
// parallel region whose threads go on to the next element without waiting (elements share no values).
template <math::Threshold K, bool Euler, bool Momentum>
void lca_loop(std::ptrdiff_t n, const float* ge, const float* gi, float* u, float* a, float* prev,
              const LcaStep& st) {
  const std::ptrdiff_t batch = st.factors.empty() ? 1 : std::ptrdiff_t(st.factors.size());
  if (n % batch != 0)
    throw InternalError("lca_update: " + std::to_string(st.factors.size()) + " per-element factors for " +
                        std::to_string(n) + " values");
  const std::ptrdiff_t m = n / batch;
  const float self = st.self, mu = st.momentum, constant = Euler ? st.rate : st.decay;
  const float* factors = st.factors.empty() ? nullptr : st.factors.data();
  const math::ThresholdParams th = st.threshold;
#pragma omp parallel if (n >= kParallelMin)
  for (std::ptrdiff_t b = 0; b < batch; ++b) {
    const float f = factors ? factors[b] : constant;
    const std::ptrdiff_t o = b * m;
    if (ge && gi) lca_range<K, Euler, Momentum, true, true>(o, m, ge, gi, u, a, prev, self, f, mu, th);
    else if (ge) lca_range<K, Euler, Momentum, true, false>(o, m, ge, gi, u, a, prev, self, f, mu, th);
    else if (gi) lca_range<K, Euler, Momentum, false, true>(o, m, ge, gi, u, a, prev, self, f, mu, th);
    else lca_range<K, Euler, Momentum, false, false>(o, m, ge, gi, u, a, prev, self, f, mu, th);
  }
}

template <math::Threshold K>
void lca_dispatch(std::ptrdiff_t n, const float* ge, const float* gi, float* u, float* a, float* prev,
                  const LcaStep& st) {
  if (prev) {
    if (st.euler) lca_loop<K, true, true>(n, ge, gi, u, a, prev, st);
    else lca_loop<K, false, true>(n, ge, gi, u, a, prev, st);
  } else {
    if (st.euler) lca_loop<K, true, false>(n, ge, gi, u, a, nullptr, st);
    else lca_loop<K, false, false>(n, ge, gi, u, a, nullptr, st);
  }
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
    float* pp = nullptr;  // the previous step, with momentum (momentum 0: the plain update)
    if (st.momentum > 0.0f) {
      if (!st.previous || st.previous->size() != u.size())
        throw InternalError("lca_update: momentum without a previous-step buffer of the membrane's size");
      pp = st.previous->data();
    }
    switch (st.threshold.kind) {
      case T::Soft: lca_dispatch<T::Soft>(n, ge, gi, up, ap, pp, st); break;
      case T::SoftNonNegative: lca_dispatch<T::SoftNonNegative>(n, ge, gi, up, ap, pp, st); break;
      case T::Hard: lca_dispatch<T::Hard>(n, ge, gi, up, ap, pp, st); break;
      case T::Firm: lca_dispatch<T::Firm>(n, ge, gi, up, ap, pp, st); break;
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

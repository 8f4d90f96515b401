#pragma once
// A Backend made of the functors of Kernels.hpp and an executor `Exec` that owns a memory space and
// runs them. Exec provides:
//   DeviceMemory (allocate, release, upload, download, copy, fill) for its memory space;
//   template <class F> void for_each(kernels::index n, const F& f)   runs f(i) for i in [0, n);
//   template <class F> void reduce_rows(int rows, kernels::index len, const F& value, double* out)
//       out[r] = sum_{j < len} value(r * len + j), `out` in its memory (read back with download);
//   void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, const float* B,
//             int ldb, float beta, float* C, int ldc)   C = alpha op(A) op(B) + beta C, column-major (BLAS);
//   std::string name() const, std::string description() const, double free_bytes() const (0: unknown).
// CudaExec (framework/cuda/CudaBackend.cu) launches CUDA kernels; HostExec (DeviceEmulation.cpp)
// runs OpenMP loops on a separate host allocation standing in for device memory, so that every
// device code path (kernels, residency, transfers) is tested where no GPU is.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "framework/Backend.hpp"
#include "framework/Error.hpp"
#include "framework/Kernels.hpp"

namespace laminar {

inline kernels::ConvDims conv_dims(const ConvShape& s, int batch) {
  kernels::ConvDims d;
  d.batch = batch;
  d.fny = s.fine.ny, d.fnx = s.fine.nx, d.fnf = s.fine.nf;
  d.cny = s.coarse.ny, d.cnx = s.coarse.nx, d.cnk = s.coarse.nf;
  d.sy = s.stride_y, d.sx = s.stride_x, d.py = s.patch_y, d.px = s.patch_x, d.oy = s.offset_y, d.ox = s.offset_x;
  return d;
}

template <class Exec>
class KernelBackend final : public Backend {
 public:
  template <class... Args>
  explicit KernelBackend(Args&&... args) : exec_(std::forward<Args>(args)...) {}

  ~KernelBackend() override {
    if (workspace_) exec_.release(workspace_);
    if (sums_) exec_.release(sums_);
    if (factors_) exec_.release(factors_);
  }
  std::string name() const override { return exec_.name(); }
  void set_convolution_algorithm(const std::string& name) override {
    const Algorithm a = name == "direct" ? Algorithm::Direct : Algorithm::Gemm;
    scatter_ = name == "gemm" ? Algorithm::Gemm : Algorithm::Direct;  // auto: the sparse direct scatter
    gather_ = hebbian_ = a;
  }
  std::string description() const override { return exec_.description(); }
  DeviceMemory* memory() override { return &exec_; }
  double free_device_memory() const override { return exec_.free_bytes(); }

  void scatter(const ConvShape& s, const Buffer& w, const Tensor& coarse, Tensor& fine, float scale) override {
    DeviceMemory* m = &exec_;
    const kernels::ConvDims d = conv_dims(s, coarse.batch());
    if (scatter_ == Algorithm::Direct) {
      exec_.for_each(index(fine.size()), kernels::Scatter{d, w.on(m), coarse.on(m), fine.on(m), scale});
      return;
    }
    // cols[m][j] = sum_k a[m][k] w[k][j]  (column-major: cols (ks x M) = W (ks x nk) A (nk x M)), then col2im.
    const int M = positions(d), ks = int(d.ksize());
    float* cols = workspace(std::size_t(M) * ks);
    exec_.gemm(false, false, ks, M, d.cnk, 1.0f, w.on(m), ks, coarse.on(m), d.cnk, 0.0f, cols, ks);
    exec_.for_each(index(fine.size()), kernels::Col2im{d, cols, fine.on(m), scale});
  }
  void gather(const ConvShape& s, const Buffer& wt, const Tensor& fine, Tensor& coarse, float scale) override {
    DeviceMemory* m = &exec_;
    const kernels::ConvDims d = conv_dims(s, fine.batch());
    if (gather_ == Algorithm::Direct) {
      exec_.for_each(index(coarse.size()), kernels::Gather{d, wt.on(m), fine.on(m), coarse.on(m), scale});
      return;
    }
    // coarse[m][k] += scale sum_j P[m][j] wt[j][k]  (column-major: C (nk x M) += Wt (nk x ks) P (ks x M)).
    const int M = positions(d), ks = int(d.ksize());
    const float* patches = im2col(d, fine);
    exec_.gemm(false, false, d.cnk, M, ks, scale, wt.on(m), d.cnk, patches, ks, 1.0f, coarse.on(m), d.cnk);
  }
  void transpose_weights(const ConvShape& s, const Buffer& w, Buffer& wt) override {
    DeviceMemory* m = &exec_;
    if (wt.size() != w.size()) wt.assign(w.size(), 0.0f);
    exec_.for_each(index(w.size()),
                   kernels::TransposeWeights{w.on(m), wt.on(m), index(s.kernel_size()), s.kernels()});
  }
  void hebbian(const ConvShape& s, const Tensor& coarse, const Tensor& fine, Buffer& dw, float scale) override {
    DeviceMemory* m = &exec_;
    const kernels::ConvDims d = conv_dims(s, coarse.batch());
    if (hebbian_ == Algorithm::Direct) {
      exec_.for_each(index(s.weights_size()), kernels::Hebbian{d, coarse.on(m), fine.on(m), dw.on(m), scale});
      return;
    }
    // dw[k][j] += scale sum_m a[m][k] P[m][j]  (column-major: dW (ks x nk) += P (ks x M) A^T (M x nk)).
    const int M = positions(d), ks = int(d.ksize());
    const float* patches = im2col(d, fine);
    exec_.gemm(false, true, ks, d.cnk, M, scale, patches, ks, coarse.on(m), d.cnk, 1.0f, dw.on(m), ks);
  }
  void normalize_l2(const ConvShape& s, Buffer& w, float strength) override {
    // Each kernel's sum of squares (one row per kernel, a parallel reduction), then every weight scaled.
    float* wp = w.on(&exec_);
    const index ks = index(s.kernel_size());
    double* sums = device_sums(std::size_t(s.kernels()));
    exec_.reduce_rows(s.kernels(), ks, kernels::ReduceValue{int(Reduction::SumSquares), wp, {}}, sums);
    exec_.for_each(index(w.size()), kernels::ScaleToNorm{wp, sums, ks, strength});
  }
  void weight_update(Buffer& w, Buffer& v, const Buffer& dw, float eta, float mu) override {
    DeviceMemory* m = &exec_;
    float* vp = mu > 0.0f ? v.on(m) : nullptr;
    exec_.for_each(index(w.size()), kernels::WeightUpdate{w.on(m), vp, dw.on(m), eta, mu});
  }
  void lca_update(const LcaStep& st, const Tensor* exc, const Tensor* inh, Tensor& u, Tensor& a) override {
    using T = math::Threshold;
    switch (st.threshold.kind) {
      case T::Soft: return lca<T::Soft>(st, exc, inh, u, a);
      case T::SoftNonNegative: return lca<T::SoftNonNegative>(st, exc, inh, u, a);
      case T::Hard: return lca<T::Hard>(st, exc, inh, u, a);
      case T::Firm: return lca<T::Firm>(st, exc, inh, u, a);
    }
  }
  void error_update(float scale, const Tensor* exc, const Tensor* inh, Tensor& e) override {
    DeviceMemory* m = &exec_;
    exec_.for_each(index(e.size()),
                   kernels::ErrorUpdate{exc ? exc->on(m) : nullptr, inh ? inh->on(m) : nullptr, e.on(m), scale});
  }
  void axpy(float s, const Tensor& x, Tensor& y) override {
    DeviceMemory* m = &exec_;
    exec_.for_each(index(y.size()), kernels::Axpy{s, x.on(m), y.on(m)});
  }
  void reduce(Reduction r, const Tensor& t, std::vector<double>& out, const math::ThresholdParams* th) override {
    reduce_many({ReduceItem{r, &t, th ? *th : math::ThresholdParams{}}}, out);
  }
  void reduce_many(const std::vector<ReduceItem>& items, std::vector<double>& out) override;

 private:
  using index = kernels::index;
  enum class Algorithm { Direct, Gemm };
  static int positions(const kernels::ConvDims& d) { return d.batch * d.cny * d.cnx; }
  // Scratch device memory for im2col/col2im, grown as needed and kept for the run.
  float* workspace(std::size_t n) { return grown(workspace_, workspace_size_, n); }
  // A device array of at least n doubles (reductions' results), grown as needed and kept for the run.
  double* device_sums(std::size_t n) { return grown(sums_, sums_size_, n); }
  // A device array of at least n floats (per-batch-element LCA factors beyond what travels in the kernel's
  // functor), grown as needed and kept for the run.
  float* device_factors(std::size_t n) { return grown(factors_, factors_size_, n); }
  // `array` (of `size` elements, in the executor's memory) made at least n long: reallocated, contents
  // not kept, when too short; consistent (empty) if the allocation throws.
  template <class T>
  T* grown(T*& array, std::size_t& size, std::size_t n) {
    if (n > size) {
      if (array) exec_.release(array);
      array = nullptr;
      size = 0;
      array = static_cast<T*>(exec_.allocate(n * sizeof(T)));
      size = n;
    }
    return array;
  }
  const float* im2col(const kernels::ConvDims& d, const Tensor& fine) {
    const index n = index(positions(d)) * d.ksize();
    float* patches = workspace(std::size_t(n));
    exec_.for_each(n, kernels::Im2col{d, fine.on(&exec_), patches});
    return patches;
  }
  template <math::Threshold K>
  void lca(const LcaStep& st, const Tensor* exc, const Tensor* inh, Tensor& u, Tensor& a) {
    DeviceMemory* m = &exec_;
    const float* ge = exc ? exc->on(m) : nullptr;
    const float* gi = inh ? inh->on(m) : nullptr;
    float* up = u.on(m);
    float* ap = a.on(m);
    if (!st.factors.empty() && u.size() % st.factors.size() != 0)
      throw InternalError("lca_update: " + std::to_string(st.factors.size()) + " per-element factors for " +
                          std::to_string(u.size()) + " values");
    float* pp = nullptr;  // the previous step, with momentum (momentum 0: the plain update)
    if (st.momentum > 0.0f) {
      if (!st.previous || st.previous->size() != u.size())
        throw InternalError("lca_update: momentum without a previous-step buffer of the membrane's size");
      pp = st.previous->on(m);
    }
    const index n = index(u.size());
    if (pp) {
      if (st.euler) lca_run<K, true, true>(st, ge, gi, up, ap, pp, n);
      else lca_run<K, false, true>(st, ge, gi, up, ap, pp, n);
    } else {
      if (st.euler) lca_run<K, true, false>(st, ge, gi, up, ap, nullptr, n);
      else lca_run<K, false, false>(st, ge, gi, up, ap, nullptr, n);
    }
  }
  // One launch of the LCA functor over the n values: one factor (the constant decay or rate) or one per
  // batch element (st.factors), inline or, past F::kInline, copied to the executor's memory.
  template <math::Threshold K, bool Euler, bool Momentum>
  void lca_run(const LcaStep& st, const float* ge, const float* gi, float* up, float* ap, float* pp, index n) {
    using F = kernels::LcaUpdate<K, Euler, Momentum>;
    F k{ge, gi, up, ap, pp, nullptr, 0, st.self, st.momentum, st.threshold, {}};
    const std::size_t batch = st.factors.size();
    if (batch == 0) {
      k.inline_factor[0] = Euler ? st.rate : st.decay;
    } else {
      k.element = n / index(batch);
      if (batch <= std::size_t(F::kInline)) {
        std::copy(st.factors.begin(), st.factors.end(), k.inline_factor);
      } else {
        float* f = device_factors(batch);
        exec_.upload(f, st.factors.data(), batch * sizeof(float));
        k.factor = f;
      }
    }
    exec_.for_each(n, k);
  }
  Exec exec_;
  Algorithm scatter_ = Algorithm::Direct, gather_ = Algorithm::Gemm, hebbian_ = Algorithm::Gemm;  // "auto"
  float* workspace_ = nullptr;
  std::size_t workspace_size_ = 0;
  double* sums_ = nullptr;  // reduce_into's results, in the executor's memory
  std::size_t sums_size_ = 0;
  float* factors_ = nullptr;  // per-batch-element LCA factors (LcaStep::factors), in the executor's memory
  std::size_t factors_size_ = 0;
};

// Every item's per-element sums into one device array, then one read-back (tensors without values give
// zeros and take no room there).
template <class Exec>
void KernelBackend<Exec>::reduce_many(const std::vector<ReduceItem>& items, std::vector<double>& out) {
  std::size_t rows = 0, used = 0;
  for (const ReduceItem& i : items) {
    rows += std::size_t(i.tensor->batch());
    if (i.tensor->size() > 0) used += std::size_t(i.tensor->batch());
  }
  out.assign(rows, 0.0);
  if (used == 0) return;
  double* sums = device_sums(used);
  std::size_t at = 0;
  for (const ReduceItem& i : items) {
    const Tensor& t = *i.tensor;
    if (t.size() == 0) continue;
    exec_.reduce_rows(t.batch(), index(t.element_size()),
                      kernels::ReduceValue{int(i.reduction), t.on(&exec_), i.threshold}, sums + at);
    at += std::size_t(t.batch());
  }
  std::vector<double> got(used);
  exec_.download(got.data(), sums, used * sizeof(double));
  std::size_t from = 0, to = 0;
  for (const ReduceItem& i : items) {
    const std::size_t n = std::size_t(i.tensor->batch());
    if (i.tensor->size() > 0) {
      std::copy_n(got.begin() + std::ptrdiff_t(from), n, out.begin() + std::ptrdiff_t(to));
      from += n;
    }
    to += n;
  }
}

}  // namespace laminar

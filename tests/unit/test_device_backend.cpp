// The device backends' code path without a GPU: Buffer residency (what is copied when), and every
// kernel of Kernels.hpp run by the device emulation backend against the CPU backend. The CUDA
// backend runs the same kernels (KernelBackend.hpp); only its launches and memory calls differ.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <tuple>

#include "framework/Backend.hpp"
#include "tests/unit/TestUtil.hpp"

namespace laminar {
namespace {

Backend& emulation() { return Backend::named("device_emulation"); }

// The device backend a kernel test runs on: the emulation everywhere; CUDA where a GPU can be used
// (else the test is skipped, saying why). Tolerances, relative to the array's largest value: the
// emulation sums in another order than the CPU (1e-6); a GPU also fuses multiply-adds and cuBLAS
// blocks its sums its own way (1e-5).
Backend* device_or_skip(const std::string& name, std::string& why) {
  try {
    return &Backend::named(name);
  } catch (const UserError& e) {
    why = e.what();
    return nullptr;
  }
}
double tolerance(const std::string& name) { return name == "cuda" ? 1e-5 : 1e-6; }

// Worst |a - b| over the largest |b|: 0 for equal arrays, ~1e-7 for a different summation order.
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0.0, scale = 1e-30;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    worst = std::max(worst, std::abs(double(a[i]) - b[i]));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return worst / scale;
}

TEST(Buffer, StaysCoherentAcrossMemories) {
  DeviceMemory* m = emulation().memory();
  ASSERT_NE(m, nullptr);
  Buffer b(5, 1.0f);
  const auto t0 = m->traffic;
  float* d = b.on(m);  // first use: allocate and upload
  EXPECT_EQ(m->traffic.uploads, t0.uploads + 1);
  d[2] = 7.0f;  // written "on the device"
  EXPECT_EQ(b.where(), Buffer::Where::Device);
  EXPECT_EQ(b.data()[2], 7.0f);  // download
  EXPECT_EQ(m->traffic.downloads, t0.downloads + 1);
  b.data()[3] = 9.0f;  // host write: device copy stale
  EXPECT_EQ(b.where(), Buffer::Where::Host);
  EXPECT_EQ(static_cast<const Buffer&>(b).on(m)[3], 9.0f);  // upload again (a read: both copies agree)
  EXPECT_EQ(m->traffic.uploads, t0.uploads + 2);
  EXPECT_EQ(b.where(), Buffer::Where::Both);
  // Reading the host copy twice downloads once; reading the device copy when both agree copies nothing.
  static_cast<const Buffer&>(b).data();
  static_cast<const Buffer&>(b).data();
  static_cast<const Buffer&>(b).on(m);
  EXPECT_EQ(m->traffic.uploads, t0.uploads + 2);
  EXPECT_EQ(m->traffic.downloads, t0.downloads + 1);
}

TEST(Buffer, FillAndCopyStayOnTheDevice) {
  DeviceMemory* m = emulation().memory();
  Buffer b(8, 0.0f);
  b.on(m);
  const auto t0 = m->traffic;
  b.fill(3.0f);        // whole buffer: written where it lives
  b.fill(2, 3, 5.0f);  // part of it
  Buffer c = b;        // device-resident: device to device
  EXPECT_EQ(c.where(), Buffer::Where::Device);
  EXPECT_EQ(m->traffic.uploads, t0.uploads);
  EXPECT_EQ(m->traffic.downloads, t0.downloads);
  const std::vector<float> want{3, 3, 5, 5, 5, 3, 3, 3};
  EXPECT_EQ(c.host_vector(), want);
  EXPECT_EQ(b.host_vector(), want);
  Buffer moved = std::move(b);  // moves keep the device copy
  EXPECT_EQ(moved.host_vector(), want);
  // A host-only buffer is copied on the host.
  Buffer h(3, 1.0f), h2 = h;
  EXPECT_EQ(h2.where(), Buffer::Where::Host);
  EXPECT_EQ(h2.memory(), nullptr);
}

TEST(Buffer, CpuBackendComputesOnHostMemory) {
  EXPECT_EQ(Backend::cpu().memory(), nullptr);
  Buffer b(4, 2.0f);
  EXPECT_EQ(b.on(nullptr), b.data());
}

TEST(Backend, UnavailableCudaIsAClearError) {
  // In a build without CUDA, or on a machine without a GPU, asking for it names what is missing.
  try {
    Backend& b = Backend::named("cuda");
    EXPECT_EQ(b.name(), "cuda");  // a GPU is here: nothing to check in this test
  } catch (const UserError& e) {
    const std::string m = e.what();
    EXPECT_TRUE(m.find("built without CUDA") != std::string::npos || m.find("needs an NVIDIA GPU") != std::string::npos)
        << m;
  }
  EXPECT_NE(test::error_of([] { Backend::named("tpu"); }).find("expected cpu, cuda or device_emulation"),
            std::string::npos);
}

TEST(Backend, ReduceManyEqualsOneReduceEach) {
  std::mt19937 rng(3);
  Tensor a(2, Geometry{3, 4, 5}), b(3, Geometry{2, 2, 7}), none;
  test::fill_random(a.vector(), rng);
  test::fill_random(b.vector(), rng);
  for (Backend* be : {&Backend::cpu(), &emulation()}) {
    SCOPED_TRACE(be->name());
    std::vector<double> many, one, want;
    be->reduce_many({{Reduction::SumSquares, &a, {}}, {Reduction::SumSquares, &none, {}},
                     {Reduction::SumSquares, &b, {}}},
                    many);
    for (const Tensor* t : {&a, &none, &b}) {
      be->reduce(Reduction::SumSquares, *t, one);
      want.insert(want.end(), one.begin(), one.end());
    }
    ASSERT_EQ(many.size(), 5u);
    EXPECT_EQ(many, want);
    double direct = 0.0;
    for (float v : b.element(2)) direct += double(v) * v;
    EXPECT_NEAR(many[4], direct, 1e-12 * direct);
  }
}

struct ConvCase {
  int sy, sx, py, px, ncy, ncx, nk, nff, batch;
  double zeros;
};

class DeviceKernels : public ::testing::TestWithParam<std::tuple<std::string, ConvCase>> {};

// Scatter, gather (through transposed weights), Hebbian, normalisation and the weight update of the
// device backend against the CPU backend, from identical inputs, including halo-like offsets.
TEST_P(DeviceKernels, ConvolutionKernelsMatchTheCpuBackend) {
  const auto& [name, c] = GetParam();
  std::string why;
  Backend* device = device_or_skip(name, why);
  if (!device) GTEST_SKIP() << why;
  const double tol = tolerance(name);
  std::mt19937 rng(11 + c.nk);
  const Geometry coarse{c.ncx, c.ncy, c.nk}, fine{c.ncx * c.sx, c.ncy * c.sy, c.nff};
  for (int shift : {0, 1}) {  // shift: an MPI tile's local shape (offsets moved, as Parallel.cpp does)
    SCOPED_TRACE("offset shift " + std::to_string(shift));
    ConvShape s = ConvShape::make(fine, coarse, c.sy, c.sx, c.py, c.px);
    s.offset_y += shift;
    s.offset_x -= shift;
    Tensor a(c.batch, coarse), e(c.batch, fine);
    test::fill_random(a.vector(), rng, -1.0f, 1.0f, c.zeros);
    test::fill_random(e.vector(), rng);
    Buffer w(s.weights_size());
    test::fill_random(w.host_vector(), rng);
    Tensor fine0(c.batch, fine), coarse0(c.batch, coarse);
    test::fill_random(fine0.vector(), rng);
    test::fill_random(coarse0.vector(), rng);
    Buffer dw0(s.weights_size());
    test::fill_random(dw0.host_vector(), rng);

    struct Result {
      std::vector<float> fine, coarse, dw, w, v;
    };
    auto run = [&](Backend& be) {
      // Copies: each backend gets its own buffers (the device one uploads them).
      Tensor fa = fine0, co = coarse0, ac = a, ee = e;
      Buffer ww = w, wt, d = dw0, v(s.weights_size(), 0.25f);
      be.scatter(s, ww, ac, fa, 0.5f);
      be.transpose_weights(s, ww, wt);
      be.gather(s, wt, ee, co, -2.0f);
      be.hebbian(s, ac, ee, d, 0.25f);
      be.weight_update(ww, v, d, 0.1f, 0.5f);
      be.normalize_l2(s, ww, 2.0f);
      return Result{fa.vector(), co.vector(), d.host_vector(), ww.host_vector(), v.host_vector()};
    };
    const Result want = run(Backend::cpu());
    for (const char* algorithm : {"direct", "gemm", "auto"}) {
      SCOPED_TRACE(std::string("device_convolution ") + algorithm);
      device->set_convolution_algorithm(algorithm);
      const Result got = run(*device);
      device->set_convolution_algorithm("auto");
      EXPECT_LT(relative_difference(got.fine, want.fine), tol);
      EXPECT_LT(relative_difference(got.coarse, want.coarse), tol);
      EXPECT_LT(relative_difference(got.dw, want.dw), tol);
      EXPECT_LT(relative_difference(got.v, want.v), tol);
      EXPECT_LT(relative_difference(got.w, want.w), tol);
      // The delivery really did something (a kernel that skipped everything would fail here).
      EXPECT_GT(relative_difference(got.fine, fine0.vector()), 1e-3);
      EXPECT_GT(relative_difference(got.coarse, coarse0.vector()), 1e-3);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, DeviceKernels,
    ::testing::Combine(::testing::Values(std::string("device_emulation"), std::string("cuda")), ::testing::Values(ConvCase{1, 1, 1, 1, 4, 5, 3, 1, 1, 0.0}, ConvCase{1, 1, 3, 3, 5, 4, 7, 3, 3, 0.5},
                      ConvCase{2, 2, 4, 4, 6, 5, 16, 3, 2, 0.8}, ConvCase{2, 2, 8, 8, 5, 5, 33, 3, 1, 0.9},
                      ConvCase{2, 2, 5, 5, 4, 3, 7, 1, 3, 0.7}, ConvCase{3, 3, 4, 4, 2, 3, 1, 3, 3, 0.0},
                      ConvCase{1, 8, 4, 32, 2, 2, 5, 1, 2, 0.3} /* text-like anisotropic strides */,
                      ConvCase{2, 2, 13, 13, 3, 2, 2, 2, 2, 0.0} /* patch larger than the fine grid */)),
    [](const auto& info) { return std::get<0>(info.param) + "_" + std::to_string(info.index); });

class DeviceElementKernels : public ::testing::TestWithParam<std::string> {};

// LCA and error updates for every threshold, integrator and channel combination, and the reductions.
TEST_P(DeviceElementKernels, ElementUpdatesMatchTheCpuBackend) {
  std::string why;
  Backend* device = device_or_skip(GetParam(), why);
  if (!device) GTEST_SKIP() << why;
  std::mt19937 rng(5);
  const Geometry g{7, 5, 9};
  Tensor ge(3, g), gi(3, g), u0(3, g), a0(3, g);
  for (Tensor* t : {&ge, &gi, &u0, &a0}) test::fill_random(t->vector(), rng, -2.0f, 2.0f);
  using T = math::Threshold;
  for (T kind : {T::Soft, T::SoftNonNegative, T::Hard, T::Firm})
    for (bool euler : {false, true})
      for (int channels = 0; channels < 4; ++channels) {
        SCOPED_TRACE("threshold " + std::to_string(int(kind)) + (euler ? " euler" : " exponential") + " channels " +
                     std::to_string(channels));
        LcaStep st;
        st.threshold.kind = kind;
        st.threshold.lambda = 0.4f;
        st.threshold.width = 0.3f;
        st.threshold.a_max = 1.5f;
        st.euler = euler;
        st.decay = std::exp(-0.3f);
        st.rate = 0.3f;
        st.self = channels == 3 ? 0.0f : 1.0f;
        auto run = [&](Backend& be) {
          Tensor u = u0, a = a0, e(3, g), x = ge, y = gi;
          const Tensor* exc = channels & 1 ? &x : nullptr;
          const Tensor* inh = channels & 2 ? &y : nullptr;
          for (int n = 0; n < 3; ++n) be.lca_update(st, exc, inh, u, a);
          be.error_update(1.5f, exc, inh, e);
          be.axpy(-0.5f, a, e);
          std::vector<double> sums[3];
          be.reduce(Reduction::Sum, u, sums[0]);
          be.reduce(Reduction::SumSquares, e, sums[1]);
          be.reduce(Reduction::SparsityCost, a, sums[2], &st.threshold);
          std::vector<float> out = u.vector();
          out.insert(out.end(), a.vector().begin(), a.vector().end());
          out.insert(out.end(), e.vector().begin(), e.vector().end());
          for (auto& s : sums)
            for (double v : s) out.push_back(float(v));
          return out;
        };
        const std::vector<float> want = run(Backend::cpu()), got = run(*device);
        EXPECT_LT(relative_difference(got, want), tolerance(GetParam()));
      }
}

// LCA momentum (LcaStep::momentum, LcaUpdate<K, Euler, true>): every threshold and integrator, with the constant
// factor and with per-batch-element factors (inline in the functor, and more than travel there: an array
// on the device); membrane, activity and the previous-step buffer after 4 steps equal the CPU backend's,
// and the CPU backend's equal the scalar recurrence of math::membrane_momentum.
TEST_P(DeviceElementKernels, LcaMomentumMatchesTheCpuBackend) {
  std::string why;
  Backend* device = device_or_skip(GetParam(), why);
  if (!device) GTEST_SKIP() << why;
  std::mt19937 rng(11);
  using T = math::Threshold;
  for (int batch : {3, 70})
    for (T kind : {T::Soft, T::SoftNonNegative, T::Hard, T::Firm})
      for (bool euler : {false, true})
        for (bool per_element : {false, true}) {
          SCOPED_TRACE("batch " + std::to_string(batch) + " threshold " + std::to_string(int(kind)) +
                       (euler ? " euler" : " exponential") + (per_element ? " per element" : " constant"));
          const Geometry g{3, 2, 5};
          Tensor ge(batch, g), gi(batch, g), u0(batch, g), a0(batch, g), p0(batch, g);
          for (Tensor* t : {&ge, &gi, &u0, &a0, &p0}) test::fill_random(t->vector(), rng, -2.0f, 2.0f);
          LcaStep st;
          st.threshold.kind = kind;
          st.threshold.lambda = 0.4f;
          st.threshold.width = 0.3f;
          st.euler = euler;
          st.decay = std::exp(-0.3f);
          st.rate = 0.3f;
          st.momentum = 0.9f;
          if (per_element)
            for (int b = 0; b < batch; ++b) st.factors.push_back(euler ? 0.1f + 0.01f * b : std::exp(-0.1f - 0.01f * b));
          auto run = [&](Backend& be) {
            Tensor u = u0, a = a0, prev = p0, x = ge, y = gi;
            LcaStep s = st;
            s.previous = &prev;
            for (int n = 0; n < 4; ++n) be.lca_update(s, &x, &y, u, a);
            std::vector<float> out = u.vector();
            out.insert(out.end(), a.vector().begin(), a.vector().end());
            out.insert(out.end(), prev.vector().begin(), prev.vector().end());
            return out;
          };
          const std::vector<float> want = run(Backend::cpu()), got = run(*device);
          EXPECT_LT(relative_difference(got, want), tolerance(GetParam()));
          // The recurrence by hand (double), against the CPU backend.
          const std::size_t n = u0.size(), m = n / std::size_t(batch);
          std::vector<double> u(u0.vector().begin(), u0.vector().end()), a(a0.vector().begin(), a0.vector().end()),
              prev(p0.vector().begin(), p0.vector().end());
          for (int step = 0; step < 4; ++step)
            for (std::size_t i = 0; i < n; ++i) {
              const double f = per_element ? st.factors[i / m] : (euler ? st.rate : st.decay);
              const double drive = ge.vector()[i] - gi.vector()[i] + a[i];
              const double plain = euler ? u[i] + f * (drive - u[i]) : f * u[i] + (1 - f) * drive;
              prev[i] = (plain - u[i]) + 0.9 * prev[i];
              u[i] += prev[i];
              a[i] = math::threshold(float(u[i]), st.threshold);
            }
          std::vector<float> hand;
          for (const auto* v : {&u, &a, &prev})
            for (double x : *v) hand.push_back(float(x));
          EXPECT_LT(relative_difference(want, hand), 1e-4);
        }
}

INSTANTIATE_TEST_SUITE_P(Backends, DeviceElementKernels,
                         ::testing::Values(std::string("device_emulation"), std::string("cuda")),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace laminar

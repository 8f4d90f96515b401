// Hebbian learning and L2 normalisation kernels (Backend.hpp) against naive loops, and the
// per-element math of ElementMath.hpp against values computed by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "framework/Backend.hpp"
#include "framework/ElementMath.hpp"
#include "tests/unit/TestUtil.hpp"

namespace laminar {
namespace {

using math::Threshold;
using math::ThresholdParams;

// dW[k,py,px,f] += scale * sum_b sum_{cy,cx} coarse[b,cy,cx,k] fine[b, cy*s+oy+py, cx*s+ox+px, f]
// (zero outside the fine grid), offsets as in Backend.hpp.
std::vector<double> naive_hebbian(const ConvShape& s, const Tensor& coarse, const Tensor& fine, double scale) {
  const int oy = -int(std::floor((s.patch_y - s.stride) / 2.0)), ox = -int(std::floor((s.patch_x - s.stride) / 2.0));
  std::vector<double> dw(s.weights_size(), 0.0);
  for (int k = 0; k < s.coarse.nf; ++k)
    for (int py = 0; py < s.patch_y; ++py)
      for (int px = 0; px < s.patch_x; ++px)
        for (int f = 0; f < s.fine.nf; ++f) {
          double sum = 0.0;
          for (int b = 0; b < coarse.batch(); ++b)
            for (int cy = 0; cy < s.coarse.ny; ++cy)
              for (int cx = 0; cx < s.coarse.nx; ++cx) {
                const int y = cy * s.stride + oy + py, x = cx * s.stride + ox + px;
                if (y < 0 || y >= s.fine.ny || x < 0 || x >= s.fine.nx) continue;
                sum += double(coarse.at(b, cy, cx, k)) * fine.at(b, y, x, f);
              }
          dw[((std::size_t(k) * s.patch_y + py) * s.patch_x + px) * s.fine.nf + f] = scale * sum;
        }
  return dw;
}

TEST(Hebbian, MatchesNaiveLoop) {
  struct C {
    int stride, patch, ncy, ncx, nk, nff, batch;
    double zeros;
  };
  const C cases[] = {{1, 1, 4, 5, 3, 1, 1, 0.0}, {1, 3, 5, 4, 7, 3, 3, 0.5}, {1, 4, 6, 6, 2, 7, 2, 0.0},
                     {2, 2, 3, 5, 3, 3, 1, 0.0}, {2, 5, 4, 3, 7, 1, 3, 0.7}, {2, 8, 7, 7, 4, 1, 2, 0.0},
                     {3, 4, 2, 3, 1, 3, 3, 0.0}, {3, 7, 3, 2, 3, 7, 2, 0.9}, {4, 9, 2, 2, 3, 3, 1, 0.0},
                     {2, 13, 3, 2, 2, 2, 2, 0.0} /* patch larger than the 6x4 fine grid */};
  std::mt19937 rng(7);
  for (const C& c : cases) {
    SCOPED_TRACE("stride " + std::to_string(c.stride) + " patch " + std::to_string(c.patch) + " nk " +
                 std::to_string(c.nk) + " nff " + std::to_string(c.nff) + " batch " + std::to_string(c.batch));
    const Geometry coarse{c.ncx, c.ncy, c.nk}, fine{c.ncx * c.stride, c.ncy * c.stride, c.nff};
    const ConvShape s = ConvShape::make(fine, coarse, c.stride, c.patch, c.patch);
    Tensor a(c.batch, coarse), e(c.batch, fine);
    test::fill_random(a.vector(), rng, -1.0f, 1.0f, c.zeros);
    test::fill_random(e.vector(), rng);
    std::vector<float> dw(s.weights_size()), dw0;
    test::fill_random(dw, rng);  // hebbian accumulates: start from nonzero values
    dw0 = dw;
    const float scale = 1.0f / float(c.batch);
    cpu::hebbian(s, a, e, dw.data(), scale);
    const auto ref = naive_hebbian(s, a, e, scale);
    for (std::size_t i = 0; i < dw.size(); ++i) {
      const double want = dw0[i] + ref[i];
      ASSERT_NEAR(dw[i], want, 1e-5 * (1.0 + std::fabs(want))) << "index " << i;
    }
  }
}

TEST(Hebbian, IsTheGradientOfTheReconstruction) {
  // d/dW <Phi_W a, e> = hebbian(a, e): check one weight by finite difference of the bilinear
  // form (exact for a bilinear function, so only rounding remains).
  const Geometry coarse{3, 3, 2}, fine{6, 6, 3};
  const ConvShape s = ConvShape::make(fine, coarse, 2, 4, 4);
  std::mt19937 rng(11);
  Tensor a(2, coarse), e(2, fine);
  test::fill_random(a.vector(), rng);
  test::fill_random(e.vector(), rng);
  std::vector<float> dw(s.weights_size(), 0.0f);
  cpu::hebbian(s, a, e, dw.data(), 1.0f);
  for (std::size_t j : {std::size_t(0), std::size_t(17), s.weights_size() / 2, s.weights_size() - 1}) {
    std::vector<float> w(s.weights_size(), 0.0f);
    w[j] = 1.0f;  // <Phi_{unit j} a, e> is exactly d/dW_j
    Tensor out(2, fine);
    cpu::deliver_scatter(s, w.data(), a, out, 1.0f);
    double dot = 0;
    for (std::size_t i = 0; i < out.size(); ++i) dot += double(out.data()[i]) * e.data()[i];
    EXPECT_NEAR(dw[j], dot, 1e-5 * (1 + std::fabs(dot))) << "weight " << j;
  }
}

TEST(NormalizeL2, ScalesEachKernelAndSkipsZeroKernels) {
  const Geometry coarse{2, 2, 3}, fine{4, 4, 2};
  const ConvShape s = ConvShape::make(fine, coarse, 2, 2, 2);  // kernel size 2*2*2 = 8
  std::vector<float> w(s.weights_size(), 0.0f);
  for (int j = 0; j < 8; ++j) w[j] = float(j + 1);  // kernel 0: norm sqrt(204)
  // kernel 1 stays all zero
  w[16 + 3] = -4.0f;  // kernel 2: norm 5
  w[16 + 5] = 3.0f;
  cpu::normalize_l2(s, w.data(), 2.0f);
  for (int j = 0; j < 8; ++j) EXPECT_NEAR(w[j], 2.0 * (j + 1) / std::sqrt(204.0), 1e-6);
  for (int j = 8; j < 16; ++j) EXPECT_EQ(w[j], 0.0f);
  EXPECT_NEAR(w[16 + 3], -1.6, 1e-6);
  EXPECT_NEAR(w[16 + 5], 1.2, 1e-6);
  for (int j : {16, 17, 18, 20, 22, 23}) EXPECT_EQ(w[j], 0.0f);

  // Random kernels end at norm `strength` exactly (to float rounding), direction unchanged.
  std::mt19937 rng(3);
  std::vector<float> r(s.weights_size());
  test::fill_random(r, rng);
  std::vector<float> r0 = r;
  cpu::normalize_l2(s, r.data(), 1.0f);
  for (int k = 0; k < 3; ++k) {
    double n = 0, n0 = 0;
    for (int j = 0; j < 8; ++j) {
      n += double(r[k * 8 + j]) * r[k * 8 + j];
      n0 += double(r0[k * 8 + j]) * r0[k * 8 + j];
    }
    EXPECT_NEAR(std::sqrt(n), 1.0, 1e-6);
    for (int j = 0; j < 8; ++j) EXPECT_NEAR(r[k * 8 + j], r0[k * 8 + j] / std::sqrt(n0), 1e-6);
  }
}

ThresholdParams tp(Threshold kind, float lambda, float width = 0.0f, float a_min = -INFINITY, float a_max = INFINITY) {
  ThresholdParams p;
  p.kind = kind;
  p.lambda = lambda;
  p.width = width;
  p.a_min = a_min;
  p.a_max = a_max;
  return p;
}

TEST(Threshold, Soft) {
  const auto p = tp(Threshold::Soft, 0.5f);
  EXPECT_FLOAT_EQ(math::threshold(2.0f, p), 1.5f);
  EXPECT_FLOAT_EQ(math::threshold(-2.0f, p), -1.5f);
  EXPECT_EQ(math::threshold(0.5f, p), 0.0f);   // exactly at lambda: 0
  EXPECT_EQ(math::threshold(-0.5f, p), 0.0f);
  EXPECT_EQ(math::threshold(0.3f, p), 0.0f);
  EXPECT_EQ(math::threshold(-0.49f, p), 0.0f);
  EXPECT_EQ(math::threshold(0.0f, p), 0.0f);
  EXPECT_FLOAT_EQ(math::threshold(0.75f, p), 0.25f);
  EXPECT_FLOAT_EQ(math::threshold(-0.75f, p), -0.25f);
}

TEST(Threshold, SoftNonNegative) {
  const auto p = tp(Threshold::SoftNonNegative, 0.5f);
  EXPECT_FLOAT_EQ(math::threshold(2.0f, p), 1.5f);
  EXPECT_EQ(math::threshold(-2.0f, p), 0.0f);
  EXPECT_EQ(math::threshold(0.5f, p), 0.0f);
  EXPECT_EQ(math::threshold(0.2f, p), 0.0f);
  EXPECT_FLOAT_EQ(math::threshold(0.75f, p), 0.25f);
  EXPECT_EQ(math::threshold(-0.75f, p), 0.0f);
}

TEST(Threshold, Hard) {
  const auto p = tp(Threshold::Hard, 0.5f);
  EXPECT_FLOAT_EQ(math::threshold(2.0f, p), 2.0f);
  EXPECT_FLOAT_EQ(math::threshold(-2.0f, p), -2.0f);
  EXPECT_EQ(math::threshold(0.5f, p), 0.0f);
  EXPECT_EQ(math::threshold(-0.4f, p), 0.0f);
  EXPECT_FLOAT_EQ(math::threshold(0.51f, p), 0.51f);
  EXPECT_FLOAT_EQ(math::threshold(-0.51f, p), -0.51f);
}

TEST(Threshold, FirmRamp) {
  // lambda 1, width 2: 0 for |u| <= 1; ramp (lambda + width)(|u| - lambda)/width = 1.5(|u| - 1)
  // for 1 < |u| < 3 (so 0 at 1, 3 at 3: continuous), u beyond.
  const auto p = tp(Threshold::Firm, 1.0f, 2.0f);
  EXPECT_EQ(math::threshold(0.5f, p), 0.0f);
  EXPECT_EQ(math::threshold(1.0f, p), 0.0f);
  EXPECT_FLOAT_EQ(math::threshold(1.5f, p), 0.75f);
  EXPECT_FLOAT_EQ(math::threshold(2.0f, p), 1.5f);
  EXPECT_FLOAT_EQ(math::threshold(-2.0f, p), -1.5f);
  EXPECT_FLOAT_EQ(math::threshold(2.9f, p), 2.85f);
  EXPECT_FLOAT_EQ(math::threshold(3.0f, p), 3.0f);
  EXPECT_FLOAT_EQ(math::threshold(-3.0f, p), -3.0f);
  EXPECT_FLOAT_EQ(math::threshold(5.0f, p), 5.0f);
  EXPECT_FLOAT_EQ(math::threshold(-7.0f, p), -7.0f);
  // Continuity at both ends of the ramp.
  EXPECT_NEAR(math::threshold(1.0001f, p), 0.0f, 1e-3);
  EXPECT_NEAR(math::threshold(2.9999f, p), 2.9999f, 1e-3);
}

TEST(Threshold, Clamps) {
  // Clamps apply after thresholding, to every kind.
  EXPECT_FLOAT_EQ(math::threshold(5.0f, tp(Threshold::Soft, 0.5f, 0, -1.0f, 2.0f)), 2.0f);
  EXPECT_FLOAT_EQ(math::threshold(-5.0f, tp(Threshold::Soft, 0.5f, 0, -1.0f, 2.0f)), -1.0f);
  EXPECT_FLOAT_EQ(math::threshold(1.0f, tp(Threshold::Soft, 0.5f, 0, -1.0f, 2.0f)), 0.5f);
  EXPECT_FLOAT_EQ(math::threshold(-5.0f, tp(Threshold::Hard, 0.5f, 0, -1.0f, 2.0f)), -1.0f);
  EXPECT_FLOAT_EQ(math::threshold(3.0f, tp(Threshold::Hard, 0.5f, 0, -1.0f, 2.0f)), 2.0f);
  EXPECT_FLOAT_EQ(math::threshold(9.0f, tp(Threshold::SoftNonNegative, 0.5f, 0, -1.0f, 4.0f)), 4.0f);
  EXPECT_FLOAT_EQ(math::threshold(2.0f, tp(Threshold::Firm, 1.0f, 2.0f, -1.0f, 1.0f)), 1.0f);
  EXPECT_FLOAT_EQ(math::threshold(-2.0f, tp(Threshold::Firm, 1.0f, 2.0f, -1.0f, 1.0f)), -1.0f);
  // A positive a_min lifts sub-threshold zeros (clamp after threshold).
  EXPECT_FLOAT_EQ(math::threshold(0.1f, tp(Threshold::Soft, 0.5f, 0, 0.25f, 2.0f)), 0.25f);
  // A negative a_max caps positive activity.
  EXPECT_FLOAT_EQ(math::threshold(3.0f, tp(Threshold::Hard, 0.5f, 0, -INFINITY, -0.5f)), -0.5f);
}

TEST(SparsityCost, EveryKind) {
  // Soft, soft_nonneg: lambda |a|.
  EXPECT_FLOAT_EQ(math::sparsity_cost(1.5f, tp(Threshold::Soft, 0.5f)), 0.75f);
  EXPECT_FLOAT_EQ(math::sparsity_cost(-1.5f, tp(Threshold::Soft, 0.5f)), 0.75f);
  EXPECT_EQ(math::sparsity_cost(0.0f, tp(Threshold::Soft, 0.5f)), 0.0f);
  EXPECT_FLOAT_EQ(math::sparsity_cost(2.0f, tp(Threshold::SoftNonNegative, 0.25f)), 0.5f);
  // Hard: lambda^2/2 per nonzero.
  EXPECT_FLOAT_EQ(math::sparsity_cost(3.0f, tp(Threshold::Hard, 0.5f)), 0.125f);
  EXPECT_FLOAT_EQ(math::sparsity_cost(-0.01f, tp(Threshold::Hard, 0.5f)), 0.125f);
  EXPECT_EQ(math::sparsity_cost(0.0f, tp(Threshold::Hard, 0.5f)), 0.0f);
  // Firm (OpenPV): t = lambda + width; lambda * (|a| (1 - |a|/(2t))) for |a| < t, lambda t/2 beyond.
  const auto f = tp(Threshold::Firm, 1.0f, 2.0f);  // t = 3
  EXPECT_FLOAT_EQ(math::sparsity_cost(1.5f, f), 1.0f * 1.5f * (1.0f - 1.5f / 6.0f));  // 1.125
  EXPECT_FLOAT_EQ(math::sparsity_cost(-1.5f, f), 1.125f);
  EXPECT_FLOAT_EQ(math::sparsity_cost(3.0f, f), 1.5f);
  EXPECT_FLOAT_EQ(math::sparsity_cost(10.0f, f), 1.5f);
  EXPECT_EQ(math::sparsity_cost(0.0f, f), 0.0f);
  const auto f2 = tp(Threshold::Firm, 0.5f, 1.0f);  // t = 1.5
  EXPECT_FLOAT_EQ(math::sparsity_cost(1.0f, f2), 0.5f * (1.0f - 1.0f / 3.0f));
  EXPECT_FLOAT_EQ(math::sparsity_cost(2.0f, f2), 0.375f);
  // Continuity of the firm cost at |a| = t.
  EXPECT_NEAR(math::sparsity_cost(2.9999f, f), 1.5f, 1e-4);
}

TEST(SparsityCost, SoftThresholdIsItsProximalMap) {
  // For the soft kinds, a = T(u) satisfies u - a = lambda * dC/da where a != 0 (the
  // stationarity condition the LCA relies on); checked by central differences of the cost.
  for (Threshold kind : {Threshold::Soft, Threshold::SoftNonNegative}) {
    const auto p = tp(kind, 0.3f);
    for (float u : {0.5f, 1.0f, 2.5f, -0.9f}) {
      const float a = math::threshold(u, p);
      if (a == 0.0f) continue;
      const float h = 1e-3f;
      const double grad = (double(math::sparsity_cost(a + h, p)) - math::sparsity_cost(a - h, p)) / (2.0 * h);
      EXPECT_NEAR(u - a, grad, 1e-4) << "u " << u;
    }
  }
  // Firm: u - a = dC/da on the ramp as well: C'(a) = lambda (1 - |a|/t) sign(a).
  const auto f = tp(Threshold::Firm, 1.0f, 2.0f);
  for (float u : {1.5f, 2.0f, 2.5f, -2.2f}) {
    const float a = math::threshold(u, f);
    const float h = 1e-3f;
    const double grad = (double(math::sparsity_cost(a + h, f)) - math::sparsity_cost(a - h, f)) / (2.0 * h);
    EXPECT_NEAR(u - a, grad, 2e-3) << "u " << u;
  }
}

TEST(Membrane, ExponentialEuler) {
  // u <- e u + (1 - e)(drive + a), e = exp(-dt/tau).
  const float e = float(std::exp(-0.1));
  EXPECT_FLOAT_EQ(math::membrane_exponential(2.0f, 5.0f, e), e * 2.0f + (1 - e) * 5.0f);
  EXPECT_FLOAT_EQ(math::membrane_exponential(1.0f, 1.0f, e), 1.0f);  // fixed point u = drive + a
  EXPECT_FLOAT_EQ(math::membrane_exponential(3.0f, -1.0f, 0.0f), -1.0f);  // e = 0: jump to the drive
  EXPECT_FLOAT_EQ(math::membrane_exponential(3.0f, -1.0f, 1.0f), 3.0f);   // e = 1: frozen
  // Exact solution of tau du/dt = -u + c over n steps of dt: u(n dt) = c + (u0 - c) exp(-n dt / tau).
  float u = 0.0f;
  for (int n = 0; n < 50; ++n) u = math::membrane_exponential(u, 2.0f, e);
  EXPECT_NEAR(u, 2.0 * (1 - std::exp(-5.0)), 1e-5);
}

TEST(Membrane, ForwardEuler) {
  // u <- u + (dt/tau)(drive + a - u).
  EXPECT_FLOAT_EQ(math::membrane_euler(2.0f, 5.0f, 0.1f), 2.3f);
  EXPECT_FLOAT_EQ(math::membrane_euler(2.0f, 2.0f, 0.7f), 2.0f);
  EXPECT_FLOAT_EQ(math::membrane_euler(-1.0f, 1.0f, 1.0f), 1.0f);
  float u = 0.0f;
  for (int n = 0; n < 30; ++n) u = math::membrane_euler(u, 1.0f, 0.1f);
  EXPECT_NEAR(u, 1.0 - std::pow(0.9, 30), 1e-6);
}

TEST(ErrorValue, ScaledDifference) {
  EXPECT_FLOAT_EQ(math::error_value(3.0f, 1.0f, 1.0f), 2.0f);
  EXPECT_FLOAT_EQ(math::error_value(3.0f, 1.0f, 0.5f), 1.0f);
  EXPECT_FLOAT_EQ(math::error_value(1.0f, 3.0f, -2.0f), 4.0f);
}

}  // namespace
}  // namespace laminar

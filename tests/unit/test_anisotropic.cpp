// Per-axis strides and non-square kernels (ConvShape::make(fine, coarse, sy, sx, py, px)): the CPU
// kernels against naive loops written from the equations in Backend.hpp, over random geometries
// (strides 1-4 per axis, patches >= stride, borders, sparse inputs), plus adjointness
// <Phi a, e> = <a, Phi^T e>. With sy == sx the per-axis overload equals the isotropic one.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "framework/Backend.hpp"

using namespace laminar;

namespace {

int floor_half(int d) { return static_cast<int>(std::floor(d / 2.0)); }

TEST(Anisotropic, KernelsMatchNaiveLoopsAndAreAdjoint) {
  std::mt19937 rng(11);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int trial = 0; trial < 60; ++trial) {
    const int sy = pick(1, 4), sx = pick(1, 4);
    const int ncy = pick(1, 5), ncx = pick(1, 5), nk = pick(1, 20), nff = pick(1, 3), B = pick(1, 2);
    const int py = sy + pick(0, 4), px = sx + pick(0, 5);
    const Geometry fine{ncx * sx, ncy * sy, nff}, coarse{ncx, ncy, nk};
    const ConvShape s = ConvShape::make(fine, coarse, sy, sx, py, px);
    SCOPED_TRACE("strides " + std::to_string(sy) + "x" + std::to_string(sx) + " patch " + std::to_string(py) + "x" +
                 std::to_string(px) + " coarse " + coarse.str() + " trial " + std::to_string(trial));
    const int oy = -floor_half(py - sy), ox = -floor_half(px - sx);
    ASSERT_EQ(s.offset_y, oy);
    ASSERT_EQ(s.offset_x, ox);
    std::vector<float> w(s.weights_size());
    for (float& v : w) v = u(rng);
    Tensor a(B, coarse), e(B, fine);
    for (float& v : a.vector()) v = pick(0, 2) ? 0.0f : u(rng);
    for (float& v : e.vector()) v = u(rng);
    auto W = [&](int k, int y, int x, int f) { return w[((std::size_t(k) * py + y) * px + x) * nff + f]; };

    // Naive Phi a, Phi^T e and the Hebbian term, in double.
    std::vector<double> rec(e.size(), 0.0), back(a.size(), 0.0), dw(w.size(), 0.0);
    for (int b = 0; b < B; ++b)
      for (int cy = 0; cy < ncy; ++cy)
        for (int cx = 0; cx < ncx; ++cx)
          for (int k = 0; k < nk; ++k)
            for (int qy = 0; qy < py; ++qy)
              for (int qx = 0; qx < px; ++qx) {
                const int y = cy * sy + oy + qy, x = cx * sx + ox + qx;
                if (y < 0 || y >= fine.ny || x < 0 || x >= fine.nx) continue;
                for (int f = 0; f < nff; ++f) {
                  const std::size_t fi = ((std::size_t(b) * fine.ny + y) * fine.nx + x) * nff + f;
                  const std::size_t ci = ((std::size_t(b) * ncy + cy) * ncx + cx) * nk + k;
                  rec[fi] += double(W(k, qy, qx, f)) * a.vector()[ci];
                  back[ci] += double(W(k, qy, qx, f)) * e.vector()[fi];
                  dw[((std::size_t(k) * py + qy) * px + qx) * nff + f] += double(a.vector()[ci]) * e.vector()[fi] / B;
                }
              }
    Tensor got_rec(B, fine), got_back(B, coarse);
    std::vector<float> wt, got_dw(w.size(), 0.0f);
    cpu::deliver_scatter(s, w.data(), a, got_rec, 1.0f);
    cpu::transpose_weights(s, w.data(), wt);
    cpu::deliver_gather(s, wt.data(), e, got_back, 1.0f);
    cpu::hebbian(s, a, e, got_dw.data(), 1.0f / float(B));
    double worst = 0.0, dot1 = 0.0, dot2 = 0.0;
    for (std::size_t i = 0; i < rec.size(); ++i) worst = std::max(worst, std::abs(rec[i] - got_rec.vector()[i]));
    for (std::size_t i = 0; i < back.size(); ++i) worst = std::max(worst, std::abs(back[i] - got_back.vector()[i]));
    for (std::size_t i = 0; i < dw.size(); ++i) worst = std::max(worst, std::abs(dw[i] - got_dw[i]));
    EXPECT_LT(worst, 1e-4);
    for (std::size_t i = 0; i < rec.size(); ++i) dot1 += double(got_rec.vector()[i]) * e.vector()[i];
    for (std::size_t i = 0; i < back.size(); ++i) dot2 += double(a.vector()[i]) * got_back.vector()[i];
    EXPECT_NEAR(dot1, dot2, 1e-4 * (1.0 + std::abs(dot1)));
  }
}

TEST(Anisotropic, EqualStridesMatchTheIsotropicShape) {
  const Geometry fine{12, 12, 2}, coarse{4, 4, 3};
  const ConvShape a = ConvShape::make(fine, coarse, 3, 5, 5), b = ConvShape::make(fine, coarse, 3, 3, 5, 5);
  EXPECT_EQ(a.stride_y, b.stride_y);
  EXPECT_EQ(a.stride_x, b.stride_x);
  EXPECT_EQ(a.stride, b.stride);
  EXPECT_EQ(a.offset_y, b.offset_y);
  EXPECT_EQ(a.offset_x, b.offset_x);
}

}  // namespace

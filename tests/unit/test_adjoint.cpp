// The convolution kernels of framework/Backend.hpp: deliver_scatter (Phi a) and deliver_gather
// (Phi^T e) must be exact adjoints, <Phi a, e> = <a, Phi^T e>, and each must equal a naive loop
// written directly from the equations in Backend.hpp's comment:
//   Phi a   : fine[y,x,f]   += sum_{c,k} W[k, y-cy*s-oy, x-cx*s-ox, f] a[c,k]
//   Phi^T e : coarse[c,k]   += sum_{py,px,f} W[k,py,px,f] e[cy*s+oy+py, cx*s+ox+px, f]
// with offset o = -floor((patch - stride)/2) and zero outside the fine grid.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "framework/Backend.hpp"
#include "tests/unit/TestUtil.hpp"

namespace laminar {
namespace {

struct Case {
  int stride, patch_y, patch_x;
  int ncy, ncx;   // coarse grid
  int nfy, nfx;   // fine grid
  int nk, nff;    // coarse features (kernels), fine features
  int batch;
  double zeros;   // fraction of exact zeros in inputs
  std::string str() const {
    std::ostringstream s;
    s << "stride " << stride << " patch " << patch_y << "x" << patch_x << " coarse " << ncy << "x" << ncx << "x" << nk
      << " fine " << nfy << "x" << nfx << "x" << nff << " batch " << batch << " zeros " << zeros;
    return s.str();
  }
};

int floor_div(int a, int b) { return int(std::floor(double(a) / double(b))); }

// W index [k][py][px][f].
double W(const std::vector<float>& w, const Case& c, int k, int py, int px, int f) {
  return w[((std::size_t(k) * c.patch_y + py) * c.patch_x + px) * c.nff + f];
}

// Naive Phi a from the equation, summing over every coarse neuron and kernel for each fine
// neuron (no "covering" ranges, no sparsity shortcut).
std::vector<double> naive_scatter(const Case& c, const std::vector<float>& w, const std::vector<float>& a) {
  const int oy = -floor_div(c.patch_y - c.stride, 2), ox = -floor_div(c.patch_x - c.stride, 2);
  std::vector<double> out(std::size_t(c.batch) * c.nfy * c.nfx * c.nff, 0.0);
  for (int b = 0; b < c.batch; ++b)
    for (int y = 0; y < c.nfy; ++y)
      for (int x = 0; x < c.nfx; ++x)
        for (int f = 0; f < c.nff; ++f) {
          double sum = 0.0;
          for (int cy = 0; cy < c.ncy; ++cy)
            for (int cx = 0; cx < c.ncx; ++cx)
              for (int k = 0; k < c.nk; ++k) {
                const int py = y - cy * c.stride - oy, px = x - cx * c.stride - ox;
                if (py < 0 || py >= c.patch_y || px < 0 || px >= c.patch_x) continue;
                sum += W(w, c, k, py, px, f) * a[((std::size_t(b) * c.ncy + cy) * c.ncx + cx) * c.nk + k];
              }
          out[((std::size_t(b) * c.nfy + y) * c.nfx + x) * c.nff + f] = sum;
        }
  return out;
}

std::vector<double> naive_gather(const Case& c, const std::vector<float>& w, const std::vector<float>& e) {
  const int oy = -floor_div(c.patch_y - c.stride, 2), ox = -floor_div(c.patch_x - c.stride, 2);
  std::vector<double> out(std::size_t(c.batch) * c.ncy * c.ncx * c.nk, 0.0);
  for (int b = 0; b < c.batch; ++b)
    for (int cy = 0; cy < c.ncy; ++cy)
      for (int cx = 0; cx < c.ncx; ++cx)
        for (int k = 0; k < c.nk; ++k) {
          double sum = 0.0;
          for (int py = 0; py < c.patch_y; ++py)
            for (int px = 0; px < c.patch_x; ++px)
              for (int f = 0; f < c.nff; ++f) {
                const int y = cy * c.stride + oy + py, x = cx * c.stride + ox + px;
                if (y < 0 || y >= c.nfy || x < 0 || x >= c.nfx) continue;
                sum += W(w, c, k, py, px, f) * e[((std::size_t(b) * c.nfy + y) * c.nfx + x) * c.nff + f];
              }
          out[((std::size_t(b) * c.ncy + cy) * c.ncx + cx) * c.nk + k] = sum;
        }
  return out;
}

// Runs one case: adjoint identity, both directions against the naive loops (with a nonzero
// starting value in the output to check that they accumulate, and a scale), transpose layout.
void check_case(const Case& c, unsigned seed) {
  SCOPED_TRACE(c.str());
  std::mt19937 rng(seed);
  const Geometry fine{c.nfx, c.nfy, c.nff}, coarse{c.ncx, c.ncy, c.nk};
  const ConvShape s = ConvShape::make(fine, coarse, c.stride, c.patch_y, c.patch_x);
  ASSERT_EQ(s.offset_y, -floor_div(c.patch_y - c.stride, 2));
  ASSERT_EQ(s.offset_x, -floor_div(c.patch_x - c.stride, 2));
  ASSERT_EQ(s.weights_size(), std::size_t(c.nk) * c.patch_y * c.patch_x * c.nff);

  std::vector<float> w(s.weights_size());
  test::fill_random(w, rng);
  Tensor a(c.batch, coarse), e(c.batch, fine);
  test::fill_random(a.vector(), rng, -1.0f, 1.0f, c.zeros);
  test::fill_random(e.vector(), rng, -1.0f, 1.0f, c.zeros);

  std::vector<float> wt;
  cpu::transpose_weights(s, w.data(), wt);
  // Packed panels of cpu::gather_block() kernels (the last zero-padded), each [py][px][f][kernel in block].
  const int bw = cpu::gather_block(), nkb = (c.nk + bw - 1) / bw;
  const std::size_t ksize = s.kernel_size();
  ASSERT_EQ(wt.size(), std::size_t(nkb) * bw * ksize);
  for (int k = 0; k < nkb * bw; ++k)
    for (int py = 0; py < c.patch_y; ++py)
      for (int px = 0; px < c.patch_x; ++px)
        for (int f = 0; f < c.nff; ++f) {
          const std::size_t j = (std::size_t(py) * c.patch_x + px) * c.nff + f;
          ASSERT_EQ(wt[(std::size_t(k / bw) * ksize + j) * bw + k % bw], k < c.nk ? W(w, c, k, py, px, f) : 0.0f);
        }

  // Adjoint identity with zero-initialised outputs and scale 1.
  Tensor phi_a(c.batch, fine), phit_e(c.batch, coarse);
  cpu::deliver_scatter(s, w.data(), a, phi_a, 1.0f);
  cpu::deliver_gather(s, wt.data(), e, phit_e, 1.0f);
  double lhs = 0, rhs = 0, mag = 0;
  for (std::size_t i = 0; i < phi_a.size(); ++i) {
    lhs += double(phi_a.data()[i]) * e.data()[i];
    mag += std::fabs(double(phi_a.data()[i]) * e.data()[i]);
  }
  for (std::size_t i = 0; i < phit_e.size(); ++i) {
    rhs += double(a.data()[i]) * phit_e.data()[i];
    mag += std::fabs(double(a.data()[i]) * phit_e.data()[i]);
  }
  EXPECT_LE(std::fabs(lhs - rhs), 1e-5 * mag + 1e-30) << "<Phi a, e> = " << lhs << ", <a, Phi^T e> = " << rhs;

  // Against the naive loops; outputs start nonzero and a scale is applied.
  const float scale = 0.75f;
  const std::vector<double> ref_fine = naive_scatter(c, w, a.vector());
  const std::vector<double> ref_coarse = naive_gather(c, w, e.vector());
  Tensor fine_out(c.batch, fine), coarse_out(c.batch, coarse);
  std::vector<float> fine0(fine_out.size()), coarse0(coarse_out.size());
  test::fill_random(fine0, rng);
  test::fill_random(coarse0, rng);
  fine_out.vector() = fine0;
  coarse_out.vector() = coarse0;
  cpu::deliver_scatter(s, w.data(), a, fine_out, scale);
  cpu::deliver_gather(s, wt.data(), e, coarse_out, scale);
  int bad = 0;
  for (std::size_t i = 0; i < fine_out.size() && bad < 5; ++i) {
    const double want = fine0[i] + scale * ref_fine[i];
    if (std::fabs(fine_out.data()[i] - want) > 1e-5 * (1.0 + std::fabs(want))) {
      ADD_FAILURE() << "scatter: fine[" << i << "] = " << fine_out.data()[i] << ", naive " << want;
      ++bad;
    }
  }
  for (std::size_t i = 0; i < coarse_out.size() && bad < 5; ++i) {
    const double want = coarse0[i] + scale * ref_coarse[i];
    if (std::fabs(coarse_out.data()[i] - want) > 1e-5 * (1.0 + std::fabs(want))) {
      ADD_FAILURE() << "gather: coarse[" << i << "] = " << coarse_out.data()[i] << ", naive " << want;
      ++bad;
    }
  }
}

TEST(Adjoint, ManyShapes) {
  // Coarse grid 3 x 5 (non-square); fine = coarse * stride. Patches: equal to the stride, odd and
  // even sizes, rectangular, and larger than the fine grid's shorter edge.
  const std::pair<int, int> features[] = {{1, 1}, {3, 7}, {7, 3}, {1, 7}, {7, 1}, {3, 3}};
  int cases = 0;
  unsigned seed = 1;
  for (int stride = 1; stride <= 4; ++stride) {
    const int ncy = 3, ncx = 5, nfy = ncy * stride, nfx = ncx * stride;
    std::vector<std::pair<int, int>> patches = {
        {stride, stride}, {stride + 1, stride + 1}, {stride + 2, stride + 2}, {2 * stride + 1, 2 * stride + 1},
        {3 * stride, 3 * stride}, {stride + 1, 2 * stride + 2}, {nfy + 1, nfy + 2}, {nfx + 3, nfx + 4}};
    for (auto [py, px] : patches)
      for (auto [nk, nff] : features)
        for (int batch : {1, 3}) {
          Case c{stride, py, px, ncy, ncx, nfy, nfx, nk, nff, batch, (seed % 3 == 0) ? 0.8 : 0.0};
          check_case(c, seed++);
          ++cases;
          if (HasFatalFailure()) return;
        }
  }
  EXPECT_EQ(cases, 4 * 8 * 6 * 2);
}

TEST(Adjoint, SparseInputs) {
  // Mostly zeros on both sides (the kernels skip zeros), including all-zero inputs.
  unsigned seed = 1000;
  for (double zeros : {0.5, 0.9, 0.99, 1.0})
    for (int stride : {1, 2, 3})
      check_case(Case{stride, 2 * stride + 1, 2 * stride + 1, 4, 6, 4 * stride, 6 * stride, 7, 3, 3, zeros}, seed++);
}

TEST(Adjoint, SquareAndTallGrids) {
  unsigned seed = 2000;
  check_case(Case{1, 1, 1, 6, 6, 6, 6, 3, 3, 1, 0.0}, seed++);   // 1x1 patches
  check_case(Case{2, 8, 8, 14, 14, 28, 28, 4, 1, 2, 0.3}, seed++);  // the example's geometry, fewer kernels
  check_case(Case{2, 4, 6, 7, 2, 14, 4, 3, 7, 3, 0.0}, seed++);    // tall, rectangular patch
  check_case(Case{4, 9, 5, 1, 1, 4, 4, 7, 3, 1, 0.0}, seed++);     // one coarse neuron
  check_case(Case{3, 3, 3, 2, 1, 6, 3, 1, 1, 3, 0.0}, seed++);     // patch == stride: a partition
}

TEST(Adjoint, FineGridNotAMultiple) {
  // The kernels accept any grids (the connection insists on an integer ratio, the backend
  // does not): fine rows/columns beyond cy*s + o + patch are simply not covered.
  unsigned seed = 3000;
  check_case(Case{2, 4, 4, 3, 4, 7, 9, 3, 3, 2, 0.0}, seed++);
  check_case(Case{3, 5, 4, 2, 3, 8, 7, 1, 7, 1, 0.2}, seed++);
}

TEST(Adjoint, PatchSmallerThanStride) {
  // Not reachable from params (Convolution rejects patch < stride) but the kernels support it:
  // the offset is then positive, floor division (a 1x1 patch at stride 2 sits at offset 1).
  unsigned seed = 4000;
  check_case(Case{2, 1, 1, 3, 4, 6, 8, 3, 2, 2, 0.0}, seed++);
  check_case(Case{3, 1, 2, 2, 3, 6, 9, 2, 3, 1, 0.0}, seed++);
  check_case(Case{4, 3, 2, 2, 2, 8, 8, 1, 1, 3, 0.0}, seed++);
}

TEST(Adjoint, OffsetsAreCentred) {
  // Offset = -floor((patch - stride)/2): 'same' padding at stride 1.
  const Geometry fine{8, 8, 1}, coarse{8, 8, 1}, half{4, 4, 1};
  EXPECT_EQ(ConvShape::make(fine, coarse, 1, 3, 3).offset_y, -1);
  EXPECT_EQ(ConvShape::make(fine, coarse, 1, 4, 4).offset_y, -1);
  EXPECT_EQ(ConvShape::make(fine, coarse, 1, 5, 4).offset_y, -2);
  EXPECT_EQ(ConvShape::make(fine, coarse, 1, 5, 4).offset_x, -1);
  EXPECT_EQ(ConvShape::make(fine, half, 2, 2, 2).offset_y, 0);
  EXPECT_EQ(ConvShape::make(fine, half, 2, 8, 8).offset_y, -3);
  EXPECT_EQ(ConvShape::make(fine, half, 2, 5, 5).offset_y, -1);
  EXPECT_EQ(ConvShape::make(fine, half, 2, 1, 1).offset_y, 1);  // floor(-1/2) = -1
}

TEST(Adjoint, SingleWeightPlacement) {
  // One active coarse neuron and one nonzero weight: exactly one fine neuron lights up, where
  // the equation says (stride 2, patch 4, offset -1).
  const Geometry fine{8, 6, 2}, coarse{4, 3, 3};
  const ConvShape s = ConvShape::make(fine, coarse, 2, 4, 4);
  std::vector<float> w(s.weights_size(), 0.0f);
  const int k = 2, py = 3, px = 0, f = 1;
  w[((k * 4 + py) * 4 + px) * 2 + f] = 2.0f;
  Tensor a(1, coarse), out(1, fine);
  a.at(0, 1, 2, k) = 1.5f;  // cy = 1, cx = 2
  cpu::deliver_scatter(s, w.data(), a, out, 1.0f);
  const int y = 1 * 2 - 1 + py, x = 2 * 2 - 1 + px;  // 4, 3
  for (int yy = 0; yy < 6; ++yy)
    for (int xx = 0; xx < 8; ++xx)
      for (int ff = 0; ff < 2; ++ff)
        EXPECT_EQ(out.at(0, yy, xx, ff), (yy == y && xx == x && ff == f) ? 3.0f : 0.0f) << yy << "," << xx << "," << ff;
}

}  // namespace
}  // namespace laminar

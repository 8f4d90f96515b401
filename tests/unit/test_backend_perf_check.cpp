// Randomized check of the optimized CPU kernels (framework/Backend.cpp) against naive loops
// written directly from the equations in Backend.hpp, over many small random geometries
// (strides 1-3, odd/even patches, borders, dense and sparse inputs, batch 1-3), plus:
//   - determinism: bit-identical results with 1 and 2 OpenMP threads;
//   - adjointness: <Phi a, e> == <a, Phi^T e> (to float rounding).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <random>

#include "framework/Backend.hpp"

using namespace laminar;

namespace {

struct Case {
  ConvShape s;
  int batch;
  std::vector<float> w;
  Tensor coarse, fine;
};

Case make_case(std::mt19937& rng, bool big_features) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const int stride = pick(1, 3);
  const int ncy = pick(1, 6), ncx = pick(1, 6);
  const int patch_y = stride * pick(1, 3) + pick(0, 2), patch_x = patch_y;
  const int nk = big_features ? pick(1, 70) : pick(1, 9), nff = pick(1, 5);
  Geometry fine{ncx * stride, ncy * stride, nff}, coarse{ncx, ncy, nk};
  Case c{ConvShape::make(fine, coarse, stride, patch_y, patch_x), pick(1, 3), {}, {}, {}};
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  c.w.resize(c.s.weights_size());
  for (float& v : c.w) v = u(rng);
  c.coarse = Tensor(c.batch, coarse);
  c.fine = Tensor(c.batch, fine);
  const float coarse_density = std::uniform_real_distribution<float>(0.0f, 1.0f)(rng);
  const float fine_density = pick(0, 1) ? 1.0f : 0.5f;
  for (float& v : c.coarse.vector()) v = (u(rng) + 1) / 2 < coarse_density ? u(rng) : 0.0f;
  for (float& v : c.fine.vector()) v = (u(rng) + 1) / 2 < fine_density ? u(rng) : 0.0f;
  return c;
}

// Naive Phi a and Phi^T e in double, looping over coarse positions, kernels and patch offsets.
void naive(const Case& c, std::vector<double>& phi_a, std::vector<double>& phit_e, std::vector<double>& heb) {
  const ConvShape& s = c.s;
  phi_a.assign(c.fine.size(), 0.0);
  phit_e.assign(c.coarse.size(), 0.0);
  heb.assign(s.weights_size(), 0.0);
  for (int b = 0; b < c.batch; ++b)
    for (int cy = 0; cy < s.coarse.ny; ++cy)
      for (int cx = 0; cx < s.coarse.nx; ++cx)
        for (int k = 0; k < s.coarse.nf; ++k)
          for (int py = 0; py < s.patch_y; ++py)
            for (int px = 0; px < s.patch_x; ++px)
              for (int f = 0; f < s.fine.nf; ++f) {
                const int y = cy * s.stride + s.offset_y + py, x = cx * s.stride + s.offset_x + px;
                if (y < 0 || y >= s.fine.ny || x < 0 || x >= s.fine.nx) continue;
                const std::size_t wi = ((std::size_t(k) * s.patch_y + py) * s.patch_x + px) * s.fine.nf + f;
                const std::size_t fi = ((std::size_t(b) * s.fine.ny + y) * s.fine.nx + x) * s.fine.nf + f;
                const std::size_t ci = ((std::size_t(b) * s.coarse.ny + cy) * s.coarse.nx + cx) * s.coarse.nf + k;
                phi_a[fi] += double(c.w[wi]) * c.coarse.vector()[ci];
                phit_e[ci] += double(c.w[wi]) * c.fine.vector()[fi];
                heb[wi] += double(c.coarse.vector()[ci]) * c.fine.vector()[fi];
              }
}

template <class F>
std::vector<float> with_threads(int n, F f) {
  const int before = omp_get_max_threads();
  omp_set_num_threads(n);
  std::vector<float> r = f();
  omp_set_num_threads(before);
  return r;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double scale, const char* what,
                  int trial) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], scale * want[i], 1e-4 * (1 + std::abs(scale * want[i]))) << what << " trial " << trial << " i " << i;
}

void check_case(const Case& c, int trial) {
  {
    std::vector<double> phi_a, phit_e, heb;
    naive(c, phi_a, phit_e, heb);
    std::vector<float> wt;
    cpu::transpose_weights(c.s, c.w.data(), wt);
    const float scale = trial % 3 == 0 ? -1.0f : 0.5f;

    auto scatter = [&] {
      Tensor out(c.batch, c.s.fine);
      out.fill(0.25f);  // kernels accumulate into what is there
      cpu::deliver_scatter(c.s, c.w.data(), c.coarse, out, scale);
      for (float& v : out.vector()) v -= 0.25f;
      return out.vector();
    };
    auto gather = [&] {
      Tensor out(c.batch, c.s.coarse);
      out.fill(0.25f);
      cpu::deliver_gather(c.s, wt.data(), c.fine, out, scale);
      for (float& v : out.vector()) v -= 0.25f;
      return out.vector();
    };
    auto hebbian = [&] {
      std::vector<float> dw(c.s.weights_size(), 0.0f);
      cpu::hebbian(c.s, c.coarse, c.fine, dw.data(), scale);
      return dw;
    };
    const auto s1 = with_threads(1, scatter), s2 = with_threads(2, scatter);
    const auto g1 = with_threads(1, gather), g2 = with_threads(2, gather);
    const auto h1 = with_threads(1, hebbian), h2 = with_threads(2, hebbian);
    EXPECT_EQ(s1, s2) << "scatter not deterministic across thread counts, trial " << trial;
    EXPECT_EQ(g1, g2) << "gather not deterministic across thread counts, trial " << trial;
    EXPECT_EQ(h1, h2) << "hebbian not deterministic across thread counts, trial " << trial;
    expect_close(s1, phi_a, scale, "scatter", trial);
    expect_close(g1, phit_e, scale, "gather", trial);
    expect_close(h1, heb, scale, "hebbian", trial);

    // <Phi a, e> == <a, Phi^T e>
    double lhs = 0, rhs = 0, mag = 0;
    for (std::size_t i = 0; i < s1.size(); ++i) lhs += double(s1[i]) * c.fine.vector()[i], mag += std::abs(double(s1[i]) * c.fine.vector()[i]);
    for (std::size_t i = 0; i < g1.size(); ++i) rhs += double(g1[i]) * c.coarse.vector()[i];
    EXPECT_NEAR(lhs, rhs, 1e-5 * (1 + mag)) << "adjoint, trial " << trial;
    const auto g3 = with_threads(3, gather), s3 = with_threads(3, scatter);
    EXPECT_EQ(g1, g3) << "gather, 3 threads, trial " << trial;
    EXPECT_EQ(s1, s3) << "scatter, 3 threads, trial " << trial;
  }
}

TEST(BackendPerfCheck, KernelsMatchNaiveLoopsDeterministicAndAdjoint) {
  std::mt19937 rng(2024);
  for (int trial = 0; trial < 200; ++trial) check_case(make_case(rng, trial % 2 == 1), trial);
}

// The paths the random shapes above do not reach: a full-field dictionary whose patch rows exceed one
// gather pass (patch row 4 x 600 values: several passes with partial sums kept between them), a kernel
// count that leaves a partial panel, a batch that leaves a partial tile, and the scatter's non-overlapping
// (tiling) path; many positions with small kernels (the gather ordered by tile group); layers with
// fewer fine rows than threads.
Case fixed_case(Geometry fine, Geometry coarse, int stride, int patch, int batch, float density, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Case c{ConvShape::make(fine, coarse, stride, patch, patch), batch, {}, Tensor(batch, coarse), Tensor(batch, fine)};
  c.w.resize(c.s.weights_size());
  for (float& v : c.w) v = u(rng);
  for (float& v : c.coarse.vector()) v = (u(rng) + 1) / 2 < density ? u(rng) : 0.0f;
  for (float& v : c.fine.vector()) v = u(rng);
  return c;
}

TEST(BackendPerfCheck, FullFieldAndManyPositionShapes) {
  check_case(fixed_case(Geometry{4, 4, 600}, Geometry{1, 1, 40}, 4, 4, 11, 0.3f, 1), 1000);
  check_case(fixed_case(Geometry{8, 8, 70}, Geometry{1, 1, 97}, 8, 8, 5, 0.5f, 2), 1001);
  check_case(fixed_case(Geometry{24, 24, 4}, Geometry{12, 12, 40}, 2, 4, 3, 0.2f, 3), 1002);
  // Fewer fine rows than threads: the scatter splits the batch into blocks per row.
  check_case(fixed_case(Geometry{1, 1, 300}, Geometry{1, 1, 20}, 1, 1, 7, 0.4f, 4), 1003);
  check_case(fixed_case(Geometry{6, 2, 5}, Geometry{3, 1, 33}, 2, 2, 5, 0.4f, 5), 1004);
}

// Convolutional sparse coding's shape (bench_lca_iteration's BM_GatherCsc, on a smaller image): one
// fine feature, stride 1, 12x12 patches overlapping by 11 (padded on every side), 144 kernels (a last
// gather panel half full), the coarse layer as large as the fine one, sparse and dense activity.
TEST(BackendPerfCheck, ConvolutionalSparseCodingShape) {
  check_case(fixed_case(Geometry{37, 29, 1}, Geometry{37, 29, 144}, 1, 12, 1, 0.01f, 6), 1005);
  check_case(fixed_case(Geometry{21, 18, 1}, Geometry{21, 18, 144}, 1, 12, 2, 0.5f, 7), 1006);
}

}  // namespace

// init: log_gabor (framework/LogGabor.hpp): the dictionaries of Ladret, Casanova & Perrinet, "Kernel
// Heterogeneity Improves Sparseness of Natural Images Representations" (2023), eq. 3. Properties that hold
// exactly given the definition: zero mean, unit norm, the presets' grids and kernel order, even kernels
// symmetric and odd ones antisymmetric about the centre N//2 (circularly: index i <-> (2c - i) mod N),
// each feature slice the same, and on a 64x64 patch the spectrum peaking at |f| ~ f0, orientation ~ theta0.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <vector>

#include "framework/LogGabor.hpp"
#include "framework/Params.hpp"

using namespace laminar;

namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<double> kernel(const LogGaborKernel& k, int ny, int nx, int nf = 1, double f0 = 0.4, double sf = 0.4) {
  std::vector<double> out(std::size_t(ny) * nx * nf);
  EXPECT_TRUE(log_gabor_kernel(k, f0, sf, ny, nx, nf, out.data()));
  return out;
}

double fftfreq(int i, int n) { return double(i < (n + 1) / 2 ? i : i - n) / n; }

}  // namespace

TEST(LogGabor, PresetGridsAndOrder) {
  const auto hom = log_gabor_preset("homogeneous");
  ASSERT_EQ(hom.size(), 144u);
  for (int t = 0; t < 72; ++t)
    for (int p = 0; p < 2; ++p) {
      const LogGaborKernel& k = hom[std::size_t(t * 2 + p)];
      EXPECT_DOUBLE_EQ(k.theta0_deg, 2.5 * t);
      EXPECT_DOUBLE_EQ(k.b_theta_deg, 12.0);
      EXPECT_DOUBLE_EQ(k.phase_deg, 90.0 * p);
    }
  const auto het = log_gabor_preset("heterogeneous");
  ASSERT_EQ(het.size(), 144u);
  const double b[6] = {3, 8.4, 13.8, 19.2, 24.6, 30};
  for (int t = 0; t < 12; ++t)
    for (int i = 0; i < 6; ++i)
      for (int p = 0; p < 2; ++p) {
        const LogGaborKernel& k = het[std::size_t((t * 6 + i) * 2 + p)];  // (i_theta * n_B + i_B) * n_phase + i_phase
        EXPECT_DOUBLE_EQ(k.theta0_deg, 15.0 * t);
        EXPECT_NEAR(k.b_theta_deg, b[i], 1e-12);
        EXPECT_DOUBLE_EQ(k.phase_deg, 90.0 * p);
      }
  EXPECT_THROW(log_gabor_preset("mixed"), std::invalid_argument);
  const auto grid = log_gabor_grid({10, 20}, {5, 6, 7}, {0, 90});
  ASSERT_EQ(grid.size(), 12u);
  EXPECT_DOUBLE_EQ(grid[7].theta0_deg, 20);  // (1 * 3 + 0) * 2 + 1
  EXPECT_DOUBLE_EQ(grid[7].b_theta_deg, 5);
  EXPECT_DOUBLE_EQ(grid[7].phase_deg, 90);
}

TEST(LogGabor, ZeroMeanUnitNormAndSymmetry) {
  for (int n : {12, 11, 16, 9}) {
    for (const LogGaborKernel& k : log_gabor_preset("heterogeneous")) {
      SCOPED_TRACE("N " + std::to_string(n) + " theta0 " + std::to_string(k.theta0_deg) + " B " +
                   std::to_string(k.b_theta_deg) + " phase " + std::to_string(k.phase_deg));
      const auto w = kernel(k, n, n);
      double sum = 0, sq = 0;
      for (double v : w) sum += v, sq += v * v;
      EXPECT_NEAR(sum, 0.0, 1e-12);
      EXPECT_NEAR(sq, 1.0, 1e-12);
      const int c = n / 2;
      const double sign = k.phase_deg == 0 ? 1.0 : -1.0;  // even: k(-x) = k(x); odd: k(-x) = -k(x)
      double worst = 0;
      for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x) {
          const int my = ((2 * c - y) % n + n) % n, mx = ((2 * c - x) % n + n) % n;
          worst = std::max(worst, std::fabs(w[std::size_t(my * n + mx)] - sign * w[std::size_t(y * n + x)]));
        }
      EXPECT_LT(worst, 1e-12);
    }
  }
}

TEST(LogGabor, EvenAndOddAreOrthogonalAndNotTrivial) {
  // The quadrature pair: orthogonal (even x odd sums to zero by symmetry), and they differ per orientation.
  const auto e0 = kernel({0, 12, 0}, 12, 12), o0 = kernel({0, 12, 90}, 12, 12), e90 = kernel({90, 12, 0}, 12, 12);
  double eo = 0, e0e90 = 0;
  for (std::size_t i = 0; i < e0.size(); ++i) eo += e0[i] * o0[i], e0e90 += e0[i] * e90[i];
  EXPECT_NEAR(eo, 0.0, 1e-12);
  EXPECT_LT(std::fabs(e0e90), 0.9);
  // theta0 = 0: a horizontal frequency vector, vertical stripes: the even kernel is constant down each column
  // up to its envelope, so its rows correlate strongly with the centre row, columns alternate.
  const int c = 6;
  double along = 0, across = 0;
  for (int i = 0; i < 12; ++i) {
    along += std::fabs(e0[std::size_t((c + 1) * 12 + i)] - e0[std::size_t(c * 12 + i)]);  // next row, same x
    across += std::fabs(e0[std::size_t(i * 12 + c + 1)] - e0[std::size_t(i * 12 + c)]);  // next column, same y
  }
  EXPECT_LT(along, 0.5 * across);
}

TEST(LogGabor, FeatureSlicesShareTheKernelUnderJointNorm) {
  const auto one = kernel({30, 8.4, 90}, 10, 12, 1), three = kernel({30, 8.4, 90}, 10, 12, 3);
  for (std::size_t i = 0; i < one.size(); ++i)
    for (int f = 0; f < 3; ++f) EXPECT_NEAR(three[i * 3 + std::size_t(f)], one[i] / std::sqrt(3.0), 1e-14);
}

TEST(LogGabor, SpectrumPeaksAtF0AndTheta0) {
  // On a 64x64 patch, |DFT| (the shift changes no magnitude) off the Nyquist row and column (where the
  // half-plane factor does not cancel for even kernels) peaks on the theta0 ray (mod 180: a real kernel's
  // spectrum is symmetric) within one grid step of arc at f0, and at |f| within one grid step of f0 for the
  // broader bandwidths; a narrow one (3 or 8.4 deg) picks the grid point nearest the ray, up to 3 steps off f0.
  const int n = 64;
  const double step = 1.0 / n;
  std::vector<std::complex<double>> tw(n), rows(std::size_t(n) * n);
  for (int m = 0; m < n; ++m) tw[std::size_t(m)] = std::polar(1.0, -2 * kPi * m / n);
  for (const LogGaborKernel& k : log_gabor_preset("heterogeneous")) {
    SCOPED_TRACE("theta0 " + std::to_string(k.theta0_deg) + " B " + std::to_string(k.b_theta_deg) + " phase " +
                 std::to_string(k.phase_deg));
    const auto w = kernel(k, n, n);
    for (int y = 0; y < n; ++y)
      for (int kx = 0; kx < n; ++kx) {
        std::complex<double> s = 0;
        for (int x = 0; x < n; ++x) s += w[std::size_t(y * n + x)] * tw[std::size_t(kx * x % n)];
        rows[std::size_t(y * n + kx)] = s;
      }
    double best = -1;
    int by = 0, bx = 0;
    for (int ky = 0; ky < n; ++ky)
      for (int kx = 0; kx < n; ++kx) {
        if (ky == n / 2 || kx == n / 2) continue;
        std::complex<double> s = 0;
        for (int y = 0; y < n; ++y) s += rows[std::size_t(y * n + kx)] * tw[std::size_t(ky * y % n)];
        if (std::abs(s) > best) best = std::abs(s), by = ky, bx = kx;
      }
    const double fy = fftfreq(by, n), fx = fftfreq(bx, n), f = std::hypot(fx, fy);
    EXPECT_LE(std::fabs(f - 0.4), (k.b_theta_deg < 10 ? 3 : 1) * step) << "f " << f;
    const double theta = std::atan2(-fy, fx) * 180 / kPi;  // y up
    double d = std::fmod(std::fabs(theta - k.theta0_deg), 180.0);
    d = std::min(d, 180.0 - d);
    EXPECT_LE(d * kPi / 180 * 0.4, step) << "theta " << theta;
  }
}

TEST(LogGabor, ZeroOnTheGridIsReported) {
  std::vector<double> out(144, 1.0);
  EXPECT_FALSE(log_gabor_kernel({0, 12, 0}, 1e6, 0.4, 12, 12, 1, out.data()));  // f0 far beyond Nyquist
  for (double v : out) EXPECT_EQ(v, 0.0);
  // A tiny bandwidth does not overflow (the angular factor is taken relative to its peak).
  EXPECT_TRUE(log_gabor_kernel({0, 0.01, 0}, 0.4, 0.4, 12, 12, 1, out.data()));
  for (double v : out) EXPECT_TRUE(std::isfinite(v));
}

// The parameter type the log-Gabor keys use: a number or a non-empty list of numbers (Schema::optional_reals).
TEST(Params, NumberOrListOfNumbers) {
  Schema s;
  s.optional_reals("angles", -Schema::inf, Schema::inf, "any numbers").optional_reals("widths", 0, 180, "(0, 180]", true);
  auto validate = [&](const std::string& yaml) {
    ParamsDocument doc = ParamsDocument::parse(yaml, "p.yaml");
    return doc.validate(doc.root()["b"], "b", s);
  };
  ParamSet p = validate("b:\n  angles: 12\n  widths: [3, 8.4]\n");
  EXPECT_FALSE(p.is_list("angles"));
  EXPECT_EQ(p.reals("angles"), std::vector<double>{12});
  EXPECT_TRUE(p.is_list("widths"));
  EXPECT_EQ(p.reals("widths"), (std::vector<double>{3, 8.4}));
  EXPECT_TRUE(validate("b:\n  angles: [12]\n").is_list("angles"));
  EXPECT_FALSE(validate("b: {}\n").has("widths"));  // optional, no default
  auto error = [&](const std::string& yaml) {
    try {
      validate(yaml);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("b:\n  widths: [3, 0]\n").find("p.yaml:2:15: b.widths: expected a number or a non-empty list of "
                                                    "numbers (0, 180], got item 2 = '0'"),
            std::string::npos)
      << error("b:\n  widths: [3, 0]\n");
  EXPECT_NE(error("b:\n  widths: 181\n").find("got '181'"), std::string::npos);
  EXPECT_NE(error("b:\n  angles: [1, x]\n").find("got item 2 = 'x'"), std::string::npos);
  EXPECT_NE(error("b:\n  angles: []\n").find("(this one is empty), got a list"), std::string::npos);
  EXPECT_NE(error("b:\n  angles: {a: 1}\n").find("got a mapping"), std::string::npos);
  EXPECT_NE(error("b:\n  angles: [[1]]\n").find("got item 1 = a list"), std::string::npos);
}

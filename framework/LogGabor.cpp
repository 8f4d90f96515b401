#include "framework/LogGabor.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <stdexcept>

namespace laminar {

namespace {
constexpr double kPi = 3.14159265358979323846;
double fftfreq(int i, int n) { return double(i < (n + 1) / 2 ? i : i - n) / n; }  // numpy.fft.fftfreq
}  // namespace

std::vector<LogGaborKernel> log_gabor_grid(const std::vector<double>& theta0_deg, const std::vector<double>& b_theta_deg,
                                           const std::vector<double>& phase_deg) {
  std::vector<LogGaborKernel> out;
  out.reserve(theta0_deg.size() * b_theta_deg.size() * phase_deg.size());
  for (double t : theta0_deg)
    for (double b : b_theta_deg)
      for (double p : phase_deg) out.push_back({t, b, p});
  return out;
}

std::vector<double> log_gabor_orientations(int n) {
  std::vector<double> out;
  for (int k = 0; k < n; ++k) out.push_back(180.0 * k / n);
  return out;
}

std::vector<LogGaborKernel> log_gabor_preset(const std::string& name) {
  if (name == "homogeneous") return log_gabor_grid(log_gabor_orientations(72), {12.0}, {0.0, 90.0});
  if (name == "heterogeneous") {
    std::vector<double> b;
    for (int i = 0; i < 6; ++i) b.push_back(3.0 + (30.0 - 3.0) * i / 5.0);  // numpy.linspace(3, 30, 6)
    return log_gabor_grid(log_gabor_orientations(12), b, {0.0, 90.0});
  }
  throw std::invalid_argument("unknown log-Gabor preset '" + name + "'");
}

bool log_gabor_kernel(const LogGaborKernel& k, double f0, double sigma_f, int ny, int nx, int nf, double* out) {
  using cd = std::complex<double>;
  const double theta0 = k.theta0_deg * (kPi / 180.0);
  const double sigma_theta = k.b_theta_deg * (kPi / 180.0) / std::sqrt(2.0 * std::log(2.0));
  const double radial_width = std::log(1.0 + sigma_f / f0);
  const cd phase = std::polar(1.0, k.phase_deg * (kPi / 180.0));
  // H = G (1 + sign(cos(theta - theta0))) exp(i phi) on the DFT grid [ky][kx].
  std::vector<cd> h(std::size_t(ny) * nx);
  for (int ky = 0; ky < ny; ++ky)
    for (int kx = 0; kx < nx; ++kx) {
      const double fy = fftfreq(ky, ny), fx = fftfreq(kx, nx), f = std::hypot(fx, fy);
      if (f == 0.0) continue;  // G(0) = 0
      const double theta = std::atan2(-fy, fx), c = std::cos(theta - theta0);
      const double l = std::log(f / f0) / radial_width;
      const double g = std::exp(-0.5 * l * l) *
                       std::exp((std::cos(2.0 * (theta - theta0)) - 1.0) / (4.0 * sigma_theta * sigma_theta));
      const double half = 1.0 + (std::fabs(c) < 1e-9 ? 0.0 : c > 0 ? 1.0 : -1.0);
      h[std::size_t(ky) * nx + kx] = g * half * phase;
    }
  // Separable inverse DFT: rows (over kx) then columns (over ky), exact twiddles from index products mod N.
  auto twiddles = [](int n) {
    std::vector<cd> w(static_cast<std::size_t>(n));
    for (int m = 0; m < n; ++m) w[std::size_t(m)] = std::polar(1.0, 2.0 * kPi * m / n);
    return w;
  };
  const std::vector<cd> wx = twiddles(nx), wy = twiddles(ny);
  std::vector<cd> rows(std::size_t(ny) * nx);
  for (int ky = 0; ky < ny; ++ky)
    for (int x = 0; x < nx; ++x) {
      cd s = 0;
      for (int kx = 0; kx < nx; ++kx) s += h[std::size_t(ky) * nx + kx] * wx[std::size_t((long(kx) * x) % nx)];
      rows[std::size_t(ky) * nx + x] = s;
    }
  std::vector<double> spatial(std::size_t(ny) * nx);
  for (int y = 0; y < ny; ++y)
    for (int x = 0; x < nx; ++x) {
      cd s = 0;
      for (int ky = 0; ky < ny; ++ky) s += rows[std::size_t(ky) * nx + x] * wy[std::size_t((long(ky) * y) % ny)];
      // fftshift: spatial index y goes to (y + ny/2) mod ny, so the origin lands at ny/2 (and x alike).
      spatial[std::size_t((y + ny / 2) % ny) * nx + std::size_t((x + nx / 2) % nx)] = s.real() / (double(ny) * nx);
    }
  double mean = 0;
  for (double v : spatial) mean += v;
  mean /= double(spatial.size());
  double norm2 = 0;
  for (double& v : spatial) {
    v -= mean;
    norm2 += v * v * nf;
  }
  // Zero (or rounding noise only, e.g. an odd kernel whose spectrum is only the Nyquist line, which the
  // real part cancels): below 1e-12 of the spectrum's energy (Parseval: sum |k|^2 = sum |H|^2 / (Ny Nx) for
  // a real H).
  double energy = 0;
  for (const cd& v : h) energy += std::norm(v);
  energy *= double(nf) / (double(ny) * nx);
  const std::size_t n = spatial.size() * std::size_t(nf);
  if (!(norm2 > 1e-12 * energy) || !std::isfinite(norm2)) {
    std::fill(out, out + n, 0.0);
    return false;
  }
  const double scale = 1.0 / std::sqrt(norm2);
  for (std::size_t i = 0; i < spatial.size(); ++i)
    for (int f = 0; f < nf; ++f) out[i * nf + std::size_t(f)] = spatial[i] * scale;
  return true;
}

}  // namespace laminar

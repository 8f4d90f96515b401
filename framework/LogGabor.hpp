#pragma once
// Log-Gabor kernels: the dictionaries of Ladret, Casanova & Perrinet, "Kernel Heterogeneity Improves
// Sparseness of Natural Images Representations" (2023), their eq. 3, sampled on a kernel's own grid.
//
// On an Ny x Nx patch, with frequencies fx = fftfreq(Nx), fy = fftfreq(Ny) (cycles per pixel, numpy's
// order), f = |(fx, fy)| and theta = atan2(-fy, fx) (y points up: the row index grows downward):
//   G(f, theta) = exp(-1/2 log(f/f0)^2 / log(1 + sigma_f/f0)^2) exp(cos(2 (theta - theta0)) / (4 sigma_theta^2)),
//   G(0) = 0, sigma_theta = B_theta / sqrt(2 ln 2) (B_theta in radians);
//   kernel = Re(IDFT[G (1 + sign(cos(theta - theta0))) exp(i phi)]), fftshift-ed (origin at index N//2),
//   then the mean removed and scaled to unit L2 norm over the whole kernel (all features, each feature
//   slice holding the same kernel). sign(0) = 0: a frequency exactly perpendicular to theta0 (|cos| below
//   1e-9) has weight 1. The angular factor is computed as exp((cos(2 (theta - theta0)) - 1) / (4 sigma_theta^2)),
//   equal up to a constant factor that the normalisation removes (and free of overflow for small B_theta).
#include <string>
#include <vector>

namespace laminar {

struct LogGaborKernel {
  double theta0_deg = 0, b_theta_deg = 0, phase_deg = 0;
};

// Kernel grid in the order theta0 (outermost), B_theta, phase (innermost):
// index = (i_theta * n_B + i_B) * n_phase + i_phase.
std::vector<LogGaborKernel> log_gabor_grid(const std::vector<double>& theta0_deg, const std::vector<double>& b_theta_deg,
                                           const std::vector<double>& phase_deg);
// The presets: "homogeneous" (72 orientations k * 2.5 deg, B_theta 12 deg, phases 0 and 90: 144 kernels) and
// "heterogeneous" (12 orientations k * 15 deg x B_theta linspace(3, 30, 6) x phases 0 and 90: 144 kernels).
std::vector<LogGaborKernel> log_gabor_preset(const std::string& name);
// n orientations spread evenly over [0, 180): k * 180 / n.
std::vector<double> log_gabor_orientations(int n);

// One kernel into out[(y * nx + x) * nf + f] (ny * nx * nf values, in double). Returns false, leaving zeros,
// where the kernel is zero on this grid (nothing to normalise: e.g. f0 far beyond the Nyquist frequency).
bool log_gabor_kernel(const LogGaborKernel& k, double f0, double sigma_f, int ny, int nx, int nf, double* out);

}  // namespace laminar

// The whole engine (params -> NetworkSpec -> Network -> Simulation) on the canonical LCA graph
//   Input --Identity(+)--> Residual <--Dictionary(-)-- V1 <--Transpose(+)-- Residual
// against a naive LCA written in double precision from the equations (helper-context semantics):
//   e(n) = x - Phi a(n-1);  u(n) = decay u(n-1) + (1 - decay)(Phi^T e(n) + a(n-1));  a(n) = T(u(n))
// with images switching every display period, batch 2, strides 1 and 2, every threshold,
// clamps, forward Euler, reset_on and Hebbian learning with momentum.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "framework/Layer.hpp"
#include "framework/Network.hpp"
#include "framework/Output.hpp"
#include "framework/Simulation.hpp"
#include "tests/unit/TestUtil.hpp"

namespace laminar {
namespace {

struct LcaCase {
  std::string name;
  int in_ny = 8, in_nx = 8, in_nf = 1;  // input image size
  int stride = 1;                       // V1 = input / stride
  int nk = 4;                           // V1 features
  int patch = 3;
  int batch = 2;
  int images = 3;
  long steps = 40;
  long display_period = 7;
  double tau = 8.0, dt = 1.0;
  double lambda = 0.1;
  std::string threshold = "soft";
  double firm_width = 0.0;
  double a_min = -INFINITY, a_max = INFINITY;
  double init_value = 0.0;
  bool euler = false;
  bool self_interaction = true;
  bool reset_on = false;
  double learning_rate = 0.0, momentum = 0.0;
  bool normalize_l2 = false;
};

// ---------------------------------------------------------------- the naive reference

struct Naive {
  const LcaCase& c;
  int fy, fx, ff, cy_n, cx_n, nk, oy, ox;
  std::vector<double> W, velocity;  // [k][py][px][f]
  std::vector<double> x, e, u, a;   // [b][y][x][f]
  std::vector<float> images;        // [i][y][x][f]

  Naive(const LcaCase& cs, const std::vector<float>& imgs, const std::vector<float>& w)
      : c(cs), images(imgs) {
    fy = c.in_ny, fx = c.in_nx, ff = c.in_nf;
    cy_n = fy / c.stride, cx_n = fx / c.stride, nk = c.nk;
    oy = ox = -int(std::floor((c.patch - c.stride) / 2.0));
    W.assign(w.begin(), w.end());
    velocity.assign(W.size(), 0.0);
    if (c.normalize_l2) normalize();
    x.assign(std::size_t(c.batch) * fy * fx * ff, 0.0);
    e = x;
    u.assign(std::size_t(c.batch) * cy_n * cx_n * nk, c.init_value);
    a.assign(u.size(), 0.0);
    for (std::size_t i = 0; i < u.size(); ++i) a[i] = T(u[i]);
    load(0);
  }

  double& w(int k, int py, int px, int f) { return W[((std::size_t(k) * c.patch + py) * c.patch + px) * ff + f]; }
  std::size_t fi(int b, int y, int xx, int f) const { return ((std::size_t(b) * fy + y) * fx + xx) * ff + f; }
  std::size_t ci(int b, int y, int xx, int k) const { return ((std::size_t(b) * cy_n + y) * cx_n + xx) * nk + k; }

  double T(double v) const {
    const double m = std::fabs(v), s = v < 0 ? -1.0 : 1.0, L = c.lambda;
    double r = 0.0;
    if (c.threshold == "soft") r = m > L ? s * (m - L) : 0.0;
    else if (c.threshold == "soft_nonneg") r = v > L ? v - L : 0.0;
    else if (c.threshold == "hard") r = m > L ? v : 0.0;
    else {  // firm: 0 up to lambda, ramp to u at lambda + width, u beyond
      const double t = L + c.firm_width;
      r = m <= L ? 0.0 : m >= t ? v : s * t * (m - L) / c.firm_width;
    }
    return std::min(std::max(r, c.a_min), c.a_max);
  }
  double cost(double v) const {
    const double m = std::fabs(v), L = c.lambda;
    if (v == 0.0) return 0.0;
    if (c.threshold == "soft" || c.threshold == "soft_nonneg") return L * m;
    if (c.threshold == "hard") return 0.5 * L * L;
    const double t = L + c.firm_width;
    return L * (m < t ? m * (1 - m / (2 * t)) : t / 2);
  }

  void load(long presentation) {
    const std::size_t n = std::size_t(fy) * fx * ff;
    for (int b = 0; b < c.batch; ++b) {
      const long item = (presentation * c.batch + b) % c.images;
      for (std::size_t i = 0; i < n; ++i) x[b * n + i] = images[item * n + i];
    }
  }
  void normalize() {
    const std::size_t ks = std::size_t(c.patch) * c.patch * ff;
    for (int k = 0; k < nk; ++k) {
      double s = 0;
      for (std::size_t j = 0; j < ks; ++j) s += W[k * ks + j] * W[k * ks + j];
      if (s > 0)
        for (std::size_t j = 0; j < ks; ++j) W[k * ks + j] /= std::sqrt(s);
    }
  }

  void step(long n) {
    // Input
    if (n > 0 && n % c.display_period == 0) load(n / c.display_period);
    // V1's reset on a new image happens before the error layer reads its code.
    if (c.reset_on && n > 0 && n % c.display_period == 0)
      for (std::size_t i = 0; i < u.size(); ++i) u[i] = c.init_value, a[i] = T(c.init_value);
    // Error: e = x - Phi a(n-1), Phi a written as the sum over the patches covering each pixel.
    for (int b = 0; b < c.batch; ++b)
      for (int y = 0; y < fy; ++y)
        for (int xx = 0; xx < fx; ++xx)
          for (int f = 0; f < ff; ++f) {
            double recon = 0;
            for (int cy = 0; cy < cy_n; ++cy)
              for (int cx = 0; cx < cx_n; ++cx)
                for (int k = 0; k < nk; ++k) {
                  int py = y - cy * c.stride - oy, px = xx - cx * c.stride - ox;
                  if (py < 0 || py >= c.patch || px < 0 || px >= c.patch) continue;
                  recon += w(k, py, px, f) * a[ci(b, cy, cx, k)];
                }
            e[fi(b, y, xx, f)] = x[fi(b, y, xx, f)] - recon;
          }
    // V1
    const double decay = std::exp(-c.dt / c.tau), rate = c.dt / c.tau;
    std::vector<double> a_new(a.size());
    for (int b = 0; b < c.batch; ++b)
      for (int cy = 0; cy < cy_n; ++cy)
        for (int cx = 0; cx < cx_n; ++cx)
          for (int k = 0; k < nk; ++k) {
            double drive = 0;  // Phi^T e
            for (int py = 0; py < c.patch; ++py)
              for (int px = 0; px < c.patch; ++px)
                for (int f = 0; f < ff; ++f) {
                  int y = cy * c.stride + oy + py, xx = cx * c.stride + ox + px;
                  if (y < 0 || y >= fy || xx < 0 || xx >= fx) continue;
                  drive += w(k, py, px, f) * e[fi(b, y, xx, f)];
                }
            const std::size_t i = ci(b, cy, cx, k);
            if (c.self_interaction) drive += a[i];
            u[i] = c.euler ? u[i] + rate * (drive - u[i]) : decay * u[i] + (1 - decay) * drive;
            a_new[i] = T(u[i]);
          }
    a = a_new;
    // Learning at the end of each display period: dW = mean_b sum_positions a (x) e.
    if (c.learning_rate > 0 && (n + 1) % c.display_period == 0) {
      std::vector<double> dw(W.size(), 0.0);
      for (int k = 0; k < nk; ++k)
        for (int py = 0; py < c.patch; ++py)
          for (int px = 0; px < c.patch; ++px)
            for (int f = 0; f < ff; ++f) {
              double s = 0;
              for (int b = 0; b < c.batch; ++b)
                for (int cy = 0; cy < cy_n; ++cy)
                  for (int cx = 0; cx < cx_n; ++cx) {
                    int y = cy * c.stride + oy + py, xx = cx * c.stride + ox + px;
                    if (y < 0 || y >= fy || xx < 0 || xx >= fx) continue;
                    s += a[ci(b, cy, cx, k)] * e[fi(b, y, xx, f)];
                  }
              dw[((std::size_t(k) * c.patch + py) * c.patch + px) * ff + f] = s / c.batch;
            }
      for (std::size_t i = 0; i < W.size(); ++i) {
        velocity[i] = c.momentum * velocity[i] + dw[i];
        W[i] += c.learning_rate * velocity[i];
      }
      if (c.normalize_l2) normalize();
    }
  }
};

// ---------------------------------------------------------------- the engine

std::string num(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

std::string params_yaml(const LcaCase& c, const std::string& dir) {
  std::ostringstream y;
  y << "simulation:\n  steps: " << c.steps << "\n  display_period: " << c.display_period
    << "\n  batch_size: " << c.batch << "\n  dt: " << num(c.dt) << "\n  seed: 5\n  output: " << dir
    << "/out\n  csv: false\n"
    << "layers:\n  Input:\n    type: ImageInput\n    path: " << dir << "/images.h5\n"
    << "  Residual:\n    type: Error\n"
    << "  V1:\n    type: LCA\n    nx: " << c.in_nx / c.stride << "\n    ny: " << c.in_ny / c.stride
    << "\n    nf: " << c.nk << "\n    tau: " << num(c.tau) << "\n    lambda: " << num(c.lambda)
    << "\n    threshold: " << c.threshold << "\n    init_value: " << num(c.init_value)
    << "\n    self_interaction: " << (c.self_interaction ? "true" : "false") << "\n";
  if (c.firm_width > 0) y << "    firm_width: " << num(c.firm_width) << "\n";
  if (std::isfinite(c.a_min)) y << "    a_min: " << num(c.a_min) << "\n";
  if (std::isfinite(c.a_max)) y << "    a_max: " << num(c.a_max) << "\n";
  if (c.euler) y << "    integrator: euler\n";
  if (c.reset_on) y << "    reset_on: Input\n";
  y << "connections:\n  InputToResidual:\n    type: Identity\n    pre: Input\n    post: Residual\n"
    << "  Dictionary:\n    type: Convolution\n    pre: V1\n    post: Residual\n    channel: inhibitory\n"
    << "    patch_size: " << c.patch << "\n    init: file\n    init_file: " << dir << "/weights.h5\n"
    << "    normalize: " << (c.normalize_l2 ? "l2" : "none") << "\n    learning_rate: " << num(c.learning_rate)
    << "\n    momentum: " << num(c.momentum) << "\n"
    << "  ResidualToV1:\n    type: Transpose\n    original: Dictionary\n    pre: Residual\n    post: V1\n";
  return y.str();
}

void run_case(const LcaCase& c) {
  SCOPED_TRACE(c.name);
  test::TempDir dir;
  std::mt19937 rng(std::hash<std::string>{}(c.name) & 0xffff);
  // Images in [0, 1) and weights in [-0.5, 0.5): a well-conditioned LCA with a visible code.
  std::vector<float> images(std::size_t(c.images) * c.in_ny * c.in_nx * c.in_nf);
  test::fill_random(images, rng, 0.0f, 1.0f);
  std::vector<float> weights(std::size_t(c.nk) * c.patch * c.patch * c.in_nf);
  test::fill_random(weights, rng, -0.5f, 0.5f);
  std::vector<hsize_t> ishape{hsize_t(c.images), hsize_t(c.in_ny), hsize_t(c.in_nx)};
  if (c.in_nf > 1) ishape.push_back(hsize_t(c.in_nf));
  test::write_h5_floats(dir.file("images.h5"), "images", images, ishape);
  test::write_h5_floats(dir.file("weights.h5"), "weights", weights,
                        {hsize_t(c.nk), hsize_t(c.patch), hsize_t(c.patch), hsize_t(c.in_nf)});

  ParamsDocument doc = ParamsDocument::parse(params_yaml(c, dir.path()), "lca-test.yaml");
  NetworkSpec spec = NetworkSpec::from(doc, Registry::builtin());
  Network net(spec);
  Output out(dir.file("out"));
  Simulation sim(net, out, RunOptions{true, false});
  sim.initialize();

  Naive ref(c, images, weights);
  Layer* v1 = net.find_layer("V1");
  Layer* residual = net.find_layer("Residual");
  ASSERT_TRUE(v1 && residual);
  ASSERT_EQ(v1->membrane().size(), ref.u.size());
  ASSERT_EQ(residual->activity().size(), ref.e.size());

  double max_u = 0, max_a = 0, max_e = 0;
  long nonzero = 0;
  for (long n = 0; n < c.steps; ++n) {
    sim.step(n);
    ref.step(n);
    for (std::size_t i = 0; i < ref.u.size(); ++i) {
      max_u = std::max(max_u, std::fabs(v1->membrane().data()[i] - ref.u[i]) / (1 + std::fabs(ref.u[i])));
      max_a = std::max(max_a, std::fabs(v1->activity().data()[i] - ref.a[i]) / (1 + std::fabs(ref.a[i])));
    }
    for (std::size_t i = 0; i < ref.e.size(); ++i)
      max_e = std::max(max_e, std::fabs(residual->activity().data()[i] - ref.e[i]) / (1 + std::fabs(ref.e[i])));
    if (max_u > 1e-5 || max_a > 1e-5 || max_e > 1e-5) {
      ADD_FAILURE() << "diverged at step " << n << ": membrane " << max_u << " activity " << max_a << " error " << max_e;
      return;
    }
  }
  for (double v : ref.a) nonzero += v != 0.0;
  // The comparison must mean something: some but not all neurons active at the end.
  EXPECT_GT(nonzero, 0) << "reference code is all zeros";
  EXPECT_LT(nonzero, long(ref.a.size())) << "code is dense";

  // Energy terms: 0.5 ||e||^2 and lambda sum C(a) per batch element.
  const std::size_t ne = ref.e.size() / c.batch, na = ref.a.size() / c.batch;
  for (int b = 0; b < c.batch; ++b) {
    double ee = 0, ea = 0;
    for (std::size_t i = 0; i < ne; ++i) ee += 0.5 * ref.e[b * ne + i] * ref.e[b * ne + i];
    for (std::size_t i = 0; i < na; ++i) ea += ref.cost(ref.a[b * na + i]);
    EXPECT_NEAR(residual->energy(b), ee, 1e-5 * (1 + ee));
    EXPECT_NEAR(v1->energy(b), ea, 1e-5 * (1 + ea));
  }
  // Learned weights.
  if (c.learning_rate > 0) {
    const Connection* dict = nullptr;
    for (auto& conn : net.connections())
      if (conn->name() == "Dictionary") dict = conn.get();
    ASSERT_TRUE(dict);
    WeightsView wv = dict->weights();
    ASSERT_EQ(wv.size(), ref.W.size());
    double max_w = 0, moved = 0;
    for (std::size_t i = 0; i < ref.W.size(); ++i) {
      max_w = std::max(max_w, std::fabs(wv.data[i] - ref.W[i]));
      moved = std::max(moved, std::fabs(ref.W[i] - weights[i]));
    }
    EXPECT_LT(max_w, 1e-5);
    EXPECT_GT(moved, 1e-3) << "learning did not change the weights noticeably";
  }
  sim.finish();
}

TEST(LcaNaive, SoftStride1) {
  LcaCase c;
  c.name = "soft stride 1";
  run_case(c);
}

TEST(LcaNaive, SoftStride2NonSquareTwoFeatures) {
  LcaCase c;
  c.name = "soft stride 2";
  c.in_ny = 12, c.in_nx = 10, c.in_nf = 2, c.stride = 2, c.patch = 6, c.nk = 3, c.lambda = 0.15;
  run_case(c);
}

TEST(LcaNaive, SoftNonNegStride2) {
  LcaCase c;
  c.name = "soft_nonneg stride 2";
  c.stride = 2, c.patch = 4, c.nk = 5, c.threshold = "soft_nonneg", c.lambda = 0.05;
  run_case(c);
}

TEST(LcaNaive, HardStride1) {
  LcaCase c;
  c.name = "hard stride 1";
  c.threshold = "hard", c.lambda = 0.2, c.patch = 4;
  run_case(c);
}

TEST(LcaNaive, FirmStride2) {
  LcaCase c;
  c.name = "firm stride 2";
  c.stride = 2, c.patch = 5, c.threshold = "firm", c.lambda = 0.1, c.firm_width = 0.3;
  run_case(c);
}

TEST(LcaNaive, ClampsAndInitialMembrane) {
  LcaCase c;
  c.name = "clamps";
  c.a_min = -0.05, c.a_max = 0.1, c.init_value = 0.3;  // a(-1) = T(0.3) is nonzero
  run_case(c);
}

TEST(LcaNaive, ForwardEulerNoSelfInteraction) {
  LcaCase c;
  c.name = "euler";
  c.euler = true, c.tau = 5, c.dt = 0.5, c.self_interaction = false, c.stride = 2, c.patch = 4;
  run_case(c);
}

TEST(LcaNaive, ResetOnNewImage) {
  LcaCase c;
  c.name = "reset_on";
  c.reset_on = true, c.init_value = 0.15, c.batch = 3, c.images = 4;
  run_case(c);
}

TEST(LcaNaive, HebbianLearningWithMomentum) {
  LcaCase c;
  c.name = "learning";
  c.stride = 2, c.patch = 4, c.learning_rate = 0.05, c.momentum = 0.5, c.steps = 36, c.display_period = 6;
  run_case(c);
}

TEST(LcaNaive, HebbianLearningNormalized) {
  LcaCase c;
  c.name = "learning l2";
  c.learning_rate = 0.2, c.normalize_l2 = true, c.steps = 30, c.display_period = 5, c.lambda = 0.05;
  run_case(c);
}

}  // namespace
}  // namespace laminar

#include "connections/ConvolutionConnection.hpp"

#include <hdf5.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>

#include "framework/FileCheck.hpp"
#include "framework/Hdf5Dataset.hpp"
#include "framework/Network.hpp"
#include "framework/Parallel.hpp"
#include "framework/Random.hpp"

namespace laminar {

ConvolutionConnection::ConvolutionConnection(const BuildContext& ctx) : Connection(ctx) {
  const ParamSet& p = params_;
  scale_ = float(p.real("scale"));
  learning_rate_ = p.real("learning_rate");
  momentum_ = p.real("momentum");
  display_period_ = ctx.sim.display_period;
  batch_size_ = ctx.sim.batch_size;
  if (p.string("init") == "file" && !p.has("init_file")) p.fail("init", "init: file needs init_file (an HDF5 file)");
  if (p.string("init") == "random" && p.real("init_min") > p.real("init_max"))
    p.fail("init_min", "init_min must not exceed init_max");
  read_log_gabor_params();
}

namespace {
const char* const kLogGaborKeys[] = {"log_gabor_preset",     "log_gabor_orientations", "log_gabor_bandwidths",
                                     "log_gabor_phase",      "log_gabor_f0",           "log_gabor_sigma_f"};
std::string count_text(std::size_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}
}  // namespace

void ConvolutionConnection::read_log_gabor_params() {
  const ParamSet& p = params_;
  if (p.string("init") != "log_gabor") {
    for (const char* k : kLogGaborKeys)
      if (p.given(k)) p.fail(k, std::string(k) + " is only used with init: log_gabor (init is " + p.string("init") + ")");
    return;
  }
  const std::string preset = p.string("log_gabor_preset");
  if (preset != "none") {
    for (const char* k : {"log_gabor_orientations", "log_gabor_bandwidths", "log_gabor_phase"})
      if (p.given(k))
        p.fail(k, "log_gabor_preset: " + preset + " sets the orientations, bandwidths and phases; give either the "
                      "preset or " + k + ", not both");
    log_gabor_ = log_gabor_preset(preset);
    log_gabor_counts_ = preset == "homogeneous" ? std::array<std::size_t, 3>{72, 1, 2}   // as log_gabor_preset
                                                : std::array<std::size_t, 3>{12, 6, 2};
    return;
  }
  for (const char* k : {"log_gabor_orientations", "log_gabor_bandwidths"})
    if (!p.has(k))
      p.fail("init", std::string("init: log_gabor needs log_gabor_preset (homogeneous | heterogeneous), or ") +
                         "log_gabor_orientations and log_gabor_bandwidths; " + k + " is not given");
  std::vector<double> orientations = p.reals("log_gabor_orientations");
  if (!p.is_list("log_gabor_orientations")) {
    const double n = orientations[0];
    if (n < 1 || n > 100000 || std::floor(n) != n)
      p.fail("log_gabor_orientations",
             "a single number is a count of orientations spread evenly over [0, 180) and must be a whole number in "
             "[1, 100000], not " + format_value(n) + "; for one orientation of that many degrees write [" +
                 format_value(n) + "]");
    orientations = log_gabor_orientations(int(n));
  }
  const std::string phase = p.string("log_gabor_phase");
  const std::vector<double> phases = phase == "both" ? std::vector<double>{0.0, 90.0}
                                     : phase == "even" ? std::vector<double>{0.0}
                                                       : std::vector<double>{90.0};
  log_gabor_ = log_gabor_grid(orientations, p.reals("log_gabor_bandwidths"), phases);
  log_gabor_counts_ = {orientations.size(), p.reals("log_gabor_bandwidths").size(), phases.size()};
}

std::vector<float> ConvolutionConnection::make_log_gabor() const {
  const int ny = shape_.patch_y, nx = shape_.patch_x, nf = shape_.features();
  const std::size_t per = std::size_t(ny) * nx * nf;
  std::vector<double> one(per);
  std::vector<float> out(per * log_gabor_.size());
  const double f0 = params_.real("log_gabor_f0"), sigma_f = params_.real("log_gabor_sigma_f");
  for (std::size_t k = 0; k < log_gabor_.size(); ++k) {
    const LogGaborKernel& g = log_gabor_[k];
    if (!log_gabor_kernel(g, f0, sigma_f, ny, nx, nf, one.data()))
      params_.fail(params_.given("log_gabor_f0") || !params_.given("log_gabor_sigma_f") ? "log_gabor_f0"
                                                                                        : "log_gabor_sigma_f",
                   "log-Gabor kernel " + std::to_string(k) + " (theta0 " + format_value(g.theta0_deg) +
                       " deg, B_theta " + format_value(g.b_theta_deg) + " deg, phase " + format_value(g.phase_deg) +
                       " deg) is zero on the " + std::to_string(ny) + "x" + std::to_string(nx) +
                       " patch grid (f0 " + format_value(f0) + ", sigma_f " + format_value(sigma_f) +
                       " cycles per pixel; the grid reaches 0.5, the Nyquist frequency): nothing to normalise");
    std::copy(one.begin(), one.end(), out.begin() + std::ptrdiff_t(k * per));
  }
  return out;
}

void ConvolutionConnection::resolve(Network& net) {
  Connection::resolve(net);
  if (params_.has("trigger")) trigger_ = &net.layer(params_.string("trigger"), params_, "trigger");
}

void ConvolutionConnection::check_geometry() {
  const Geometry a = pre_->geometry(), b = post_->geometry();
  auto sizes = "pre '" + pre_name_ + "' is " + a.str() + " and post '" + post_name_ + "' is " + b.str() + " (ny x nx x nf)";
  int sy = 0, sx = 0;
  if (b.nx % a.nx == 0 && b.ny % a.ny == 0) {
    sy = b.ny / a.ny;  // post finer (or equal): one-to-many (e.g. code -> reconstruction)
    sx = b.nx / a.nx;
    kernels_on_pre_ = true;
  } else if (a.nx % b.nx == 0 && a.ny % b.ny == 0) {
    sy = a.ny / b.ny;  // pre finer: many-to-one (e.g. image -> features)
    sx = a.nx / b.nx;
    kernels_on_pre_ = false;
  } else {
    params_.fail_block(sizes + ": their sizes must be equal or differ by an integer factor (the stride) in x and in y, "
                       "the same layer being the finer one on both axes");
  }
  // Strides may differ per axis (e.g. a joint layer over a 128x16 text stream and a 64x64 image stream).
  const std::string implied = sy == sx ? "stride " + std::to_string(sx)
                                       : "strides " + std::to_string(sy) + " (y) and " + std::to_string(sx) + " (x)";
  if (params_.has("stride") && (params_.integer("stride") != sx || params_.integer("stride") != sy))
    params_.fail("stride", "stride " + std::to_string(params_.integer("stride")) + " does not match the layer sizes: " +
                               sizes + " implies " + implied);
  const int patch = int(params_.integer("patch_size"));
  const int patch_y = params_.has("patch_size_y") ? int(params_.integer("patch_size_y")) : patch;
  if (patch < sx || (!params_.has("patch_size_y") && patch < sy))
    params_.fail("patch_size", "patch_size " + std::to_string(patch) + " is smaller than the " + implied +
                                   " implied by the layer sizes (" + sizes + "); some neurons would have no input");
  if (patch_y < sy)
    params_.fail("patch_size_y", "patch_size_y " + std::to_string(patch_y) + " is smaller than the y stride " +
                                     std::to_string(sy) + " implied by the layer sizes (" + sizes + ")");
  const Geometry& fine = kernels_on_pre_ ? b : a;
  const Geometry& coarse = kernels_on_pre_ ? a : b;
  shape_ = ConvShape::make(fine, coarse, sy, sx, patch_y, patch);
  if (params_.string("init") == "file") read_init_file(nullptr);  // so `laminar check` catches a bad file
  if (params_.string("init") == "log_gabor") {
    if (log_gabor_.size() != std::size_t(shape_.kernels())) {
      const ParamSet& p = params_;
      const bool preset = p.string("log_gabor_preset") != "none";
      const auto& [n_theta, n_b, n_phase] = log_gabor_counts_;
      const Layer& coarse = kernels_on_pre_ ? *pre_ : *post_;
      p.fail(preset ? "log_gabor_preset" : "log_gabor_orientations",
             "the log-Gabor settings give " + std::to_string(log_gabor_.size()) + " kernels (" +
                 count_text(n_theta, "orientation") + " x " + count_text(n_b, "bandwidth") + " x " +
                 count_text(n_phase, "phase") + ") but the coarser layer '" + coarse.name() + "' has nf = " +
                 std::to_string(shape_.kernels()) + " (one kernel per feature); they must be equal");
    }
    log_gabor_weights_ = make_log_gabor();  // so `laminar check` catches a kernel that is zero on this grid
  }
}

void ConvolutionConnection::read_init_file(float* out) const {
  const ParamSet& p = params_;
  const std::string file = p.string("init_file"), dset = p.string("init_dataset");
  auto fail = [&](const std::string& m) { p.fail("init_file", file + ": " + m); };
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) fail("weights file not found");
  if (std::filesystem::is_directory(file, ec)) fail("expected an HDF5 file, found a folder");
  try {
    require_regular_file(file);
  } catch (const UserError& e) {
    p.fail("init_file", e.what());
  }
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) fail("not a readable HDF5 file");
  if (H5Lexists(f, dset.c_str(), H5P_DEFAULT) <= 0) {
    H5Fclose(f);
    fail("no dataset '" + dset + "' (set init_dataset)");
  }
  std::string problem;
  hid_t d = open_hdf5_dataset(f, dset, problem);
  if (d < 0) {
    H5Fclose(f);
    fail(problem);
  }
  hid_t sp = H5Dget_space(d);
  hsize_t dims[8] = {0};
  int rank = H5Sget_simple_extent_ndims(sp);
  if (rank >= 1 && rank <= 8) H5Sget_simple_extent_dims(sp, dims, nullptr);
  H5Sclose(sp);
  std::string found = "(";
  for (int i = 0; i < rank && i < 8; ++i) found += (i ? ", " : "") + std::to_string(dims[i]);
  found += rank == 1 ? ",)" : ")";
  const hsize_t want[4] = {hsize_t(shape_.kernels()), hsize_t(shape_.patch_y), hsize_t(shape_.patch_x),
                           hsize_t(shape_.features())};
  if (rank != 4 || dims[0] != want[0] || dims[1] != want[1] || dims[2] != want[2] || dims[3] != want[3]) {
    H5Dclose(d);
    H5Fclose(f);
    fail("dataset '" + dset + "' must have shape (" + std::to_string(want[0]) + ", " + std::to_string(want[1]) + ", " +
         std::to_string(want[2]) + ", " + std::to_string(want[3]) + ") = (kernels, patch_y, patch_x, features), not " +
         (rank < 0 ? std::string("unreadable") : found));
  }
  herr_t st = out ? H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) : 0;
  H5Dclose(d);
  H5Fclose(f);
  if (st < 0) fail("reading dataset '" + dset + "' failed");
}

void ConvolutionConnection::initialize(const SimulationConfig& sim) {
  weights_.assign(shape_.weights_size(), 0.0f);
  const ParamSet& p = params_;
  if (p.string("init") == "random") {
    Rng rng(sim.seed, "weights/" + name_);
    const double lo = p.real("init_min"), hi = p.real("init_max");
    for (float& w : weights_) w = float(rng.uniform(lo, hi));
  } else if (p.string("init") == "log_gabor") {
    if (log_gabor_weights_.empty()) log_gabor_weights_ = make_log_gabor();
    std::copy(log_gabor_weights_.begin(), log_gabor_weights_.end(), weights_.data());
    std::vector<float>().swap(log_gabor_weights_);  // the weights are state from here on
  } else {
    read_init_file(weights_.data());
  }
  if (p.string("normalize") == "l2") backend().normalize_l2(shape_, weights_, float(p.real("strength")));
  velocity_.assign(momentum_ > 0 ? weights_.size() : 0, 0.0f);
  ++version_;
}

const Buffer& ConvolutionConnection::transposed() {
  if (transposed_version_ != version_) {
    backend().transpose_weights(shape_, weights_, weights_t_);
    transposed_version_ = version_;
  }
  return weights_t_;
}

void ConvolutionConnection::apply(const Tensor& in, Tensor& out, bool adjoint, float scale) {
  // Forward with kernels on pre (coarse -> fine) scatters; the opposite direction gathers.
  const bool scatter = kernels_on_pre_ != adjoint;
  // `in` and `out` hold this process's tile of each layer (the whole layers in a single process).
  parallel::deliver(backend(), shape_, scatter, scatter ? weights_ : transposed(), in, out, scale, halo_[scatter ? 0 : 1]);
}

void ConvolutionConnection::deliver(Tensor& target) { apply(pre_buffer(), target, false, scale_); }

bool ConvolutionConnection::learn(long step) {
  if (!plastic()) return false;
  const bool fire = trigger_ ? trigger_->fires(step + 1) : (step + 1) % display_period_ == 0;
  if (!fire) return false;
  const Tensor& coarse = kernels_on_pre_ ? pre_buffer() : post_->activity();
  const Tensor& fine = kernels_on_pre_ ? post_->activity() : pre_buffer();
  if (dw_.size() != weights_.size()) dw_.assign(weights_.size(), 0.0f);
  dw_.fill(0.0f);
  // Hebbian term pre x post (post = error e), mean over the (whole) batch: Phi += eta mean_b(e (x) a),
  // summed over every process's tile and batch elements.
  parallel::hebbian(backend(), shape_, coarse, fine, dw_, 1.0f / float(batch_size_), halo_[1]);
  // No evidence, no learning: when the Hebbian term is zero everywhere (e.g. every batch element's
  // error is masked because its modality is absent, or the code is all zero) the weights, the
  // momentum and the normalisation are left exactly as they are (renormalising unit-norm kernels
  // would otherwise move them by rounding). dw_ is the global sum, the same on every process.
  const Buffer& dw = dw_;  // read only: the device copy stays current
  if (std::all_of(dw.begin(), dw.end(), [](float v) { return v == 0.0f; })) return false;
  backend().weight_update(weights_, velocity_, dw_, float(learning_rate_), momentum_ > 0 ? float(momentum_) : 0.0f);
  if (params_.string("normalize") == "l2") backend().normalize_l2(shape_, weights_, float(params_.real("strength")));
  ++version_;
  return true;
}

WeightsView ConvolutionConnection::weights() const {
  return WeightsView{weights_.data(), shape_.kernels(), shape_.patch_y, shape_.patch_x, shape_.features()};
}

std::vector<KernelAttribute> ConvolutionConnection::kernel_attributes() const {
  if (log_gabor_.empty()) return {};
  std::vector<KernelAttribute> out{{"theta0_deg", {}}, {"b_theta_deg", {}}, {"phase_deg", {}}};
  for (const auto& g : log_gabor_) {
    out[0].values.push_back(g.theta0_deg);
    out[1].values.push_back(g.b_theta_deg);
    out[2].values.push_back(g.phase_deg);
  }
  return out;
}

std::vector<StateArray> ConvolutionConnection::state() const {
  const std::vector<std::size_t> shape{std::size_t(shape_.kernels()), std::size_t(shape_.patch_y),
                                       std::size_t(shape_.patch_x), std::size_t(shape_.features())};
  std::vector<StateArray> out{{"weights", weights_.data(), shape}};
  if (!velocity_.empty()) out.push_back({"velocity", velocity_.data(), shape});
  return out;
}

void ConvolutionConnection::set_state(const std::string& name, const float* data) {
  Buffer* target = name == "weights" ? &weights_ : name == "velocity" ? &velocity_ : nullptr;
  if (!target) Connection::set_state(name, data);
  std::copy_n(data, target->size(), target->data());
  ++version_;  // the transposed copy is stale
}

void laminar_register_ConvolutionConnection(Registry& r) {
  Schema s = Connection::common_schema();
  s.integer("patch_size", std::nullopt, 1, 4096, "Kernel width and height, counted on the finer layer.")
      .optional_integer("patch_size_y", 1, 4096, "Kernel height when it differs from the width `patch_size`.")
      .optional_integer("stride", 1, 4096, "Expected stride; checked against the ratio of the layer sizes.")
      .real("scale", 1.0, -Schema::inf, Schema::inf, "Multiplies what is delivered.")
      .choice("init", {"random", "file", "log_gabor"}, std::string("random"),
              "random: uniform in [init_min, init_max] from the simulation seed; file: read init_file; log_gabor: "
              "log-Gabor filters (the `log_gabor_*` keys, below).")
      .optional_string("init_file", "HDF5 file with the weights, shape (kernels, patch, patch, features).")
      .string("init_dataset", std::string("weights"), "Dataset name inside init_file.")
      .real("init_min", -1.0, -Schema::inf, Schema::inf, "Lower bound of random initial weights.")
      .real("init_max", 1.0, -Schema::inf, Schema::inf, "Upper bound of random initial weights.")
      .choice("log_gabor_preset", {"none", "homogeneous", "heterogeneous"}, std::string("none"),
              "init: log_gabor grid of Ladret, Casanova & Perrinet (2023): homogeneous = 72 orientations (0, 2.5, ..., "
              "177.5 deg) x B_theta 12 deg x phases 0, 90 (144 kernels); heterogeneous = 12 orientations (0, 15, ..., "
              "165) x B_theta 3, 8.4, 13.8, 19.2, 24.6, 30 deg x phases 0, 90 (144 kernels). Excludes the three "
              "keys below; none: give them.")
      .optional_reals("log_gabor_orientations", -Schema::inf, Schema::inf,
                      "init: log_gabor orientations theta0: a whole number n (n orientations k * 180 / n deg, k = 0 .. "
                      "n-1) or a list of degrees (0 = horizontal frequency vector, vertical stripes; 90 = horizontal "
                      "stripes).")
      .optional_reals("log_gabor_bandwidths", 0, 180,
                      "init: log_gabor angular bandwidths B_theta in degrees (a number or a list), B_theta = "
                      "sigma_theta sqrt(2 ln 2).",
                      true)
      .choice("log_gabor_phase", {"both", "even", "odd"}, std::string("both"),
              "init: log_gabor phases phi: both = 0 and 90 deg, even = 0, odd = 90 (the quadrature partner).")
      .real("log_gabor_f0", 0.4, 0, Schema::inf, "init: log_gabor peak spatial frequency f0 (cycles per pixel).", true)
      .real("log_gabor_sigma_f", 0.4, 0, Schema::inf,
            "init: log_gabor radial bandwidth sigma_f (cycles per pixel): log-width log(1 + sigma_f / f0).", true)
      .choice("normalize", {"l2", "none"}, std::string("l2"),
              "l2: scale each kernel (dictionary element) to L2 norm `strength` at start and after each update.")
      .real("strength", 1.0, 0, Schema::inf, "Target L2 norm of each kernel.", true)
      .real("learning_rate", 0.0, 0, Schema::inf, "Hebbian rate eta (0: fixed weights). Phi += eta mean_b(post (x) pre).")
      .real("momentum", 0.0, 0, 0.999999, "Momentum mu: v <- mu v + dPhi; Phi += eta v.")
      .optional_string("trigger", "Learn when this layer presents new data (default: last step of each display period).");
  register_connection<ConvolutionConnection>(
      r, KindInfo{Category::Connection, "Convolution",
                  "Shared-weight convolution (the dictionary), any integer stride, optional Hebbian learning.",
                  "The stride is the ratio of the layer sizes (per axis: x and y strides may differ, e.g. 8 and 1 "
                  "between a 64x64 and a 128x16 layer, with `patch_size_y` for non-square kernels): post finer than pre is one-to-many (an LCA code "
                  "reconstructing its input: `Phi a`), post coarser is many-to-one (a strided correlation). Kernel k "
                  "belongs to feature k of the coarser layer and is a `patch_size_y x patch_size x nf` patch on the "
                  "finer layer (patch_size_y defaults to patch_size), centred on each axis (offset "
                  "`-floor((patch - stride)/2)`), zero outside the layer. The weights are shape (kernels, patch_y, "
                  "patch_x, features) in HDF5 files. Learning fires on the last "
                  "step of each display period: `Phi += eta mean_b(e (x) a)` with e the post activity (an error "
                  "layer), then each kernel is renormalised. A learning event whose Hebbian term is zero everywhere (all "
                  "errors masked, or no activity) changes nothing, not even through momentum or renormalisation.\n\n"
                  "`init: log_gabor` makes the log-Gabor dictionaries of Ladret, Casanova & Perrinet, \"Kernel "
                  "Heterogeneity Improves Sparseness of Natural Images Representations\" (2023), eq. 3, on each "
                  "kernel's own `patch_size_y x patch_size` grid (N_y x N_x): with frequencies fx = fftfreq(N_x), fy = "
                  "fftfreq(N_y) (numpy.fft order, cycles per pixel), f = |(fx, fy)| and orientation theta = atan2(-fy, "
                  "fx) (y points up: the row index grows downward, so the row frequency is negated; theta0 = 0 is a "
                  "horizontal frequency vector, i.e. vertical stripes, theta0 = 90 deg a vertical one, horizontal "
                  "stripes), `G(f, theta) = exp(-1/2 log(f/f0)^2 / log(1 + sigma_f/f0)^2) exp(cos(2 (theta - "
                  "theta0)) / (4 sigma_theta^2))`, G(0) = 0 (no DC), sigma_theta = B_theta / sqrt(2 ln 2) (B_theta in "
                  "radians). Kernel = `Re(IDFT[G (1 + sign(cos(theta - theta0))) exp(i phi)])` (sign(0) = 0), centred "
                  "by fftshift (the spatial origin at index N//2 on each axis), then its mean removed and scaled to unit "
                  "L2 norm over the whole kernel; when the finer layer has nf > 1 every feature slice holds the same "
                  "kernel before that joint normalisation. phi = 0 (even) is symmetric about the centre c = N//2 "
                  "(k[(2c - i) mod N] = k[i] on each axis) and equals IDFT[G] (G is symmetric under f -> -f, so the "
                  "sign term adds only an imaginary part), except for even N on the Nyquist row and column: f = -1/2 is "
                  "its own alias, so there the sign term does not cancel (the even kernel holds those frequencies with "
                  "weight up to 2, the odd one not at all). phi = 90 deg (odd) is the quadrature (Hilbert) partner, "
                  "antisymmetric in the same sense (k[(2c - i) mod N] = -k[i]). Kernel index = (i_theta * n_B + i_B) * n_phase + i_phase: "
                  "theta0 outermost, then B_theta, then phase (0 before 90). Their number must equal nf of the "
                  "coarser layer. `normalize: l2` then applies as for any init (`strength` scales the unit-norm "
                  "kernels); learning may change them afterwards (the weights are then state, kept by checkpoints). "
                  "Weight recorders write the grid as per-kernel float64 attributes `theta0_deg`, `b_theta_deg`, "
                  "`phase_deg` of `probes/<name>` (and of `connections/<name>/final_weights`), listed in the text "
                  "attribute `kernel_attributes`; `laminar.Run(...).kernel_attributes(name)` reads them.",
                  "Dictionary:\n  type: Convolution\n  pre: V1\n  post: Residual\n  channel: inhibitory\n  patch_size: 8\n"
                  "  learning_rate: 0.05\n  momentum: 0.5",
                  {"Transpose", "LCA", "Error", "WeightRecorder"}, s});
}

}  // namespace laminar

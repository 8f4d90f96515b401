#include "probes/ImageWriter.hpp"

#include "framework/Communicator.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "framework/ImageIO.hpp"
#include "framework/Network.hpp"
#include "framework/Output.hpp"

namespace laminar {

ImageWriter::ImageWriter(const BuildContext& ctx) : Probe(ctx) {
  if (!params_.has("period")) period_ = ctx.sim.display_period;
  const std::string& s = params_.string("scaling");
  scaling_ = s == "minmax" ? Scaling::MinMax : s == "symmetric" ? Scaling::Symmetric : Scaling::Fixed;
  lo_ = float(params_.real("min"));
  hi_ = float(params_.real("max"));
  if (scaling_ == Scaling::Fixed && !(hi_ > lo_)) params_.fail("max", "scaling: fixed needs max > min");
}

void ImageWriter::resolve(Network& net) {
  source_.resolve(net, params_);
  const Layer& layer = source_.layer();
  const int nf = layer.geometry().nf;
  if (params_.has("feature")) {
    feature_ = int(params_.integer("feature"));
    if (feature_ >= nf)
      params_.fail("feature", "layer '" + layer.name() + "' has " + std::to_string(nf) + " features (0 to " +
                                  std::to_string(nf - 1) + ")");
  } else if (nf != 1 && nf != 3) {
    params_.fail("layer", "layer '" + layer.name() + "' has nf " + std::to_string(nf) +
                              "; images are grey (nf 1) or RGB (nf 3): choose one feature with `feature: k`");
  }
  if (params_.has("only_absent")) {
    only_absent_ = &net.layer(params_.string("only_absent"), params_, "only_absent");
    if (only_absent_->dataset_size() == 0)
      params_.fail("only_absent", "layer '" + only_absent_->name() + "' (" + only_absent_->type() +
                                      ") is not an input layer");
  }
}

void ImageWriter::open(Output& out, const SimulationConfig&) {
  const std::string g = "probes/" + name_;
  out.attribute(g, "type", type_);
  out.attribute(g, "layer", source_.layer().name());
  out.attribute(g, "buffer", source_.buffer_name());
  out.attribute(g, "scaling", params_.string("scaling"));
  dir_ = out.path(name_);
  if (!out.writer()) return;  // under MPI only the writing process creates files
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw UserError(dir_ + ": cannot create the image folder of probe '" + name_ + "' (" + ec.message() + ")");
}

void ImageWriter::to_bytes(const float* v, std::size_t count, Scaling rule, float lo, float hi, std::uint8_t* out) {
  // minmax: [min, max] -> [0, 255]; symmetric: [-m, m] -> [0, 255] with m = max |v| (0 is mid-grey);
  // fixed: [lo, hi] -> [0, 255], clamped. A constant image (no range) is written as 0 (minmax) or 128.
  double a = lo, b = hi;
  if (rule == Scaling::MinMax) {
    a = count ? *std::min_element(v, v + count) : 0.0f;
    b = count ? *std::max_element(v, v + count) : 0.0f;
  } else if (rule == Scaling::Symmetric) {
    double m = 0.0;
    for (std::size_t i = 0; i < count; ++i) m = std::max(m, std::fabs(double(v[i])));
    a = -m;
    b = m;
  }
  const double range = b - a;
  for (std::size_t i = 0; i < count; ++i) {
    double t = range > 0 ? (double(v[i]) - a) / range : (rule == Scaling::Symmetric ? 0.5 : 0.0);
    t = std::clamp(t, 0.0, 1.0);
    out[i] = std::uint8_t(std::lround(255.0 * t));
  }
}

void ImageWriter::sample(long step, Output& out) {
  // The whole layer and every batch element's presence (gathered to the writer under MPI).
  const Tensor& t = source_.gathered(scratch_);
  std::vector<std::int64_t> present;
  if (only_absent_ && only_absent_->present()) {
    const std::vector<char>& local = *only_absent_->present();
    present = Communicator::world().gather_batch(std::vector<std::int64_t>(local.begin(), local.end()));
  }
  if (!out.writer()) return;
  const Geometry& g = t.geometry();
  const std::string base = "probes/" + name_;
  const std::int64_t s = step;
  out.append(base + "/step", &s, {});
  out.append(base + "/data", t);
  const int channels = feature_ >= 0 ? 1 : g.nf;
  const std::size_t pixels = std::size_t(g.nx) * g.ny;
  std::vector<float> values(pixels * channels);
  std::vector<std::uint8_t> bytes(values.size());
  for (int b = 0; b < t.batch(); ++b) {
    if (only_absent_ && (present.empty() || present[std::size_t(b)])) continue;  // present: nothing generated
    auto el = t.element(b);
    if (feature_ >= 0)
      for (std::size_t i = 0; i < pixels; ++i) values[i] = el[i * g.nf + std::size_t(feature_)];
    else
      std::copy(el.begin(), el.end(), values.begin());
    to_bytes(values.data(), values.size(), scaling_, lo_, hi_, bytes.data());
    char file[64];
    std::snprintf(file, sizeof file, "/step%08ld-b%03d.png", step, b);
    write_png(dir_ + file, bytes.data(), g.nx, g.ny, channels);
  }
}

void laminar_register_ImageWriter(Registry& r) {
  Schema s = Probe::common_schema();
  LayerBufferRef::declare(s, "Layer whose buffer is written.");
  s.optional_integer("feature", 0, 1 << 24, "Write this feature as grey (default: all features; nf must be 1 or 3).")
      .choice("scaling", {"minmax", "symmetric", "fixed"}, std::string("minmax"),
              "Per image: minmax maps [min, max] to [0, 255]; symmetric maps [-m, m] (m = max |v|) so 0 is mid-grey; "
              "fixed maps [min, max] given here, clamped.")
      .real("min", 0.0, -Schema::inf, Schema::inf, "Value written as 0 with scaling: fixed.")
      .real("max", 1.0, -Schema::inf, Schema::inf, "Value written as 255 with scaling: fixed.")
      .optional_string("only_absent", "An input layer: write PNGs only for batch elements where its modality is absent "
                                      "(the generated ones); the HDF5 data always holds every element.");
  register_probe<ImageWriter>(
      r, KindInfo{Category::Probe, "ImageWriter", "Writes a layer's buffer as PNG images (one per batch element) and to HDF5.",
                  "Samples on the last step of every `period` steps (default: every display period, i.e. the settled "
                  "state for each input). Writes `<output>/<name>/stepNNNNNNNN-bBBB.png` for each batch element b "
                  "(grey for nf 1 or a chosen `feature`, RGB for nf 3; 8 bits by the `scaling` rule, rounded to the "
                  "nearest level) and the raw float values into `probes/<name>/data` (samples, batch, ny, nx, nf) "
                  "with `probes/<name>/step`. With `buffer: inhibitory` on an Error layer fed `Phi a` it writes the "
                  "reconstruction; on a masked Error layer whose modality is absent, that is the modality the code "
                  "generates (`only_absent` restricts the PNGs to those elements).",
                  "GeneratedText:\n  type: ImageWriter\n  layer: TextError\n  buffer: inhibitory\n  scaling: fixed\n"
                  "  min: 0\n  max: 1\n  only_absent: Name",
                  {"ActivityRecorder", "Error", "TextInput"}, s});
}

}  // namespace laminar

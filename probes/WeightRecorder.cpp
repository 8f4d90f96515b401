#include "probes/WeightRecorder.hpp"

#include "framework/ImageIO.hpp"
#include "framework/Network.hpp"
#include "framework/Output.hpp"

namespace laminar {

WeightRecorder::WeightRecorder(const BuildContext& ctx) : Probe(ctx) {
  if (!params_.has("period")) period_ = ctx.sim.display_period;
}

void WeightRecorder::resolve(Network& net) {
  connection_ = &net.connection(params_.string("connection"), params_, "connection");
  if (!connection_->has_weights())
    params_.fail("connection", "'" + connection_->name() + "' (" + connection_->type() + ") has no weights to record");
}

void WeightRecorder::open(Output& out, const SimulationConfig&) {
  out.attribute("probes/" + name_, "type", type_);
  out.attribute("probes/" + name_, "connection", connection_->name());
  write_kernel_attributes(out, "probes/" + name_, *connection_);
  out.declare("probes/" + name_ + "/step", {"sample"}, "the step of each sample (0-based; the sample follows it)");
  out.declare("probes/" + name_ + "/weights", {"sample", "kernel", "y", "x", "feature"},
              "weights of connection " + connection_->name() + " per sample");
}

void WeightRecorder::sample(long step, Output& out) {
  WeightsView w = connection_->weights();
  const std::string base = "probes/" + name_;
  const std::int64_t s = step;
  out.append(base + "/step", &s, {});
  out.append(base + "/weights", w.data,
             {std::size_t(w.kernels), std::size_t(w.patch_y), std::size_t(w.patch_x), std::size_t(w.features)});
  if (params_.boolean("png") && out.writer()) write_dictionary_png(w, out.path(name_ + ".png"));
}

void laminar_register_WeightRecorder(Registry& r) {
  Schema s = Probe::common_schema();
  s.string("connection", std::nullopt, "Connection (Convolution or Transpose) whose weights are recorded.")
      .boolean("png", false, "Also draw the weights as a tile image <output>/<name>.png (figures are otherwise drawn "
                             "from laminar.h5 by `python -m laminar.plot` as dictionary-<name>.png).");
  register_probe<WeightRecorder>(
      r, KindInfo{Category::Probe, "WeightRecorder", "Writes a connection's weights to the HDF5 output and a PNG.",
                  "Samples on the last step of every `period` steps (default: every display period, after learning) "
                  "into `probes/<name>/weights` with shape (samples, kernels, patch, patch, features), and draws "
                  "the latest weights as `<name>.png`: one tile per kernel, RGB when the finer layer has 3 "
                  "features, mid-grey = 0. Per-kernel labels of the weights (`init: log_gabor`: `theta0_deg`, "
                  "`b_theta_deg`, `phase_deg`) become float64 array attributes of `probes/<name>`, their names listed "
                  "in its text attribute `kernel_attributes` (`laminar.Run.kernel_attributes`).",
                  "DictionaryHistory:\n  type: WeightRecorder\n  connection: Dictionary",
                  {"Convolution", "ActivityRecorder"}, s});
}

}  // namespace laminar

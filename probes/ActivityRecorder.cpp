#include "probes/ActivityRecorder.hpp"

#include "framework/Network.hpp"
#include "framework/Output.hpp"

namespace laminar {

ActivityRecorder::ActivityRecorder(const BuildContext& ctx) : Probe(ctx) {
  if (!params_.has("period")) period_ = ctx.sim.display_period;
}

void ActivityRecorder::resolve(Network& net) {
  source_.resolve(net, params_);
}

void ActivityRecorder::open(Output& out, const SimulationConfig&) {
  const std::string g = "probes/" + name_;
  out.attribute(g, "type", type_);
  out.attribute(g, "layer", source_.layer().name());
  out.attribute(g, "buffer", source_.buffer_name());
  out.declare(g + "/step", {"sample"}, "the step of each sample (0-based; the sample follows it)");
  out.declare(g + "/data", {"sample", "batch", "y", "x", "feature"},
              "layer " + source_.layer().name() + " " + source_.buffer_name() + " per sample");
  out.declare(g + "/item", {"sample", "batch"}, "dataset index of the input shown");
}

void ActivityRecorder::sample(long step, Output& out) {
  // The whole layer (gathered to the writer under MPI).
  const Tensor& t = source_.gathered(scratch_);
  std::vector<std::int64_t> items;
  if (source_.layer().current_items()) items = source_.layer().gathered_items();
  if (!out.writer()) return;
  const std::string base = "probes/" + name_;
  const std::int64_t s = step;
  out.append(base + "/step", &s, {});
  out.append(base + "/data", t);
  if (source_.layer().current_items()) out.append(base + "/item", items.data(), {items.size()});
}

void laminar_register_ActivityRecorder(Registry& r) {
  Schema s = Probe::common_schema();
  LayerBufferRef::declare(s, "Layer to record.");
  register_probe<ActivityRecorder>(
      r, KindInfo{Category::Probe, "ActivityRecorder", "Writes a layer's activity or membrane to the HDF5 output.",
                  "Samples on the last step of every `period` steps (default: every display period, i.e. the settled "
                  "code for each input) into `probes/<name>/data` with shape (samples, batch, ny, nx, nf); "
                  "`probes/<name>/step` holds the step numbers and, for input layers, `probes/<name>/item` the dataset "
                  "index each batch element saw.",
                  "V1Code:\n  type: ActivityRecorder\n  layer: V1", {"WeightRecorder", "Stats"}, s});
}

}  // namespace laminar

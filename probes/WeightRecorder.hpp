#pragma once
// Records a connection's weights to the run's HDF5 file at a cadence
// (`probes/<name>/weights` [samples, kernels, patch_y, patch_x, features]) and draws them as a
// PNG tile image `<output>/<name>.png` (rewritten at every sample).
#include "framework/Probe.hpp"

namespace laminar {

class Connection;

class WeightRecorder : public Probe {
 public:
  explicit WeightRecorder(const BuildContext& ctx);
  void resolve(Network& net) override;
  void open(Output& out, const SimulationConfig& sim) override;
  void sample(long step, Output& out) override;

 private:
  Connection* connection_ = nullptr;
};

}  // namespace laminar

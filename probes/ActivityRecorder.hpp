#pragma once
// Records a layer's activity (or membrane) to the run's HDF5 file at a cadence:
// `probes/<name>/data` [samples, batch, ny, nx, nf], `probes/<name>/step` [samples], and for
// input layers `probes/<name>/item` [samples, batch] (dataset index shown).
#include "framework/Tensor.hpp"
#include "framework/Probe.hpp"

namespace laminar {

class Layer;

class ActivityRecorder : public Probe {
 public:
  explicit ActivityRecorder(const BuildContext& ctx);
  void resolve(Network& net) override;
  void open(Output& out, const SimulationConfig& sim) override;
  void sample(long step, Output& out) override;

 private:
  LayerBufferRef source_;
  Tensor scratch_;
};

}  // namespace laminar

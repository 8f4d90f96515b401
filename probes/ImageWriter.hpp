#pragma once
// Writes a layer's buffer (activity, membrane, or one input channel, e.g. an Error layer's
// inhibitory channel = the reconstruction Phi a) as one PNG per batch element at a cadence, and
// the raw values into the HDF5 output: probes/<name>/data [samples, batch, ny, nx, nf].
// Used to look at reconstructions and at generated (missing) modalities.
#include <vector>

#include "framework/Layer.hpp"
#include "framework/Probe.hpp"
#include "framework/Tensor.hpp"

namespace laminar {

class ImageWriter : public Probe {
 public:
  explicit ImageWriter(const BuildContext& ctx);
  void resolve(Network& net) override;
  void open(Output& out, const SimulationConfig& sim) override;
  void sample(long step, Output& out) override;

  enum class Scaling { MinMax, Symmetric, Fixed };
  // Map one image's values (n pixels x nf values, nf 1 or 3) to 8 bits by the scaling rule.
  static void to_bytes(const float* v, std::size_t count, Scaling rule, float lo, float hi, std::uint8_t* out);

 private:
  LayerBufferRef source_;
  const Layer* only_absent_ = nullptr;
  Scaling scaling_ = Scaling::MinMax;
  float lo_ = 0.0f, hi_ = 1.0f;
  int feature_ = -1;  // write one feature as grey, or -1: all (nf 1 or 3)
  std::string dir_;
  Tensor scratch_;  // the gathered layer under MPI
};

}  // namespace laminar

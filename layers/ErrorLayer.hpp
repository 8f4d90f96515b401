#pragma once
// Error layer: e = scale (excitatory - inhibitory), e.g. input minus reconstruction
// (OpenPV ANNErrorLayer). Its energy term is 0.5 ||e||^2.
// With `mask: <input layer>`, e is zero for batch elements where that layer's modality is absent
// (Layer::present()): the error then neither drives the code (a Transpose delivers 0) nor learns.
#include "framework/Layer.hpp"

namespace laminar {

class ErrorLayer : public Layer {
 public:
  explicit ErrorLayer(const BuildContext& ctx);
  void update(long step) override;
  bool has_energy() const override { return true; }
  double energy_of(const Tensor& activity, int b) const override;
  bool energy_reduction(ReduceItem& item, double& factor) const override;
  void resolve(Network& net) override;
  void validate() override;

 private:
  float scale_ = 1.0f;
  const Layer* mask_ = nullptr;
};

}  // namespace laminar

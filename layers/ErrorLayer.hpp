#pragma once
// Error layer: e = scale (excitatory - inhibitory), e.g. input minus reconstruction
// (OpenPV ANNErrorLayer). Its energy term is 0.5 ||e||^2.
#include "framework/Layer.hpp"

namespace laminar {

class ErrorLayer : public Layer {
 public:
  explicit ErrorLayer(const BuildContext& ctx);
  void update(long step) override;
  bool has_energy() const override { return true; }
  double energy_of(const Tensor& activity, int b) const override;

 private:
  float scale_ = 1.0f;
};

}  // namespace laminar

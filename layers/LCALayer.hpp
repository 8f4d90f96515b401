#pragma once
// LCA membrane layer (Rozell et al. 2008; seed paper eq. 3 and 5; OpenPV HyPerLCALayer):
//   tau du/dt = -u + drive + a,   a = T_lambda(u),   drive = excitatory - inhibitory.
// With an error layer e = x - Phi a delivering Phi^T e, drive + a = Phi^T x - (Phi^T Phi - I) a.
#include "framework/ElementMath.hpp"
#include "framework/Layer.hpp"

namespace laminar {

class LCALayer : public Layer {
 public:
  explicit LCALayer(const BuildContext& ctx);
  bool stateful() const override { return true; }
  bool has_membrane() const override { return true; }
  void resolve(Network& net) override;
  void initialize(const SimulationConfig& sim) override;
  void begin_step(long step) override;
  void update(long step) override;
  bool has_energy() const override { return true; }
  double energy_of(const Tensor& activity, int b) const override;
  bool energy_reduction(ReduceItem& item, double& factor) const override;  // lambda * sum C(a)

  const math::ThresholdParams& threshold() const { return threshold_; }
  // `resets`: membrane initialisations so far (the random stream index of the next one).
  std::vector<std::pair<std::string, long long>> counters() const override { return {{"resets", resets_}}; }
  void set_counter(const std::string& name, long long value) override {
    if (name == "resets") resets_ = long(value);
  }

 private:
  void reset_membrane();
  math::ThresholdParams threshold_;
  double tau_ = 100.0, dt_ = 1.0;
  bool euler_ = false;
  bool self_interaction_ = true;
  Layer* reset_on_ = nullptr;
  unsigned long long seed_ = 1;
  long resets_ = 0;
};

}  // namespace laminar

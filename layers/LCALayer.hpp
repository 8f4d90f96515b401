#pragma once
// LCA membrane layer (Rozell et al. 2008; seed paper eq. 3 and 5; OpenPV HyPerLCALayer):
//   tau du/dt = -u + drive + a,   a = T_lambda(u),   drive = excitatory - inhibitory.
// With an error layer e = x - Phi a delivering Phi^T e, drive + a = Phi^T x - (Phi^T Phi - I) a.
#include "framework/ElementMath.hpp"
#include "framework/Layer.hpp"

#include <vector>

namespace laminar {

class LCALayer : public Layer {
 public:
  explicit LCALayer(const BuildContext& ctx);
  bool stateful() const override { return true; }
  bool has_membrane() const override { return true; }
  void resolve(Network& net) override;
  void allocate(int batch) override;
  void initialize(const SimulationConfig& sim) override;
  void begin_step(long step) override;
  void update(long step) override;
  bool has_energy() const override { return true; }
  double energy_of(const Tensor& activity, int b) const override;
  bool energy_reduction(ReduceItem& item, double& factor) const override;  // lambda * sum C(a)

  const math::ThresholdParams& threshold() const { return threshold_; }
  double tau() const { return tau_; }
  double dt() const { return dt_; }
  bool euler() const { return euler_; }
  // Heavy-ball momentum (the `momentum` key, 0: none): u moves by its integrator's step plus momentum
  // times its previous step, which is kept per value (state_buffers(): "momentum_step", only when > 0).
  double momentum() const { return momentum_; }
  std::vector<std::pair<std::string, Tensor*>> state_buffers() override {
    if (momentum_ > 0) return {{"momentum_step", &previous_}};
    return {};
  }
  // An adaptive timestep (probes/AdaptiveTimestepProbe.hpp): `scale`, owned by that probe and set by it
  // before each step's updates, holds one multiplier of dt per batch element of the whole batch
  // (simulation.batch_size). Batch element b then integrates with dt_b = scale[b] * dt (forward Euler:
  // min(dt_b, tau), so that its rate dt_b/tau stays at most 1). nullptr (the default): the constant dt.
  void set_time_scale(const std::vector<double>* scale) { time_scale_ = scale; }
  const std::vector<double>* time_scale() const { return time_scale_; }
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
  double momentum_ = 0.0;
  Tensor previous_;  // each value's last membrane step (momentum > 0 only; zero at start and every reset)
  bool self_interaction_ = true;
  Layer* reset_on_ = nullptr;
  unsigned long long seed_ = 1;
  long resets_ = 0;
  const std::vector<double>* time_scale_ = nullptr;
};

}  // namespace laminar

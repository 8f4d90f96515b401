#pragma once
// An adaptive timestep for LCA layers, after OpenPV's AdaptiveTimeScaleProbe and its
// AdaptiveTimeScaleController: per batch element, a timescale s_b multiplies the LCA layers' dt
// (dt_b = s_b dt); it grows while the energy falls and drops back to base_min when the energy rises.
// The energy is an Energy probe's total, sampled every step. Absent (the default), nothing changes:
// the LCA layers keep their constant dt and their constant-dt loop.
//
// The controller (AdaptiveTimescale), per batch element b, with E_new the newest energy, E_old the one
// before it and s_prev the timescale of the update that took E_old to E_new:
//   a new input (the first step of every display period):  s = base_min, cap = base_max, no energy known;
//   the first energy after that (no E_old):                  s = base_min;
//   E_new == E_old:                                          s unchanged;
//   E_new > E_old, E_old <= 0, E_new <= 0 or not finite:     s = base_min, cap = base_max;
//   else (the energy fell):  tau_eff = E_old / ((E_old - E_new) / s_prev)   (in steps of dt)
//                            s = tau_factor * tau_eff;  if s >= cap: s = cap, cap = cap * (1 + growth_factor).
// This is OpenPV's rule (tau_eff = E / |dE/dt| per unit timescale; the cap grows geometrically while
// the timescale presses against it). One difference in timing: Laminar's Energy probe measures during
// step n the energy of the code after step n-1 (F(a(n-1)), docs/reference/kinds.md "Energy"), so the
// timescale of step n is chosen, before step n's updates, from the energies sampled at steps n-2 and
// n-1, whose change came from the update of step n-2: s_prev is the timescale of step n-2.
#include <vector>

#include "framework/TableProbe.hpp"

namespace laminar {

class EnergyProbe;
class LCALayer;

// The controller of every batch element (no I/O: tests/unit checks it on hand-computed sequences).
class AdaptiveTimescale {
 public:
  struct Settings {
    double base_min = 1.0, base_max = 1.0, tau_factor = 1.0, growth_factor = 1.0;
  };
  AdaptiveTimescale(const Settings& s, int batch);
  // A new input: every element back to base_min with cap base_max and no energy known.
  void reset();
  // One step: `energy` holds each element's newest energy, the result of the update made with
  // previous() (the timescale two calls ago); chooses scale() for the coming step.
  void advance(const std::vector<double>& energy);
  // The timescale of the coming step (multiplies dt), the cap, and the timescale of the step before.
  const std::vector<double>& scale() const { return scale_; }
  const std::vector<double>& cap() const { return cap_; }
  const std::vector<double>& previous() const { return previous_; }
  // Checkpoints: everything the controller remembers (5 values per element), and back.
  std::vector<double> state() const;
  bool set_state(const std::vector<double>& v);  // false if `v` has the wrong size
  std::size_t state_size() const { return 5 * scale_.size(); }

 private:
  Settings s_;
  std::vector<double> scale_, previous_, cap_, energy_, known_;  // known_: 1 where energy_ holds an energy
};

class AdaptiveTimestepProbe : public TableProbe {
 public:
  explicit AdaptiveTimestepProbe(const BuildContext& ctx);
  void resolve(Network& net) override;
  void begin_step(long step) override;
  std::vector<double> saved_state() const override;
  void restore_state(const std::vector<double>& v) override;

 protected:
  std::vector<std::string> columns() const override { return {"timescale", "timescale_max"}; }
  void compute(std::vector<std::vector<double>>& values) const override;

 private:
  AdaptiveTimescale controller_;
  const EnergyProbe* energy_ = nullptr;
  std::vector<LCALayer*> layers_;
  long display_period_ = 1;
  int global_batch_ = 1;
};

}  // namespace laminar

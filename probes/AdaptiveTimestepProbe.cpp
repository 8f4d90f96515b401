#include "probes/AdaptiveTimestepProbe.hpp"

#include <cmath>
#include <limits>

#include "framework/Network.hpp"
#include "layers/LCALayer.hpp"
#include "probes/EnergyProbe.hpp"

namespace laminar {

// ---------------------------------------------------------------- the controller

AdaptiveTimescale::AdaptiveTimescale(const Settings& s, int batch)
    : s_(s),
      scale_(std::size_t(batch)),
      previous_(std::size_t(batch)),
      cap_(std::size_t(batch)),
      energy_(std::size_t(batch)),
      known_(std::size_t(batch)) {
  reset();
}

void AdaptiveTimescale::reset() {
  for (std::size_t b = 0; b < scale_.size(); ++b) {
    scale_[b] = previous_[b] = s_.base_min;
    cap_[b] = s_.base_max;
    energy_[b] = 0.0;
    known_[b] = 0.0;
  }
}

void AdaptiveTimescale::advance(const std::vector<double>& energy) {
  if (energy.size() != scale_.size())
    throw InternalError("AdaptiveTimescale::advance: " + std::to_string(energy.size()) + " energies for " +
                        std::to_string(scale_.size()) + " batch elements");
  for (std::size_t b = 0; b < scale_.size(); ++b) {
    const double e_new = energy[b], e_old = energy_[b];
    double next = scale_[b];
    if (!std::isfinite(e_new)) {  // no energy to trust: start again
      next = s_.base_min;
      cap_[b] = s_.base_max;
      known_[b] = 0.0;
      previous_[b] = scale_[b];
      scale_[b] = next;
      continue;
    }
    if (known_[b] == 0.0) {
      next = s_.base_min;  // the first energy after a reset: nothing to compare with yet
    } else if (e_new == e_old) {
      next = scale_[b];  // no change: keep the timescale (OpenPV does the same)
    } else if (e_new > e_old || e_old <= 0.0 || e_new <= 0.0) {
      next = s_.base_min;  // the energy rose: back to the smallest step, the cap back to its base
      cap_[b] = s_.base_max;
    } else {
      // The energy fell by (e_old - e_new) in one update of previous_[b] dt: per unit of timescale
      // the rate is (e_old - e_new) / previous_[b], and e_old over that rate is the time constant of
      // the descent, tau_eff (in units of dt).
      const double rate = (e_old - e_new) / previous_[b];
      const double tau_eff = e_old / rate;
      next = s_.tau_factor * tau_eff;
      if (next >= cap_[b]) {
        next = cap_[b];
        cap_[b] *= 1.0 + s_.growth_factor;
      }
    }
    energy_[b] = e_new;
    known_[b] = 1.0;
    previous_[b] = scale_[b];
    scale_[b] = next;
  }
}

std::vector<double> AdaptiveTimescale::state() const {
  std::vector<double> v;
  v.reserve(state_size());
  for (const auto* a : {&scale_, &previous_, &cap_, &energy_, &known_}) v.insert(v.end(), a->begin(), a->end());
  return v;
}

bool AdaptiveTimescale::set_state(const std::vector<double>& v) {
  if (v.size() != state_size()) return false;
  const std::size_t n = scale_.size();
  std::size_t at = 0;
  for (auto* a : {&scale_, &previous_, &cap_, &energy_, &known_}) {
    std::copy_n(v.begin() + std::ptrdiff_t(at), n, a->begin());
    at += n;
  }
  return true;
}

// ---------------------------------------------------------------- the probe

namespace {
AdaptiveTimescale::Settings settings_of(const ParamSet& p) {
  AdaptiveTimescale::Settings s;
  s.base_min = p.real("base_min");
  s.base_max = p.real("base_max");
  s.tau_factor = p.real("tau_factor");
  s.growth_factor = p.real("growth_factor");
  if (s.base_max < s.base_min)
    p.fail("base_max", "base_max (" + format_value(s.base_max) + ") must be at least base_min (" +
                           format_value(s.base_min) + "): it is the smallest cap on the timescale");
  return s;
}
}  // namespace

AdaptiveTimestepProbe::AdaptiveTimestepProbe(const BuildContext& ctx)
    : TableProbe(ctx),
      controller_(settings_of(ctx.params), ctx.sim.batch_size),
      display_period_(ctx.sim.display_period),
      global_batch_(ctx.sim.batch_size) {}

void AdaptiveTimestepProbe::resolve(Network& net) {
  const std::string& name = params_.string("energy");
  std::vector<std::string> energies;
  for (const auto& p : net.probes()) {
    if (p->name() == name) {
      energy_ = dynamic_cast<const EnergyProbe*>(p.get());
      if (!energy_)
        params_.fail("energy", "probe '" + name + "' is a " + p->type() +
                                   " probe; expected an Energy probe (its total energy drives the timestep)");
      if (p->period() != 1)
        params_.fail("energy", "Energy probe '" + name + "' samples every " + std::to_string(p->period()) +
                                   " steps; the timestep needs its energy every step (remove its `period`)");
    }
    if (p->type() == "Energy") energies.push_back(p->name());
  }
  if (!energy_)
    params_.fail("energy", "no probe named '" + name + "'" + did_you_mean(name, energies) +
                               (energies.empty() ? "; add one, e.g. `Energy: {type: Energy}`"
                                                 : "; Energy probes here: " + [&] {
                                                     std::string s;
                                                     for (const auto& e : energies) s += (s.empty() ? "" : ", ") + e;
                                                     return s;
                                                   }()));

  const auto& names = params_.strings("layers");
  if (names.empty()) {
    for (auto& l : net.layers())
      if (auto* lca = dynamic_cast<LCALayer*>(l.get())) layers_.push_back(lca);
    if (layers_.empty()) params_.fail_block("the network has no LCA layer whose timestep could adapt");
  } else {
    for (const auto& n : names) {
      Layer& l = net.layer(n, params_, "layers");
      auto* lca = dynamic_cast<LCALayer*>(&l);
      if (!lca)
        params_.fail("layers", "layer '" + n + "' (" + l.type() + ") has no timestep to adapt; expected LCA layers");
      layers_.push_back(lca);
    }
  }
  for (LCALayer* l : layers_) {
    if (l->time_scale())
      params_.fail("layers", "layer '" + l->name() + "' already has its timestep adapted by another AdaptiveTimestep probe");
    l->set_time_scale(&controller_.scale());
  }
}

void AdaptiveTimestepProbe::begin_step(long step) {
  if (step % display_period_ == 0) {  // a new input (and the first step): start from base_min
    controller_.reset();
    return;
  }
  // The energy sampled at the previous step, computed on the writer and the same on every process.
  std::vector<double> e(std::size_t(global_batch_), std::numeric_limits<double>::quiet_NaN());
  if (const std::vector<double>* last = energy_->last_energy(); last && last->size() == e.size()) e = *last;
  Communicator::world().broadcast(e.data(), e.size());
  controller_.advance(e);
}

void AdaptiveTimestepProbe::compute(std::vector<std::vector<double>>& values) const {
  values[0] = controller_.scale();
  values[1] = controller_.cap();
}

std::vector<double> AdaptiveTimestepProbe::saved_state() const {
  std::vector<double> v = controller_.state();
  const std::vector<double> table = TableProbe::saved_state();
  v.insert(v.end(), table.begin(), table.end());
  return v;
}

void AdaptiveTimestepProbe::restore_state(const std::vector<double>& v) {
  const std::size_t n = controller_.state_size();
  if (v.size() < n) throw UserError("probes." + name_ + ": the checkpoint holds no adaptive timestep state");
  controller_.set_state(std::vector<double>(v.begin(), v.begin() + std::ptrdiff_t(n)));
  TableProbe::restore_state(std::vector<double>(v.begin() + std::ptrdiff_t(n), v.end()));
}

void laminar_register_AdaptiveTimestepProbe(Registry& r) {
  Schema s = Probe::common_schema();
  s.string("energy", std::nullopt, "The Energy probe whose total energy per batch element drives the timestep "
                                   "(it must sample every step).")
      .strings("layers", "LCA layers whose dt it scales (default: every LCA layer).")
      .real("base_min", 1.0, 0, Schema::inf,
            "Timescale at the start of every display period and after an energy increase (OpenPV baseMin).", true)
      .real("base_max", 1.0, 0, Schema::inf,
            "Initial cap on the timescale, restored after an energy increase; at least base_min (OpenPV baseMax).",
            true)
      .real("tau_factor", 1.0, 0, Schema::inf,
            "The timescale aimed at, as a fraction of the energy's time constant E / |dE/dt| in steps (OpenPV "
            "tauFactor).",
            true)
      .real("growth_factor", 1.0, 0, Schema::inf,
            "Each step the timescale is held at the cap, the cap grows by this fraction (OpenPV growthFactor).");
  register_probe<AdaptiveTimestepProbe>(
      r, KindInfo{Category::Probe, "AdaptiveTimestep",
                  "Adaptive timestep for LCA layers from the energy (OpenPV AdaptiveTimeScaleProbe).",
                  "Scales the `dt` of LCA layers per batch element: element b integrates with `dt_b = s_b dt` "
                  "(exponential integrator: decay `exp(-dt_b/tau)`; euler: rate `min(dt_b, tau)/tau`). The "
                  "timescale `s_b` follows OpenPV's AdaptiveTimeScaleController, driven by the total energy of an "
                  "Energy probe that samples every step. At the first step of every display period (a new input) "
                  "`s = base_min` and the cap `= base_max`; the first step after that keeps `s = base_min`. Then, "
                  "with `E_new` the newest energy, `E_old` the one before and `s_prev` the timescale of the update "
                  "between them: if the energy rose (or is not positive) `s = base_min` and the cap returns to "
                  "`base_max`; if it is unchanged `s` stays; if it fell, `tau_eff = E_old s_prev / (E_old - E_new)` "
                  "(the descent's time constant in steps) and `s = tau_factor tau_eff`, held at the cap, which then "
                  "grows by the factor `1 + growth_factor`. The Energy probe measures during step n the code left by "
                  "step n-1, so step n's timescale comes from the energies sampled at steps n-2 and n-1 and "
                  "`s_prev` is the timescale of step n-2. Every process computes the same timescales from the same "
                  "(broadcast) energies. Writes `probes/<name>/timescale` (the timescale each step used) and "
                  "`probes/<name>/timescale_max` (the cap after that step's choice), samples x batch, and "
                  "`<name>.csv` (`period` thins what is recorded; the timestep adapts every step); its state "
                  "(timescales, caps, last energies) is checkpointed. Without this probe every LCA layer keeps its "
                  "constant dt.",
                  "Energy:\n  type: Energy\nTimestep:\n  type: AdaptiveTimestep\n  energy: Energy\n  layers: [V1]\n"
                  "  growth_factor: 0.5",
                  {"Energy", "LCA"}, s});
}

}  // namespace laminar

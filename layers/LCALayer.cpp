#include "layers/LCALayer.hpp"

#include <algorithm>
#include <cmath>

#include "framework/Backend.hpp"
#include "framework/Network.hpp"
#include "framework/Random.hpp"

namespace laminar {

LCALayer::LCALayer(const BuildContext& ctx) : Layer(ctx) {
  const ParamSet& p = params_;
  tau_ = p.real("tau");
  dt_ = p.has("dt") ? p.real("dt") : ctx.sim.dt;
  euler_ = p.string("integrator") == "euler";
  if (euler_ && dt_ > tau_) p.fail("dt", "forward Euler needs dt <= tau (dt/tau = " + std::to_string(dt_ / tau_) +
                                             "); use integrator: exponential");
  momentum_ = p.real("momentum");
  self_interaction_ = p.boolean("self_interaction");
  seed_ = ctx.sim.seed;
  const std::string& t = p.string("threshold");
  threshold_.kind = t == "soft" ? math::Threshold::Soft
                    : t == "soft_nonneg" ? math::Threshold::SoftNonNegative
                    : t == "hard" ? math::Threshold::Hard
                                  : math::Threshold::Firm;
  threshold_.lambda = float(p.real("lambda"));
  threshold_.width = float(p.real("firm_width"));
  if (threshold_.kind == math::Threshold::Firm && threshold_.width <= 0)
    p.fail("firm_width", "threshold: firm needs firm_width > 0 (the ramp width above lambda)");
  if (p.has("a_min")) threshold_.a_min = float(p.real("a_min"));
  if (p.has("a_max")) threshold_.a_max = float(p.real("a_max"));
  if (threshold_.a_min > threshold_.a_max) p.fail("a_min", "a_min must not exceed a_max");
  if (p.string("init_membrane") == "uniform" && p.real("init_min") > p.real("init_max"))
    p.fail("init_min", "init_min must not exceed init_max");
}

void LCALayer::resolve(Network& net) {
  if (params_.has("reset_on")) reset_on_ = &net.layer(params_.string("reset_on"), params_, "reset_on");
}

void LCALayer::allocate(int batch) {
  Layer::allocate(batch);
  if (momentum_ > 0) previous_ = Tensor(batch, local_geometry());
}

void LCALayer::reset_membrane() {
  if (momentum_ > 0) previous_.fill(0.0f);  // a fresh start: no previous step
  if (params_.string("init_membrane") != "uniform") {
    // A constant: set both buffers where they live (on a GPU: two fills, no transfer).
    const float v = float(params_.real("init_value"));
    membrane_.fill(v);
    activity_.fill(math::threshold(v, threshold_));
    ++resets_;
    return;
  }
  // One stream over the whole layer (batch, y, x, f); this process keeps its tile's values, so
  // the state does not depend on how the layer is split. Written on the host (uploaded when next used).
  float* u = membrane_.data();
  Rng rng(seed_, "membrane/" + name_, std::uint64_t(resets_));
  const double lo = params_.real("init_min"), hi = params_.real("init_max");
  const Geometry& g = geometry_;
  const Geometry lg = local_geometry();
  const Tile t = tile_.nx > 0 ? tile_ : Tile{0, 0, g.ny, g.nx, 0, batch_};
  for (int b = 0; b < t.b0 + t.nb; ++b)
    for (int y = 0; y < g.ny; ++y)
      for (int x = 0; x < g.nx; ++x)
        for (int f = 0; f < g.nf; ++f) {
          const float v = float(rng.uniform(lo, hi));
          if (b >= t.b0 && y >= t.y0 && y < t.y0 + t.ny && x >= t.x0 && x < t.x0 + t.nx)
            u[((std::size_t(b - t.b0) * lg.ny + (y - t.y0)) * lg.nx + (x - t.x0)) * lg.nf + f] = v;
        }
  float* a = activity_.data();
  for (std::size_t i = 0; i < membrane_.size(); ++i) a[i] = math::threshold(u[i], threshold_);
  ++resets_;
}

void LCALayer::initialize(const SimulationConfig&) { reset_membrane(); }

void LCALayer::begin_step(long step) {
  // A new input: start from the initial state before the error layer reads this layer's activity.
  if (reset_on_ && step > 0 && reset_on_->fires(step)) reset_membrane();
}

void LCALayer::update(long step) {
  LcaStep st;
  st.threshold = threshold_;
  st.euler = euler_;
  st.self = self_interaction_ ? 1.0f : 0.0f;
  st.decay = float(std::exp(-dt_ / tau_));
  st.rate = float(dt_ / tau_);
  if (momentum_ > 0) {
    st.momentum = float(momentum_);
    st.previous = &previous_;
  }
  if (time_scale_) {  // an adaptive timestep: dt_b = scale[b] dt for this process's batch elements
    const int b0 = tile_.nx > 0 ? tile_.b0 : 0;
    st.factors.resize(std::size_t(batch_));
    for (int b = 0; b < batch_; ++b) {
      const double dtb = (*time_scale_)[std::size_t(b0 + b)] * dt_;
      st.factors[std::size_t(b)] = euler_ ? float(std::min(dtb, tau_) / tau_) : float(std::exp(-dtb / tau_));
    }
  }
  const Tensor* exc = channel_used(ChannelId::Excitatory) ? &channels_[0] : nullptr;
  const Tensor* inh = channel_used(ChannelId::Inhibitory) ? &channels_[1] : nullptr;
  backend().lca_update(st, exc, inh, membrane_, activity_);
}

bool LCALayer::energy_reduction(ReduceItem& item, double& factor) const {
  item = ReduceItem{Reduction::SparsityCost, &activity_, threshold_};
  factor = 1.0;
  return true;
}

double LCALayer::energy_of(const Tensor& activity, int b) const {
  const auto a = activity.element(b);
  return math::total_sparsity_cost(a.data(), static_cast<long long>(a.size()), threshold_);
}

void laminar_register_LCALayer(Registry& r) {
  Schema s = Layer::common_schema();
  s.real("tau", 100.0, 0, Schema::inf, "Membrane time constant (same units as dt).", true)
      .optional_real("dt", 0, Schema::inf, "Integration step for this layer (default: simulation.dt).", true)
      .real("lambda", 0.1, 0, Schema::inf, "Threshold lambda of T_lambda (the sparsity penalty weight).")
      .choice("threshold", {"soft", "soft_nonneg", "hard", "firm"}, std::string("soft"),
              "Transfer function: soft sign(u)max(|u|-lambda,0); soft_nonneg max(u-lambda,0); hard u where "
              "|u|>lambda; firm ramps from 0 at lambda to u at lambda+firm_width.")
      .real("firm_width", 0.0, 0, Schema::inf, "Ramp width of the firm threshold (OpenPV VWidth).")
      .optional_real("a_min", -Schema::inf, Schema::inf, "Clamp activity below at this value.")
      .optional_real("a_max", -Schema::inf, Schema::inf, "Clamp activity above at this value.")
      .boolean("self_interaction", true, "Add +a to the drive (Rozell's -(Phi^T Phi - I)a); on as in the paper.")
      .choice("integrator", {"exponential", "euler"}, std::string("exponential"),
              "exponential: u <- e u + (1-e)(drive+a), e = exp(-dt/tau) (OpenPV; stable for any dt). "
              "euler: u <- u + dt/tau (drive + a - u) (lca-pytorch).")
      .real("momentum", 0.0, 0, 0.999999,
            "Heavy-ball momentum mu in [0, 1): each step u moves by delta = (the integrator's step) + mu * "
            "(the previous delta), kept per value and zeroed at the start and at every membrane reset "
            "(after OpenPV's MomentumLCALayer, LCAMomentumRate). 0: the plain update.")
      .choice("init_membrane", {"constant", "uniform"}, std::string("constant"),
              "Initial membrane: init_value everywhere, or uniform in [init_min, init_max] (seeded).")
      .real("init_value", 0.0, -Schema::inf, Schema::inf, "Initial membrane for init_membrane: constant.")
      .real("init_min", -0.1, -Schema::inf, Schema::inf, "Lower bound for init_membrane: uniform.")
      .real("init_max", 0.1, -Schema::inf, Schema::inf, "Upper bound for init_membrane: uniform.")
      .optional_string("reset_on", "Reset the membrane to its initial state whenever this (input) layer presents new data.");
  register_layer<LCALayer>(
      r, KindInfo{Category::Layer, "LCA", "Locally competitive algorithm membrane layer (sparse code).",
                  "Integrates `tau du/dt = -u + drive + a` and emits `a = T_lambda(u)`. `drive` is what its "
                  "connections delivered this step (excitatory minus inhibitory). Connected to an Error layer "
                  "through a Convolution (the dictionary, into the error's inhibitory channel) and its "
                  "Transpose (back into this layer's excitatory channel), this is Rozell's LCA and minimises "
                  "`0.5||x - Phi a||^2 + lambda sum C(a)`. Its energy term is `lambda sum C(a)`, with C = |a| "
                  "for soft thresholds, lambda/2 [a != 0] for hard, and OpenPV's firm cost for firm. An AdaptiveTimestep "
                  "probe can scale its `dt` per batch element from the energy (without one, `dt` is constant). "
                  "`momentum: mu` (0 < mu < 1) makes it heavy-ball LCA: with u' the integrator's new membrane "
                  "(either integrator, with the step's dt), `delta = (u' - u) + mu * delta_prev; u <- u + delta`, "
                  "delta_prev kept per value (zero at the start and at every `reset_on` reset, saved in "
                  "checkpoints). On ill-conditioned dictionaries (e.g. overcomplete convolutional banks) it "
                  "converges in far fewer steps (condition number kappa -> about sqrt(kappa)). OpenPV's "
                  "MomentumLCALayer (LCAMomentumRate) carries only the previous drive `(1-e)(drive + a)`, not its "
                  "leak `-(1-e)u`; Laminar carries the whole step, the same form for both integrators. With an "
                  "AdaptiveTimestep, each step's delta uses that step's dt_b and mu multiplies the previous delta "
                  "as it was taken.",
                  "V1:\n  type: LCA\n  nx: 14\n  ny: 14\n  nf: 64\n  tau: 100\n  lambda: 0.1\n  threshold: soft",
                  {"Error", "Convolution", "Transpose", "Energy", "AdaptiveTimestep"}, s});
}

}  // namespace laminar

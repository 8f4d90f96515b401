#include "probes/EnergyProbe.hpp"

#include "framework/Network.hpp"

namespace laminar {

void EnergyProbe::resolve(Network& net) {
  const auto& names = params_.strings("layers");
  if (names.empty()) {
    for (auto& l : net.layers())
      if (l->has_energy()) layers_.push_back(l.get());
    if (layers_.empty()) params_.fail_block("the network has no Error or LCA layer to measure");
  } else {
    for (const auto& n : names) {
      Layer& l = net.layer(n, params_, "layers");
      if (!l.has_energy()) params_.fail("layers", "layer '" + n + "' (" + l.type() + ") has no energy term");
      layers_.push_back(&l);
    }
  }
}

std::vector<std::string> EnergyProbe::columns() const {
  std::vector<std::string> c{"energy"};
  for (Layer* l : layers_) c.push_back(l->name());
  return c;
}

// Each term is computed over the whole layer (gathered to rank 0 under MPI), so the energies do
// not depend on how the layers are split. In one process on a device backend the layer reduces its
// buffer where it lives (one number per batch element comes back, not the layer).
namespace {
void terms(const Layer& l, Tensor& scratch, int batch, std::vector<double>& out) {
  out.clear();
  if (Communicator::world().size() == 1 && l.energies_on_backend(out)) return;
  const Tensor& whole = l.gathered(l.activity(), scratch);
  if (whole.batch() == 0) return;  // not the writer
  for (int b = 0; b < batch; ++b) out.push_back(l.energy_of(whole, b));
}
}  // namespace

void EnergyProbe::begin_step(long step) {
  if (!due(step)) return;
  start_terms_.assign(layers_.size(), {});
  for (std::size_t i = 0; i < layers_.size(); ++i)
    if (layers_[i]->stateful())
      terms(*layers_[i], scratch_, batch_, start_terms_[i]);
}

void EnergyProbe::collect() {
  end_terms_.assign(layers_.size(), {});
  for (std::size_t i = 0; i < layers_.size(); ++i)
    if (!layers_[i]->stateful())
      terms(*layers_[i], scratch_, batch_, end_terms_[i]);
}

void EnergyProbe::compute(std::vector<std::vector<double>>& values) const {
  for (int b = 0; b < batch_; ++b) {
    double total = 0.0;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      double e = layers_[i]->stateful() ? start_terms_[i][b] : end_terms_[i][b];
      values[i + 1][b] = e;
      total += e;
    }
    values[0][b] = total;
  }
}

void laminar_register_EnergyProbe(Registry& r) {
  Schema s = Probe::common_schema();
  s.strings("layers", "Layers whose energy terms are summed (default: every Error and LCA layer).");
  register_probe<EnergyProbe>(
      r, KindInfo{Category::Probe, "Energy", "Total energy per batch element: reconstruction + sparsity.",
                  "Writes `probes/<name>/energy` (samples x batch) and one column per layer "
                  "(`0.5||e||^2` for Error layers, `lambda sum C(a)` for LCA layers) to the HDF5 output and to "
                  "`<name>.csv`. LCA terms are taken at the start of the step, i.e. for the code the step's errors "
                  "were computed from (`e(n) = x - Phi a(n-1)`), so the energy is the LCA objective of one "
                  "consistent state and, for a stable dt/tau, does not increase within a display period. Its mean "
                  "is shown on the progress line.",
                  "Energy:\n  type: Energy", {"LCA", "Error", "Norm", "Stats"}, s});
}

}  // namespace laminar

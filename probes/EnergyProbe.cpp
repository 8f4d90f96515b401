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
// not depend on how the layers are split. In one process on a device backend the layers' terms are
// reduced where the buffers live, all of them in one batch (one read-back, not the layers).
void EnergyProbe::terms(bool stateful, std::vector<std::vector<double>>& out) {
  out.assign(layers_.size(), {});
  std::vector<std::size_t> which;
  for (std::size_t i = 0; i < layers_.size(); ++i)
    if (layers_[i]->stateful() == stateful) which.push_back(i);
  if (which.empty()) return;
  Backend& be = layers_[which[0]]->backend();
  if (Communicator::world().size() == 1 && be.memory()) {
    std::vector<ReduceItem> items(which.size());
    std::vector<double> factors(which.size()), sums;
    bool all = true;
    for (std::size_t n = 0; n < which.size() && all; ++n) all = layers_[which[n]]->energy_reduction(items[n], factors[n]);
    if (all) {
      be.reduce_many(items, sums);
      std::size_t at = 0;
      for (std::size_t n = 0; n < which.size(); ++n)
        for (int b = 0; b < batch_; ++b) out[which[n]].push_back(factors[n] * sums[at++]);
      return;
    }
  }
  for (std::size_t i : which) {
    const Layer& l = *layers_[i];
    const Tensor& whole = l.gathered(l.activity(), scratch_);
    if (whole.batch() == 0) continue;  // not the writer
    for (int b = 0; b < batch_; ++b) out[i].push_back(l.energy_of(whole, b));
  }
}

void EnergyProbe::begin_step(long step) {
  if (due(step)) terms(true, start_terms_);
}

void EnergyProbe::collect() { terms(false, end_terms_); }

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

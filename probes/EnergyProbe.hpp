#pragma once
// Total energy per batch element (seed paper eq. 2):
//   E = sum over error layers 0.5 ||e||^2 + sum over LCA layers lambda sum C(a),
// with each layer's term as its own column. The terms of stateful (LCA) layers are taken at the
// start of the step: the code that this step's errors were computed from (e(n) = x - Phi a(n-1)),
// so E is the LCA objective F(a(n-1)) of one consistent state, non-increasing for a stable dt/tau.
#include "framework/Tensor.hpp"
#include <vector>

#include "framework/TableProbe.hpp"

namespace laminar {

class Layer;

class EnergyProbe : public TableProbe {
 public:
  using TableProbe::TableProbe;
  void resolve(Network& net) override;
  std::string headline_label() const override { return "energy"; }
  void begin_step(long step) override;
  // The total energy of every batch element at the last sample, on the writer (rank 0); nullptr before
  // the first sample and on the other ranks (an AdaptiveTimestep probe reads it and broadcasts it).
  const std::vector<double>* last_energy() const { return last_.empty() ? nullptr : &last_[0]; }

 protected:
  std::vector<std::string> columns() const override;
  void collect() override;
  void compute(std::vector<std::vector<double>>& values) const override;
  int headline_column() const override { return 0; }

 private:
  // The terms of the stateful (or the other) layers into out[layer][batch].
  void terms(bool stateful, std::vector<std::vector<double>>& out);
  std::vector<Layer*> layers_;
  std::vector<std::vector<double>> start_terms_;  // [layer][batch] for stateful layers, at step start
  std::vector<std::vector<double>> end_terms_;    // [layer][batch] for the others, at the sample
  Tensor scratch_;
};

}  // namespace laminar

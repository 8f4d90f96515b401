#pragma once
// Total energy per batch element (seed paper eq. 2):
//   E = sum over error layers 0.5 ||e||^2 + sum over LCA layers lambda sum C(a),
// with each layer's term as its own column.
#include <vector>

#include "framework/TableProbe.hpp"

namespace laminar {

class Layer;

class EnergyProbe : public TableProbe {
 public:
  using TableProbe::TableProbe;
  void resolve(Network& net) override;
  std::string headline_label() const override { return "energy"; }

 protected:
  std::vector<std::string> columns() const override;
  void compute(std::vector<std::vector<double>>& values) const override;
  int headline_column() const override { return 0; }

 private:
  std::vector<Layer*> layers_;
};

}  // namespace laminar

#pragma once
// Activity statistics per batch element: fraction nonzero, mean, min, max (OpenPV StatsProbe).
#include "framework/Tensor.hpp"
#include "framework/TableProbe.hpp"

namespace laminar {

class Layer;

class StatsProbe : public TableProbe {
 public:
  using TableProbe::TableProbe;
  void resolve(Network& net) override;

 protected:
  std::vector<std::string> columns() const override { return {"fraction_nonzero", "mean", "min", "max"}; }
  void collect() override;
  void compute(std::vector<std::vector<double>>& values) const override;

 private:
  LayerBufferRef source_;
  Tensor scratch_;
  const Tensor* whole_ = nullptr;  // the whole buffer (on the writer), set by collect()
};

}  // namespace laminar

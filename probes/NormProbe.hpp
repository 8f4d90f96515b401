#pragma once
// L1, L2 or L0 norm of a layer's activity or membrane per batch element (OpenPV *NormProbe).
#include "framework/Tensor.hpp"
#include "framework/TableProbe.hpp"

namespace laminar {

class Layer;

class NormProbe : public TableProbe {
 public:
  using TableProbe::TableProbe;
  void resolve(Network& net) override;

 protected:
  std::vector<std::string> columns() const override { return {"value"}; }
  void collect() override;
  void compute(std::vector<std::vector<double>>& values) const override;

 private:
  LayerBufferRef source_;
  Tensor scratch_;
  const Tensor* whole_ = nullptr;  // the whole buffer (on the writer), set by collect()
};

}  // namespace laminar

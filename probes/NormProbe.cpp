#include "probes/NormProbe.hpp"

#include <cmath>

#include "framework/Network.hpp"

namespace laminar {

void NormProbe::resolve(Network& net) {
  source_.resolve(net, params_);
}

void NormProbe::collect() { whole_ = &source_.gathered(scratch_); }

void NormProbe::compute(std::vector<std::vector<double>>& values) const {
  const Tensor& t = *whole_;
  const std::string& norm = params_.string("norm");
  const double eps = params_.real("nnz_threshold");
  for (int b = 0; b < batch_; ++b) {
    double s = 0.0;
    for (float v : t.element(b)) {
      if (norm == "l1") s += std::fabs(v);
      else if (norm == "l2") s += double(v) * v;
      else s += std::fabs(v) > eps ? 1.0 : 0.0;
    }
    values[0][b] = norm == "l2" ? std::sqrt(s) : s;
  }
}

void laminar_register_NormProbe(Registry& r) {
  Schema s = Probe::common_schema();
  LayerBufferRef::declare(s, "Layer to measure.");
  s.choice("norm", {"l1", "l2", "l0"}, std::string("l1"), "l1: sum |x|; l2: sqrt(sum x^2); l0: count of |x| > nnz_threshold.")
      .real("nnz_threshold", 0.0, 0, Schema::inf, "For l0: values with |x| above this count as nonzero.");
  register_probe<NormProbe>(
      r, KindInfo{Category::Probe, "Norm", "L1, L2 or L0 norm of a layer's buffer per batch element.",
                  "Writes `probes/<name>/value` (samples x batch) and `<name>.csv`.",
                  "V1L1:\n  type: Norm\n  layer: V1\n  norm: l1", {"Stats", "Energy"}, s});
}

}  // namespace laminar

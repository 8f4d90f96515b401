#include "probes/StatsProbe.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "framework/Network.hpp"

namespace laminar {

void StatsProbe::resolve(Network& net) {
  source_.resolve(net, params_);
}

void StatsProbe::collect() { whole_ = &source_.gathered(scratch_); }

void StatsProbe::compute(std::vector<std::vector<double>>& values) const {
  const Tensor& t = *whole_;
  for (int b = 0; b < batch_; ++b) {
    auto e = t.element(b);
    double nnz = 0, sum = 0, lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (float v : e) {
      nnz += v != 0.0f;
      sum += v;
      lo = std::min(lo, double(v));
      hi = std::max(hi, double(v));
    }
    values[0][b] = nnz / double(e.size());
    values[1][b] = sum / double(e.size());
    values[2][b] = lo;
    values[3][b] = hi;
  }
}

void laminar_register_StatsProbe(Registry& r) {
  Schema s = Probe::common_schema();
  LayerBufferRef::declare(s, "Layer to measure.");
  register_probe<StatsProbe>(
      r, KindInfo{Category::Probe, "Stats", "Fraction nonzero, mean, min and max of a layer's buffer per batch element.",
                  "Writes `probes/<name>/{fraction_nonzero,mean,min,max}` (samples x batch) and `<name>.csv`.",
                  "V1Stats:\n  type: Stats\n  layer: V1", {"Norm", "Energy"}, s});
}

}  // namespace laminar

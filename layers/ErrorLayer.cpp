#include "layers/ErrorLayer.hpp"

#include "framework/ElementMath.hpp"
#include "framework/Registry.hpp"

namespace laminar {

ErrorLayer::ErrorLayer(const BuildContext& ctx) : Layer(ctx) { scale_ = float(params_.real("scale")); }

void ErrorLayer::update(long) {
  const bool exc = channel_used(ChannelId::Excitatory), inh = channel_used(ChannelId::Inhibitory);
  const float* ge = channels_[0].data();
  const float* gi = channels_[1].data();
  float* e = activity_.data();
  const float scale = scale_;
  const std::ptrdiff_t n = std::ptrdiff_t(activity_.size());
#pragma omp parallel for simd schedule(static)
  for (std::ptrdiff_t i = 0; i < n; ++i) e[i] = math::error_value(exc ? ge[i] : 0.0f, inh ? gi[i] : 0.0f, scale);
}

double ErrorLayer::energy_of(const Tensor& activity, int b) const {
  double sum = 0.0;
  for (float v : activity.element(b)) sum += double(v) * v;
  return 0.5 * sum;
}

void laminar_register_ErrorLayer(Registry& r) {
  Schema s = Layer::common_schema();
  s.real("scale", 1.0, -Schema::inf, Schema::inf, "Multiplies the difference (OpenPV errScale).");
  register_layer<ErrorLayer>(
      r, KindInfo{Category::Layer, "Error", "Prediction error: e = scale (excitatory - inhibitory).",
                  "Typically receives the input on its excitatory channel (Identity) and the reconstruction "
                  "`Phi a` on its inhibitory channel (Convolution from an LCA layer), so `e = x - Phi a`. Its "
                  "size may be omitted: it is then taken from the layer at the other end of an Identity "
                  "connection. Energy term `0.5 ||e||^2`.",
                  "Residual:\n  type: Error   # size taken from Input through the Identity connection",
                  {"LCA", "Identity", "Convolution", "Energy"}, s});
}

}  // namespace laminar

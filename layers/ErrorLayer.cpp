#include "layers/ErrorLayer.hpp"

#include <algorithm>

#include "framework/Backend.hpp"
#include "framework/Network.hpp"
#include "framework/Registry.hpp"

namespace laminar {

ErrorLayer::ErrorLayer(const BuildContext& ctx) : Layer(ctx) { scale_ = float(params_.real("scale")); }

void ErrorLayer::resolve(Network& net) {
  if (!params_.has("mask")) return;
  mask_ = &net.layer(params_.string("mask"), params_, "mask");
}

void ErrorLayer::validate() {
  // Checked here, once every layer has resolved (an input that follows another knows its dataset only then).
  if (mask_ && mask_->dataset_size() == 0)
    params_.fail("mask", "layer '" + mask_->name() + "' (" + mask_->type() +
                             ") is not an input layer; mask names the input whose modality's presence gates this error");
}

void ErrorLayer::update(long) {
  const Tensor* exc = channel_used(ChannelId::Excitatory) ? &channels_[0] : nullptr;
  const Tensor* inh = channel_used(ChannelId::Inhibitory) ? &channels_[1] : nullptr;
  backend().error_update(scale_, exc, inh, activity_);
  if (mask_) {
    // An input without presence information (nullptr) is present everywhere.
    if (const std::vector<char>* present = mask_->present())
      for (int b = 0; b < batch_; ++b)
        if (!(*present)[std::size_t(b)]) activity_.fill_element(b, 0.0f);
  }
}

bool ErrorLayer::energy_reduction(ReduceItem& item, double& factor) const {
  item = ReduceItem{Reduction::SumSquares, &activity_, {}};
  factor = 0.5;
  return true;
}

double ErrorLayer::energy_of(const Tensor& activity, int b) const {
  const auto e = activity.element(b);
  return 0.5 * math::sum_squares(e.data(), static_cast<long long>(e.size()));
}

void laminar_register_ErrorLayer(Registry& r) {
  Schema s = Layer::common_schema();
  s.real("scale", 1.0, -Schema::inf, Schema::inf, "Multiplies the difference (OpenPV errScale).")
      .optional_string("mask", "An input layer (ImageInput with `absent_if_blank`/`present_column`, or TextInput): "
                               "the error is zero for batch elements where its modality is absent.");
  register_layer<ErrorLayer>(
      r, KindInfo{Category::Layer, "Error", "Prediction error: e = scale (excitatory - inhibitory).",
                  "Typically receives the input on its excitatory channel (Identity) and the reconstruction "
                  "`Phi a` on its inhibitory channel (Convolution from an LCA layer), so `e = x - Phi a`. Its "
                  "size may be omitted: it is then taken from the layer at the other end of an Identity "
                  "connection. Energy term `0.5 ||e||^2`.\n\n"
                  "With `mask: <input layer>` the error is set to zero for every batch element whose modality that "
                  "input declares absent (an all-zero image with `absent_if_blank`, a `present_column` in the labels "
                  "CSV, an empty TextInput label). The element then neither drives the code (the Transpose delivers "
                  "`Phi^T 0 = 0`) nor contributes to learning (its Hebbian term is zero), and its energy term is 0; the "
                  "inhibitory channel still holds the reconstruction `Phi a`, i.e. what the joint code generates for the "
                  "missing modality (record it with an ImageWriter, `buffer: inhibitory`). A multimodal joint layer is "
                  "an LCA layer with one Convolution/Transpose pair per modality, each to a masked Error layer.",
                  "Residual:\n  type: Error   # size taken from Input through the Identity connection",
                  {"LCA", "Identity", "Convolution", "Energy"}, s});
}

}  // namespace laminar

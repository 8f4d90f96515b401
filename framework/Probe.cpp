#include "framework/Probe.hpp"

#include <algorithm>
#include <iterator>

#include "framework/Network.hpp"
#include "framework/Registry.hpp"

namespace laminar {

Schema Probe::common_schema() {
  Schema s;
  s.optional_integer("period", 1, 1e12,
                     "Sample on the last step of every `period` steps (default: every step for scalar "
                     "probes, every display period for recorders).");
  return s;
}

Probe::Probe(const BuildContext& ctx) : name_(ctx.name), type_(ctx.type), params_(ctx.params) {
  period_ = params_.has("period") ? params_.integer("period") : 1;
}

namespace {
const char* const kBufferNames[] = {"activity", "membrane", "excitatory", "inhibitory"};
}

void LayerBufferRef::declare(Schema& schema, const std::string& layer_doc) {
  schema.string("layer", std::nullopt, layer_doc)
      .choice("buffer", {kBufferNames[0], kBufferNames[1], kBufferNames[2], kBufferNames[3]}, std::string("activity"),
              "Which buffer: activity a, membrane u, or what the connections delivered into one input channel "
              "this step (an Error layer's inhibitory channel is the reconstruction Phi a).");
}

void LayerBufferRef::resolve(Network& net, const ParamSet& params) {
  layer_ = &net.layer(params.string("layer"), params, "layer");
  const std::string& name = params.string("buffer");
  buffer_ = Buffer(std::find(std::begin(kBufferNames), std::end(kBufferNames), name) - std::begin(kBufferNames));
  if (buffer_ == Buffer::Membrane && !layer_->has_membrane())
    params.fail("buffer", "layer '" + layer_->name() + "' (" + layer_->type() + ") has no membrane");
  if ((buffer_ == Buffer::Excitatory || buffer_ == Buffer::Inhibitory) &&
      !layer_->channel_used(buffer_ == Buffer::Excitatory ? ChannelId::Excitatory : ChannelId::Inhibitory))
    params.fail("buffer", "no connection delivers into the " + name + " channel of layer '" + layer_->name() + "'");
}

const char* LayerBufferRef::buffer_name() const { return kBufferNames[int(buffer_)]; }

const Tensor& LayerBufferRef::local() const {
  switch (buffer_) {
    case Buffer::Membrane: return layer_->membrane();
    case Buffer::Excitatory: return layer_->channel(ChannelId::Excitatory);
    case Buffer::Inhibitory: return layer_->channel(ChannelId::Inhibitory);
    default: return layer_->activity();
  }
}

const Tensor& LayerBufferRef::gathered(Tensor& scratch) const { return layer_->gathered(local(), scratch); }

}  // namespace laminar

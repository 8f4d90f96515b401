#include "framework/Probe.hpp"

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

void LayerBufferRef::declare(Schema& schema, const std::string& layer_doc) {
  schema.string("layer", std::nullopt, layer_doc)
      .choice("buffer", {"activity", "membrane"}, std::string("activity"), "Which buffer.");
}

void LayerBufferRef::resolve(Network& net, const ParamSet& params) {
  layer_ = &net.layer(params.string("layer"), params, "layer");
  membrane_ = params.string("buffer") == "membrane";
  if (membrane_ && !layer_->has_membrane())
    params.fail("buffer", "layer '" + layer_->name() + "' (" + layer_->type() + ") has no membrane");
}

const Tensor& LayerBufferRef::gathered(Tensor& scratch) const {
  return layer_->gathered(membrane_ ? layer_->membrane() : layer_->activity(), scratch);
}

}  // namespace laminar

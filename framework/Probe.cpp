#include "framework/Probe.hpp"

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

}  // namespace laminar

#include "framework/Layer.hpp"

#include <algorithm>

#include "framework/Registry.hpp"

namespace laminar {

Schema Layer::common_schema() {
  Schema s;
  s.optional_integer("nx", 1, 1 << 24, "Width in neurons (inferred from data or an Identity connection if absent).")
      .optional_integer("ny", 1, 1 << 24, "Height in neurons (as nx).")
      .optional_integer("nf", 1, 1 << 24, "Features per position (as nx).");
  return s;
}

Layer::Layer(const BuildContext& ctx)
    : name_(ctx.name), type_(ctx.type), params_(ctx.params), backend_(&ctx.backend), global_batch_(ctx.sim.batch_size) {
  int given = int(params_.has("nx")) + int(params_.has("ny")) + int(params_.has("nf"));
  if (given == 3) {
    geometry_ = Geometry{int(params_.integer("nx")), int(params_.integer("ny")), int(params_.integer("nf"))};
  } else if (given != 0) {
    params_.fail_block("give all of nx, ny and nf, or none of them (to infer the size)");
  }
}

void Layer::allocate(int batch) {
  batch_ = batch;
  const Geometry g = local_geometry();
  activity_ = Tensor(batch, g);
  if (has_membrane()) membrane_ = Tensor(batch, g);
  for (auto& c : channels_) c = Tensor(batch, g);
}

std::vector<std::int64_t> Layer::gathered_items() const {
  const auto* items = current_items();
  if (!items) return {};
  return Communicator::world().gather_batch(std::vector<std::int64_t>(items->begin(), items->end()));
}

const Tensor& Layer::gathered(const Tensor& t, Tensor& scratch) const {
  Communicator& comm = Communicator::world();
  if (comm.size() == 1) return t;
  const int batch = t.batch() * comm.decomposition().batch_groups;
  comm.gather(t, geometry_, batch, scratch);
  return scratch;
}

Tensor& Layer::membrane() {
  if (!has_membrane()) throw InternalError("layer '" + name_ + "' has no membrane");
  return membrane_;
}
const Tensor& Layer::membrane() const {
  if (!has_membrane()) throw InternalError("layer '" + name_ + "' has no membrane");
  return membrane_;
}

void Layer::clear_channels() {
  for (int c = 0; c < 2; ++c)
    if (channel_used_[c]) channels_[c].fill(0.0f);
}

}  // namespace laminar

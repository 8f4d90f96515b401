#include "connections/IdentityConnection.hpp"

#include "framework/Registry.hpp"

namespace laminar {

IdentityConnection::IdentityConnection(const BuildContext& ctx) : Connection(ctx) {
  scale_ = float(params_.real("scale"));
}

void IdentityConnection::deliver(Tensor& target) {
  const float* in = pre_buffer().data();
  float* out = target.data();
  const float scale = scale_;
  const std::ptrdiff_t n = std::ptrdiff_t(target.size());
#pragma omp parallel for simd schedule(static)
  for (std::ptrdiff_t i = 0; i < n; ++i) out[i] += scale * in[i];
}

void laminar_register_IdentityConnection(Registry& r) {
  Schema s = Connection::common_schema();
  s.real("scale", 1.0, -Schema::inf, Schema::inf, "Multiplies what is delivered.");
  register_connection<IdentityConnection>(
      r, KindInfo{Category::Connection, "Identity", "One-to-one copy between equal-sized layers: post += scale * pre.",
                  "Pre and post must have the same nx, ny and nf. A layer that omits its size takes it from the "
                  "other end of an Identity connection.",
                  "InputToError:\n  type: Identity\n  pre: Input\n  post: Residual\n  channel: excitatory",
                  {"Error", "Convolution"}, s});
}

}  // namespace laminar

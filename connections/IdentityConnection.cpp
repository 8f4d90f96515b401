#include "connections/IdentityConnection.hpp"

#include "framework/Backend.hpp"
#include "framework/Registry.hpp"

namespace laminar {

IdentityConnection::IdentityConnection(const BuildContext& ctx) : Connection(ctx) {
  scale_ = float(params_.real("scale"));
}

void IdentityConnection::deliver(Tensor& target) { backend().axpy(scale_, pre_buffer(), target); }

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

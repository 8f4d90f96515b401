#pragma once
// One-to-one delivery between layers of equal size: post += scale * pre (OpenPV IdentConn/RescaleConn).
#include "framework/Connection.hpp"

namespace laminar {

class IdentityConnection : public Connection {
 public:
  explicit IdentityConnection(const BuildContext& ctx);
  bool same_geometry() const override { return true; }
  void deliver(Tensor& target) override;

 private:
  float scale_ = 1.0f;
};

}  // namespace laminar

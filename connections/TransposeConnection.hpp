#pragma once
// Transpose of a Convolution: shares (never copies) its weights and delivers the exact adjoint
// Phi^T, so <Phi a, e> = <a, Phi^T e> (OpenPV TransposeConn).
#include "framework/Connection.hpp"

namespace laminar {

class ConvolutionConnection;

class TransposeConnection : public Connection {
 public:
  explicit TransposeConnection(const BuildContext& ctx);
  void resolve(Network& net) override;
  void deliver(Tensor& target) override;
  bool has_weights() const override { return true; }
  WeightsView weights() const override;
  std::vector<KernelAttribute> kernel_attributes() const override;  // the original's

 private:
  ConvolutionConnection* original_ = nullptr;
  float scale_ = 1.0f;
};

}  // namespace laminar

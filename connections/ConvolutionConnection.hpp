#pragma once
// Convolutional connection with shared weights (OpenPV HyPerConn with sharedWeights): the
// dictionary Phi. The stride is the ratio of the layers' sizes (post finer: one-to-many, e.g.
// code -> reconstruction; post coarser: many-to-one). Kernel k belongs to feature k of the
// coarser layer and is a patch_size x patch_size patch on the finer layer (Backend.hpp).
// Learning: Hebbian (pre x post, the error), mean over the batch, fired on the last step of each
// display period, optional momentum, then each kernel renormalised to unit L2 norm.
#include <array>
#include <vector>

#include "framework/Backend.hpp"
#include "framework/Connection.hpp"
#include "framework/LogGabor.hpp"

namespace laminar {

class ConvolutionConnection : public Connection {
 public:
  explicit ConvolutionConnection(const BuildContext& ctx);
  void resolve(Network& net) override;
  void check_geometry() override;
  void initialize(const SimulationConfig& sim) override;
  void deliver(Tensor& target) override;
  bool plastic() const override { return learning_rate_ > 0.0; }
  bool learn(long step) override;
  bool has_weights() const override { return true; }
  WeightsView weights() const override;
  // init: log_gabor: theta0_deg, b_theta_deg, phase_deg of each kernel; otherwise none.
  std::vector<KernelAttribute> kernel_attributes() const override;
  std::vector<StateArray> state() const override;
  void set_state(const std::string& name, const float* data) override;

  // out += scale * Phi in (forward: this connection's direction) or Phi^T in (adjoint: the
  // opposite direction, as a Transpose delivers).
  void apply(const Tensor& in, Tensor& out, bool adjoint, float scale);
  const ConvShape& shape() const { return shape_; }
  bool kernels_on_pre() const { return kernels_on_pre_; }

 private:
  const Buffer& transposed();
  // Open init_file and check its dataset's shape; read it into `out` unless null (check only).
  void read_init_file(float* out) const;
  // init: log_gabor: the kernel grid from the params (constructor), and the weights on this geometry
  // (check_geometry, so `laminar check` sees a kernel count that does not fit; kept for initialize).
  void read_log_gabor_params();
  std::vector<float> make_log_gabor() const;
  std::vector<LogGaborKernel> log_gabor_;
  std::array<std::size_t, 3> log_gabor_counts_{};  // orientations, bandwidths, phases
  std::vector<float> log_gabor_weights_;
  ConvShape shape_;
  bool kernels_on_pre_ = true;  // pre is the coarser (or equal) layer
  // Resident where the backend computes (Buffer.hpp); the host copies are read by recorders/checkpoints.
  Buffer weights_, weights_t_, velocity_, dw_;
  Tensor halo_[2];  // under MPI: the extended input of scatter [0] and gather/Hebbian [1] deliveries
  long version_ = 0, transposed_version_ = -1;
  float scale_ = 1.0f;
  double learning_rate_ = 0.0, momentum_ = 0.0;
  Layer* trigger_ = nullptr;
  long display_period_ = 1;
  int batch_size_ = 1;
};

}  // namespace laminar

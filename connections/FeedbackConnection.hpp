#pragma once
// Top-down feedback of a hierarchy (seed paper section 3.3, eq. 4-5): layer N+1's prediction
// error e_{N+1} = u_N - Phi_{N+1} a_{N+1}, which is dE/du_N, is subtracted from layer N's drive:
//   du_N/dt = -u_N + Phi_N^T e_N - (... self interaction ...) - strength * e_{N+1}.
// Pre is that Error layer, post the LCA layer N (equal sizes); delivery is one-to-one into the
// post's inhibitory channel. strength 0 removes the connection from the schedule altogether, so
// the network is exactly the one without feedback.
#include "framework/Connection.hpp"

namespace laminar {

class FeedbackConnection : public Connection {
 public:
  explicit FeedbackConnection(const BuildContext& ctx);
  bool same_geometry() const override { return true; }
  void resolve(Network& net) override;
  void deliver(Tensor& target) override;
  float strength() const { return strength_; }

 private:
  float strength_ = 1.0f;
};

}  // namespace laminar

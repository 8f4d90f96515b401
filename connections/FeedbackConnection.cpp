#include "connections/FeedbackConnection.hpp"

#include "framework/Backend.hpp"
#include "framework/Network.hpp"
#include "framework/Registry.hpp"
#include "layers/ErrorLayer.hpp"
#include "layers/LCALayer.hpp"

namespace laminar {

FeedbackConnection::FeedbackConnection(const BuildContext& ctx) : Connection(ctx) {
  strength_ = float(params_.real("strength"));
  if (params_.string("channel") != "inhibitory")
    params_.fail("channel", "Feedback always delivers into the inhibitory channel (eq. 5 subtracts e_{N+1} from layer "
                            "N's drive); remove the key or write `channel: inhibitory`, and use strength to scale it");
  // Disabled: deliver nothing and take no part in the schedule (so V_N -> E_{N+1} is read in
  // the same step again, exactly as in the network without this connection).
  if (strength_ == 0.0f) channel_ = ChannelId::None;
}

void FeedbackConnection::resolve(Network& net) {
  Connection::resolve(net);
  if (!dynamic_cast<ErrorLayer*>(pre_))
    params_.fail("pre", "'" + pre_name_ + "' has type " + pre_->type() +
                            "; Feedback reads the Error layer of the layer above (e_{N+1} = u_N - Phi_{N+1} a_{N+1})");
  if (!dynamic_cast<LCALayer*>(post_))
    params_.fail("post", "'" + post_name_ + "' has type " + post_->type() +
                             "; Feedback delivers into an LCA layer (layer N, whose membrane the error compares)");
}

void FeedbackConnection::deliver(Tensor& target) { backend().axpy(strength_, pre_buffer(), target); }

void laminar_register_FeedbackConnection(Registry& r) {
  Schema s;
  s.string("pre", std::nullopt, "The Error layer of the layer above: e_{N+1} = u_N - Phi_{N+1} a_{N+1}.")
      .string("post", std::nullopt, "The LCA layer N whose membrane u_N that error compares.")
      .choice("channel", {"excitatory", "inhibitory", "none"}, std::string("inhibitory"),
              "Only `inhibitory` (the default) is accepted: eq. 5 subtracts e_{N+1}; any other value is an error.")
      .choice("pre_buffer", {"activity"}, std::string("activity"),
              "Always the error layer's activity e_{N+1} (an Error layer has no membrane).")
      .real("strength", 1.0, 0, Schema::inf,
            "Multiplies the fed-back error (1: eq. 5). 0 disables the connection: it is left out of the "
            "schedule, so the network is exactly the one without feedback.");
  register_connection<FeedbackConnection>(
      r, KindInfo{Category::Connection, "Feedback",
                  "Top-down error feedback of a hierarchy: layer N's drive loses strength * e_{N+1} (eq. 5).",
                  "In a hierarchy, layer N+1 reconstructs the membrane potential of layer N: its Error layer "
                  "`E_{N+1}` receives `u_N` (an Identity from `V_N` with `pre_buffer: membrane`, excitatory) and "
                  "`Phi_{N+1} a_{N+1}` (a Convolution from `V_{N+1}`, inhibitory), so `e_{N+1} = u_N - Phi_{N+1} "
                  "a_{N+1}`, the gradient of `0.5 ||u_N - Phi_{N+1} a_{N+1}||^2` with respect to `u_N`. A Feedback "
                  "from `E_{N+1}` to `V_N` adds `strength * e_{N+1}` to `V_N`'s inhibitory channel, so "
                  "`tau du_N/dt = -u_N + Phi_N^T e_N + a_N - strength * e_{N+1}` (eq. 5 of Kim, Hannan and "
                  "Kenyon, *Deep Sparse Coding for Invariant Multimodal Halle Berry Neurons*, CVPR 2018).\n\n"
                  "Pre must be an Error layer and post an LCA layer of the same size (ny x nx x nf); the channel "
                  "is always inhibitory (`channel: excitatory` or `none` is an error). Schedule: the loop "
                  "`V_N -> E_{N+1} -> V_N` is broken at the LCA layer, so each step every error layer is "
                  "computed from the previous step's codes and membranes, then every LCA layer updates (`laminar "
                  "describe --schedule` shows it). Without feedback (or with `strength: 0`, which leaves the "
                  "connection out of the schedule) `E_{N+1}` reads this step's `u_N` instead.\n\n"
                  "With feedback the dynamics are not a pure gradient descent of the hierarchical energy "
                  "`sum_N 0.5||e_N||^2 + lambda_N sum C(a_N)`: for a neuron below threshold the feedback moves "
                  "`u_N` without changing `a_N`. A fixed point satisfies, for each layer N, the optimality "
                  "conditions of the Lasso `0.5||input_N - Phi_N a||^2 + lambda_N sum C(a) + strength <e_{N+1}, a>` "
                  "(soft thresholds; input_N = u_{N-1} or the image, e_{N+1} its value at the fixed point).",
                  "E2ToV1:\n  type: Feedback\n  pre: E2     # Error: V1.membrane - Phi2 a2\n  post: V1\n"
                  "  strength: 1",
                  {"Error", "LCA", "Identity", "Convolution"}, s});
}

}  // namespace laminar

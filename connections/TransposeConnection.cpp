#include "connections/TransposeConnection.hpp"

#include "connections/ConvolutionConnection.hpp"
#include "framework/Network.hpp"

namespace laminar {

TransposeConnection::TransposeConnection(const BuildContext& ctx) : Connection(ctx) {
  scale_ = float(params_.real("scale"));
}

void TransposeConnection::resolve(Network& net) {
  Connection::resolve(net);
  Connection& c = net.connection(params_.string("original"), params_, "original");
  original_ = dynamic_cast<ConvolutionConnection*>(&c);
  if (!original_)
    params_.fail("original", "'" + c.name() + "' is not a Convolution (its type is " + c.type() +
                                 "); a Transpose shares and transposes a Convolution's weights");
  if (c.pre_name() != post_name_ || c.post_name() != pre_name_)
    params_.fail_block("the transpose of '" + c.name() + "' (" + c.pre_name() + " -> " + c.post_name() + ") must go " +
                       c.post_name() + " -> " + c.pre_name() + ", not " + pre_name_ + " -> " + post_name_);
}

void TransposeConnection::deliver(Tensor& target) { original_->apply(pre_buffer(), target, true, scale_); }

WeightsView TransposeConnection::weights() const { return original_->weights(); }
std::vector<KernelAttribute> TransposeConnection::kernel_attributes() const { return original_->kernel_attributes(); }

void laminar_register_TransposeConnection(Registry& r) {
  Schema s = Connection::common_schema();
  s.string("original", std::nullopt, "The Convolution whose weights are shared and transposed.")
      .real("scale", 1.0, -Schema::inf, Schema::inf, "Multiplies what is delivered.");
  register_connection<TransposeConnection>(
      r, KindInfo{Category::Connection, "Transpose", "The exact adjoint Phi^T of a Convolution, sharing its weights.",
                  "Goes the opposite way of `original` (pre = original's post, post = original's pre) and always "
                  "uses the original's current weights, so learning in the original is seen at once. For an LCA "
                  "layer fed by an error layer it delivers `Phi^T e`.",
                  "ErrorToV1:\n  type: Transpose\n  original: Dictionary\n  pre: Residual\n  post: V1\n  channel: excitatory",
                  {"Convolution", "LCA", "Error"}, s});
}

}  // namespace laminar

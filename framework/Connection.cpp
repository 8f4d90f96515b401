#include "framework/Connection.hpp"

#include "framework/Network.hpp"
#include "framework/Output.hpp"
#include "framework/Registry.hpp"

namespace laminar {

void Connection::set_state(const std::string& name, const float*) {
  throw InternalError("connection '" + name_ + "' (" + type_ + ") cannot restore state '" + name + "'");
}

Schema Connection::common_schema() {
  Schema s;
  s.string("pre", std::nullopt, "Name of the layer read from.")
      .string("post", std::nullopt, "Name of the layer delivered into.")
      .choice("channel", {"excitatory", "inhibitory", "none"}, std::string("excitatory"),
              "Post channel added into; `none` holds (and may learn) weights without delivering.")
      .choice("pre_buffer", {"activity", "membrane"}, std::string("activity"),
              "Which pre buffer is read: activity a, or membrane potential u (hierarchies reconstruct u).");
  return s;
}

Connection::Connection(const BuildContext& ctx)
    : name_(ctx.name), type_(ctx.type), params_(ctx.params), backend_(&ctx.backend) {
  pre_name_ = params_.string("pre");
  post_name_ = params_.string("post");
  const std::string& ch = params_.string("channel");
  channel_ = ch == "excitatory" ? ChannelId::Excitatory : ch == "inhibitory" ? ChannelId::Inhibitory : ChannelId::None;
  reads_membrane_ = params_.string("pre_buffer") == "membrane";
}

void Connection::resolve(Network& net) {
  pre_ = &net.layer(pre_name_, params_, "pre");
  post_ = &net.layer(post_name_, params_, "post");
  if (reads_membrane_ && !pre_->has_membrane())
    params_.fail("pre_buffer", "layer '" + pre_name_ + "' (" + pre_->type() +
                                   ") has no membrane; use pre_buffer: activity");
  if (channel_ != ChannelId::None) post_->mark_channel_used(channel_);
}

const Tensor& Connection::pre_buffer() const {
  return reads_membrane_ ? pre_->membrane() : pre_->activity();
}

void write_kernel_attributes(Output& out, const std::string& object, const Connection& c) {
  const std::vector<KernelAttribute> attrs = c.kernel_attributes();
  if (attrs.empty()) return;
  std::string names;
  for (const auto& a : attrs) {
    out.attribute(object, a.name, a.values);
    names += (names.empty() ? "" : ",") + a.name;
  }
  out.attribute(object, "kernel_attributes", names);
}

}  // namespace laminar

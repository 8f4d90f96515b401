#pragma once
// A connection delivers from a pre layer's buffer (activity or membrane) into one channel of
// its post layer. Weights are owned by the connection (and shared, not copied, by a Transpose).
#include <string>
#include <vector>

#include "framework/Layer.hpp"
#include "framework/Params.hpp"
#include "framework/Tensor.hpp"

namespace laminar {

class Network;
class Backend;
struct SimulationConfig;
struct BuildContext;

// A read-only view of a connection's weights: [kernels][patch_y][patch_x][features].
struct WeightsView {
  const float* data = nullptr;
  int kernels = 0, patch_y = 0, patch_x = 0, features = 0;
  std::size_t size() const { return std::size_t(kernels) * patch_y * patch_x * features; }
};

// A named array of a connection's state (weights, optimiser state) for checkpoints.
struct StateArray {
  std::string name;
  const float* data = nullptr;
  std::vector<std::size_t> shape;
};

// One value per kernel that describes how the weights were made (e.g. a log-Gabor kernel's orientation),
// written by weight recorders as the HDF5 attribute `name` (float64 array, length kernels).
struct KernelAttribute {
  std::string name;
  std::vector<double> values;
};

class Connection {
 public:
  explicit Connection(const BuildContext& ctx);
  virtual ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  static Schema common_schema();

  const std::string& name() const { return name_; }
  const std::string& type() const { return type_; }
  const ParamSet& params() const { return params_; }
  // The run's numeric kernels: connections deliver and learn through it (Backend.hpp).
  Backend& backend() const { return *backend_; }
  const std::string& pre_name() const { return pre_name_; }
  const std::string& post_name() const { return post_name_; }
  Layer& pre() const { return *pre_; }
  Layer& post() const { return *post_; }
  ChannelId channel() const { return channel_; }
  bool reads_membrane() const { return reads_membrane_; }
  // The pre buffer this connection reads (activity, or membrane u for hierarchies).
  const Tensor& pre_buffer() const;

  // Identity-like connections require and propagate equal geometry.
  virtual bool same_geometry() const { return false; }

  // Find pre/post (and originals); called once every object exists.
  virtual void resolve(Network& net);
  // Check geometry compatibility once every layer's geometry is known.
  virtual void check_geometry() {}
  virtual void initialize(const SimulationConfig&) {}
  // Add this connection's contribution into `target` (a channel of the post layer).
  virtual void deliver(Tensor& target) = 0;

  virtual bool plastic() const { return false; }
  // Learn if this step ends a learning period; returns true if weights changed.
  virtual bool learn(long step) { return false; }

  // Everything a checkpoint must hold to continue learning (weights, momentum).
  virtual std::vector<StateArray> state() const { return {}; }
  // Replace the state array `name` (one of state(), same shape) from a checkpoint.
  virtual void set_state(const std::string& name, const float* data);

  virtual bool has_weights() const { return false; }
  virtual WeightsView weights() const { return {}; }
  // Per-kernel labels of the weights (none by default; a log-Gabor Convolution's grid).
  virtual std::vector<KernelAttribute> kernel_attributes() const { return {}; }

 protected:
  std::string name_;
  std::string type_;
  ParamSet params_;
  Backend* backend_ = nullptr;
  std::string pre_name_, post_name_;
  Layer* pre_ = nullptr;
  Layer* post_ = nullptr;
  ChannelId channel_ = ChannelId::Excitatory;
  bool reads_membrane_ = false;
};

class Output;
// `c`'s per-kernel labels (kernel_attributes()) as float64 array attributes of `object` in `out`, and their
// names, comma-separated, as its text attribute `kernel_attributes` (nothing when it has none).
void write_kernel_attributes(Output& out, const std::string& object, const Connection& c);

}  // namespace laminar

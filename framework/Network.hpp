#pragma once
// The network: a read-only description validated from params (NetworkSpec), and the objects
// built from it with their geometry resolved and their schedule derived from the graph.
#include <memory>
#include <string>
#include <vector>

#include "framework/Backend.hpp"
#include "framework/Communicator.hpp"
#include "framework/Connection.hpp"
#include "framework/Layer.hpp"
#include "framework/Params.hpp"
#include "framework/Probe.hpp"
#include "framework/Registry.hpp"

namespace laminar {

struct ObjectSpec {
  const KindInfo* kind = nullptr;
  std::string name;
  ParamSet params;
};

// Memory a network needs per process (the largest: rank 0), by buffer, and what is available.
struct MemoryItem {
  double bytes = 0;
  std::string object;  // "layers.V1", "connections.D", "rank 0"
  const ParamSet* params = nullptr;
  std::string what;
  bool floats = true;  // float32 buffers (else e.g. a dataset's bytes as read from its file)
};
struct MemoryEstimate {
  std::vector<MemoryItem> items;
  double per_rank = 0, available = 0;
  double limit = 0;  // what the network may use: kMemoryFraction of `available`
  int ranks = 1, ranks_here = 1;
  std::string str() const;  // a table for `laminar check`
};

struct NetworkSpec {
  std::string file;
  SimulationConfig sim;
  ParamSet sim_params;
  std::vector<ObjectSpec> layers, connections, probes;
  std::string resolved_yaml;  // the params after --set overrides, stored with the output

  // Validate the whole document (all-or-nothing) against the registry's schemas.
  static NetworkSpec from(const ParamsDocument& doc, const Registry& registry);
};

class Network {
 public:
  // Run: build to simulate. Plan: everything but the allocation (`laminar check`, `describe
  // --schedule`): every object built and resolved, data files opened and their headers checked,
  // geometry, schedule, decomposition and the memory estimate, but no layer buffer allocated (sizes
  // come from the geometry), so that checking a network that fits the estimate costs no memory.
  enum class Mode { Run, Plan };
  // Builds every object, resolves names and geometry, checks compatibility, derives the
  // schedule and (Mode::Run) allocates buffers for the simulation's batch size.
  explicit Network(const NetworkSpec& spec, Mode mode = Mode::Run);
  // False for a Mode::Plan network (no buffers: it cannot be simulated).
  bool allocated() const { return mode_ == Mode::Run; }

  const NetworkSpec& spec() const { return spec_; }
  const SimulationConfig& sim() const { return sim_; }

  // Look up by name; on failure, a user error at `params`'s key `key` with a hint.
  Layer& layer(const std::string& name, const ParamSet& params, const std::string& key);
  Connection& connection(const std::string& name, const ParamSet& params, const std::string& key);
  Layer* find_layer(const std::string& name);
  Connection* find_connection(const std::string& name);

  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  const std::vector<std::unique_ptr<Connection>>& connections() const { return connections_; }
  const std::vector<std::unique_ptr<Probe>>& probes() const { return probes_; }

  // Layers in update order; connections delivering into each (declaration order).
  const std::vector<Layer*>& schedule() const { return schedule_; }
  const std::vector<Connection*>& incoming(const Layer& l) const;
  // A human-readable schedule: one line per layer with what it reads and from which step.
  std::string describe_schedule() const;

  long steps() const { return sim_.steps; }
  // Where the numeric kernels run (simulation.backend).
  Backend& backend() const { return *backend_; }
  // Estimated memory per process (this run's decomposition): layer buffers, weights and what input
  // layers hold (Layer::data_bytes(), e.g. a dataset read whole). The constructor refuses, before
  // allocating (in both modes), a network whose estimate exceeds kMemoryFraction of the memory
  // available, naming the largest items.
  MemoryEstimate memory() const;
  static constexpr double kMemoryFraction = 0.8;

 private:
  void infer_geometry();
  void derive_schedule();
  void check_memory() const;  // a user error naming the largest item if the network cannot fit in RAM
  void check_device_memory(const MemoryEstimate& m) const;  // likewise for a device backend's memory
  // Choose the MPI decomposition (Communicator) for these layers and batch size.
  void decompose();
  std::size_t index_of(const Layer& l) const;

  NetworkSpec spec_;
  Mode mode_ = Mode::Run;
  SimulationConfig sim_;
  Backend* backend_ = nullptr;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Probe>> probes_;
  std::vector<Layer*> schedule_;
  std::vector<std::vector<Connection*>> incoming_;  // by layer index
};

}  // namespace laminar

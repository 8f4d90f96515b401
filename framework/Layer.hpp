#pragma once
// A layer: a grid of neurons (ny x nx x nf per batch element) with named input channels
// (excitatory, inhibitory), an activity buffer and optionally a membrane (state) buffer.
// Layer code never calls MPI or CUDA: it updates its own buffers from its channels. Under MPI
// each process holds one tile of the layer (tile(): rows, columns and batch elements of the
// whole layer); geometry() is the whole layer's size, the buffers have local_geometry().
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "framework/Communicator.hpp"
#include "framework/Params.hpp"
#include "framework/Tensor.hpp"

namespace laminar {

class Network;
class Backend;
struct ReduceItem;
struct SimulationConfig;
struct BuildContext;

enum class ChannelId : int { Excitatory = 0, Inhibitory = 1, None = -1 };

class Layer {
 public:
  explicit Layer(const BuildContext& ctx);
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  // Parameters every layer kind accepts (merged into each kind's schema).
  static Schema common_schema();

  const std::string& name() const { return name_; }
  const std::string& type() const { return type_; }
  const ParamSet& params() const { return params_; }
  // The run's numeric kernels: layers update their buffers through it (Backend.hpp).
  Backend& backend() const { return *backend_; }

  // The whole layer's size (all processes together).
  const Geometry& geometry() const { return geometry_; }
  void set_geometry(const Geometry& g) { geometry_ = g; }
  // Batch elements held here (this process's part of the batch).
  int batch() const { return batch_; }
  // This process's part of the layer (the whole layer unless set by the network under MPI) and the
  // size of its buffers.
  const Tile& tile() const { return tile_; }
  void set_tile(const Tile& t) { tile_ = t; }
  Geometry local_geometry() const { return tile_.nx > 0 ? Geometry{tile_.nx, tile_.ny, geometry_.nf} : geometry_; }
  // Framework helper for probes: the whole buffer `t` (every tile and batch element) on rank 0.
  // Collective (every process calls it); in one process it is `t` itself, on ranks > 0 empty.
  const Tensor& gathered(const Tensor& t, Tensor& scratch) const;
  // Likewise current_items() of the whole batch on rank 0 (collective; empty for non-input layers).
  std::vector<std::int64_t> gathered_items() const;

  // Does this layer integrate a state over time (membrane)? Connections out of a stateful
  // layer may read its previous step, which is how the schedule breaks cycles.
  virtual bool stateful() const { return false; }
  virtual bool has_membrane() const { return false; }

  // Look up other objects by name (after every object exists, before allocation).
  virtual void resolve(Network&) {}
  // Checks that need every object resolved and every geometry known; called before allocate(), and
  // also where nothing is allocated (`laminar check`: Network::Mode::Plan), so checks belong here.
  virtual void validate() {}
  // Allocate buffers for `batch` elements of local_geometry().
  virtual void allocate(int batch);
  // Memory this layer holds besides its buffers, for the memory estimate: e.g. an input layer's
  // dataset read whole into memory, its fonts, its per-batch-element bookkeeping. Known once the
  // layer is built (data files are opened in the constructor); what it is, for the estimate's table.
  virtual double data_bytes() const { return 0.0; }
  virtual std::string data_description() const { return "data held in memory"; }
  // Facts about the layer's data that `laminar check` prints after its size (e.g. how many images
  // have a labels row); empty for none.
  virtual std::string summary() const { return {}; }
  // Set initial state (membrane init, first data).
  virtual void initialize(const SimulationConfig&) {}
  // Called for every layer at the start of each step, before any delivery (e.g. state resets
  // on a trigger, so that this step's deliveries already see the reset state).
  virtual void begin_step(long step) {}
  // Checkpoints (framework/Checkpoint.hpp): integer state beyond the buffers, e.g. how many times
  // a membrane was reset (the index of its next random initial state). Saved with the buffers.
  virtual std::vector<std::pair<std::string, long long>> counters() const { return {}; }
  virtual void set_counter(const std::string& name, long long value) {}
  // Layer-shaped state buffers beyond activity and membrane (e.g. an LCA layer's momentum step), by name:
  // saved in checkpoints as layers/<layer>/<name> and restored on resume, kept in the NaN guard's
  // snapshots, counted by the memory estimate. The same names before and after allocate().
  virtual std::vector<std::pair<std::string, Tensor*>> state_buffers() { return {}; }
  std::vector<std::pair<std::string, const Tensor*>> saved_buffers() const {
    const auto v = const_cast<Layer*>(this)->state_buffers();
    return {v.begin(), v.end()};
  }
  // Resuming at `step` (steps 0..step-1 already run), after initialize(): bring derived state (e.g.
  // the data an input layer shows, its items and presence) to what it was at the end of step - 1.
  // The framework then restores activity, membrane and counters from the checkpoint.
  virtual void resume(long step) {}
  // Advance one step from the channels already delivered this step.
  virtual void update(long step) = 0;
  // True when the layer presents new data at `step` (input layers at each display period).
  virtual bool fires(long step) const { return false; }
  // Number of distinct items (images) an input layer presents; 0 for other layers.
  virtual long dataset_size() const { return 0; }
  // Input layers: the dataset index shown to each batch element now (nullptr otherwise).
  virtual const std::vector<long>* current_items() const { return nullptr; }
  // Input layers: whether each batch element's modality is present now (1) or absent (0), e.g. an
  // empty image or a mask column in a labels CSV; nullptr means always present. Known from the
  // start of the step (input layers load new data in begin_step). Error layers with `mask:` read it.
  virtual const std::vector<char>* present() const { return nullptr; }

  // Energy contribution per batch element: 0.5||e||^2 for error layers, lambda*sum C(a) for LCA.
  virtual bool has_energy() const { return false; }
  double energy(int b) const { return energy_of(activity_, b); }
  // The same term for batch element b of an activity buffer of this layer (e.g. gathered()).
  virtual double energy_of(const Tensor& activity, int b) const { return 0.0; }
  // The energy term as a backend reduction of this process's activity: energy(b) = factor * the item's
  // sum over batch element b (e.g. 0.5 * sum of squares for an Error layer). False where the layer has no
  // such form; the Energy probe then uses energy_of (and on the CPU backend it always does).
  virtual bool energy_reduction(ReduceItem& item, double& factor) const { return false; }

  Tensor& activity() { return activity_; }
  const Tensor& activity() const { return activity_; }
  Tensor& membrane();
  const Tensor& membrane() const;
  Tensor& channel(ChannelId c) { return channels_[static_cast<int>(c)]; }
  const Tensor& channel(ChannelId c) const { return channels_[static_cast<int>(c)]; }
  void clear_channels();
  // Some connection delivers into this channel (layers may skip reading empty channels).
  bool channel_used(ChannelId c) const { return channel_used_[static_cast<int>(c)]; }
  void mark_channel_used(ChannelId c) { channel_used_[static_cast<int>(c)] = true; }

 protected:
  std::string name_;
  std::string type_;
  ParamSet params_;
  Backend* backend_ = nullptr;
  Geometry geometry_;
  Tile tile_;
  int batch_ = 0;
  int global_batch_ = 1;  // simulation.batch_size (all processes)
  Tensor activity_;
  Tensor membrane_;
  Tensor channels_[2];
  bool channel_used_[2] = {false, false};
};

}  // namespace laminar

#pragma once
// A probe reads layers or connections at a cadence and writes a table (HDF5 + optional CSV).
#include <optional>
#include <string>
#include <vector>

#include "framework/Params.hpp"

namespace laminar {

class Layer;
class Network;
class Output;
class Tensor;
struct SimulationConfig;
struct BuildContext;

class Probe {
 public:
  explicit Probe(const BuildContext& ctx);
  virtual ~Probe() = default;
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  // `period`: sample on every step whose number + 1 is a multiple of it (the last step of
  // each period), so period = display_period samples the settled code of every input.
  // When absent, scalar probes sample every step and recorders every display period.
  static Schema common_schema();

  const std::string& name() const { return name_; }
  const std::string& type() const { return type_; }
  const ParamSet& params() const { return params_; }

  virtual void resolve(Network& net) = 0;
  virtual void open(Output&, const SimulationConfig&) {}
  bool due(long step) const { return (step + 1) % period_ == 0; }
  long period() const { return period_; }
  // Called at the start of each step, after the layers' begin_step and before any delivery.
  virtual void begin_step(long step) {}
  virtual void sample(long step, Output& out) = 0;
  virtual void finish(Output&) {}
  // Checkpoints: what the probe remembers between samples (e.g. the last values shown on the
  // progress line), saved on the writer and given back on resume.
  virtual std::vector<double> saved_state() const { return {}; }
  virtual void restore_state(const std::vector<double>&) {}
  // A single number for the progress line (e.g. mean energy), if this probe has one.
  virtual std::optional<double> headline() const { return std::nullopt; }
  virtual std::string headline_label() const { return name_; }

 protected:
  std::string name_;
  std::string type_;
  ParamSet params_;
  long period_ = 1;
};

// A probe's `layer:` and `buffer:` (activity or membrane) keys, declared and resolved once for
// every probe that reads one buffer of one layer.
class LayerBufferRef {
 public:
  enum class Buffer { Activity, Membrane, Excitatory, Inhibitory };
  // Adds `layer` (documented by `layer_doc`) and `buffer` to a probe's schema.
  static void declare(Schema& schema, const std::string& layer_doc);
  // Finds the layer; a user error at `buffer` if it has no membrane, or no connection delivers into
  // the channel named.
  void resolve(Network& net, const ParamSet& params);
  Layer& layer() const { return *layer_; }
  bool membrane() const { return buffer_ == Buffer::Membrane; }
  const char* buffer_name() const;
  // The whole buffer (gathered to the writer under MPI: collective, every process calls it).
  const Tensor& gathered(Tensor& scratch) const;

 private:
  const Tensor& local() const;  // this process's part of the buffer
  Layer* layer_ = nullptr;
  Buffer buffer_ = Buffer::Activity;
};

}  // namespace laminar

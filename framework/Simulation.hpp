#pragma once
// The engine's time loop (docs/architecture.md, "Timestep"): each step, in schedule order, clear a
// layer's channels, let its incoming connections deliver, update it; then learning where a
// display period ends, probes on their cadence, progress, and periodic flushes of the output.
//
// Runs that survive (framework/Checkpoint.hpp):
// - resume(): continue from a checkpoint; the final outputs are bit-identical to an uninterrupted run.
// - SIGINT/SIGTERM: the current step finishes, a checkpoint is written, and run() throws RunStopped
//   (exit code 128 + signal). SIGKILL loses at most the steps since the last checkpoint.
// - Non-finite guard (simulation.nan_check = K, default 1): every K steps each layer's activity (and
//   membrane) is checked per batch element (one pass summing in double: finite exactly when every value
//   is finite). A copy of the last state that passed (layers' local buffers and counters, plastic
//   connections' state, probe state, output marks) is kept in memory: one copy every K steps, about as
//   much memory as the layers' activities and membranes. On a failure the run is put back to that state,
//   a checkpoint of it is written and run() throws RunStopped (exit code 4) naming layer, buffer, step
//   and batch element. K = 0 turns the guard off (no check, no copy).
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "framework/Checkpoint.hpp"
#include "framework/Error.hpp"
#include "framework/Network.hpp"
#include "framework/Output.hpp"
#include "framework/Progress.hpp"

namespace laminar {

struct RunOptions {
  bool quiet = false;    // no progress output
  bool verbose = false;  // extra log lines
  ProgressMode progress = ProgressMode::Auto;  // how progress is shown (framework/Progress.hpp)
  bool profile = false;  // time every schedule item (Simulation::profile(), `laminar run --profile`)
  // Provenance written as root attributes of laminar.h5 (e.g. command_line, git_commit, build).
  std::vector<std::pair<std::string, std::string>> provenance;
};

// A run that stopped early on purpose (signal, non-finite values): the message names the checkpoint.
class RunStopped : public UserError {
 public:
  RunStopped(int code, const std::string& message) : UserError(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// One row of a run's profile: a schedule item (a layer's input/begin-step work or update, a
// connection's delivery or learning, a probe, the NaN check, checkpoints, output flushes), its total
// wall time over the run and how often it ran.
struct ProfileItem {
  std::string what;
  double seconds = 0.0;
  long calls = 0;
};

class Simulation {
 public:
  Simulation(Network& net, Output& out, RunOptions options = {});
  // Without an output yet: prepare() reads every input (e.g. init_file weights) before the output is
  // created, so that a run can start from a file in the folder it then writes; attach() gives it.
  Simulation(Network& net, RunOptions options = {});
  void attach(Output& out) { out_ = &out; }
  // Initialise the layers and connections (their state and weights); initialize() does it if not done.
  void prepare();
  // Initialise every object and run all steps (from the resumed step, if resume() was called).
  // Returns the number of steps run.
  long run();
  // One step (exposed for tests).
  void step(long n);
  void initialize();
  // Initialise, then set the whole state from a checkpoint (inspect_checkpoint() accepted it).
  void resume(const CheckpointInfo& info);
  void finish();
  long first_step() const { return start_; }
  // With RunOptions::profile: the items in schedule order, then learning, probes and the run's other
  // work; `loop_seconds` the time loop's wall time and `halo_seconds` the time in halo exchanges (part
  // of the deliveries). Written to the output as profile/{seconds,calls} (attribute `items`).
  const std::vector<ProfileItem>& profile() const { return profile_; }
  double loop_seconds() const { return loop_seconds_; }
  double halo_seconds() const { return halo_seconds_; }
  // The profile as a table for people (empty without profiling).
  std::string profile_table() const;

 private:
  struct Snapshot;
  void take_snapshot(Snapshot& s, long step);
  // Learning events so far (and restores from checkpoints): a snapshot copies the connections' state
  // (e.g. a GPU's weights, downloaded) only when this changed since its last copy.
  long weight_changes_ = 0;
  void restore_snapshot(const Snapshot& s);
  void finish_snapshot(Snapshot& s);  // probes' state and the output mark
  // Collective: the first (layer, buffer, batch element) holding a non-finite value, or -1.
  long find_nonfinite(bool& is_nan) const;

  Network& net_;
  Output* out_ = nullptr;
  bool prepared_ = false;
  bool resumed_from_checkpoint_ = false;
  // Profiling: item indices (see profile()); enum-like offsets into profile_.
  void setup_profile();
  void write_profile();
  std::vector<ProfileItem> profile_;
  std::vector<std::size_t> layer_item_;        // schedule index -> begin-step item (update is +1)
  std::map<const Connection*, std::size_t> conn_item_;  // -> deliver item (learn is +1)
  std::size_t probe_item_ = 0, clear_item_ = 0, nan_item_ = 0, checkpoint_item_ = 0, flush_item_ = 0;
  double loop_seconds_ = 0.0, halo_seconds_ = 0.0;
  RunOptions options_;
  bool initialized_ = false;
  long start_ = 0;
};

}  // namespace laminar

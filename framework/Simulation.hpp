#pragma once
// The engine's time loop (ARCHITECTURE.md "Timestep"): each step, in schedule order, clear a
// layer's channels, let its incoming connections deliver, update it; then learning where a
// display period ends, probes on their cadence, progress, and periodic flushes of the output.
#include <string>

#include "framework/Network.hpp"
#include "framework/Output.hpp"

namespace laminar {

struct RunOptions {
  bool quiet = false;    // no progress output
  bool verbose = false;  // extra log lines
};

class Simulation {
 public:
  Simulation(Network& net, Output& out, RunOptions options = {});
  // Initialise every object and run all steps. Returns the number of steps run.
  long run();
  // One step (exposed for tests).
  void step(long n);
  void initialize();
  void finish();

 private:
  Network& net_;
  Output& out_;
  RunOptions options_;
  bool initialized_ = false;
};

}  // namespace laminar

#pragma once
// Checkpoints: the state of a run at a step, one HDF5 file each under `<output>/checkpoints/`,
// written atomically (temporary file, flush, fsync, rename) so a reader never sees a partial
// file; the newest `keep` are kept. `step` is the number of steps run: a run resumed from it
// continues with step number `step`. Layout (h5py-readable, format_version 2):
//   /layers/<name>/activity, /layers/<name>/membrane   [batch, ny, nx, nf]
//   /layers/<name>/items                               [batch] (input layers: dataset index shown)
//   attributes on /layers/<name>: Layer::counters() (e.g. LCA `resets`, the membrane's random stream)
//   /connections/<name>/weights, /connections/<name>/velocity  [kernels, patch, patch, features]
//   /probes/<name>/state                               [n] float64 (Probe::saved_state, if any)
//   attributes on /: step, format_version, params (resolved YAML), output_mark (OutputMark::str():
//   rows of every output dataset and bytes of every CSV table at `step`, so that resuming cuts the
//   output back to exactly that step), reason ("periodic", "end", "interrupted", "non-finite").
// The input shuffle order is a function of seed and epoch and is recomputed, not stored.
// A checkpoint's weights can start a new run: `init: file`, `init_file: .../step-000100.h5`,
// `init_dataset: connections/Dictionary/weights`.
#include <string>

#include "framework/Network.hpp"
#include "framework/Output.hpp"

namespace laminar {

class CheckpointWriter {
 public:
  CheckpointWriter(const std::string& output_dir, int keep) : dir_(output_dir + "/checkpoints"), keep_(keep) {}
  // Writes `<output>/checkpoints/step-<step>.h5` and removes all but the newest `keep`; returns its path
  // (on rank 0; empty on other ranks). Collective under MPI.
  std::string write(const Network& net, long step, const OutputMark& mark = {},
                    const std::string& reason = "periodic") const;

 private:
  std::string dir_;
  int keep_;
};

// The checkpoint `path` names: a checkpoint file, or a folder holding checkpoints (or an output
// folder with a `checkpoints/` folder): its newest complete checkpoint. Empty if the folder has
// none; a UserError if `path` does not exist.
std::string find_checkpoint(const std::string& path);

// A checkpoint's header, checked against a network before anything is changed: a UserError if
// the format version differs, or if it comes from a different network (the resolved params differ
// in anything except run-length settings: simulation steps, epochs, output, checkpoint_every,
// checkpoint_keep, threads, resume, nan_check, mpi_*), naming the first differing key. The layers are
// stored whole, so a checkpoint can be resumed at another rank count (bit-identical at the same one).
struct CheckpointInfo {
  std::string path;
  long step = 0;
  OutputMark mark;
};
CheckpointInfo inspect_checkpoint(const std::string& path, const Network& net);

// Sets every layer's buffers and counters, every connection's state and every probe's state from
// the checkpoint (each process reads its own tile). Call after Simulation::initialize().
void restore_checkpoint(Network& net, const CheckpointInfo& info);

constexpr int kCheckpointFormatVersion = 2;

}  // namespace laminar

#pragma once
// Checkpoints: the state of a run at a step, one HDF5 file each under `<output>/checkpoints/`,
// written atomically (temporary file, flush, fsync, rename) so a reader never sees a partial
// file; the newest `keep` are kept. `step` is the number of steps run: a run resumed from it
// continues with step number `step`. Layout (h5py-readable, format_version 3):
//   /layers/<name>/activity, /layers/<name>/membrane   [batch, ny, nx, nf]
//   /layers/<name>/items                               [batch] (input layers: dataset index shown)
//   attributes on /layers/<name>: Layer::counters() (e.g. LCA `resets`, the membrane's random stream)
//   /connections/<name>/weights, /connections/<name>/velocity  [kernels, patch, patch, features]
//   /probes/<name>/state                               [n] float64 (Probe::saved_state, if any)
//   attributes on /: step, format_version, params (resolved YAML), output_mark (OutputMark::str():
//   rows of every output dataset and bytes and hash of every CSV table at `step`, so that resuming
//   cuts the output back to exactly that step), reason ("periodic", "end", "interrupted",
//   "non-finite"), run_id (the run's identity, also in its laminar.h5: a resume into a folder
//   holding another run's output is refused), digest (FNV-1a 64 over every dataset and attribute
//   but itself: a damaged or edited checkpoint is refused).
// The input shuffle order is a function of seed and epoch and is recomputed, not stored.
// A checkpoint's weights can start a new run: `init: file`, `init_file: .../step-000100.h5`,
// `init_dataset: connections/Dictionary/weights`.
#include <string>
#include <utility>

#include "framework/Network.hpp"
#include "framework/Output.hpp"

namespace laminar {

class CheckpointWriter {
 public:
  CheckpointWriter(const std::string& output_dir, int keep, std::string run_id)
      : dir_(output_dir + "/checkpoints"), keep_(keep), run_id_(std::move(run_id)) {}
  // Writes `<output>/checkpoints/step-<step>.h5` and removes all but the newest `keep`; returns its path
  // (on rank 0; empty on other ranks). Collective under MPI.
  std::string write(const Network& net, long step, const OutputMark& mark = {},
                    const std::string& reason = "periodic") const;

 private:
  std::string dir_;
  int keep_;
  std::string run_id_;
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
// Also refused: a damaged or edited file (the digest differs), a step outside 1..simulation.steps,
// a malformed run id or output mark.
struct CheckpointInfo {
  std::string path;
  long step = 0;
  std::string run_id;
  OutputMark mark;
};
CheckpointInfo inspect_checkpoint(const std::string& path, const Network& net);

// Recompute and store the digest of a checkpoint edited on purpose (tools, tests): a UserError if the
// file cannot be opened for writing or read back.
void seal_checkpoint(const std::string& path);

// The first key (a.b.c) where two resolved params documents describe different networks (run-length
// settings such as steps, output, checkpointing, threads and the decomposition may differ), with
// both values as "key is A there but B here"; empty when they describe the same network.
std::string params_difference(const std::string& theirs, const std::string& ours);

// Sets every layer's buffers and counters, every connection's state and every probe's state from
// the checkpoint (each process reads its own tile). Call after Simulation::initialize(). Refuses
// non-finite values and negative counters, naming the dataset.
void restore_checkpoint(Network& net, const CheckpointInfo& info);

constexpr int kCheckpointFormatVersion = 3;

}  // namespace laminar

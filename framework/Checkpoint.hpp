#pragma once
// Checkpoints: the state of a run at a step, one HDF5 file each under `<output>/checkpoints/`,
// written atomically (temporary file, flush, fsync, rename) so a reader never sees a partial
// file; the newest `keep` are kept. Layout (h5py-readable, format_version 1):
//   /layers/<name>/activity, /layers/<name>/membrane   [batch, ny, nx, nf]
//   /layers/<name>/items                               [batch] (input layers: dataset index shown)
//   /connections/<name>/weights, /connections/<name>/velocity  [kernels, patch, patch, features]
//   attributes on /: step, format_version, params (resolved YAML)
// A checkpoint's weights can start a new run: `init: file`, `init_file: .../step-000100.h5`,
// `init_dataset: connections/Dictionary/weights`.
#include <string>

#include "framework/Network.hpp"

namespace laminar {

class CheckpointWriter {
 public:
  CheckpointWriter(const std::string& output_dir, int keep) : dir_(output_dir + "/checkpoints"), keep_(keep) {}
  // Writes `<output>/checkpoints/step-<step>.h5` and removes all but the newest `keep`; returns its path.
  std::string write(const Network& net, long step) const;

 private:
  std::string dir_;
  int keep_;
};

}  // namespace laminar

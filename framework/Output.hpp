#pragma once
// One HDF5 file per run (`<output>/laminar.h5`) holding recorded activity, weights, probe tables
// and the resolved params; scalar tables also as CSV. Readable with h5py. Under MPI only rank 0
// writes (a "writer"; probes gather what they record to it); on other ranks every call is a no-op.
#include <hdf5.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/Tensor.hpp"

namespace laminar {

// How much output a run had written at some step: rows of every extendible dataset and bytes of
// every CSV table. Checkpoints store it so that a resumed run can cut the output back to that step.
struct OutputMark {
  std::map<std::string, long long> rows;       // dataset path -> rows
  std::map<std::string, long long> csv_bytes;  // table name -> bytes
  std::string str() const;                     // "rows\t<name>\t<n>" / "csv\t<name>\t<n>" lines
  static OutputMark parse(const std::string& text);
};

class Output {
 public:
  // Creates `dir` (and parents) and a fresh `dir/laminar.h5`.
  // A non-writer (MPI ranks > 0) creates nothing and ignores every write.
  // With `resume` (continuing from a checkpoint): reopens an existing `dir/laminar.h5` and cuts
  // every extendible dataset back to the rows in `resume` (datasets it does not list to 0 rows),
  // and every CSV table it lists back to its bytes; later appends continue from there. Without an
  // existing laminar.h5 a fresh one is created (the output before the checkpoint is then absent).
  // A laminar.h5 that cannot be opened or has fewer rows than recorded is a UserError saying so.
  explicit Output(const std::string& dir, bool writer = true, const OutputMark* resume = nullptr);
  ~Output();
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  const std::string& dir() const { return dir_; }
  bool writer() const { return writer_; }
  std::string path(const std::string& file) const { return dir_ + "/" + file; }
  std::string file_path() const { return path("laminar.h5"); }

  // Append one row to an extendible dataset of shape [rows, row_shape...], created on first use.
  void append(const std::string& dataset, const float* row, const std::vector<std::size_t>& row_shape);
  void append(const std::string& dataset, const double* row, const std::vector<std::size_t>& row_shape);
  void append(const std::string& dataset, const std::int64_t* row, const std::vector<std::size_t>& row_shape);
  // Append a whole layer buffer as one row of shape [batch, ny, nx, nf].
  void append(const std::string& dataset, const Tensor& t);
  // Write (or replace) a whole fixed-shape dataset.
  void write(const std::string& dataset, const float* data, const std::vector<std::size_t>& shape);
  // A string attribute on a group or dataset (created as a group if absent).
  void attribute(const std::string& object, const std::string& name, const std::string& value);
  void flush();
  // Rows and CSV bytes written so far (after flush(), what is on disk).
  OutputMark mark();
  // Whether the constructor resumed an existing file (false: created a fresh one).
  bool resumed() const { return resumed_; }

  // A CSV table beside the HDF5 file, header written on creation, flushed every row.
  std::ofstream& csv(const std::string& name, const std::string& header);

 private:
  void append_raw(const std::string& dataset, hid_t type, const void* row, const std::vector<std::size_t>& row_shape);
  void reopen(const OutputMark& mark);
  hid_t open_or_create(const std::string& dataset, hid_t type, const std::vector<std::size_t>& row_shape);
  std::string dir_;
  bool writer_ = true;
  std::ofstream null_csv_;  // a closed stream: what non-writers' csv() returns
  hid_t file_ = -1;
  std::map<std::string, hid_t> open_;  // extendible datasets kept open while the run lasts
  std::map<std::string, long long> rows_;  // rows of every extendible dataset
  bool resumed_ = false;
  std::map<std::string, std::unique_ptr<std::ofstream>> csv_;
};

}  // namespace laminar

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

// How much output a run had written at some step: rows of every extendible dataset, and bytes and
// content hash (FNV-1a 64 of those bytes) of every CSV table. Checkpoints store it so that a resumed
// run cuts the output back to that step, and refuses a table that is not the one the run wrote.
struct OutputMark {
  std::map<std::string, long long> rows;            // dataset path -> rows
  std::map<std::string, long long> csv_bytes;       // table name -> bytes
  std::map<std::string, std::uint64_t> csv_hash;    // table name -> FNV-1a 64 of its first csv_bytes bytes
  std::string str() const;                          // "rows\t<name>\t<n>" / "csv\t<name>\t<n>\t<hash>" lines
  // A UserError naming `source` (e.g. the checkpoint) for anything but well-formed lines.
  static OutputMark parse(const std::string& text, const std::string& source);
};

// FNV-1a 64-bit hash, continued from `h` (the hash so far; start with kFnvOffset).
constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
std::uint64_t fnv1a(const void* data, std::size_t n, std::uint64_t h = kFnvOffset);

// What an I/O failure with errno `err` means, for messages ("no space left on device").
std::string io_error_cause(int err);

// A new run's identity: 32 hex digits from the system's random source.
std::string new_run_id();

// What a folder's `laminar.h5` says about the run that wrote it (for resume decisions).
struct OutputHeader {
  bool exists = false;    // laminar.h5 is there
  bool readable = false;  // it opens as HDF5
  std::string run_id, params;
};
OutputHeader read_output_header(const std::string& dir);

struct OutputOptions {
  bool writer = true;              // false: MPI ranks > 0, every call is a no-op
  const OutputMark* resume = nullptr;  // continuing from a checkpoint with this mark
  bool overwrite = false;          // a fresh run may replace the run already in the folder
  std::string run_id;              // this run's identity (a checkpoint's when resuming); empty: a new one
  std::string params;              // the resolved params, stored at creation
  std::size_t reserve_bytes = 16u << 20;  // disk space held back to close the file cleanly on a full disk
};

class Output {
 public:
  // The output of a run in `dir` (created with its parents): `dir/laminar.h5` plus CSV tables.
  // A fresh run refuses a folder that already holds a run (laminar.h5 or checkpoints), unless
  // `overwrite`, which first removes that run's laminar.h5 and checkpoints. The new file carries
  // `run_id` and `params` as attributes from the start (flushed at once).
  // With `resume` (continuing from a checkpoint): reopens an existing `dir/laminar.h5`, which must
  // carry the checkpoint's run id, and cuts every extendible dataset back to the rows in `resume`
  // (datasets it does not list to 0 rows), and every CSV table it lists back to its bytes after
  // checking their hash; later appends continue from there. Without an existing laminar.h5 a fresh
  // one is created (the output before the checkpoint is then absent). Checkpoints of another run in
  // `dir/checkpoints` are refused. Any mismatch is a UserError saying what differs.
  explicit Output(const std::string& dir, const OutputOptions& options = {});
  ~Output();  // closes without reporting (call close() to learn of a failure)
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  const std::string& dir() const { return dir_; }
  bool writer() const { return writer_; }
  const std::string& run_id() const { return run_id_; }
  // `dir/file`; `file` must be a plain name (no folder part, not "." or "..").
  std::string path(const std::string& file) const;
  std::string file_path() const { return dir_ + "/laminar.h5"; }

  // Append one row to an extendible dataset of shape [rows, row_shape...], created on first use.
  void append(const std::string& dataset, const float* row, const std::vector<std::size_t>& row_shape);
  void append(const std::string& dataset, const double* row, const std::vector<std::size_t>& row_shape);
  void append(const std::string& dataset, const std::int64_t* row, const std::vector<std::size_t>& row_shape);
  // Append a whole layer buffer as one row of shape [batch, ny, nx, nf].
  void append(const std::string& dataset, const Tensor& t);
  // Write (or replace) a whole fixed-shape dataset.
  void write(const std::string& dataset, const float* data, const std::vector<std::size_t>& shape);
  void write(const std::string& dataset, const double* data, const std::vector<std::size_t>& shape);
  void write(const std::string& dataset, const std::int64_t* data, const std::vector<std::size_t>& shape);
  // An attribute on a group or dataset (created as a group if absent): text as variable-length
  // UTF-8 (h5py reads a str), numbers as numbers.
  void attribute(const std::string& object, const std::string& name, const std::string& value);
  void attribute(const std::string& object, const std::string& name, const char* value) {
    attribute(object, name, std::string(value));
  }
  void attribute(const std::string& object, const std::string& name, double value);
  void attribute(const std::string& object, const std::string& name, long long value);
  void attribute(const std::string& object, const std::string& name, long value) {
    attribute(object, name, (long long)value);
  }
  void attribute(const std::string& object, const std::string& name, int value) {
    attribute(object, name, (long long)value);
  }
  // A 1-D array of numbers (float64; h5py reads a numpy array).
  void attribute(const std::string& object, const std::string& name, const std::vector<double>& values);
  // Dimension names and a description for a dataset created later by append() (applied when it is
  // created; a resumed file's datasets have theirs already).
  void declare(const std::string& dataset, std::vector<std::string> dims, std::string description);
  // Names the dimensions of an existing dataset (HDF5 dimension labels, h5py `ds.dims[i].label`,
  // and a "dimensions" attribute "sample,batch,y,x,feature") and gives it a description.
  void label_dimensions(const std::string& dataset, const std::vector<std::string>& dims,
                        const std::string& description = {});
  // Everything written so far to disk. Any failure of a write, a flush or the close is a UserError
  // naming the file and the cause; the file is then cut back to its last successful flush and closed
  // (using the held-back disk space), so what was flushed before stays readable.
  void flush();
  // Flush and close every file (the run's end); a failure is a UserError as for flush().
  void close();
  // Rows and CSV bytes written so far (after flush(), what is on disk).
  OutputMark mark() const;
  // Whether the constructor resumed an existing file (false: created a fresh one).
  bool resumed() const { return resumed_; }

  // A CSV table `dir/<name>.csv` beside the HDF5 file: created with its header line (`header`,
  // without newline) on the first call; a resumed table continues where the checkpoint left it.
  void csv(const std::string& name, const std::string& header);
  // Append `text` (whole lines, each ending in a newline) to the table.
  void csv_append(const std::string& name, const std::string& text);

 private:
  struct Table {
    std::string path;
    std::unique_ptr<std::ofstream> stream;
    long long bytes = 0, flushed = 0;  // written, and on disk at the last successful flush
    std::uint64_t hash = kFnvOffset;
  };
  void append_raw(const std::string& dataset, hid_t type, const void* row, const std::vector<std::size_t>& row_shape);
  void write_raw(const std::string& dataset, hid_t type, const void* data, const std::vector<std::size_t>& shape);
  void reopen(const OutputMark& mark);
  void resume_tables(const OutputMark& mark, bool required);
  void check_checkpoints(bool fresh, bool overwrite);
  void create_file(const std::string& params);
  hid_t open_or_create(const std::string& dataset, hid_t type, const std::vector<std::size_t>& row_shape);
  // An HDF5 call failed: recover what was flushed, close, and throw a UserError naming `what`.
  [[noreturn]] void fail(const std::string& what, int err);
  bool recover();  // cut back to the last flush and close; false if that failed too
  [[noreturn]] void fail_table(Table& t, int err);
  void check(herr_t status, const std::string& what);
  hid_t open_object(const std::string& object);
  // A scalar attribute (count < 0) or a 1-D array of `count` values.
  void write_attribute(const std::string& object, const std::string& name, hid_t type, const void* value,
                       long long count = -1);
  void release_reserve();
  void close_quietly();
  std::string dir_;
  bool writer_ = true;
  std::string run_id_;
  hid_t file_ = -1;
  bool broken_ = false;  // a write failed: nothing more is written
  std::map<std::string, hid_t> open_;  // extendible datasets kept open while the run lasts
  std::map<std::string, std::pair<std::vector<std::string>, std::string>> declared_;  // dims, description
  std::map<std::string, long long> rows_;  // rows of every extendible dataset
  std::map<std::string, long long> flushed_rows_;  // rows at the last successful flush
  bool resumed_ = false;
  std::map<std::string, Table> csv_;
  std::string reserve_;  // path of the held-back space (empty: none)
};

}  // namespace laminar

#pragma once
// Ranks and the domain decomposition (docs/architecture.md, "Communicator"). Every layer is split
// over one Cartesian grid of `rows x columns` spatial tiles, and the batch over `batch_groups`:
// rank = (batch_group * rows + row) * columns + column. All layers share the grid, so the tiles
// of a layer and of a layer `s` times finer start at positions that differ by the factor s.
//
// Built with MPI (LAMINAR_MPI), MPI is initialised only when the process was started by an MPI
// launcher (mpirun/srun set OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK); otherwise, and in a
// build without MPI, this is the serial communicator: one rank, every operation a copy.
//
// Only framework code calls this; layer, connection and probe kinds stay free of MPI.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "framework/Error.hpp"
#include "framework/Tensor.hpp"

namespace laminar {

// FNV-1a, 64 bits: a hash that is the same in every process and build (std::hash is not).
inline std::uint64_t fnv1a64(const std::string& s, std::uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Thrown by Communicator::agree on every rank at once (a collective finding, like RunStopped): main
// prints it on every rank and exits without MPI_Abort, which would cut the other ranks' messages off.
class RanksDisagree : public UserError {
 public:
  using UserError::UserError;
};

struct Decomposition {
  int rows = 1, columns = 1, batch_groups = 1;
  int spatial() const { return rows * columns; }
  int size() const { return rows * columns * batch_groups; }
  std::string str() const {
    return std::to_string(rows) + " rows x " + std::to_string(columns) + " columns x " +
           std::to_string(batch_groups) + " batch groups";
  }
};

// One rank's part of a layer: rows [y0, y0 + ny), columns [x0, x0 + nx), batch [b0, b0 + nb).
struct Tile {
  int y0 = 0, x0 = 0, ny = 0, nx = 0, b0 = 0, nb = 0;
};

class Communicator {
 public:
  // The process-wide communicator (serial until init() found an MPI launcher).
  static Communicator& world();
  // Initialise MPI if launched by mpirun (call once, first thing in main); finalize() at exit.
  static void init(int* argc, char*** argv);
  static void finalize();
  // Print nothing, stop every rank with this exit code (MPI_Abort); a plain exit when serial.
  [[noreturn]] void abort(int code);

  bool mpi() const { return mpi_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }

  void set_decomposition(const Decomposition& d);
  const Decomposition& decomposition() const { return dec_; }
  int row() const { return row_; }
  int column() const { return column_; }
  int batch_group() const { return group_; }
  // The tile of a layer of global size g and global batch `batch` held by `rank` (default: this one).
  Tile tile(const Geometry& g, int batch) const { return tile_of(rank_, g, batch); }
  Tile tile_of(int rank, const Geometry& g, int batch) const;

  // Collective over this rank's batch group (its spatial tiles): `local` (this rank's tile of a
  // layer of global size `global`) extended by `my` rows and `mx` columns on each side with the
  // neighbours' values; zero outside the global grid. Written into `ext`, reused when its shape fits
  // (its cells outside the grid stay zero), so that a device copy of it is kept, not reallocated.
  void halo(const Tensor& local, const Geometry& global, int my, int mx, Tensor& ext);
  // Collective: the whole layer [batch, ny, nx, nf] assembled on rank 0 into `out` (others: empty).
  void gather(const Tensor& local, const Geometry& global, int batch, Tensor& out);
  // Collective: per-batch-element values (e.g. dataset indices) of every batch group, on rank 0.
  std::vector<std::int64_t> gather_batch(const std::vector<std::int64_t>& local);
  // Collective: data <- sum over ranks, added in rank order on rank 0 and broadcast, so every
  // rank holds the same bits.
  void sum_to_all(float* data, std::size_t n);
  double max_all(double v);
  // Collective: every rank's data[0..n) <- rank 0's (e.g. what a probe computed on the writer).
  void broadcast(double* data, std::size_t n);
  void barrier();
  // Collective, before any other: every rank passes a fingerprint of what it is about to do (e.g. a
  // hash of its resolved params). Where any rank's differs from rank 0's, every rank throws
  // RanksDisagree: "rank 1's <what> differ from rank 0's (hash ... vs ...): <advice>", naming this
  // rank's own difference if it has one, else the first rank that differs. Serial: nothing to compare.
  void agree(std::uint64_t fingerprint, const std::string& what, const std::string& advice);

  // Time spent in halo() (seconds) and number of calls, for the scaling benchmark.
  double halo_seconds = 0.0;
  long halo_calls = 0;

 private:
  Communicator() = default;
  bool mpi_ = false;
  int rank_ = 0, size_ = 1;
  Decomposition dec_;
  int row_ = 0, column_ = 0, group_ = 0;
  void* spatial_comm_ = nullptr;  // MPI_Comm of this batch group (opaque here)
};

// RAII for main(): Communicator::init on construction, finalize on destruction.
struct CommunicatorSession {
  CommunicatorSession(int* argc, char*** argv) { Communicator::init(argc, argv); }
  ~CommunicatorSession() { Communicator::finalize(); }
};

}  // namespace laminar

#include "framework/Communicator.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>

#include "framework/Error.hpp"

#ifdef LAMINAR_HAVE_MPI
#include <mpi.h>
#endif

namespace laminar {

namespace {
// Rows [y0, y1) x columns [x0, x1) of a layer's global grid.
struct Rect {
  int y0 = 0, y1 = 0, x0 = 0, x1 = 0;
  bool empty() const { return y1 <= y0 || x1 <= x0; }
  std::size_t area() const { return empty() ? 0 : std::size_t(y1 - y0) * (x1 - x0); }
};
Rect intersect(const Rect& a, const Rect& b) {
  return Rect{std::max(a.y0, b.y0), std::min(a.y1, b.y1), std::max(a.x0, b.x0), std::min(a.x1, b.x1)};
}
#ifdef LAMINAR_HAVE_MPI
MPI_Comm as_comm(void* p) { return p ? *static_cast<MPI_Comm*>(p) : MPI_COMM_SELF; }
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}
#endif
}  // namespace

Communicator& Communicator::world() {
  static Communicator c;
  return c;
}

void Communicator::init(int* argc, char*** argv) {
#ifdef LAMINAR_HAVE_MPI
  Communicator& c = world();
  if (c.mpi_ || !launched_by_mpi()) return;
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  c.mpi_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &c.rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &c.size_);
  c.dec_ = Decomposition{1, 1, c.size_};  // until the network sets its own
#else
  (void)argc;
  (void)argv;
#endif
}

void Communicator::finalize() {
#ifdef LAMINAR_HAVE_MPI
  Communicator& c = world();
  if (!c.mpi_) return;
  if (c.spatial_comm_) {
    MPI_Comm_free(static_cast<MPI_Comm*>(c.spatial_comm_));
    delete static_cast<MPI_Comm*>(c.spatial_comm_);
    c.spatial_comm_ = nullptr;
  }
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
  c.mpi_ = false;
#endif
}

void Communicator::abort(int code) {
#ifdef LAMINAR_HAVE_MPI
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

void Communicator::set_decomposition(const Decomposition& d) {
  if (d.size() != size_)
    throw InternalError("decomposition " + d.str() + " does not match " + std::to_string(size_) + " ranks");
  dec_ = d;
  const int spatial = d.spatial();
  group_ = rank_ / spatial;
  row_ = (rank_ % spatial) / d.columns;
  column_ = rank_ % d.columns;
#ifdef LAMINAR_HAVE_MPI
  if (mpi_) {
    if (spatial_comm_) {
      MPI_Comm_free(static_cast<MPI_Comm*>(spatial_comm_));
      delete static_cast<MPI_Comm*>(spatial_comm_);
    }
    auto* comm = new MPI_Comm;
    MPI_Comm_split(MPI_COMM_WORLD, group_, rank_, comm);  // ranks ordered by row * columns + column
    spatial_comm_ = comm;
  }
#endif
}

Tile Communicator::tile_of(int rank, const Geometry& g, int batch) const {
  const int spatial = dec_.spatial();
  const int group = rank / spatial, row = (rank % spatial) / dec_.columns, column = rank % dec_.columns;
  Tile t;
  t.ny = g.ny / dec_.rows;
  t.nx = g.nx / dec_.columns;
  t.nb = batch / dec_.batch_groups;
  t.y0 = row * t.ny;
  t.x0 = column * t.nx;
  t.b0 = group * t.nb;
  return t;
}

void Communicator::halo(const Tensor& local, const Geometry& global, int my, int mx, Tensor& ext) {
  const auto t0 = std::chrono::steady_clock::now();
  const Geometry lg = local.geometry();
  const int nb = local.batch(), nf = lg.nf, rows = dec_.rows, cols = dec_.columns;
  const int tny = lg.ny, tnx = lg.nx;
  if (tny * rows != global.ny || tnx * cols != global.nx)
    throw InternalError("halo: local tile does not match the global size and the decomposition");
  const Geometry eg{tnx + 2 * mx, tny + 2 * my, nf};
  if (ext.batch() != nb || !(ext.geometry() == eg)) ext = Tensor(nb, eg);
  auto tile_rect = [&](int r, int c) { return Rect{r * tny, r * tny + tny, c * tnx, c * tnx + tnx}; };
  auto ext_rect = [&](int r, int c) {  // a tile's extended region, clipped to the global grid
    return Rect{std::max(0, r * tny - my), std::min(global.ny, r * tny + tny + my), std::max(0, c * tnx - mx),
                std::min(global.nx, c * tnx + tnx + mx)};
  };
  const Rect mine = tile_rect(row_, column_), my_ext = ext_rect(row_, column_);
  const int ey0 = row_ * tny - my, ex0 = column_ * tnx - mx;  // global position of ext (0, 0)
  const int peers = rows * cols;

  // Pack rect (global coordinates, inside my tile) of `local` into buf; unpack into ext.
  auto pack = [&](const Rect& r, float* buf) {
    const std::size_t w = std::size_t(r.x1 - r.x0) * nf;
    for (int b = 0; b < nb; ++b)
      for (int y = r.y0; y < r.y1; ++y, buf += w)
        std::memcpy(buf, local.data() + ((std::size_t(b) * tny + (y - mine.y0)) * tnx + (r.x0 - mine.x0)) * nf,
                    w * sizeof(float));
  };
  auto unpack = [&](const Rect& r, const float* buf) {
    const std::size_t w = std::size_t(r.x1 - r.x0) * nf;
    for (int b = 0; b < nb; ++b)
      for (int y = r.y0; y < r.y1; ++y, buf += w) std::memcpy(&ext.at(b, y - ey0, r.x0 - ex0, 0), buf, w * sizeof(float));
  };

  if (!mpi_ || peers == 1) {
    const Rect r = intersect(mine, my_ext);
    std::vector<float> buf(r.area() * nb * nf);
    pack(r, buf.data());
    unpack(r, buf.data());
  } else {
#ifdef LAMINAR_HAVE_MPI
    std::vector<int> scount(peers), sdispl(peers), rcount(peers), rdispl(peers);
    std::vector<Rect> srect(peers), rrect(peers);
    int stotal = 0, rtotal = 0;
    for (int q = 0; q < peers; ++q) {
      const int qr = q / cols, qc = q % cols;
      srect[q] = intersect(mine, ext_rect(qr, qc));
      rrect[q] = intersect(tile_rect(qr, qc), my_ext);
      scount[q] = int(srect[q].area() * nb * nf);
      rcount[q] = int(rrect[q].area() * nb * nf);
      sdispl[q] = stotal;
      rdispl[q] = rtotal;
      stotal += scount[q];
      rtotal += rcount[q];
    }
    std::vector<float> sbuf(std::max(stotal, 1)), rbuf(std::max(rtotal, 1));
    for (int q = 0; q < peers; ++q)
      if (scount[q]) pack(srect[q], sbuf.data() + sdispl[q]);
    MPI_Alltoallv(sbuf.data(), scount.data(), sdispl.data(), MPI_FLOAT, rbuf.data(), rcount.data(), rdispl.data(),
                  MPI_FLOAT, as_comm(spatial_comm_));
    for (int q = 0; q < peers; ++q)
      if (rcount[q]) unpack(rrect[q], rbuf.data() + rdispl[q]);
#endif
  }
  halo_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++halo_calls;
}

void Communicator::gather(const Tensor& local, const Geometry& global, int batch, Tensor& out) {
  if (size_ == 1) {
    out = local;
    return;
  }
#ifdef LAMINAR_HAVE_MPI
  const int n = int(local.size());
  std::vector<float> all(root() ? std::size_t(n) * size_ : 0);
  MPI_Gather(local.data(), n, MPI_FLOAT, all.data(), n, MPI_FLOAT, 0, MPI_COMM_WORLD);
  if (!root()) {
    out = Tensor();
    return;
  }
  if (out.batch() != batch || !(out.geometry() == global)) out = Tensor(batch, global);
  for (int q = 0; q < size_; ++q) {
    const Tile t = tile_of(q, global, batch);
    const float* src = all.data() + std::size_t(q) * n;
    const std::size_t w = std::size_t(t.nx) * global.nf;
    for (int b = 0; b < t.nb; ++b)
      for (int y = 0; y < t.ny; ++y, src += w) std::memcpy(&out.at(t.b0 + b, t.y0 + y, t.x0, 0), src, w * sizeof(float));
  }
#endif
}

std::vector<std::int64_t> Communicator::gather_batch(const std::vector<std::int64_t>& local) {
  if (size_ == 1) return local;
  std::vector<std::int64_t> out;
#ifdef LAMINAR_HAVE_MPI
  const int n = int(local.size());
  std::vector<std::int64_t> all(root() ? std::size_t(n) * size_ : 0);
  MPI_Gather(local.data(), n, MPI_INT64_T, all.data(), n, MPI_INT64_T, 0, MPI_COMM_WORLD);
  if (root())
    for (int g = 0; g < dec_.batch_groups; ++g) {
      const std::int64_t* src = all.data() + std::size_t(g) * dec_.spatial() * n;  // the group's (0, 0) tile
      out.insert(out.end(), src, src + n);
    }
#endif
  return out;
}

void Communicator::sum_to_all(float* data, std::size_t n) {
  if (size_ == 1) return;
#ifdef LAMINAR_HAVE_MPI
  std::vector<float> all(root() ? n * size_ : 0);
  MPI_Gather(data, int(n), MPI_FLOAT, all.data(), int(n), MPI_FLOAT, 0, MPI_COMM_WORLD);
  if (root()) {
    std::copy_n(all.data(), n, data);
    for (int q = 1; q < size_; ++q) {
      const float* p = all.data() + std::size_t(q) * n;
      for (std::size_t i = 0; i < n; ++i) data[i] += p[i];
    }
  }
  MPI_Bcast(data, int(n), MPI_FLOAT, 0, MPI_COMM_WORLD);
#endif
}

void Communicator::broadcast(double* data, std::size_t n) {
  if (size_ == 1) return;
#ifdef LAMINAR_HAVE_MPI
  MPI_Bcast(data, int(n), MPI_DOUBLE, 0, MPI_COMM_WORLD);
#endif
}

double Communicator::max_all(double v) {
#ifdef LAMINAR_HAVE_MPI
  if (mpi_) MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
#endif
  return v;
}

void Communicator::agree(std::uint64_t fingerprint, const std::string& what, const std::string& advice) {
  if (!mpi_ || size_ == 1) return;
  std::vector<std::uint64_t> all(std::size_t(size_), 0);
#ifdef LAMINAR_HAVE_MPI
  // Allgather (not a broadcast from rank 0): every rank learns whether any rank differs, so none is
  // left waiting in a later collective for a peer that stopped.
  MPI_Allgather(&fingerprint, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
#endif
  std::vector<int> differ;
  for (int q = 1; q < size_; ++q)
    if (all[std::size_t(q)] != all[0]) differ.push_back(q);
  if (differ.empty()) return;
  const int q = all[std::size_t(rank_)] != all[0] ? rank_ : differ.front();
  auto hex = [](std::uint64_t v) {
    char b[20];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
    return std::string(b);
  };
  std::string others;
  if (differ.size() > 1) {
    others = " (" + std::to_string(differ.size()) + " of " + std::to_string(size_) + " processes differ: ranks";
    for (std::size_t i = 0; i < differ.size() && i < 8; ++i) others += " " + std::to_string(differ[i]);
    others += differ.size() > 8 ? " ...)" : ")";
  }
  throw RanksDisagree("rank " + std::to_string(q) + "'s " + what + " differ from rank 0's (hash " +
                      hex(all[std::size_t(q)]) + " vs " + hex(all[0]) + ")" + others + ": " + advice);
}

void Communicator::barrier() {
#ifdef LAMINAR_HAVE_MPI
  if (mpi_) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

}  // namespace laminar

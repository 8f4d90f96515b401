#include "framework/Registry.hpp"

#include "framework/Connection.hpp"
#include "framework/Layer.hpp"
#include "framework/Probe.hpp"

namespace laminar {

Schema SimulationConfig::schema() {
  Schema s;
  s.optional_integer("steps", 1, 1e15, "Number of timesteps to run (give this or `epochs`).")
      .optional_real("epochs", 0, 1e9,
                     "Passes over the largest input dataset; steps = ceil(epochs * images / batch_size) * display_period.",
                     true)
      .real("dt", 1.0, 0, Schema::inf, "Timestep, in the same units as each LCA layer's tau.", true)
      .integer("batch_size", 1, 1, 1 << 20, "Batch elements simulated side by side (each sees its own input).")
      .integer("seed", 1, 0, 9.0e15, "Seed for every random choice (weights, membranes, shuffling).")
      .string("output", std::string("output"), "Output directory; created if absent.")
      .integer("display_period", 200, 1, 1e12,
               "Steps each input is shown; learning fires on the last step of each period.")
      .choice("backend", {"cpu", "cuda", "device_emulation"}, std::string("cpu"),
              "Where the numeric kernels run: cpu (OpenMP); cuda (one NVIDIA GPU per process, buffers resident on "
              "it; `laminar run --gpu` sets it); device_emulation (the CUDA backend's kernels and transfers run on the "
              "host: slow, for testing the device code path without a GPU).")
      .choice("device_convolution", {"auto", "direct", "gemm"}, std::string("auto"),
              "How the cuda and device_emulation backends convolve: direct (one thread per output; the delivery "
              "from a sparse layer skips its zeros), gemm (im2col + cuBLAS SGEMM, dense), auto (direct from sparse "
              "codes, GEMM for the dense transposed delivery and the Hebbian update). Ignored by the cpu backend.")
      .integer("threads", 0, 0, 4096, "OpenMP threads per process; 0 uses OpenMP's default (OMP_NUM_THREADS).")
      .boolean("csv", false, "Also write scalar probe tables as CSV files beside the HDF5 output (every row of every "
                             "batch element: large for long runs; the HDF5 tables hold the same numbers).")
      .integer("checkpoint_every", 0, 0, 1e15,
               "Write a checkpoint (state of every layer and connection, atomically) every this many steps and at "
               "the end; 0: none.")
      .integer("checkpoint_keep", 2, 1, 1000000, "How many of the newest checkpoints to keep.")
      .boolean("resume", false,
               "Continue from the newest complete checkpoint in the output directory when there is one "
               "(as `laminar run --resume`); the output so far is kept and continued.")
      .integer("nan_check", 1, 0, 1e15,
               "Check every this many steps that every layer's activity and membrane are finite; on NaN/Inf "
               "stop, naming layer, step and batch element, after writing a checkpoint of the last good state "
               "(kept in memory: one copy of the layers' buffers). 0: no check.")
      .integer("mpi_rows", 0, 0, 1 << 20,
               "Under mpirun: rows of the spatial grid every layer is split over (0: chosen automatically). "
               "Ignored in a single process.")
      .integer("mpi_columns", 0, 0, 1 << 20, "Under mpirun: columns of the spatial grid (0: automatic).")
      .integer("mpi_batch_groups", 0, 0, 1 << 20,
               "Under mpirun: groups the batch is split over (0: automatic). Automatic choice: as many batch "
               "groups as divide both the rank count and batch_size, the remaining ranks on a near-square "
               "rows x columns grid that divides every layer. rows x columns x batch_groups must equal the "
               "number of ranks.");
  return s;
}

std::string category_name(Category c) {
  switch (c) {
    case Category::Layer: return "layer";
    case Category::Connection: return "connection";
    case Category::Probe: return "probe";
  }
  return "?";
}

std::string category_section(Category c) { return category_name(c) + "s"; }

Registry& Registry::builtin() {
  static Registry registry = [] {
    Registry r;
    register_builtin_kinds(r);
    return r;
  }();
  return registry;
}

void Registry::add(KindInfo kind) {
  auto& m = kinds_[static_cast<int>(kind.category)];
  kind.origin = loading_;
  auto from = [](const std::string& origin) {
    return origin.empty() ? std::string("built-in") : "from plugin '" + origin + "'";
  };
  if (kind.name.empty())
    throw UserError(category_name(kind.category) + " type with an empty name (" + from(kind.origin) + ")");
  if (auto it = m.find(kind.name); it != m.end())
    throw UserError(category_name(kind.category) + " type '" + kind.name + "' (" + from(kind.origin) +
                    ") clashes with the existing " + category_name(kind.category) + " type '" + it->first + "' (" +
                    from(it->second.origin) + "); kind names must be unique: rename one of them");
  std::string name = kind.name;
  m.emplace(name, std::move(kind));
}

const KindInfo* Registry::find(Category c, const std::string& name) const {
  const auto& m = kinds_[static_cast<int>(c)];
  auto it = m.find(name);
  return it == m.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::names(Category c) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : kinds_[static_cast<int>(c)]) out.push_back(k);
  return out;
}

std::vector<const KindInfo*> Registry::all() const {
  std::vector<const KindInfo*> out;
  for (const auto& m : kinds_)
    for (const auto& [k, v] : m) out.push_back(&v);
  return out;
}

}  // namespace laminar

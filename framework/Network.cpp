#include "framework/Network.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace laminar {

// ---------------------------------------------------------------- NetworkSpec

NetworkSpec NetworkSpec::from(const ParamsDocument& doc, const Registry& registry) {
  NetworkSpec spec;
  spec.file = doc.file();
  const YAML::Node& root = doc.root();
  // `plugins:` (a list of shared libraries) is loaded into the registry before this is called
  // (load_params_plugins, framework/Plugin.hpp); here it only has to be a list of paths.
  const std::vector<std::string> sections{"simulation", "layers", "connections", "probes", "plugins"};
  std::set<std::string> seen_sections;
  for (const auto& kv : root) {
    std::string key = kv.first.Scalar();
    if (std::find(sections.begin(), sections.end(), key) == sections.end())
      throw UserError(doc.location(kv.first, key),
                      key + ": unknown section" + did_you_mean(key, sections) +
                          "; expected simulation, layers, connections, probes (and optionally plugins)");
    // yaml-cpp keeps both copies of a repeated key but root[key] sees only the first.
    if (!seen_sections.insert(key).second)
      throw UserError(doc.location(kv.first, key), key + ": section given twice; merge the two into one");
  }

  if (const YAML::Node& plugins = root["plugins"]; plugins.IsDefined() && !plugins.IsNull()) {
    if (!plugins.IsSequence())
      throw UserError(doc.location(plugins, "plugins"),
                      "plugins: expected a list of plugin files, e.g. `plugins: [build/my_plugin.so]`");
    for (std::size_t i = 0; i < plugins.size(); ++i)
      if (!plugins[i].IsScalar())
        throw UserError(doc.location(plugins[i], "plugins[" + std::to_string(i) + "]"),
                        "plugins[" + std::to_string(i) + "]: expected the path of a plugin file (.so)");
  }

  YAML::Node sim_key;  // the `simulation:` key, where errors about the whole section point
  for (const auto& kv : root)
    if (kv.first.Scalar() == "simulation") sim_key = kv.first;
  spec.sim_params = doc.validate(root["simulation"], "simulation", SimulationConfig::schema(), {}, sim_key);
  const ParamSet& sp = spec.sim_params;
  if (sp.has("steps") && sp.has("epochs")) sp.fail("epochs", "give `steps` or `epochs`, not both");
  if (!sp.has("steps") && !sp.has("epochs"))
    sp.fail_block("missing `steps` (number of timesteps) or `epochs` (passes over the data)");
  SimulationConfig& sim = spec.sim;
  sim.steps = sp.has("steps") ? sp.integer("steps") : 0;
  sim.dt = sp.real("dt");
  sim.batch_size = int(sp.integer("batch_size"));
  sim.seed = static_cast<unsigned long long>(sp.integer("seed"));
  sim.output = sp.string("output");
  sim.display_period = sp.integer("display_period");
  sim.threads = int(sp.integer("threads"));
  sim.write_csv = sp.boolean("csv");
  sim.checkpoint_every = sp.integer("checkpoint_every");
  sim.checkpoint_keep = int(sp.integer("checkpoint_keep"));
  sim.nan_check = sp.integer("nan_check");
  sim.backend = sp.string("backend");
  sim.device_convolution = sp.string("device_convolution");
  sim.resume = sp.boolean("resume");
  sim.mpi_rows = int(sp.integer("mpi_rows"));
  sim.mpi_columns = int(sp.integer("mpi_columns"));
  sim.mpi_batch_groups = int(sp.integer("mpi_batch_groups"));

  auto read_section = [&](Category cat, std::vector<ObjectSpec>& out) {
    const std::string section = category_section(cat);
    const YAML::Node& node = root[section];
    if (!node.IsDefined() || node.IsNull()) return;
    if (!node.IsMap())
      throw UserError(doc.location(node, section),
                      section + ": expected a mapping of name: {type: ..., ...}");
    std::set<std::string> names;
    for (const auto& kv : node) {
      const std::string name = kv.first.Scalar();
      const std::string path = section + "." + name;
      if (!names.insert(name).second)
        throw UserError(doc.location(kv.first, path), path + ": a " + category_name(cat) + " with this name already exists");
      // Names become file and dataset names inside the output folder (probe tables, PNGs, groups).
      const bool ok = !name.empty() && name.size() <= 64 && (std::isalpha((unsigned char)name[0]) || name[0] == '_') &&
                      std::all_of(name.begin(), name.end(), [](char ch) {
                        return std::isalnum((unsigned char)ch) || ch == '_' || ch == '-';
                      });
      if (!ok) {
        const std::string shown = kv.first.IsNull() ? std::string("~ (YAML null)")
                                  : name.size() > 40 ? name.substr(0, 37) + "..." : name;
        throw UserError(doc.location(kv.first, path), section + ": '" + shown + "' is not a valid " + category_name(cat) +
                        " name: expected an identifier (a letter or _ first, then letters, digits, _ or -, at most 64 "
                        "characters), since it names output files and datasets");
      }
      const YAML::Node& block = kv.second;
      if (!block.IsMap())
        throw UserError(doc.location(block, path), path + ": expected a mapping with at least `type:`");
      const YAML::Node& type = block["type"];
      if (!type.IsDefined() || type.IsNull())
        throw UserError(doc.location(kv.first, path),
                        path + ": missing `type:` (one of the " + category_name(cat) + " kinds; see `laminar describe`)");
      if (!type.IsScalar())
        throw UserError(doc.location(type, path + ".type"),
                        path + ".type: expected the name of one " + category_name(cat) + " kind (e.g. `type: " +
                            registry.names(cat).front() + "`), got " + (type.IsSequence() ? "a list" : "a mapping"));
      const KindInfo* kind = registry.find(cat, type.Scalar());
      if (!kind) {
        std::string msg = path + ".type: unknown " + category_name(cat) + " type '" + type.Scalar() + "'" +
                          did_you_mean(type.Scalar(), registry.names(cat)) + "; known:";
        for (const auto& n : registry.names(cat)) msg += " " + n;
        msg += " (a kind from a plugin needs the plugin listed under `plugins:` or given with --plugin)";
        throw UserError(doc.location(type, path + ".type"), msg);
      }
      out.push_back(ObjectSpec{kind, name, doc.validate(block, path, kind->schema, {"type"}, kv.first)});
    }
  };
  read_section(Category::Layer, spec.layers);
  read_section(Category::Connection, spec.connections);
  read_section(Category::Probe, spec.probes);
  if (spec.layers.empty()) throw UserError(Location{doc.file(), 1, 1}, "layers: the network declares no layers");
  spec.resolved_yaml = doc.dump();
  return spec;
}

// ---------------------------------------------------------------- Network

Network::Network(const NetworkSpec& spec, Mode mode) : spec_(spec), mode_(mode), sim_(spec.sim) {
  try {
    backend_ = &Backend::named(sim_.backend);
    backend_->set_convolution_algorithm(sim_.device_convolution);
  } catch (const UserError& e) {
    spec_.sim_params.fail("backend", e.what());
  }
  for (const auto& o : spec_.layers)
    layers_.push_back(o.kind->make_layer(BuildContext{o.name, o.kind->name, o.params, sim_, *backend_}));
  for (const auto& o : spec_.connections)
    connections_.push_back(o.kind->make_connection(BuildContext{o.name, o.kind->name, o.params, sim_, *backend_}));
  for (const auto& o : spec_.probes)
    probes_.push_back(o.kind->make_probe(BuildContext{o.name, o.kind->name, o.params, sim_, *backend_}));

  for (auto& c : connections_) c->resolve(*this);
  for (auto& l : layers_) l->resolve(*this);
  infer_geometry();
  for (auto& c : connections_) c->check_geometry();

  if (sim_.steps == 0) {  // epochs: over the largest input dataset
    long images = 0;
    for (auto& l : layers_) images = std::max(images, l->dataset_size());
    if (images == 0) spec_.sim_params.fail("epochs", "no input layer to count epochs over; give `steps`");
    double presentations = std::ceil(spec_.sim_params.real("epochs") * double(images) / sim_.batch_size);
    sim_.steps = std::max<long>(1, long(presentations)) * sim_.display_period;
  }

  derive_schedule();
  decompose();
  check_memory();  // per process, before anything is allocated
  Communicator& comm = Communicator::world();
  for (auto& l : layers_) {
    l->set_tile(comm.tile(l->geometry(), sim_.batch_size));
    l->validate();
    if (mode_ == Mode::Run) l->allocate(l->tile().nb);  // a plan (`laminar check`) allocates nothing
  }
  for (auto& p : probes_) p->resolve(*this);
}

Layer* Network::find_layer(const std::string& name) {
  for (auto& l : layers_)
    if (l->name() == name) return l.get();
  return nullptr;
}

Connection* Network::find_connection(const std::string& name) {
  for (auto& c : connections_)
    if (c->name() == name) return c.get();
  return nullptr;
}

Layer& Network::layer(const std::string& name, const ParamSet& params, const std::string& key) {
  if (Layer* l = find_layer(name)) return *l;
  std::vector<std::string> names;
  for (auto& l : layers_) names.push_back(l->name());
  params.fail(key, "no layer named '" + name + "'" + did_you_mean(name, names));
}

Connection& Network::connection(const std::string& name, const ParamSet& params, const std::string& key) {
  if (Connection* c = find_connection(name)) return *c;
  std::vector<std::string> names;
  for (auto& c : connections_) names.push_back(c->name());
  params.fail(key, "no connection named '" + name + "'" + did_you_mean(name, names));
}

void Network::infer_geometry() {
  // A layer without nx/ny/nf takes the size of the layer at the other end of an Identity-like
  // connection; repeat until nothing changes (chains of identities).
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& c : connections_) {
      if (!c->same_geometry()) continue;
      Layer &a = c->pre(), &b = c->post();
      if (a.geometry().known() && !b.geometry().known()) { b.set_geometry(a.geometry()); changed = true; }
      if (b.geometry().known() && !a.geometry().known()) { a.set_geometry(b.geometry()); changed = true; }
    }
  }
  for (auto& l : layers_)
    if (!l->geometry().known())
      l->params().fail_block("size unknown: give nx, ny and nf, or connect it to a layer of known size "
                             "with an Identity connection");
  for (auto& c : connections_)
    if (c->same_geometry() && !(c->pre().geometry() == c->post().geometry()))
      c->params().fail_block("pre '" + c->pre_name() + "' is " + c->pre().geometry().str() + " but post '" +
                             c->post_name() + "' is " + c->post().geometry().str() + " (ny x nx x nf); " +
                             c->type() + " needs equal sizes");
}

namespace {
std::string gib(double b) {
  std::ostringstream s;
  s.precision(3);
  if (b >= 1024.0 * 1024.0 * 1024.0) s << b / (1024.0 * 1024.0 * 1024.0) << " GiB";
  else s << b / (1024.0 * 1024.0) << " MiB";
  return s.str();
}

// Memory this process may use: MemAvailable (else physical memory) shared by the processes of this
// run on this machine (OpenMPI/MPICH/Slurm tell how many; otherwise all ranks are assumed local).
double available_memory(int ranks, int& ranks_here) {
  double bytes = 0;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double value;
  std::string unit;
  while (meminfo >> key >> value >> unit)
    if (key == "MemAvailable:") bytes = value * 1024.0;
  if (bytes <= 0) bytes = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
  ranks_here = ranks;
  for (const char* v : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    if (const char* e = std::getenv(v); e && std::atoi(e) > 0) {
      ranks_here = std::min(ranks, std::atoi(e));
      break;
    }
  return bytes / std::max(1, ranks_here);
}
}  // namespace

std::string MemoryEstimate::str() const {
  std::ostringstream s;
  s << "memory: about " << gib(per_rank) << " per process";
  if (ranks > 1) s << " (rank 0, the largest; " << ranks << " processes, " << ranks_here << " on this machine)";
  s << ", " << gib(available) << " available per process";
  if (limit > 0) s << " (at most " << gib(limit) << " may be used)";
  s << "\n";
  std::vector<MemoryItem> sorted = items;
  std::sort(sorted.begin(), sorted.end(), [](const MemoryItem& a, const MemoryItem& b) { return a.bytes > b.bytes; });
  for (const auto& i : sorted) s << "  " << gib(i.bytes) << "  " << i.object << ": " << i.what << "\n";
  return s.str();
}

MemoryEstimate Network::memory() const {
  // Estimated in double before anything is allocated: nx*ny*nf (or a weights shape) may not even
  // fit in 64 bits, and an allocation that cannot succeed should be a message, not bad_alloc.
  // Per process: its tile of every layer (after decompose()); rank 0 also gathers whole layers.
  MemoryEstimate m;
  const Communicator& comm = Communicator::world();
  m.ranks = comm.size();
  const bool guard = sim_.nan_check > 0;
  double largest_layer = 0;
  for (const auto& l : layers_) {
    const Geometry& g = l->geometry();
    const Tile t = comm.tile(g, sim_.batch_size);
    const double cells = double(t.ny) * t.nx * g.nf * t.nb;
    largest_layer = std::max(largest_layer, double(g.nx) * g.ny * g.nf * sim_.batch_size * sizeof(float));
    // activity (+ membrane) (+ layer-shaped state, e.g. LCA momentum's previous step)
    const int state = 1 + (l->has_membrane() ? 1 : 0) + int(l->saved_buffers().size());
    const int buffers = state + 2 + (guard ? state : 0);              // + two channels (+ guard copy)
    m.items.push_back({cells * buffers * sizeof(float), "layers." + l->name(), &l->params(),
                       std::to_string(t.ny) + "x" + std::to_string(t.nx) + "x" + std::to_string(g.nf) +
                           " neurons x batch " + std::to_string(t.nb) + " x " + std::to_string(buffers) +
                           " buffers" + (guard ? " (incl. the nan_check copy)" : "")});
  }
  for (const auto& c : connections_) {
    if (!c->has_weights() || c->type() == "Transpose") continue;  // a Transpose shares its original's
    const WeightsView w = c->weights();
    // weights, transposed (+ update, momentum; + their nan_check copies). The CPU backend's transposed
    // copy is packed in panels of cpu::gather_block() kernels, the last one zero-padded.
    const int copies = c->plastic() ? (guard ? 6 : 4) : 2;
    const int block = backend().name() == "cpu" ? cpu::gather_block() : 1;
    const double packed = double((w.kernels + block - 1) / block * block);
    const double bytes = (double(w.kernels) * (copies - 1) + packed) * w.patch_y * w.patch_x * w.features * sizeof(float);
    m.items.push_back({bytes, "connections." + c->name(), &c->params(),
                       "weights " + std::to_string(w.kernels) + "x" + std::to_string(w.patch_y) + "x" +
                           std::to_string(w.patch_x) + "x" + std::to_string(w.features) + " x " +
                           std::to_string(copies) + " copies"});
  }
  for (const auto& l : layers_)  // what input layers hold: a dataset read whole, fonts, per-batch indices
    if (const double b = l->data_bytes(); b > 0)
      m.items.push_back({b, "layers." + l->name(), &l->params(), l->data_description(), false});
  if (m.ranks > 1 && (!probes_.empty() || sim_.checkpoint_every > 0))
    m.items.push_back({largest_layer, "rank 0", nullptr, "the largest layer gathered whole for probes/checkpoints"});
  for (const auto& i : m.items) m.per_rank += i.bytes;
  m.available = available_memory(m.ranks, m.ranks_here);
  m.limit = kMemoryFraction * m.available;
  return m;
}

void Network::check_memory() const {
  const MemoryEstimate m = memory();
  check_device_memory(m);
  // The limit leaves room for what the estimate does not count (the program, libraries, HDF5's caches,
  // the probes' and output's buffers) and for the rest of the machine: a network that takes all of
  // MemAvailable would push the system into swapping or the OOM killer.
  if (m.available <= 0 || m.per_rank <= m.limit) return;
  std::vector<MemoryItem> sorted = m.items;
  std::sort(sorted.begin(), sorted.end(), [](const MemoryItem& a, const MemoryItem& b) { return a.bytes > b.bytes; });
  std::string largest;
  for (std::size_t i = 0; i < sorted.size() && i < 3; ++i)
    largest += (i ? ", " : "") + sorted[i].object + " " + gib(sorted[i].bytes) + " (" + sorted[i].what + ")";
  const std::string msg = "needs about " + gib(sorted[0].bytes) + " of memory (" + sorted[0].what +
                          (sorted[0].floats ? " of float32" : "") + ")" +
                          (sorted.size() > 1 ? ", the whole network about " + gib(m.per_rank) + " per process" : "") +
                          ", but this machine has " + gib(m.available) + " available per process" +
                          (m.ranks_here > 1 ? " (" + std::to_string(m.ranks_here) + " processes here)" : "") +
                          " and a network may use at most " + std::to_string(int(kMemoryFraction * 100 + 0.5)) +
                          "% of that (" + gib(m.limit) + ")" +
                          (sorted.size() > 1 ? "; largest: " + largest : std::string()) +
                          "; reduce nx/ny/nf, patch_size or simulation.batch_size, or use more MPI processes";
  if (sorted[0].params) sorted[0].params->fail_block(msg);
  throw UserError(msg);
}

void Network::check_device_memory(const MemoryEstimate& m) const {
  // A device backend holds every buffer and weight array too, plus the im2col workspace of its GEMM
  // convolutions (the largest batch x positions x patch volume of any connection, both directions).
  const double free = backend_->free_device_memory();
  if (!backend_->memory() || free <= 0) return;
  double need = 0, workspace = 0;
  for (const auto& i : m.items)
    if (i.object != "rank 0") need += i.bytes;
  const Communicator& comm = Communicator::world();
  for (const auto& c : connections_) {
    if (!c->has_weights()) continue;
    const WeightsView w = c->weights();
    const Geometry& pre = c->pre().geometry();
    const Geometry& post = c->post().geometry();
    const Geometry& coarse = double(pre.nx) * pre.ny <= double(post.nx) * post.ny ? pre : post;
    const Tile t = comm.tile(coarse, sim_.batch_size);
    workspace = std::max(workspace, double(t.ny) * t.nx * t.nb * w.patch_y * w.patch_x * w.features * sizeof(float));
  }
  need += workspace;
  if (need <= free) return;
  spec_.sim_params.fail("backend", "the network needs about " + gib(need) + " of " + backend_->name() +
                                       " device memory per process (its buffers and weights, and " + gib(workspace) +
                                       " of convolution workspace), but the device has " + gib(free) +
                                       " free; reduce simulation.batch_size or the network, or use more "
                                       "processes (mpirun, one GPU each)");
}

void Network::decompose() {
  // Every (batch_groups, rows, columns) with product = ranks that divides the batch and every
  // layer; prefer batch groups (no halo), then a near-square grid (least halo), then more columns.
  Communicator& comm = Communicator::world();
  const int P = comm.size();
  if (P == 1) {
    comm.set_decomposition(Decomposition{});
    return;
  }
  const ParamSet& sp = spec_.sim_params;
  const int want[3] = {sim_.mpi_rows, sim_.mpi_columns, sim_.mpi_batch_groups};
  const int B = sim_.batch_size;
  auto layer_fits = [&](const Decomposition& d) -> const Layer* {
    for (auto& l : layers_)
      if (l->geometry().ny % d.rows != 0 || l->geometry().nx % d.columns != 0) return l.get();
    return nullptr;
  };
  bool found = false;
  Decomposition best, best_any;
  bool any = false;
  auto better = [](const Decomposition& a, const Decomposition& b) {  // a preferred to b
    if (a.batch_groups != b.batch_groups) return a.batch_groups > b.batch_groups;
    const int da = std::abs(a.rows - a.columns), db = std::abs(b.rows - b.columns);
    if (da != db) return da < db;
    return a.columns > b.columns;
  };
  for (int g = 1; g <= P; ++g) {
    if (P % g) continue;
    for (int r = 1; r <= P / g; ++r) {
      if ((P / g) % r) continue;
      Decomposition d{r, P / g / r, g};
      if ((want[0] && want[0] != d.rows) || (want[1] && want[1] != d.columns) || (want[2] && want[2] != d.batch_groups))
        continue;
      if (B % g) continue;
      if (!any || better(d, best_any)) best_any = d, any = true;
      if (layer_fits(d)) continue;
      if (!found || better(d, best)) best = d, found = true;
    }
  }
  const std::string ranks = std::to_string(P) + " MPI processes";
  if (!found) {
    const bool given = want[0] || want[1] || want[2];
    const std::string key = want[0] ? "mpi_rows" : want[1] ? "mpi_columns" : "mpi_batch_groups";
    auto fail = [&](const std::string& msg) -> void {
      if (given) sp.fail(key, msg);
      throw UserError(Location{spec_.file}, "simulation: " + msg);
    };
    if (!any) {
      if (given && (want[0] ? want[0] : 1) * (want[1] ? want[1] : 1) * (want[2] ? want[2] : 1) > P)
        fail("mpi_rows x mpi_columns x mpi_batch_groups (" + std::to_string(want[0]) + " x " + std::to_string(want[1]) +
             " x " + std::to_string(want[2]) + ") does not fit " + ranks + "; their product must equal the number of ranks");
      fail("cannot split batch_size " + std::to_string(B) + " over the batch groups of any decomposition of " + ranks +
           (given ? " with the given mpi_* values" : "") + "; batch_size must be divisible by mpi_batch_groups");
    }
    const Layer* l = layer_fits(best_any);
    fail("layer '" + l->name() + "' (ny x nx = " + std::to_string(l->geometry().ny) + " x " +
         std::to_string(l->geometry().nx) + ") cannot be split into " + std::to_string(best_any.rows) + " rows x " +
         std::to_string(best_any.columns) + " columns for " + ranks + " (batch_size " + std::to_string(B) +
         ", no other decomposition fits either): ny must be divisible by the rows and nx by the columns; "
         "run on a different number of processes or set mpi_rows/mpi_columns/mpi_batch_groups");
  }
  comm.set_decomposition(best);
}

std::size_t Network::index_of(const Layer& l) const {
  for (std::size_t i = 0; i < layers_.size(); ++i)
    if (layers_[i].get() == &l) return i;
  throw InternalError("layer not in network");
}

void Network::derive_schedule() {
  // Topological order of the delivery graph. Where a cycle blocks every layer, place the first
  // (declaration order) whose unplaced inputs all come from stateful layers: those edges read
  // the previous step (e.g. Error reads V1's previous activity; V1 reads this step's error).
  const std::size_t n = layers_.size();
  incoming_.assign(n, {});
  for (auto& c : connections_)
    if (c->channel() != ChannelId::None) incoming_[index_of(c->post())].push_back(c.get());

  std::vector<bool> placed(n, false);
  schedule_.clear();
  auto unplaced_pres = [&](std::size_t i) {
    std::vector<Layer*> out;
    for (Connection* c : incoming_[i])
      if (&c->pre() != layers_[i].get() && !placed[index_of(c->pre())]) out.push_back(&c->pre());
    return out;
  };
  while (schedule_.size() < n) {
    std::size_t pick = n;
    for (std::size_t i = 0; i < n && pick == n; ++i)
      if (!placed[i] && unplaced_pres(i).empty()) pick = i;
    for (std::size_t i = 0; i < n && pick == n; ++i) {
      if (placed[i]) continue;
      auto pres = unplaced_pres(i);
      if (std::all_of(pres.begin(), pres.end(), [](Layer* l) { return l->stateful(); })) pick = i;
    }
    if (pick == n) {
      // Name the cycle: only stateless layers block (a stateful pre is read from the previous
      // step); drop those that feed no other blocked layer (they only sit downstream of the
      // cycle), then report at the first connection inside what remains.
      std::vector<bool> in_cycle(n);
      for (std::size_t i = 0; i < n; ++i) in_cycle[i] = !placed[i] && !layers_[i]->stateful();
      for (bool changed = true; changed;) {
        changed = false;
        for (std::size_t i = 0; i < n; ++i) {
          if (!in_cycle[i]) continue;
          bool feeds = false;
          for (std::size_t j = 0; j < n && !feeds; ++j)
            if (in_cycle[j] && j != i)
              for (Connection* c : incoming_[j]) feeds = feeds || &c->pre() == layers_[i].get();
          if (!feeds) { in_cycle[i] = false; changed = true; }
        }
      }
      std::string cycle, through;
      const Connection* first = nullptr;
      for (std::size_t i = 0; i < n; ++i)
        if (in_cycle[i]) cycle += (cycle.empty() ? "" : ", ") + layers_[i]->name();
      for (auto& c : connections_)
        if (c->channel() != ChannelId::None && in_cycle[index_of(c->pre())] && in_cycle[index_of(c->post())] &&
            &c->pre() != &c->post()) {
          if (!first) first = c.get();
          through += (through.empty() ? "" : ", ") + c->name();
        }
      if (!first) throw InternalError("schedule: no layer can be placed but no cycle was found");
      first->params().fail_block("the layers " + cycle + " form a cycle (through connections " + through +
                                 ") with no stateful (LCA) layer to break it: each needs the other's output of "
                                 "the same step; put an LCA layer in the loop or remove a connection");
    }
    placed[pick] = true;
    schedule_.push_back(layers_[pick].get());
  }
}

const std::vector<Connection*>& Network::incoming(const Layer& l) const { return incoming_[index_of(l)]; }

std::string Network::describe_schedule() const {
  std::ostringstream s;
  s << "Each step, in this order:\n";
  std::vector<std::size_t> position(layers_.size());
  for (std::size_t k = 0; k < schedule_.size(); ++k) position[index_of(*schedule_[k])] = k;
  for (std::size_t k = 0; k < schedule_.size(); ++k) {
    const Layer& l = *schedule_[k];
    s << "  " << (k + 1) << ". " << l.name() << " (" << l.type() << ", " << l.geometry().str() << ")\n";
    for (Connection* c : incoming(l)) {
      bool same_step = position[index_of(c->pre())] < k;
      s << "       " << (c->channel() == ChannelId::Excitatory ? "+ excitatory" : "- inhibitory") << " <- "
        << c->pre().name() << (c->reads_membrane() ? ".membrane" : ".activity") << " via " << c->name() << " ("
        << c->type() << "), " << (same_step ? "this step" : "previous step") << "\n";
    }
  }
  std::vector<std::string> learners;
  for (const auto& c : connections_)
    if (c->plastic()) learners.push_back(c->name());
  if (!learners.empty()) {
    s << "Then learning (last step of each display period):";
    for (auto& n : learners) s << " " << n;
    s << "\n";
  }
  if (!probes_.empty()) {
    s << "Then probes:";
    for (auto& p : probes_) s << " " << p->name();
    s << "\n";
  }
  return s.str();
}

}  // namespace laminar

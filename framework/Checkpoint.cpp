#include "framework/Checkpoint.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <type_traits>
#include <cstdio>
#include <filesystem>
#include <set>

namespace fs = std::filesystem;

namespace laminar {

namespace {

constexpr int kFormatVersion = kCheckpointFormatVersion;

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// ---- Content digest: FNV-1a 64 over every object's name, every attribute's name and bytes (but the
// root's `digest`) and every dataset's shape and bytes, in name order. Computed on the file, so the
// writer and the reader hash the same thing.

struct DigestState {
  std::uint64_t h = kFnvOffset;
  bool ok = true;
  void add(const void* p, std::size_t n) { h = fnv1a(p, n, h); }
  void add(const std::string& s) { add(s.data(), s.size() + 1); }
};

herr_t digest_attribute(hid_t obj, const char* name, const H5A_info_t*, void* data) {
  auto& d = *static_cast<DigestState*>(data);
  if (std::string(name) == "digest") return 0;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return d.ok = false, -1;
  hid_t stored = H5Aget_type(a);
  hid_t mem = H5Tget_class(stored) == H5T_STRING ? H5Tcopy(stored) : H5Tget_native_type(stored, H5T_DIR_ASCEND);
  hid_t space = H5Aget_space(a);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  const std::size_t size = H5Tget_size(mem);
  bool ok = n >= 0 && n < (1 << 24) && size > 0 && size < (1u << 24) && !H5Tis_variable_str(mem);
  std::vector<unsigned char> buf(ok ? std::size_t(n) * size : 0);
  if (ok && H5Aread(a, mem, buf.data()) < 0) ok = false;
  H5Sclose(space);
  H5Tclose(mem);
  H5Tclose(stored);
  H5Aclose(a);
  if (!ok) return d.ok = false, -1;
  d.add(std::string(name));
  d.add(buf.data(), buf.size());
  return 0;
}

herr_t digest_object(hid_t root, const char* name, const H5O_info_t* info, void* data) {
  auto& d = *static_cast<DigestState*>(data);
  d.add(std::string(name));
  hid_t obj = H5Oopen(root, name, H5P_DEFAULT);
  if (obj < 0) return d.ok = false, -1;
  hsize_t at = 0;
  if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &at, digest_attribute, data) < 0) d.ok = false;
  if (d.ok && info->type == H5O_TYPE_DATASET) {
    hid_t stored = H5Dget_type(obj);
    hid_t mem = H5Tget_native_type(stored, H5T_DIR_ASCEND);
    hid_t space = H5Dget_space(obj);
    const int rank = H5Sget_simple_extent_ndims(space);
    std::vector<hsize_t> dims(std::max(rank, 0));
    if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    const hssize_t n = H5Sget_simple_extent_npoints(space);
    const std::size_t size = H5Tget_size(mem);
    bool ok = rank >= 0 && n >= 0 && size > 0 && double(n) * double(size) < double(1ull << 36) &&
              H5Tget_class(stored) != H5T_STRING;
    d.add(dims.data(), dims.size() * sizeof(hsize_t));
    std::vector<unsigned char> buf(ok ? std::size_t(n) * size : 0);
    if (ok && !buf.empty() && H5Dread(obj, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) ok = false;
    d.add(buf.data(), buf.size());
    H5Sclose(space);
    H5Tclose(mem);
    H5Tclose(stored);
    if (!ok) d.ok = false;
  }
  H5Oclose(obj);
  return d.ok ? 0 : -1;
}

// false when some object cannot be read.
bool content_digest(hid_t file, std::uint64_t& h) {
  DigestState d;
  if (H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, digest_object, &d) < 0) d.ok = false;
  h = d.h;
  return d.ok;
}

std::string hex64(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
  return buf;
}

class H5File {
 public:
  // A new checkpoint file at `path`; with `existing`, the checkpoint already there, opened to re-seal.
  explicit H5File(const std::string& path, bool existing = false) : path_(path) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    if (existing) {
      id_ = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
      if (id_ < 0) throw UserError(path + ": cannot open the checkpoint for writing");
      return;
    }
    // The 1.10 file format: every metadata block (superblock, object headers, B-trees) carries a
    // checksum that HDF5 verifies when reading, so a damaged file is an error, not a crash in the
    // library; the data itself is covered by the digest.
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_LATEST);
    id_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (id_ < 0) throw UserError(path + ": cannot create checkpoint file (" + io_error_cause(errno) + ")");
  }
  ~H5File() { close(); }
  void close() {
    if (id_ >= 0) H5Fclose(id_);
    id_ = -1;
  }
  void dataset(const std::string& name, hid_t type, const void* data, const std::vector<std::size_t>& shape) {
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(id_, name.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = d < 0 ? -1 : H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (d >= 0) H5Dclose(d);
    H5Pclose(lcpl);
    H5Sclose(space);
    if (st < 0) throw UserError(path_ + ": writing " + name + " failed (" + io_error_cause(errno) + ")");
  }
  void attribute(const std::string& name, long long value, const std::string& object = "/") {
    hid_t obj = H5Oopen(id_, object.c_str(), H5P_DEFAULT);
    if (obj < 0) throw UserError(path_ + ": writing attribute " + object + "@" + name + " failed");
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name.c_str(), H5T_NATIVE_LLONG, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Oclose(obj);
    herr_t st = H5Awrite(a, H5T_NATIVE_LLONG, &value);
    H5Aclose(a);
    H5Sclose(space);
    if (st < 0) throw UserError(path_ + ": writing attribute " + name + " failed (" + io_error_cause(errno) + ")");
  }
  void attribute(const std::string& name, const std::string& value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, std::max<std::size_t>(1, value.size()));
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(id_, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = H5Awrite(a, type, value.c_str());
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    if (st < 0) throw UserError(path_ + ": writing attribute " + name + " failed (" + io_error_cause(errno) + ")");
  }
  void flush() {
    if (H5Fflush(id_, H5F_SCOPE_GLOBAL) < 0) throw UserError(path_ + ": flush failed (" + io_error_cause(errno) + ")");
  }
  void seal() {  // the digest of everything written, as the last attribute
    std::uint64_t h = 0;
    if (!content_digest(id_, h)) throw UserError(path_ + ": reading back the checkpoint failed (" + io_error_cause(errno) + ")");
    if (H5Aexists(id_, "digest") > 0) H5Adelete(id_, "digest");  // re-sealing an edited file
    attribute("digest", hex64(h));
  }
  void close_checked() {
    const herr_t st = id_ >= 0 ? H5Fclose(id_) : 0;
    id_ = -1;
    if (st < 0) throw UserError(path_ + ": closing the checkpoint failed (" + io_error_cause(errno) + ")");
  }

 private:
  std::string path_;
  hid_t id_ = -1;
};

std::vector<std::size_t> shape_of(const Tensor& t) {
  const Geometry& g = t.geometry();
  return {std::size_t(t.batch()), std::size_t(g.ny), std::size_t(g.nx), std::size_t(g.nf)};
}

}  // namespace

std::string CheckpointWriter::write(const Network& net, long step, const OutputMark& mark,
                                    const std::string& reason) const {
  // Under MPI every process takes part (the layers are gathered to rank 0, which writes).
  struct LayerState {
    Tensor activity, membrane;
    std::vector<std::pair<std::string, Tensor>> buffers;  // Layer::state_buffers()
    std::vector<std::int64_t> items;
    bool has_items = false;
  };
  std::vector<LayerState> states(net.layers().size());
  for (std::size_t i = 0; i < states.size(); ++i) {
    const Layer& l = *net.layers()[i];
    Tensor scratch;
    states[i].activity = l.gathered(l.activity(), scratch).host_copy();  // (a GPU's buffers: one download)
    if (l.has_membrane()) states[i].membrane = l.gathered(l.membrane(), scratch).host_copy();
    for (const auto& [name, t] : l.saved_buffers()) states[i].buffers.emplace_back(name, l.gathered(*t, scratch).host_copy());
    states[i].has_items = l.current_items() != nullptr;
    states[i].items = l.gathered_items();
  }
  if (!Communicator::world().root()) return {};
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw UserError(dir_ + ": cannot create checkpoint directory (" + ec.message() + ")");
  char name[64];
  std::snprintf(name, sizeof name, "step-%09ld.h5", step);
  const std::string final_path = dir_ + "/" + name, tmp_path = dir_ + "/." + name + ".tmp";
  try {
    H5File f(tmp_path);
    f.attribute("format_version", kFormatVersion);
    f.attribute("run_id", run_id_);
    f.attribute("step", step);
    f.attribute("params", net.spec().resolved_yaml);
    f.attribute("output_mark", mark.str());
    f.attribute("reason", reason);
    for (std::size_t i = 0; i < states.size(); ++i) {
      const Layer& l = *net.layers()[i];
      const LayerState& st = states[i];
      const std::string g = "layers/" + l.name();
      f.dataset(g + "/activity", H5T_NATIVE_FLOAT, st.activity.data(), shape_of(st.activity));
      if (l.has_membrane()) f.dataset(g + "/membrane", H5T_NATIVE_FLOAT, st.membrane.data(), shape_of(st.membrane));
      for (const auto& [name, t] : st.buffers) f.dataset(g + "/" + name, H5T_NATIVE_FLOAT, t.data(), shape_of(t));
      if (st.has_items) {
        std::vector<long long> v(st.items.begin(), st.items.end());
        f.dataset(g + "/items", H5T_NATIVE_LLONG, v.data(), {v.size()});
      }
      for (const auto& [name, value] : l.counters()) f.attribute(name, value, g);
    }
    for (const auto& p : net.probes()) {
      const std::vector<double> v = p->saved_state();
      if (!v.empty()) f.dataset("probes/" + p->name() + "/state", H5T_NATIVE_DOUBLE, v.data(), {v.size()});
    }
    for (const auto& c : net.connections())
      for (const auto& s : c->state()) f.dataset("connections/" + c->name() + "/" + s.name, H5T_NATIVE_FLOAT, s.data, s.shape);
    f.seal();
    f.flush();
    f.close_checked();
  } catch (const UserError&) {
    std::remove(tmp_path.c_str());  // no half-written file is left behind
    throw;
  }
  fsync_path(tmp_path);
  if (std::rename(tmp_path.c_str(), final_path.c_str()) != 0)
    throw UserError(final_path + ": cannot rename the finished checkpoint into place");
  fsync_path(dir_);

  // Keep the newest `keep_` complete checkpoints; remove temporary files of killed runs.
  std::vector<std::string> all;
  for (const auto& e : fs::directory_iterator(dir_)) {
    std::string n = e.path().filename().string();
    if (n.rfind(".step-", 0) == 0 && e.path().extension() == ".tmp") fs::remove(e.path(), ec);
    if (n.rfind("step-", 0) == 0 && e.path().extension() == ".h5") all.push_back(e.path().string());
  }
  std::sort(all.begin(), all.end());
  for (std::size_t i = 0; i + keep_ < all.size(); ++i) fs::remove(all[i], ec);
  return final_path;
}

// ---- Reading ----------------------------------------------------------------------------------

namespace {

class H5Reader {
 public:
  explicit H5Reader(const std::string& path) : path_(path) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    id_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id_ < 0) throw UserError(path + ": cannot open the checkpoint (not an HDF5 file, or damaged)");
  }
  ~H5Reader() {
    if (id_ >= 0) H5Fclose(id_);
  }
  bool has(const std::string& name) const { return H5Lexists(id_, name.c_str(), H5P_DEFAULT) > 0; }
  bool has_attribute(const std::string& object, const std::string& name) const {
    return H5Aexists_by_name(id_, object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
  }
  long long integer(const std::string& name, const std::string& object = "/") const {
    long long v = 0;
    hid_t a = H5Aopen_by_name(id_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Aread(a, H5T_NATIVE_LLONG, &v) < 0) {
      if (a >= 0) H5Aclose(a);
      throw UserError(path_ + ": not a Laminar checkpoint (attribute " + object + "@" + name + " missing)");
    }
    H5Aclose(a);
    return v;
  }
  hid_t id() const { return id_; }
  std::string text(const std::string& name) const {
    hid_t a = H5Aopen_by_name(id_, "/", name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) throw UserError(path_ + ": not a Laminar checkpoint (attribute " + name + " missing)");
    hid_t type = H5Aget_type(a);
    std::string out;
    const bool ok = H5Tget_class(type) == H5T_STRING && !H5Tis_variable_str(type) && H5Tget_size(type) < (1u << 28);
    if (ok) {
      out.resize(H5Tget_size(type));
      if (H5Aread(a, type, out.data()) < 0) out.clear();
      while (!out.empty() && out.back() == '\0') out.pop_back();
    }
    H5Tclose(type);
    H5Aclose(a);
    if (!ok) throw UserError(path_ + ": not a Laminar checkpoint (attribute " + name + " is not a string)");
    return out;
  }
  // The whole dataset `name`, which must have `shape`.
  template <class T>
  std::vector<T> read(const std::string& name, hid_t type, const std::vector<std::size_t>& shape) const {
    hid_t d = H5Dopen2(id_, name.c_str(), H5P_DEFAULT);
    if (d < 0) throw UserError(path_ + ": dataset " + name + " is missing");
    hid_t space = H5Dget_space(d);
    const int rank = H5Sget_simple_extent_ndims(space);
    std::vector<hsize_t> dims(std::max(rank, 0));
    if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    H5Sclose(space);
    if (!shape.empty() && std::vector<std::size_t>(dims.begin(), dims.end()) != shape) {
      H5Dclose(d);
      throw UserError(path_ + ": dataset " + name + " has the wrong shape for this network");
    }
    std::size_t n = 1;
    for (hsize_t x : dims) n *= std::size_t(x);
    std::vector<T> out(n);
    herr_t st = H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
    H5Dclose(d);
    if (st < 0) throw UserError(path_ + ": reading " + name + " failed (not a numeric array?)");
    if constexpr (std::is_floating_point_v<T>)
      for (std::size_t i = 0; i < out.size(); ++i)
        if (!std::isfinite(out[i]))
          throw UserError(path_ + ": dataset " + name + " holds a non-finite value (" +
                          (std::isnan(out[i]) ? "NaN" : "Inf") + " at element " + std::to_string(i) +
                          "); this state cannot be resumed (use an earlier checkpoint)");
    return out;
  }

 private:
  std::string path_;
  hid_t id_ = -1;
};

// Run-length settings a resumed run may change.
const std::set<std::string> kRunLengthKeys{"steps", "epochs", "output", "checkpoint_every", "checkpoint_keep",
                                           "threads", "resume", "nan_check", "mpi_rows", "mpi_columns",
                                           "mpi_batch_groups", "backend", "device_convolution"};

std::string scalar_text(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "(absent)";
  if (n.IsScalar()) return n.Scalar();
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

// The first key (a.b.c) where two params documents differ, or empty when they agree.
std::string first_difference(const YAML::Node& a, const YAML::Node& b, const std::string& where, std::string& va,
                             std::string& vb) {
  const bool am = a.IsDefined() && a.IsMap(), bm = b.IsDefined() && b.IsMap();
  if (am && bm) {
    std::set<std::string> keys;
    for (const auto& kv : a) keys.insert(kv.first.as<std::string>());
    for (const auto& kv : b) keys.insert(kv.first.as<std::string>());
    for (const std::string& k : keys) {
      if (where == "simulation" && kRunLengthKeys.count(k)) continue;
      const std::string path = where.empty() ? k : where + "." + k;
      std::string d = first_difference(a[k], b[k], path, va, vb);
      if (!d.empty()) return d;
    }
    return {};
  }
  const std::string ta = scalar_text(a), tb = scalar_text(b);
  if (ta == tb) return {};
  va = ta, vb = tb;
  return where.empty() ? "(document)" : where;
}

}  // namespace

std::string find_checkpoint(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw UserError(path + ": no such checkpoint file or folder");
  if (!fs::is_directory(path, ec)) return path;
  std::string dir = path;
  if (fs::is_directory(path + "/checkpoints", ec)) dir = path + "/checkpoints";
  // Names are step-<9 digits>.h5 (sorted by step); temporary files (.step-*.tmp) are incomplete.
  std::vector<std::string> all;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind("step-", 0) == 0 && e.path().extension() == ".h5") all.push_back(e.path().string());
  }
  std::sort(all.begin(), all.end());
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      H5Reader f(*it);
      f.integer("step");
      return *it;
    } catch (const UserError&) {  // unreadable: try the one before
    }
  }
  return {};
}

void seal_checkpoint(const std::string& path) {
  H5File f(path, true);
  f.seal();
  f.close_checked();
}

std::string params_difference(const std::string& theirs_text, const std::string& ours_text) {
  YAML::Node theirs, ours;
  try {
    theirs = YAML::Load(theirs_text);
    ours = YAML::Load(ours_text);
  } catch (const YAML::Exception&) {
    return "(document) cannot be read";
  }
  std::string va, vb;
  const std::string diff = first_difference(theirs, ours, "", va, vb);
  if (diff.empty()) return {};
  auto cut = [](const std::string& v) { return v.size() > 80 ? v.substr(0, 77) + "..." : v; };
  return diff + " is " + cut(va) + " there but " + cut(vb) + " here";
}

CheckpointInfo inspect_checkpoint(const std::string& path, const Network& net) {
  H5Reader f(path);
  const long long version = f.integer("format_version");
  if (version != kFormatVersion)
    throw UserError(path + ": checkpoint format version " + std::to_string(version) + ", but this Laminar reads " +
                    std::to_string(kFormatVersion) + " (written by a different Laminar version)");
  {
    std::uint64_t h = 0;
    const bool read = content_digest(f.id(), h);
    const std::string stored = f.has_attribute("/", "digest") ? f.text("digest") : std::string();
    if (!read || stored != hex64(h))
      throw UserError(path + ": the checkpoint is damaged or was edited (" +
                      (read ? "its content digest is " + hex64(h) + ", the stored one " +
                                   (stored.empty() ? std::string("absent")
                                    : stored.size() == 16 && stored.find_first_not_of("0123456789abcdef") == std::string::npos
                                        ? stored : std::string("malformed"))
                            : std::string("some of its data cannot be read")) +
                      "); resume from another checkpoint");
  }
  CheckpointInfo info;
  info.path = path;
  const long long step = f.integer("step");
  if (step < 1 || step > (1ll << 53))
    throw UserError(path + ": attribute step is " + std::to_string(step) + ", not a step count (1 or more)");
  info.step = long(step);
  info.run_id = f.text("run_id");
  if (info.run_id.size() != 32 || info.run_id.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw UserError(path + ": attribute run_id '" + info.run_id.substr(0, 40) + "' is not a run id (32 hex digits)");
  const std::string diff = params_difference(f.text("params"), net.spec().resolved_yaml);
  if (!diff.empty())
    throw UserError(path + ": checkpoint of a different network: " + diff +
                    " (only simulation steps, epochs, output, checkpoint_every, checkpoint_keep, threads, "
                    "resume, nan_check, the MPI decomposition and the backend may change when resuming)");
  if (info.step > net.steps())
    throw UserError(path + ": the checkpoint is at step " + std::to_string(info.step) + ", beyond simulation.steps " +
                    std::to_string(net.steps()) + " (give --steps of at least " + std::to_string(info.step) + ")");
  info.mark = OutputMark::parse(f.text("output_mark"), path);
  return info;
}

void restore_checkpoint(Network& net, const CheckpointInfo& info) {
  H5Reader f(info.path);
  const int batch = net.sim().batch_size;
  for (auto& lp : net.layers()) {
    Layer& l = *lp;
    l.resume(info.step);
    const std::string g = "layers/" + l.name();
    for (const auto& [name, value] : l.counters()) {
      (void)value;
      if (!f.has_attribute(g, name)) continue;
      const long long v = f.integer(name, g);
      if (v < 0 || v > (1ll << 53))
        throw UserError(info.path + ": attribute " + g + "@" + name + " is " + std::to_string(v) + ", not a count");
      l.set_counter(name, v);
    }
    // Every process reads the whole layer and keeps its tile.
    const Geometry& gg = l.geometry();
    const std::vector<std::size_t> shape{std::size_t(batch), std::size_t(gg.ny), std::size_t(gg.nx),
                                         std::size_t(gg.nf)};
    const Tile t = l.tile().nx > 0 ? l.tile() : Tile{0, 0, gg.ny, gg.nx, 0, l.batch()};
    auto put = [&](const std::vector<float>& whole, Tensor& local) {
      for (int b = 0; b < t.nb; ++b)
        for (int y = 0; y < t.ny; ++y)
          std::copy_n(&whole[((std::size_t(t.b0 + b) * gg.ny + t.y0 + y) * gg.nx + t.x0) * gg.nf],
                      std::size_t(t.nx) * gg.nf, &local.at(b, y, 0, 0));
    };
    put(f.read<float>(g + "/activity", H5T_NATIVE_FLOAT, shape), l.activity());
    if (l.has_membrane()) put(f.read<float>(g + "/membrane", H5T_NATIVE_FLOAT, shape), l.membrane());
    for (const auto& [name, t] : l.state_buffers()) {
      if (!f.has(g + "/" + name))
        throw UserError(info.path + ": no " + g + "/" + name + " (layer '" + l.name() +
                        "' keeps it as state, e.g. LCA momentum > 0, but the run that wrote this checkpoint did not)");
      put(f.read<float>(g + "/" + name, H5T_NATIVE_FLOAT, shape), *t);
    }
  }
  for (auto& c : net.connections())
    for (const StateArray& s : c->state()) {
      const std::vector<float> v =
          f.read<float>("connections/" + c->name() + "/" + s.name, H5T_NATIVE_FLOAT, s.shape);
      c->set_state(s.name, v.data());
    }
  for (auto& p : net.probes()) {
    const std::string name = "probes/" + p->name() + "/state";
    if (f.has("probes") && f.has("probes/" + p->name()) && f.has(name))
      p->restore_state(f.read<double>(name, H5T_NATIVE_DOUBLE, {}));
  }
}

}  // namespace laminar

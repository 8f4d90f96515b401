#include "framework/Checkpoint.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace fs = std::filesystem;

namespace laminar {

namespace {

constexpr int kFormatVersion = 1;

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

class H5File {
 public:
  explicit H5File(const std::string& path) : path_(path) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    id_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (id_ < 0) throw UserError(path + ": cannot create checkpoint file (directory not writable?)");
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
    if (st < 0) throw UserError(path_ + ": writing " + name + " failed (disk full?)");
  }
  void attribute(const std::string& name, long long value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(id_, name.c_str(), H5T_NATIVE_LLONG, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = H5Awrite(a, H5T_NATIVE_LLONG, &value);
    H5Aclose(a);
    H5Sclose(space);
    if (st < 0) throw UserError(path_ + ": writing attribute " + name + " failed");
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
    if (st < 0) throw UserError(path_ + ": writing attribute " + name + " failed");
  }
  void flush() {
    if (H5Fflush(id_, H5F_SCOPE_GLOBAL) < 0) throw UserError(path_ + ": flush failed (disk full?)");
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

std::string CheckpointWriter::write(const Network& net, long step) const {
  // Under MPI every process takes part (the layers are gathered to rank 0, which writes).
  struct LayerState {
    Tensor activity, membrane;
    std::vector<std::int64_t> items;
    bool has_items = false;
  };
  std::vector<LayerState> states(net.layers().size());
  for (std::size_t i = 0; i < states.size(); ++i) {
    const Layer& l = *net.layers()[i];
    Tensor scratch;
    states[i].activity = l.gathered(l.activity(), scratch);
    if (l.has_membrane()) states[i].membrane = l.gathered(l.membrane(), scratch);
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
  {
    H5File f(tmp_path);
    f.attribute("format_version", kFormatVersion);
    f.attribute("step", step);
    f.attribute("params", net.spec().resolved_yaml);
    for (std::size_t i = 0; i < states.size(); ++i) {
      const Layer& l = *net.layers()[i];
      const LayerState& st = states[i];
      const std::string g = "layers/" + l.name();
      f.dataset(g + "/activity", H5T_NATIVE_FLOAT, st.activity.data(), shape_of(st.activity));
      if (l.has_membrane()) f.dataset(g + "/membrane", H5T_NATIVE_FLOAT, st.membrane.data(), shape_of(st.membrane));
      if (st.has_items) {
        std::vector<long long> v(st.items.begin(), st.items.end());
        f.dataset(g + "/items", H5T_NATIVE_LLONG, v.data(), {v.size()});
      }
    }
    for (const auto& c : net.connections())
      for (const auto& s : c->state()) f.dataset("connections/" + c->name() + "/" + s.name, H5T_NATIVE_FLOAT, s.data, s.shape);
    f.flush();
    f.close();
  }
  fsync_path(tmp_path);
  if (std::rename(tmp_path.c_str(), final_path.c_str()) != 0)
    throw UserError(final_path + ": cannot rename the finished checkpoint into place");
  fsync_path(dir_);

  // Keep the newest `keep_` complete checkpoints.
  std::vector<std::string> all;
  for (const auto& e : fs::directory_iterator(dir_)) {
    std::string n = e.path().filename().string();
    if (n.rfind("step-", 0) == 0 && e.path().extension() == ".h5") all.push_back(e.path().string());
  }
  std::sort(all.begin(), all.end());
  for (std::size_t i = 0; i + keep_ < all.size(); ++i) fs::remove(all[i], ec);
  return final_path;
}

}  // namespace laminar

#include "framework/Output.hpp"

#include <filesystem>

#include "framework/Error.hpp"

namespace laminar {

namespace {
void check(herr_t status, const std::string& what) {
  if (status < 0) throw UserError("HDF5 output: " + what + " failed (disk full or not writable?)");
}

hid_t link_create_plist() {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  return lcpl;
}
}  // namespace

Output::Output(const std::string& dir, bool writer) : dir_(dir), writer_(writer) {
  if (!writer_) return;
  std::error_code ec;
  if (std::filesystem::exists(dir_, ec) && !std::filesystem::is_directory(dir_, ec))
    throw UserError(dir_ + ": cannot use as output directory: it exists and is not a directory");
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw UserError(dir_ + ": cannot create output directory (" + ec.message() + ")");
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become exceptions with context, not stderr noise
  file_ = H5Fcreate(file_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file_ < 0) throw UserError(file_path() + ": cannot create HDF5 output file (directory not writable?)");
}

Output::~Output() {
  for (auto& [name, id] : open_) H5Dclose(id);
  if (file_ >= 0) {
    H5Fflush(file_, H5F_SCOPE_GLOBAL);
    H5Fclose(file_);
  }
}

hid_t Output::open_or_create(const std::string& dataset, hid_t type, const std::vector<std::size_t>& row_shape) {
  auto it = open_.find(dataset);
  if (it != open_.end()) return it->second;
  const int rank = int(row_shape.size()) + 1;
  std::vector<hsize_t> dims(rank, 0), maxdims(rank), chunk(rank);
  maxdims[0] = H5S_UNLIMITED;
  std::size_t row_elems = 1;
  for (int i = 1; i < rank; ++i) {
    dims[i] = maxdims[i] = chunk[i] = row_shape[i - 1];
    row_elems *= row_shape[i - 1];
  }
  // Chunks of about 256 KiB: many scalar rows per chunk, one row per chunk for big arrays.
  chunk[0] = std::max<hsize_t>(1, (256 * 1024) / std::max<std::size_t>(1, row_elems * H5Tget_size(type)));
  hid_t space = H5Screate_simple(rank, dims.data(), maxdims.data());
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, rank, chunk.data());
  hid_t lcpl = link_create_plist();
  hid_t id = H5Dcreate2(file_, dataset.c_str(), type, space, lcpl, dcpl, H5P_DEFAULT);
  H5Pclose(lcpl);
  H5Pclose(dcpl);
  H5Sclose(space);
  if (id < 0) throw UserError(file_path() + ": cannot create dataset " + dataset);
  open_[dataset] = id;
  return id;
}

void Output::append_raw(const std::string& dataset, hid_t type, const void* row,
                        const std::vector<std::size_t>& row_shape) {
  if (!writer_) return;
  hid_t id = open_or_create(dataset, type, row_shape);
  hid_t space = H5Dget_space(id);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  H5Sclose(space);
  std::vector<hsize_t> start(rank, 0), count(dims);
  start[0] = dims[0];
  count[0] = 1;
  dims[0] += 1;
  check(H5Dset_extent(id, dims.data()), "extending " + dataset);
  space = H5Dget_space(id);
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  hid_t mem = H5Screate_simple(rank, count.data(), nullptr);
  herr_t st = H5Dwrite(id, type, mem, space, H5P_DEFAULT, row);
  H5Sclose(mem);
  H5Sclose(space);
  check(st, "writing " + dataset);
}

void Output::append(const std::string& d, const float* row, const std::vector<std::size_t>& s) {
  append_raw(d, H5T_NATIVE_FLOAT, row, s);
}
void Output::append(const std::string& d, const double* row, const std::vector<std::size_t>& s) {
  append_raw(d, H5T_NATIVE_DOUBLE, row, s);
}
void Output::append(const std::string& d, const std::int64_t* row, const std::vector<std::size_t>& s) {
  append_raw(d, H5T_NATIVE_INT64, row, s);
}

void Output::write(const std::string& dataset, const float* data, const std::vector<std::size_t>& shape) {
  if (!writer_) return;
  if (H5Lexists(file_, dataset.c_str(), H5P_DEFAULT) > 0) H5Ldelete(file_, dataset.c_str(), H5P_DEFAULT);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  hid_t lcpl = link_create_plist();
  hid_t id = H5Dcreate2(file_, dataset.c_str(), H5T_NATIVE_FLOAT, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(lcpl);
  if (id < 0) {
    H5Sclose(space);
    throw UserError(file_path() + ": cannot create dataset " + dataset);
  }
  herr_t st = H5Dwrite(id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(id);
  H5Sclose(space);
  check(st, "writing " + dataset);
}

void Output::attribute(const std::string& object, const std::string& name, const std::string& value) {
  if (!writer_) return;
  hid_t obj;
  if (H5Lexists(file_, object.c_str(), H5P_DEFAULT) > 0 || object == "/") {
    obj = H5Oopen(file_, object.c_str(), H5P_DEFAULT);
  } else {
    hid_t lcpl = link_create_plist();
    obj = H5Gcreate2(file_, object.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
  }
  if (obj < 0) throw UserError(file_path() + ": cannot open " + object);
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, std::max<std::size_t>(1, value.size()));
  H5Tset_cset(type, H5T_CSET_UTF8);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = H5Awrite(attr, type, value.empty() ? "" : value.data());
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  H5Oclose(obj);
  check(st, "writing attribute " + object + "@" + name);
}

void Output::flush() {
  if (!writer_) return;
  check(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flushing " + file_path());
  for (auto& [n, f] : csv_) f->flush();
}

std::ofstream& Output::csv(const std::string& name, const std::string& header) {
  if (!writer_) return null_csv_;
  auto it = csv_.find(name);
  if (it != csv_.end()) return *it->second;
  auto f = std::make_unique<std::ofstream>(path(name + ".csv"));
  if (!*f) throw UserError(path(name + ".csv") + ": cannot create CSV file");
  *f << header << "\n";
  auto& ref = *f;
  csv_[name] = std::move(f);
  return ref;
}

}  // namespace laminar

#include "framework/Output.hpp"

#include <filesystem>
#include <sstream>

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

std::string OutputMark::str() const {
  std::ostringstream s;
  for (const auto& [n, r] : rows) s << "rows\t" << n << "\t" << r << "\n";
  for (const auto& [n, b] : csv_bytes) s << "csv\t" << n << "\t" << b << "\n";
  return s.str();
}

OutputMark OutputMark::parse(const std::string& text) {
  OutputMark m;
  std::istringstream s(text);
  std::string line;
  while (std::getline(s, line)) {
    const auto a = line.find('\t'), b = line.rfind('\t');
    if (a == std::string::npos || b == a) continue;
    const std::string kind = line.substr(0, a), name = line.substr(a + 1, b - a - 1);
    const long long n = std::stoll(line.substr(b + 1));
    (kind == "csv" ? m.csv_bytes : m.rows)[name] = n;
  }
  return m;
}

namespace {
struct VisitData {
  std::vector<std::string> extendible;
};
herr_t visit_dataset(hid_t obj, const char* name, const H5O_info_t* info, void* data) {
  if (info->type != H5O_TYPE_DATASET) return 0;
  hid_t d = H5Dopen2(obj, name, H5P_DEFAULT);
  if (d < 0) return -1;
  hid_t space = H5Dget_space(d);
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank > 0) {
    std::vector<hsize_t> dims(rank), maxdims(rank);
    H5Sget_simple_extent_dims(space, dims.data(), maxdims.data());
    if (maxdims[0] == H5S_UNLIMITED) static_cast<VisitData*>(data)->extendible.push_back(name);
  }
  H5Sclose(space);
  H5Dclose(d);
  return 0;
}
}  // namespace

Output::Output(const std::string& dir, bool writer, const OutputMark* resume) : dir_(dir), writer_(writer) {
  if (!writer_) return;
  std::error_code ec;
  if (std::filesystem::exists(dir_, ec) && !std::filesystem::is_directory(dir_, ec))
    throw UserError(dir_ + ": cannot use as output directory: it exists and is not a directory");
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw UserError(dir_ + ": cannot create output directory (" + ec.message() + ")");
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become exceptions with context, not stderr noise
  if (resume && std::filesystem::exists(file_path(), ec)) {
    reopen(*resume);
    return;
  }
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

void Output::reopen(const OutputMark& mark) {
  const std::string damaged =
      file_path() + ": cannot resume this output: the file is damaged (the run was probably killed while "
                    "writing it). Resume into a new directory (--output NEW with --restart CHECKPOINT; the output "
                    "before the checkpoint's step is then absent) or rerun from the start";
  file_ = H5Fopen(file_path().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file_ < 0) throw UserError(damaged);
  VisitData found;
  if (H5Ovisit(file_, H5_INDEX_NAME, H5_ITER_NATIVE, visit_dataset, &found) < 0) throw UserError(damaged);
  // Cut every table back to the rows it had at the checkpoint (0 for tables begun after it).
  for (const std::string& name : found.extendible) {
    auto it = mark.rows.find(name);
    const long long want = it == mark.rows.end() ? 0 : it->second;
    hid_t d = H5Dopen2(file_, name.c_str(), H5P_DEFAULT);
    if (d < 0) throw UserError(damaged);
    hid_t space = H5Dget_space(d);
    const int rank = H5Sget_simple_extent_ndims(space);
    std::vector<hsize_t> dims(std::max(rank, 1));
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    H5Sclose(space);
    if (rank < 1 || (long long)dims[0] < want) {
      H5Dclose(d);
      throw UserError(file_path() + ": cannot resume this output: dataset " + name + " has " +
                      std::to_string(rank < 1 ? 0 : dims[0]) + " rows but the checkpoint recorded " +
                      std::to_string(want) + " (the output was not written up to the checkpoint)");
    }
    dims[0] = hsize_t(want);
    herr_t st = H5Dset_extent(d, dims.data());
    H5Dclose(d);
    check(st, "cutting " + name + " back to the checkpoint");
    rows_[name] = want;
  }
  for (const auto& [name, want] : mark.rows)
    if (!rows_.count(name))
      throw UserError(file_path() + ": cannot resume this output: dataset " + name + " recorded by the checkpoint is "
                      "missing (a different or damaged output file)");
  check(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flushing " + file_path());
  // CSV tables: cut back to their bytes at the checkpoint, then append.
  for (const auto& [name, bytes] : mark.csv_bytes) {
    const std::string p = path(name + ".csv");
    std::error_code ec;
    const auto size = std::filesystem::file_size(p, ec);
    if (ec || (long long)size < bytes)
      throw UserError(p + ": cannot resume this table: it is missing or shorter than at the checkpoint");
    std::filesystem::resize_file(p, std::uintmax_t(bytes), ec);
    if (ec) throw UserError(p + ": cannot cut the table back to the checkpoint (" + ec.message() + ")");
    auto f = std::make_unique<std::ofstream>(p, std::ios::app);
    if (!*f) throw UserError(p + ": cannot reopen CSV file");
    csv_[name] = std::move(f);
  }
  resumed_ = true;
}

OutputMark Output::mark() {
  OutputMark m;
  if (!writer_) return m;
  m.rows = rows_;
  for (auto& [name, f] : csv_) m.csv_bytes[name] = (long long)f->tellp();
  return m;
}

hid_t Output::open_or_create(const std::string& dataset, hid_t type, const std::vector<std::size_t>& row_shape) {
  auto it = open_.find(dataset);
  if (it != open_.end()) return it->second;
  if (rows_.count(dataset)) {  // a table of a resumed file, cut back to the checkpoint
    hid_t id = H5Dopen2(file_, dataset.c_str(), H5P_DEFAULT);
    if (id < 0) throw UserError(file_path() + ": cannot open dataset " + dataset);
    open_[dataset] = id;
    return id;
  }
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
  rows_[dataset] = (long long)dims[0];
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

void Output::append(const std::string& d, const Tensor& t) {
  const Geometry& g = t.geometry();
  append(d, t.data(), {std::size_t(t.batch()), std::size_t(g.ny), std::size_t(g.nx), std::size_t(g.nf)});
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

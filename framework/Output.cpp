#include "framework/Output.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>

#include <hdf5_hl.h>

#include "framework/Error.hpp"

namespace fs = std::filesystem;

namespace laminar {

namespace {
hid_t link_create_plist() {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  return lcpl;
}


// A decimal integer filling the whole of `text`, or false.
bool parse_count(const std::string& text, long long& v) {
  if (text.empty() || text.size() > 18) return false;
  v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return true;
}

std::string read_string_attribute(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return {};
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return {};
  hid_t type = H5Aget_type(a);
  std::string out;
  if (H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) > 0) {
    char* text = nullptr;
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type));
    if (H5Aread(a, mem, &text) >= 0 && text) {
      out = text;
      H5free_memory(text);
    }
    H5Tclose(mem);
  } else if (H5Tget_class(type) == H5T_STRING) {
    out.resize(H5Tget_size(type));
    if (H5Aread(a, type, out.data()) < 0) out.clear();
    while (!out.empty() && out.back() == '\0') out.pop_back();
  }
  H5Tclose(type);
  H5Aclose(a);
  return out;
}

// FNV-1a of a file's first `bytes` bytes; false if it is shorter or unreadable.
bool hash_prefix(const std::string& path, long long bytes, std::uint64_t& h) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  h = kFnvOffset;
  std::vector<char> buf(1 << 16);
  long long left = bytes;
  while (left > 0) {
    const std::streamsize n = std::streamsize(std::min<long long>(left, (long long)buf.size()));
    in.read(buf.data(), n);
    if (in.gcount() != n) return false;
    h = fnv1a(buf.data(), std::size_t(n), h);
    left -= n;
  }
  return true;
}

bool is_checkpoint_name(const std::string& n) {
  return (n.rfind("step-", 0) == 0 && n.size() > 8 && n.substr(n.size() - 3) == ".h5") ||
         (n.rfind(".step-", 0) == 0 && n.size() > 4 && n.substr(n.size() - 4) == ".tmp");
}
}  // namespace

std::string io_error_cause(int err) {
  if (err == ENOSPC) return "no space left on device";
  if (err == EDQUOT) return "disk quota exceeded";
  if (err == EFBIG) return "file too large for this file system or limit";
  if (err != 0) return std::strerror(err);
  return "disk full or not writable?";
}

std::uint64_t fnv1a(const void* data, std::size_t n, std::uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

std::string new_run_id() {
  std::random_device rd;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

std::string OutputMark::str() const {
  std::ostringstream s;
  for (const auto& [n, r] : rows) s << "rows\t" << n << "\t" << r << "\n";
  for (const auto& [n, b] : csv_bytes) {
    auto h = csv_hash.find(n);
    s << "csv\t" << n << "\t" << b << "\t" << std::hex << (h == csv_hash.end() ? 0 : h->second) << std::dec << "\n";
  }
  return s.str();
}

OutputMark OutputMark::parse(const std::string& text, const std::string& source) {
  OutputMark m;
  std::istringstream s(text);
  std::string line;
  for (int n = 1; std::getline(s, line); ++n) {
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::istringstream ls(line);
    for (std::string c; std::getline(ls, c, '\t');) cells.push_back(c);
    auto bad = [&](const std::string& why) -> UserError {
      std::string shown = line.size() > 80 ? line.substr(0, 77) + "..." : line;
      return UserError(source + ": damaged output mark (line " + std::to_string(n) + " '" + shown + "': " + why +
                       "); not a checkpoint this Laminar wrote");
    };
    long long v = 0;
    if (cells.size() == 3 && cells[0] == "rows") {
      if (cells[1].empty() || !parse_count(cells[2], v)) throw bad("expected rows<TAB>dataset<TAB>count");
      m.rows[cells[1]] = v;
    } else if (cells.size() == 4 && cells[0] == "csv") {
      if (cells[1].empty() || !parse_count(cells[2], v) || cells[3].empty() || cells[3].size() > 16 ||
          cells[3].find_first_not_of("0123456789abcdef") != std::string::npos)
        throw bad("expected csv<TAB>table<TAB>bytes<TAB>hash");
      m.csv_bytes[cells[1]] = v;
      m.csv_hash[cells[1]] = std::stoull(cells[3], nullptr, 16);
    } else {
      throw bad("unknown entry");
    }
  }
  return m;
}

OutputHeader read_output_header(const std::string& dir) {
  OutputHeader h;
  const std::string path = dir + "/laminar.h5";
  std::error_code ec;
  h.exists = fs::exists(path, ec);
  if (!h.exists || !fs::is_regular_file(path, ec)) return h;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return h;
  h.readable = true;
  h.run_id = read_string_attribute(f, "run_id");
  h.params = read_string_attribute(f, "params");
  H5Fclose(f);
  return h;
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

Output::Output(const std::string& dir, const OutputOptions& options)
    : dir_(dir), writer_(options.writer), run_id_(options.run_id.empty() ? new_run_id() : options.run_id) {
  if (!writer_) return;
  if (dir_.empty()) throw UserError("the output folder is empty (give simulation.output or --output a folder)");
  std::error_code ec;
  if (fs::exists(dir_, ec) && !fs::is_directory(dir_, ec))
    throw UserError(dir_ + ": cannot use as output directory: it exists and is not a directory");
  fs::create_directories(dir_, ec);
  if (ec) throw UserError(dir_ + ": cannot create output directory (" + ec.message() + ")");
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become exceptions with context, not stderr noise
  const std::string file = file_path();
  if (fs::exists(fs::symlink_status(file, ec)) && !fs::is_regular_file(fs::symlink_status(file, ec)))
    throw UserError(file + ": exists and is not a regular file (a folder, link or device); the output file "
                           "cannot be written there (give another --output)");
  check_checkpoints(options.resume == nullptr, options.overwrite);
  if (options.resume && fs::exists(file, ec)) {
    reopen(*options.resume);
    resume_tables(*options.resume, true);
  } else {
    if (!options.resume && fs::exists(file, ec)) {
      if (!options.overwrite)
        throw UserError(dir_ + ": already holds the output of a run (laminar.h5); continue it with --resume, write "
                               "elsewhere with --output NEW, or replace it with --overwrite");
      fs::remove(file, ec);
      if (ec) throw UserError(file + ": cannot remove the previous run's output (" + ec.message() + ")");
    }
    create_file(options.params);
    if (options.resume) resume_tables(*options.resume, false);
  }
  // Space held back so that a full disk still lets the file be cut back and closed cleanly.
  if (options.reserve_bytes > 0) {
    const std::string r = dir_ + "/.laminar-reserve";
    int fd = ::open(r.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      if (::posix_fallocate(fd, 0, off_t(options.reserve_bytes)) == 0) reserve_ = r;
      ::close(fd);
      if (reserve_.empty()) ::unlink(r.c_str());
    }
  }
}

void Output::check_checkpoints(bool fresh, bool overwrite) {
  const std::string ck = dir_ + "/checkpoints";
  std::error_code ec;
  if (!fs::is_directory(ck, ec)) return;
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(ck, ec))
    if (is_checkpoint_name(e.path().filename().string())) found.push_back(e.path());
  if (found.empty()) return;
  if (fresh) {
    if (!overwrite) {
      const bool h5 = fs::exists(file_path(), ec);
      throw UserError(dir_ + ": already holds the output of a run (" + (h5 ? "laminar.h5, " : "") +
                      "checkpoints/); continue it with --resume, write elsewhere with --output NEW, or replace it "
                      "with --overwrite");
    }
    for (const auto& p : found) {
      fs::remove(p, ec);
      if (ec) throw UserError(p.string() + ": cannot remove the previous run's checkpoint (" + ec.message() + ")");
    }
    return;
  }
  // Resuming: every complete checkpoint here must be this run's (the writer prunes old ones);
  // temporary files are incomplete checkpoints of a try that was killed while writing them.
  for (const auto& p : found) {
    if (p.extension() != ".h5") {
      fs::remove(p, ec);
      continue;
    }
    hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) continue;  // unreadable: never chosen, and pruned in its turn
    const std::string id = read_string_attribute(f, "run_id");
    H5Fclose(f);
    if (id != run_id_)
      throw UserError(p.string() + ": a checkpoint of another run (run id " + (id.empty() ? "absent" : id) +
                      ", this run's is " + run_id_ + ") is in this output folder; resume into a new folder "
                      "(--output NEW with --restart CHECKPOINT)");
  }
}

void Output::create_file(const std::string& params) {
  const std::string file = file_path();
  file_ = H5Fcreate(file.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
  if (file_ < 0) {
    const int err = errno;
    throw UserError(file + ": cannot create HDF5 output file (" + io_error_cause(err) + ")");
  }
  attribute("/", "run_id", run_id_);
  if (!params.empty()) attribute("/", "params", params);
  flush();  // a run killed now still leaves a file that names its run
}

Output::~Output() { close_quietly(); }

void Output::close_quietly() {
  if (!writer_) return;
  // The end of a run that stopped on an error (or was never closed): with the held-back space
  // released, flush; should that fail too, keep what the last successful flush wrote.
  release_reserve();
  if (!broken_ && file_ >= 0 && H5Fflush(file_, H5F_SCOPE_GLOBAL) >= 0) {
    flushed_rows_ = rows_;
    bool tables_ok = true;
    for (auto& [name, t] : csv_) {
      t.stream->flush();
      if (t.stream->good()) t.flushed = t.bytes;
      else tables_ok = false;
    }
    if (tables_ok) {
      for (auto& [name, id] : open_) H5Dclose(id);
      open_.clear();
      H5Fclose(file_);
      file_ = -1;
      for (auto& [name, t] : csv_) t.stream->close();
      csv_.clear();
      return;
    }
  }
  if (!broken_ || file_ >= 0 || !csv_.empty()) recover();
}

void Output::release_reserve() {
  if (!reserve_.empty()) ::unlink(reserve_.c_str());
  reserve_.clear();
}

void Output::check(herr_t status, const std::string& what) {
  if (status < 0) fail(what, errno);
}

bool Output::recover() {
  broken_ = true;
  release_reserve();
  // Cut every table back to its rows at the last successful flush, then flush and close: the file
  // stays readable with what was flushed.
  bool kept = file_ >= 0;
  for (auto& [name, id] : open_) {
    auto it = flushed_rows_.find(name);
    hid_t space = H5Dget_space(id);
    const int rank = H5Sget_simple_extent_ndims(space);
    std::vector<hsize_t> dims(std::max(rank, 1));
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    H5Sclose(space);
    dims[0] = it == flushed_rows_.end() ? 0 : hsize_t(it->second);
    H5Dset_extent(id, dims.data());  // may fail for a table whose last write failed: the flush decides
    H5Dclose(id);
  }
  open_.clear();
  if (file_ >= 0) {
    if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) kept = false;
    if (H5Fclose(file_) < 0) kept = false;
    file_ = -1;
  }
  for (auto& [name, t] : csv_) {
    if (!t.stream) continue;
    t.stream->close();
    std::error_code ec;
    fs::resize_file(t.path, std::uintmax_t(t.flushed), ec);  // no half-written row
    t.stream.reset();
  }
  return kept;
}

void Output::fail(const std::string& what, int err) {
  const bool kept = recover();
  throw UserError(file_path() + ": " + what + " failed (" + io_error_cause(err) + "); " +
                  (kept ? "the output up to the last flush is kept (resume from the last checkpoint when there is space)"
                        : "the file could not be closed cleanly"));
}

void Output::fail_table(Table& t, int err) {
  const std::string p = t.path;
  try {
    fail("writing table " + p, err);
  } catch (const UserError&) {
  }
  throw UserError(p + ": writing the table failed (" + io_error_cause(err) + "); the rows up to the last flush are kept, "
                  "and " + file_path() + " is cut back to its last flush");
}

void Output::close() {
  if (!writer_ || broken_) return;
  flush();
  for (auto& [name, id] : open_) H5Dclose(id);
  open_.clear();
  if (file_ >= 0) {
    const herr_t st = H5Fclose(file_);
    const int err = errno;
    file_ = -1;
    if (st < 0) {
      broken_ = true;
      throw UserError(file_path() + ": closing the output file failed (" + io_error_cause(err) + ")");
    }
  }
  for (auto& [name, t] : csv_) {
    t.stream->close();
    if (t.stream->fail()) {
      broken_ = true;
      throw UserError(t.path + ": closing the table failed (" + io_error_cause(errno) + ")");
    }
  }
  csv_.clear();
  release_reserve();
}

std::string Output::path(const std::string& file) const {
  if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos ||
      file.find('\0') != std::string::npos)
    throw InternalError("output file name '" + file + "' is not a plain name inside the output folder");
  return dir_ + "/" + file;
}

void Output::reopen(const OutputMark& mark) {
  const std::string damaged =
      file_path() + ": cannot resume this output: the file is damaged (the run was probably killed while "
                    "writing it). Resume into a new directory (--output NEW with --restart CHECKPOINT; the output "
                    "before the checkpoint's step is then absent) or rerun from the start";
  file_ = H5Fopen(file_path().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file_ < 0) throw UserError(damaged);
  const std::string theirs = read_string_attribute(file_, "run_id");
  if (theirs != run_id_) {
    H5Fclose(file_);
    file_ = -1;
    throw UserError(file_path() + ": cannot resume this output: it holds run " + (theirs.empty() ? "(no run id)" : theirs) +
                    " but the checkpoint belongs to run " + run_id_ + " (the folder's output was replaced by another "
                    "run's); resume into a new folder (--output NEW with --restart CHECKPOINT)");
  }
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
  flush();
  resumed_ = true;
}

void Output::resume_tables(const OutputMark& mark, bool required) {
  // CSV tables: the same bytes as at the checkpoint (same hash), cut back to them, then appended to.
  for (const auto& [name, bytes] : mark.csv_bytes) {
    const std::string p = path(name + ".csv");
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      if (required)
        throw UserError(p + ": cannot resume this table: it is missing (it was written up to the checkpoint)");
      continue;  // created afresh by csv(), like the new laminar.h5
    }
    const auto size = fs::file_size(p, ec);
    if (ec || (long long)size < bytes)
      throw UserError(p + ": cannot resume this table: it is shorter than at the checkpoint (" +
                      std::to_string(ec ? 0 : size) + " bytes, the checkpoint recorded " + std::to_string(bytes) + ")");
    auto h = mark.csv_hash.find(name);
    std::uint64_t have = 0;
    if (!hash_prefix(p, bytes, have) || h == mark.csv_hash.end() || have != h->second)
      throw UserError(p + ": cannot resume this table: its first " + std::to_string(bytes) +
                      " bytes are not the ones this run wrote up to the checkpoint (another run's table, or edited); "
                      "resume into a new folder (--output NEW with --restart CHECKPOINT)");
    fs::resize_file(p, std::uintmax_t(bytes), ec);
    if (ec) throw UserError(p + ": cannot cut the table back to the checkpoint (" + ec.message() + ")");
    Table t;
    t.path = p;
    t.stream = std::make_unique<std::ofstream>(p, std::ios::app | std::ios::binary);
    if (!*t.stream) throw UserError(p + ": cannot reopen CSV file");
    t.bytes = t.flushed = bytes;
    t.hash = have;
    csv_[name] = std::move(t);
  }
}

OutputMark Output::mark() const {
  OutputMark m;
  if (!writer_) return m;
  m.rows = rows_;
  for (const auto& [name, t] : csv_) {
    m.csv_bytes[name] = t.bytes;
    m.csv_hash[name] = t.hash;
  }
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
  // Tables of small rows: chunks of about 16 KiB, uncompressed, so that a chunk being filled row by
  // row is rewritten in place (a compressed chunk moves on every rewrite, and the space it leaves
  // may be reused before the next flush: a run killed then would leave the flushed table pointing
  // at overwritten bytes). Rows of 16 KiB or more (recorded activity, weights): one row per chunk,
  // written once, byte-shuffled and deflated (sparse codes compress well; h5py decompresses).
  const std::size_t row_bytes = std::max<std::size_t>(1, row_elems * H5Tget_size(type));
  chunk[0] = std::max<hsize_t>(1, (16 * 1024) / row_bytes);
  hid_t space = H5Screate_simple(rank, dims.data(), maxdims.data());
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, rank, chunk.data());
  if (chunk[0] == 1) {
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 4);
  }
  hid_t lcpl = link_create_plist();
  hid_t id = H5Dcreate2(file_, dataset.c_str(), type, space, lcpl, dcpl, H5P_DEFAULT);
  H5Pclose(lcpl);
  H5Pclose(dcpl);
  H5Sclose(space);
  if (id < 0) throw UserError(file_path() + ": cannot create dataset " + dataset);
  open_[dataset] = id;
  if (auto it = declared_.find(dataset); it != declared_.end())
    label_dimensions(dataset, it->second.first, it->second.second);
  return id;
}

void Output::append_raw(const std::string& dataset, hid_t type, const void* row,
                        const std::vector<std::size_t>& row_shape) {
  if (!writer_ || broken_) return;
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

void Output::write_raw(const std::string& dataset, hid_t type, const void* data, const std::vector<std::size_t>& shape) {
  if (!writer_ || broken_) return;
  if (H5Lexists(file_, dataset.c_str(), H5P_DEFAULT) > 0) H5Ldelete(file_, dataset.c_str(), H5P_DEFAULT);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  hid_t lcpl = link_create_plist();
  hid_t id = H5Dcreate2(file_, dataset.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(lcpl);
  if (id < 0) {
    H5Sclose(space);
    throw UserError(file_path() + ": cannot create dataset " + dataset);
  }
  herr_t st = H5Dwrite(id, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(id);
  H5Sclose(space);
  check(st, "writing " + dataset);
}

void Output::write(const std::string& dataset, const float* data, const std::vector<std::size_t>& shape) {
  write_raw(dataset, H5T_NATIVE_FLOAT, data, shape);
}
void Output::write(const std::string& dataset, const double* data, const std::vector<std::size_t>& shape) {
  write_raw(dataset, H5T_NATIVE_DOUBLE, data, shape);
}
void Output::write(const std::string& dataset, const std::int64_t* data, const std::vector<std::size_t>& shape) {
  write_raw(dataset, H5T_NATIVE_INT64, data, shape);
}

hid_t Output::open_object(const std::string& object) {
  hid_t obj;
  if (H5Lexists(file_, object.c_str(), H5P_DEFAULT) > 0 || object == "/") {
    obj = H5Oopen(file_, object.c_str(), H5P_DEFAULT);
  } else {
    hid_t lcpl = link_create_plist();
    obj = H5Gcreate2(file_, object.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
  }
  if (obj < 0) throw UserError(file_path() + ": cannot open " + object);
  return obj;
}

void Output::write_attribute(const std::string& object, const std::string& name, hid_t type, const void* value,
                             long long count) {
  hid_t obj = open_object(object);
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  const hsize_t n = hsize_t(count < 0 ? 0 : count);
  hid_t space = count < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr);
  hid_t attr = H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = attr < 0 ? -1 : H5Awrite(attr, type, value);
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space);
  H5Oclose(obj);
  check(st, "writing attribute " + object + "@" + name);
}

void Output::attribute(const std::string& object, const std::string& name, const std::string& value) {
  if (!writer_ || broken_) return;
  // Variable-length UTF-8: h5py reads it as str.
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  const char* text = value.c_str();
  try {
    write_attribute(object, name, type, &text);
  } catch (...) {
    H5Tclose(type);
    throw;
  }
  H5Tclose(type);
}

void Output::attribute(const std::string& object, const std::string& name, double value) {
  if (!writer_ || broken_) return;
  write_attribute(object, name, H5T_NATIVE_DOUBLE, &value);
}

void Output::attribute(const std::string& object, const std::string& name, long long value) {
  if (!writer_ || broken_) return;
  write_attribute(object, name, H5T_NATIVE_LLONG, &value);
}

void Output::attribute(const std::string& object, const std::string& name, const std::vector<double>& values) {
  if (!writer_ || broken_) return;
  write_attribute(object, name, H5T_NATIVE_DOUBLE, values.data(), (long long)values.size());
}

void Output::declare(const std::string& dataset, std::vector<std::string> dims, std::string description) {
  declared_[dataset] = {std::move(dims), std::move(description)};
}

void Output::label_dimensions(const std::string& dataset, const std::vector<std::string>& dims,
                              const std::string& description) {
  if (!writer_ || broken_) return;
  hid_t d = H5Dopen2(file_, dataset.c_str(), H5P_DEFAULT);
  if (d < 0) throw InternalError("label_dimensions: no dataset " + dataset);
  hid_t space = H5Dget_space(d);
  const int rank = H5Sget_simple_extent_ndims(space);
  H5Sclose(space);
  for (int i = 0; i < rank && i < int(dims.size()); ++i) H5DSset_label(d, unsigned(i), dims[std::size_t(i)].c_str());
  H5Dclose(d);
  std::string joined;
  for (const auto& n : dims) joined += (joined.empty() ? "" : ",") + n;
  attribute(dataset, "dimensions", joined);
  if (!description.empty()) attribute(dataset, "description", description);
}

void Output::flush() {
  if (!writer_ || broken_) return;
  check(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flushing the output");
  flushed_rows_ = rows_;
  for (auto& [n, t] : csv_) {
    t.stream->flush();
    if (!t.stream->good()) fail_table(t, errno);
    t.flushed = t.bytes;
  }
}

void Output::csv(const std::string& name, const std::string& header) {
  if (!writer_ || csv_.count(name)) return;
  Table t;
  t.path = path(name + ".csv");
  std::error_code ec;
  if (fs::exists(fs::symlink_status(t.path, ec)) && !fs::is_regular_file(fs::symlink_status(t.path, ec)))
    throw UserError(t.path + ": exists and is not a regular file; the table cannot be written there");
  t.stream = std::make_unique<std::ofstream>(t.path, std::ios::trunc | std::ios::binary);
  if (!*t.stream) throw UserError(t.path + ": cannot create CSV file (" + io_error_cause(errno) + ")");
  csv_[name] = std::move(t);
  csv_append(name, header + "\n");
  Table& made = csv_[name];
  made.stream->flush();  // the header is on disk from the start: a table cut back keeps it
  if (!made.stream->good()) fail_table(made, errno);
  made.flushed = made.bytes;
}

void Output::csv_append(const std::string& name, const std::string& text) {
  if (!writer_ || broken_) return;
  auto it = csv_.find(name);
  if (it == csv_.end()) throw InternalError("CSV table '" + name + "' written before csv() created it");
  Table& t = it->second;
  t.stream->write(text.data(), std::streamsize(text.size()));
  if (!t.stream->good()) fail_table(t, errno);
  t.bytes += (long long)text.size();
  t.hash = fnv1a(text.data(), text.size(), t.hash);
}

}  // namespace laminar

#include "framework/ImageIO.hpp"

#include <hdf5.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "framework/Error.hpp"
#include "framework/FileCheck.hpp"
#include "framework/Hdf5Dataset.hpp"
#include "stb/stb_image.h"
#include "stb/stb_image_write.h"

namespace fs = std::filesystem;

namespace laminar {

std::vector<std::uint8_t> read_file_maybe_gz(const std::string& path) {
  std::error_code ec;  // the non-throwing overloads: a path too long or unreadable is "not found", not a crash
  if (!fs::exists(path, ec)) throw UserError(path + ": data file not found" + (ec ? " (" + ec.message() + ")" : ""));
  if (fs::is_directory(path, ec)) throw UserError(path + ": expected a file, found a folder");
  require_regular_file(path);
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files too
  if (!f) throw UserError(path + ": cannot open (" + std::strerror(errno) + ")");
  std::vector<std::uint8_t> data;
  std::uint8_t buf[1 << 16];
  for (;;) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int err;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      throw UserError(path + ": corrupt or truncated compressed data (" + msg + ")");
    }
    if (n == 0) break;
    data.insert(data.end(), buf, buf + n);
  }
  int err = Z_OK;
  std::string msg = gzerror(f, &err);  // a gzip stream cut short ends with Z_BUF_ERROR, not n < 0
  gzclose(f);
  if (err != Z_OK) throw UserError(path + ": corrupt or truncated compressed data (" + msg + ")");
  return data;
}

// ---------------------------------------------------------------- IDX

namespace {

class IdxSource : public DataSource {
 public:
  explicit IdxSource(const std::string& path) : path_(path), bytes_(read_file_maybe_gz(path)) {
    if (bytes_.empty()) throw UserError(path_ + ": the file is empty (expected an IDX file)");
    if (bytes_.size() < 4 || bytes_[0] != 0 || bytes_[1] != 0) {
      std::string found;
      for (std::size_t i = 0; i < std::min<std::size_t>(4, bytes_.size()); ++i) found += (i ? " " : "") + hex(bytes_[i]);
      throw UserError(path_ + ": not an IDX file (expected magic bytes 00 00 <type> <ndims>, found " + found + ")");
    }
    type_ = bytes_[2];
    int ndims = bytes_[3];
    if (type_ != 0x08 && type_ != 0x0D)
      throw UserError(path_ + ": IDX element type 0x" + hex(type_) + " unsupported (expected 0x08 unsigned byte or 0x0D float)");
    if (ndims != 3 && ndims != 4)
      throw UserError(path_ + ": IDX file has " + std::to_string(ndims) +
                      " dimensions; images need 3 (count, rows, cols) or 4 (count, rows, cols, channels)");
    if (bytes_.size() < std::size_t(4 + 4 * ndims)) throw UserError(path_ + ": IDX header truncated");
    std::vector<long> dims(ndims);
    for (int i = 0; i < ndims; ++i) {
      const std::uint8_t* p = &bytes_[4 + 4 * i];
      dims[i] = (long(p[0]) << 24) | (long(p[1]) << 16) | (long(p[2]) << 8) | long(p[3]);
      if (dims[i] <= 0 || dims[i] > (1L << 30))
        throw UserError(path_ + ": IDX dimension " + std::to_string(i) + " is " + std::to_string(dims[i]) + ", not a valid size");
    }
    count_ = dims[0];
    geometry_ = Geometry{int(dims[2]), int(dims[1]), ndims == 4 ? int(dims[3]) : 1};
    offset_ = 4 + 4 * ndims;
    const double elem = type_ == 0x08 ? 1 : 4;
    // In double: the product of up to four dimensions of 2^30 overflows 64 bits and could wrap
    // around to the file's size (a 16-byte file "holding" 2^28 images of 2^28 x 2^28). Exact
    // whenever it is below 2^53, and a file is always smaller than that.
    const double expected = double(offset_) + double(count_) * double(geometry_.ny) * double(geometry_.nx) *
                                                  double(geometry_.nf) * elem;
    if (double(bytes_.size()) != expected) {
      std::ostringstream e;
      e.precision(expected < 1e18 ? 18 : 3);
      e << expected;
      throw UserError(path_ + ": IDX header promises " + std::to_string(count_) + " images of " + geometry_.str() +
                      " (" + e.str() + " bytes) but the file holds " + std::to_string(bytes_.size()) +
                      " bytes: truncated or corrupt");
    }
  }
  long size() const override { return count_; }
  Geometry geometry() const override { return geometry_; }
  std::size_t memory_bytes() const override { return bytes_.capacity(); }
  void read(long index, float* out) const override {
    const std::size_t n = geometry_.size();
    if (type_ == 0x08) {
      const std::uint8_t* p = bytes_.data() + offset_ + std::size_t(index) * n;
      for (std::size_t i = 0; i < n; ++i) out[i] = p[i] * (1.0f / 255.0f);
    } else {
      const std::uint8_t* p = bytes_.data() + offset_ + std::size_t(index) * n * 4;
      for (std::size_t i = 0; i < n; ++i) {  // big-endian float32
        std::uint32_t u = (std::uint32_t(p[4 * i]) << 24) | (std::uint32_t(p[4 * i + 1]) << 16) |
                          (std::uint32_t(p[4 * i + 2]) << 8) | std::uint32_t(p[4 * i + 3]);
        std::memcpy(&out[i], &u, 4);
      }
    }
  }
  std::string describe() const override {
    return path_ + " (IDX, " + std::to_string(count_) + " images of " + geometry_.str() + ")";
  }

 private:
  static std::string hex(int v) {
    char b[8];
    std::snprintf(b, sizeof b, "%02X", v);
    return b;
  }
  std::string path_;
  std::vector<std::uint8_t> bytes_;
  int type_ = 0;
  long count_ = 0;
  std::size_t offset_ = 0;
  Geometry geometry_;
};

// ---------------------------------------------------------------- image folder

// Why stbi_info cannot read `path`. stb tries every format in turn, so its own reason is that of
// the last one tried ("unknown image type") even for a PNG whose header it rejected; a PNG's
// IHDR is read here to say what is wrong with it.
std::string unreadable_image_reason(const std::string& path) {
  const std::string stb_reason = stbi_failure_reason() ? stbi_failure_reason() : "unknown reason";
  std::uint8_t head[26] = {0};
  std::size_t got = 0;
  if (std::FILE* fp = std::fopen(path.c_str(), "rb")) {
    got = std::fread(head, 1, sizeof head, fp);
    std::fclose(fp);
  }
  static const std::uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (got < 8 || std::memcmp(head, kPng, 8) != 0) return "cannot read image (" + stb_reason + ")";
  if (got < 26 || std::memcmp(head + 12, "IHDR", 4) != 0)
    return "cannot read image: corrupt PNG (no IHDR header chunk)";
  auto be32 = [&](int o) {
    return (std::uint64_t(head[o]) << 24) | (std::uint64_t(head[o + 1]) << 16) | (std::uint64_t(head[o + 2]) << 8) |
           std::uint64_t(head[o + 3]);
  };
  const std::uint64_t w = be32(16), h = be32(20);
  const int color = head[25];
  // stb_image's limits: at most 2^24 pixels a side and 2^30 bytes of 8-bit pixels (a palette
  // image counted as RGBA).
  const std::uint64_t n = color == 3 ? 4 : (color & 2 ? 3 : 1) + (color & 4 ? 1 : 0);
  if (w > (1u << 24) || h > (1u << 24) || w * h * n > (std::uint64_t(1) << 30))
    return "image too large (" + std::to_string(w) + " x " + std::to_string(h) +
           ") for the image reader (stb_image reads at most 2^30 bytes of pixels and 2^24 pixels a side)";
  // Within the limits: stb's PNG decoder says what is wrong (stbi_load of a file with the PNG
  // signature tries the PNG decoder alone, so its reason is the PNG one).
  int x, y, c;
  if (unsigned char* px = stbi_load(path.c_str(), &x, &y, &c, 0)) {
    stbi_image_free(px);
    return "cannot read image (" + stb_reason + ")";
  }
  return "corrupt PNG: cannot decode it (" + std::string(stbi_failure_reason()) + ")";
}

class FolderSource : public DataSource {
 public:
  FolderSource(const std::string& dir, int channels) : dir_(dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw UserError(dir + ": image folder not found");
    fs::directory_iterator it(dir, ec);
    if (ec) throw UserError(dir + ": cannot list the image folder (" + ec.message() + ")");
    for (const auto& e : it) {
      if (!e.is_regular_file(ec)) continue;
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
      if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp") files_.push_back(e.path().filename().string());
    }
    std::sort(files_.begin(), files_.end());
    if (files_.empty()) throw UserError(dir + ": no .png/.jpg/.jpeg/.bmp images in this folder");
    // Read every header now (cheap: no pixels are decoded), so that `laminar check` and the
    // start of a run report an unreadable or differently sized image, not step 10000.
    int w0 = 0, h0 = 0, c0 = 0;
    for (const auto& name : files_) {
      const std::string path = dir_ + "/" + name;
      int w, h, c;
      if (!stbi_info(path.c_str(), &w, &h, &c)) throw UserError(path + ": " + unreadable_image_reason(path));
      if (&name == &files_[0]) {
        w0 = w, h0 = h, c0 = c;
      } else if (w != w0 || h != h0) {
        throw UserError(path + ": image is " + std::to_string(w) + "x" + std::to_string(h) + " (width x height) but the folder's first image (" +
                        files_[0] + ") is " + std::to_string(w0) + "x" + std::to_string(h0) + "; all images must have the same size");
      }
    }
    geometry_ = Geometry{w0, h0, channels > 0 ? channels : (c0 == 2 ? 1 : c0 == 4 ? 3 : c0)};
    // Then decode every image once (in parallel; nothing is kept): a valid header over corrupt
    // pixel data is reported now, not at the step that first shows that image.
    const long n = long(files_.size());
    std::vector<std::string> problems(files_.size());
#pragma omp parallel for schedule(dynamic, 8)
    for (long i = 0; i < n; ++i) {
      const std::string path = dir_ + "/" + files_[std::size_t(i)];
      int w, h, c;
      if (unsigned char* px = stbi_load(path.c_str(), &w, &h, &c, geometry_.nf))
        stbi_image_free(px);
      else
        problems[std::size_t(i)] = "corrupt image: its header is valid but its image data cannot be decoded (" +
                                   std::string(stbi_failure_reason()) + ")";
    }
    for (long i = 0; i < n; ++i)
      if (!problems[std::size_t(i)].empty())
        throw UserError(dir_ + "/" + files_[std::size_t(i)] + ": " + problems[std::size_t(i)]);
  }
  long size() const override { return long(files_.size()); }
  Geometry geometry() const override { return geometry_; }
  void read(long index, float* out) const override {
    std::string path = dir_ + "/" + files_[index];
    int w, h, c;
    unsigned char* px = stbi_load(path.c_str(), &w, &h, &c, geometry_.nf);
    if (!px)
      throw UserError(path + ": cannot decode image (" + std::string(stbi_failure_reason()) +
                      "); the file is corrupt or changed since the run started");
    if (w != geometry_.nx || h != geometry_.ny) {
      stbi_image_free(px);
      throw UserError(path + ": image is " + std::to_string(w) + "x" + std::to_string(h) + " but the folder's first image (" +
                      files_[0] + ") is " + std::to_string(geometry_.nx) + "x" + std::to_string(geometry_.ny) +
                      "; all images must have the same size");
    }
    for (std::size_t i = 0; i < geometry_.size(); ++i) out[i] = px[i] * (1.0f / 255.0f);
    stbi_image_free(px);
  }
  std::string name(long index) const override { return files_[index]; }
  std::string describe() const override {
    return dir_ + " (folder, " + std::to_string(files_.size()) + " images of " + geometry_.str() + ")";
  }

 private:
  std::string dir_;
  std::vector<std::string> files_;
  Geometry geometry_;
};

// ---------------------------------------------------------------- HDF5

class Hdf5Source : public DataSource {
 public:
  Hdf5Source(const std::string& path, const std::string& dataset) : path_(path), dataset_(dataset) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw UserError(path + ": data file not found" + (ec ? " (" + ec.message() + ")" : ""));
    if (fs::is_directory(path, ec)) throw UserError(path + ": expected an HDF5 file, found a folder");
    require_regular_file(path);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file_ < 0) throw UserError(path + ": not a readable HDF5 file");
    if (H5Lexists(file_, dataset.c_str(), H5P_DEFAULT) <= 0) {
      H5Fclose(file_);
      throw UserError(path + ": no dataset '" + dataset + "' (set `dataset:` to the array's name)");
    }
    std::string problem;
    dset_ = open_hdf5_dataset(file_, dataset, problem);
    if (dset_ < 0) {
      close();
      throw UserError(path + ": " + problem);
    }
    hid_t space = H5Dget_space(dset_);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[8] = {0};
    if (rank >= 3 && rank <= 4) H5Sget_simple_extent_dims(space, dims, nullptr);
    H5Sclose(space);
    hid_t type = H5Dget_type(dset_);
    H5T_class_t cls = H5Tget_class(type);
    byte_ints_ = cls == H5T_INTEGER && H5Tget_size(type) == 1;
    H5Tclose(type);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
      close();
      throw UserError(path + ":" + dataset + ": expected a numeric array");
    }
    if (rank < 3 || rank > 4) {
      close();
      throw UserError(path + ":" + dataset + ": expected shape (count, ny, nx) or (count, ny, nx, nf), got rank " +
                      std::to_string(rank));
    }
    for (int i = 0; i < rank; ++i)
      if (dims[i] == 0 || dims[i] > (hsize_t(1) << 30)) {
        close();
        throw UserError(path + ":" + dataset + ": dimension " + std::to_string(i) + " is " + std::to_string(dims[i]) +
                        (i == 0 ? ": the dataset holds no images" : ", not a valid image size"));
      }
    count_ = long(dims[0]);
    geometry_ = Geometry{int(dims[2]), int(dims[1]), rank == 4 ? int(dims[3]) : 1};
    rank_ = rank;
  }
  ~Hdf5Source() override { close(); }
  long size() const override { return count_; }
  Geometry geometry() const override { return geometry_; }
  void read(long index, float* out) const override {
    hsize_t start[4] = {hsize_t(index), 0, 0, 0};
    hsize_t count[4] = {1, hsize_t(geometry_.ny), hsize_t(geometry_.nx), hsize_t(geometry_.nf)};
    hid_t space = H5Dget_space(dset_);
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
    hid_t mem = H5Screate_simple(rank_, count, nullptr);
    herr_t st = H5Dread(dset_, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, out);
    H5Sclose(mem);
    H5Sclose(space);
    if (st < 0) throw UserError(path_ + ":" + dataset_ + ": read of item " + std::to_string(index) + " failed");
    if (byte_ints_)
      for (std::size_t i = 0; i < geometry_.size(); ++i) out[i] *= 1.0f / 255.0f;
  }
  std::string describe() const override {
    return path_ + ":" + dataset_ + " (HDF5, " + std::to_string(count_) + " images of " + geometry_.str() + ")";
  }

 private:
  void close() {
    if (dset_ >= 0) H5Dclose(dset_);
    if (file_ >= 0) H5Fclose(file_);
    dset_ = file_ = -1;
  }
  std::string path_, dataset_;
  hid_t file_ = -1, dset_ = -1;
  int rank_ = 3;
  bool byte_ints_ = false;
  long count_ = 0;
  Geometry geometry_;
};

}  // namespace

std::unique_ptr<DataSource> open_idx(const std::string& path) { return std::make_unique<IdxSource>(path); }
std::unique_ptr<DataSource> open_image_folder(const std::string& dir, int channels) {
  return std::make_unique<FolderSource>(dir, channels);
}
std::unique_ptr<DataSource> open_hdf5_images(const std::string& path, const std::string& dataset) {
  return std::make_unique<Hdf5Source>(path, dataset);
}

std::unique_ptr<DataSource> open_data_source(const std::string& path, const std::string& format,
                                             const std::string& dataset, int channels) {
  std::string f = format;
  if (f == "auto") {
    std::string ext = fs::path(path).extension().string();
    std::error_code ec;
    if (fs::is_directory(path, ec)) f = "images";
    else if (ext == ".h5" || ext == ".hdf5") f = "hdf5";
    else f = "idx";
  }
  if (f == "images") return open_image_folder(path, channels);
  if (f == "hdf5") return open_hdf5_images(path, dataset);
  return open_idx(path);
}

// ---------------------------------------------------------------- labels CSV

namespace {
std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> cells;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char ch = line[i];
    if (quoted) {
      if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') { cur += '"'; ++i; }
      else if (ch == '"') quoted = false;
      else cur += ch;
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      cells.push_back(cur);
      cur.clear();
    } else if (ch != '\r') {
      cur += ch;
    }
  }
  cells.push_back(cur);
  return cells;
}
}  // namespace

LabelTable LabelTable::read(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw UserError(path + ": expected a labels CSV file, found a folder");
  require_regular_file(path);
  std::ifstream in(path);
  if (!in) throw UserError(path + ": labels CSV not found");
  LabelTable t;
  std::string line;
  if (!std::getline(in, line)) throw UserError(path + ":1: empty labels CSV (expected a header such as file,label)");
  if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // a UTF-8 byte order mark (spreadsheet exports)
  t.columns = split_csv(line);
  auto col = [&](const std::string& name) {
    auto it = std::find(t.columns.begin(), t.columns.end(), name);
    if (it == t.columns.end()) throw UserError(path + ":1: header has no '" + name + "' column (expected e.g. file,label)");
    return std::size_t(it - t.columns.begin());
  };
  std::size_t file_col = col("file");
  col("label");
  for (int n = 2; std::getline(in, line); ++n) {
    if (line.empty() || line == "\r") continue;
    auto cells = split_csv(line);
    if (cells.size() != t.columns.size())
      throw UserError(path + ":" + std::to_string(n) + ": expected " + std::to_string(t.columns.size()) +
                      " comma-separated cells, got " + std::to_string(cells.size()));
    t.rows[cells[file_col]] = cells;
  }
  return t;
}

long LabelTable::require_matches(long count, const std::function<std::string(long)>& name_of,
                                 const std::string& images, const std::string& path) const {
  long matched = 0;
  for (long i = 0; i < count; ++i) matched += rows.count(name_of(i)) ? 1 : 0;
  if (matched > 0) return matched;
  if (rows.empty())
    throw UserError(path + ": the CSV has a header but no rows (expected one row per image: its file name, its label)");
  throw UserError(path + ": 0 of its " + std::to_string(rows.size()) + " rows name an image of " + images +
                  ": e.g. image '" + (count > 0 ? name_of(0) : std::string()) + "' has no row, and the first row's file is '" + rows.begin()->first +
                  "' (the `file` column holds the images' file names, with their extension)");
}

std::string LabelTable::label(const std::string& file) const {
  auto it = rows.find(file);
  if (it == rows.end()) return "";
  auto c = std::find(columns.begin(), columns.end(), "label") - columns.begin();
  return it->second[c];
}

// ---------------------------------------------------------------- PNG

void write_png(const std::string& path, const std::uint8_t* pixels, int width, int height, int channels) {
  if (!stbi_write_png(path.c_str(), width, height, channels, pixels, width * channels))
    throw UserError(path + ": cannot write PNG (directory not writable or disk full?)");
}

void write_dictionary_png(const WeightsView& w, const std::string& path) {
  const bool rgb = w.features == 3;
  const int tile_w = rgb ? w.patch_x : w.patch_x * w.features + (w.features - 1);
  const int tile_h = w.patch_y;
  const int zoom = std::max(1, 48 / std::max(tile_h, tile_w));
  const int cols = int(std::ceil(std::sqrt(double(w.kernels))));
  const int rows = (w.kernels + cols - 1) / cols;
  const int pad = 1;
  const int W = cols * (tile_w * zoom + pad) + pad, H = rows * (tile_h * zoom + pad) + pad;
  const int C = rgb ? 3 : 1;
  std::vector<std::uint8_t> img(std::size_t(W) * H * C, 40);  // dark grey grid lines
  const std::size_t ksize = std::size_t(w.patch_y) * w.patch_x * w.features;
  for (int k = 0; k < w.kernels; ++k) {
    const float* kw = w.data + k * ksize;
    float m = 1e-12f;
    for (std::size_t i = 0; i < ksize; ++i) m = std::max(m, std::fabs(kw[i]));
    int ox = pad + (k % cols) * (tile_w * zoom + pad), oy = pad + (k / cols) * (tile_h * zoom + pad);
    for (int py = 0; py < w.patch_y; ++py)
      for (int tx = 0; tx < tile_w; ++tx) {
        std::uint8_t px[3];
        if (rgb) {
          for (int c = 0; c < 3; ++c)
            px[c] = std::uint8_t(std::lround(127.5f + 127.5f * kw[(py * w.patch_x + tx) * 3 + c] / m));
        } else {
          int f = tx / (w.patch_x + 1), x = tx % (w.patch_x + 1);
          px[0] = x == w.patch_x ? 40 : std::uint8_t(std::lround(127.5f + 127.5f * kw[(py * w.patch_x + x) * w.features + f] / m));
        }
        for (int zy = 0; zy < zoom; ++zy)
          for (int zx = 0; zx < zoom; ++zx) {
            std::size_t o = (std::size_t(oy + py * zoom + zy) * W + (ox + tx * zoom + zx)) * C;
            for (int c = 0; c < C; ++c) img[o + c] = px[c];
          }
      }
  }
  write_png(path, img.data(), W, H, C);
}

}  // namespace laminar

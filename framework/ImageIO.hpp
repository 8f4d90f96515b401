#pragma once
// Data sources for input layers (IDX as in MNIST/Fashion-MNIST, folders of PNG/JPEG images,
// HDF5 arrays) and PNG writers for images and dictionary tiles.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/Connection.hpp"
#include "framework/Tensor.hpp"

namespace laminar {

// A read-only indexed set of same-sized images. read() yields ny*nx*nf floats (feature fastest);
// 8-bit data is mapped to [0, 1], floating-point data is passed through.
class DataSource {
 public:
  virtual ~DataSource() = default;
  virtual long size() const = 0;
  virtual Geometry geometry() const = 0;
  virtual void read(long index, float* out) const = 0;
  virtual std::string name(long index) const { return std::to_string(index); }
  virtual std::string describe() const = 0;
  // Bytes held in memory (for the network's memory estimate): e.g. an IDX file read whole; 0 for a
  // source that reads each item from its file when asked.
  virtual std::size_t memory_bytes() const { return 0; }
};

// IDX (plain or gzip-compressed): ubyte or float, shape (N, rows, cols) or (N, rows, cols, channels).
std::unique_ptr<DataSource> open_idx(const std::string& path);
// Every .png/.jpg/.jpeg/.bmp file in a folder, sorted by name; `channels` 0 keeps the first
// image's channel count, 1 converts to grey, 3 to RGB.
std::unique_ptr<DataSource> open_image_folder(const std::string& dir, int channels);
// An HDF5 dataset of shape (N, ny, nx) or (N, ny, nx, nf), any numeric type.
std::unique_ptr<DataSource> open_hdf5_images(const std::string& path, const std::string& dataset);
// `format` auto picks by path: a folder -> images, .h5/.hdf5 -> hdf5, otherwise IDX.
std::unique_ptr<DataSource> open_data_source(const std::string& path, const std::string& format,
                                             const std::string& dataset, int channels);

// Reads the whole (optionally gzipped) file into memory; a clear error if it cannot.
std::vector<std::uint8_t> read_file_maybe_gz(const std::string& path);

// A labels CSV: a header row naming its columns (must include `file` and `label`), then rows.
struct LabelTable {
  std::vector<std::string> columns;
  std::map<std::string, std::vector<std::string>> rows;  // file -> cells
  std::string label(const std::string& file) const;     // "" when absent
  static LabelTable read(const std::string& path);
  // How many of `count` images (named by `name_of`, described by `images`) have a row; an error
  // naming the CSV `path` (and an image that has none) when not one has, e.g. names written
  // without their extension, or a header alone.
  long require_matches(long count, const std::function<std::string(long)>& name_of, const std::string& images,
                       const std::string& path) const;
};

// 8-bit PNG (grey, RGB or RGBA).
void write_png(const std::string& path, const std::uint8_t* pixels, int width, int height, int channels);
// One tile per kernel (patch_y x patch_x; RGB when features == 3, else the features side by side
// in grey), each scaled symmetrically so 0 is mid-grey, on a near-square grid.
void write_dictionary_png(const WeightsView& w, const std::string& path);

}  // namespace laminar

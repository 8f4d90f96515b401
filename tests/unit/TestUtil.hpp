#pragma once
// Helpers shared by the unit tests: a self-deleting temporary directory, HDF5 writers for test
// inputs, and seeded random fills. Everything here is independent of the code under test.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "framework/Error.hpp"

namespace laminar::test {

// The message of the UserError thrown by `f`, or a test failure (another exception, or none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a UserError, got another exception: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected a UserError, nothing was thrown";
  return "";
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "laminar-unit-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Write one dataset (creating or truncating the file). `mem_type` e.g. H5T_NATIVE_FLOAT.
inline void write_h5(const std::string& file, const std::string& dataset, hid_t mem_type, hid_t file_type,
                     const void* data, const std::vector<hsize_t>& shape, bool truncate = true) {
  hid_t f = truncate ? H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
                     : H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) throw std::runtime_error("cannot create " + file);
  hid_t sp = H5Screate_simple(int(shape.size()), shape.data(), nullptr);
  hid_t d = H5Dcreate2(f, dataset.c_str(), file_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(d);
  H5Sclose(sp);
  H5Fclose(f);
  if (st < 0) throw std::runtime_error("cannot write " + file + ":" + dataset);
}

inline void write_h5_floats(const std::string& file, const std::string& dataset, const std::vector<float>& v,
                            const std::vector<hsize_t>& shape, bool truncate = true) {
  write_h5(file, dataset, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, v.data(), shape, truncate);
}

// Uniform in [lo, hi); a fraction `zeros` of the entries set to exactly 0.
inline void fill_random(std::vector<float>& v, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f,
                        double zeros = 0.0) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::uniform_real_distribution<double> z(0.0, 1.0);
  for (float& x : v) {
    x = u(rng);
    if (zeros > 0 && z(rng) < zeros) x = 0.0f;
  }
}

// The canonical LCA connections (Input -> Residual <- Dictionary/Transpose -> V1) as a params section.
inline constexpr const char* kCanonicalConnections = R"(connections:
  InputToResidual:
    type: Identity
    pre: Input
    post: Residual
  Dictionary:
    type: Convolution
    pre: V1
    post: Residual
    channel: inhibitory
    patch_size: 4
  ResidualToV1:
    type: Transpose
    original: Dictionary
    pre: Residual
    post: V1
)";

}  // namespace laminar::test

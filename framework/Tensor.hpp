#pragma once
// Layer buffers: batch x ny x nx x nf, feature fastest (OpenPV's order), float32.
#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace laminar {

struct Geometry {
  int nx = 0, ny = 0, nf = 0;
  bool known() const { return nx > 0 && ny > 0 && nf > 0; }
  std::size_t size() const { return std::size_t(nx) * ny * nf; }  // one batch element
  bool operator==(const Geometry&) const = default;
  std::string str() const {
    return std::to_string(ny) + "x" + std::to_string(nx) + "x" + std::to_string(nf);
  }
};

class Tensor {
 public:
  Tensor() = default;
  Tensor(int batch, Geometry g) : batch_(batch), geometry_(g), data_(std::size_t(batch) * g.size(), 0.0f) {}

  int batch() const { return batch_; }
  const Geometry& geometry() const { return geometry_; }
  std::size_t size() const { return data_.size(); }
  std::size_t element_size() const { return geometry_.size(); }

  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  std::span<float> element(int b) { return {data_.data() + b * element_size(), element_size()}; }
  std::span<const float> element(int b) const { return {data_.data() + b * element_size(), element_size()}; }
  float& at(int b, int y, int x, int f) {
    return data_[((std::size_t(b) * geometry_.ny + y) * geometry_.nx + x) * geometry_.nf + f];
  }
  float at(int b, int y, int x, int f) const {
    return data_[((std::size_t(b) * geometry_.ny + y) * geometry_.nx + x) * geometry_.nf + f];
  }
  void fill(float v) { std::fill(data_.begin(), data_.end(), v); }
  std::vector<float>& vector() { return data_; }
  const std::vector<float>& vector() const { return data_; }

 private:
  int batch_ = 0;
  Geometry geometry_;
  std::vector<float> data_;
};

}  // namespace laminar

#pragma once
// Layer buffers: batch x ny x nx x nf, feature fastest (OpenPV's order), float32. The values are a
// Buffer: on the host, and also in a device backend's memory while one computes on them.
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "framework/Buffer.hpp"

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

  // Host values (see Buffer: brought up to date from a device copy first).
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  // The values in a backend's memory (nullptr: the host).
  float* on(DeviceMemory* memory) { return data_.on(memory); }
  const float* on(DeviceMemory* memory) const { return data_.on(memory); }
  // A host-only copy (no device memory involved, e.g. for writing a checkpoint).
  Tensor host_copy() const {
    Tensor t;
    t.batch_ = batch_;
    t.geometry_ = geometry_;
    t.data_ = Buffer(data_.host_vector());
    return t;
  }
  Buffer& buffer() { return data_; }
  const Buffer& buffer() const { return data_; }

  std::span<float> element(int b) { return {data() + b * element_size(), element_size()}; }
  std::span<const float> element(int b) const { return {data() + b * element_size(), element_size()}; }
  float& at(int b, int y, int x, int f) {
    return data()[((std::size_t(b) * geometry_.ny + y) * geometry_.nx + x) * geometry_.nf + f];
  }
  float at(int b, int y, int x, int f) const {
    return data()[((std::size_t(b) * geometry_.ny + y) * geometry_.nx + x) * geometry_.nf + f];
  }
  // Set every value (where the buffer lives: no transfer for a device-resident tensor).
  void fill(float v) { data_.fill(v); }
  // Set batch element b to v.
  void fill_element(int b, float v) { data_.fill(std::size_t(b) * element_size(), element_size(), v); }
  std::vector<float>& vector() { return data_.host_vector(); }
  const std::vector<float>& vector() const { return data_.host_vector(); }

 private:
  int batch_ = 0;
  Geometry geometry_;
  Buffer data_;
};

}  // namespace laminar

#pragma once
// A float array that lives on the host and, when a device backend computes on it, in that
// backend's memory too (docs/architecture.md, "Backend"). The two copies are kept coherent lazily:
//   data()        host pointer, brought up to date first (a download when the device copy is newer);
//                 the non-const overload marks the device copy stale (the caller may write).
//   on(memory)    the copy in `memory` (allocated and uploaded on first use, re-uploaded when the
//                 host copy is newer); the non-const overload marks the host copy stale.
// With no separate memory (the CPU backend, memory == nullptr) on() is data(): a CPU run never
// copies. So layer and connection code hands buffers to Backend calls and never moves data itself;
// probes and output read data() and pay one download where they read, nothing else does.
// Copies of a device-resident buffer are device-to-device (the NaN guard's snapshots of a GPU run);
// Tensor::host_copy() makes a host-only copy (what checkpoints write).
// Pointers from data()/on() stay valid until the next call that may change residency: take them
// right before use, outside parallel loops.
#include <cstddef>
#include <utility>
#include <vector>

namespace laminar {

// A memory space other than the host's (a GPU's, or the host-side emulation of one in tests).
class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void release(void* p) noexcept = 0;
  virtual void upload(void* device_dst, const void* host_src, std::size_t bytes) = 0;
  virtual void download(void* host_dst, const void* device_src, std::size_t bytes) = 0;
  virtual void copy(void* device_dst, const void* device_src, std::size_t bytes) = 0;
  virtual void fill(float* device_dst, std::size_t n, float value) = 0;

  // Host <-> device transfers made by Buffers so far (a device-resident run makes none per step
  // beyond what probes and output read; the tests count them).
  struct Traffic {
    std::size_t uploads = 0, downloads = 0, upload_bytes = 0, download_bytes = 0;
  };
  Traffic traffic;
};

class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t n, float value = 0.0f) : host_(n, value) {}
  explicit Buffer(std::vector<float> values) : host_(std::move(values)) {}
  Buffer(const Buffer& other);
  Buffer& operator=(const Buffer& other);
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  ~Buffer();

  std::size_t size() const { return host_.size(); }
  bool empty() const { return host_.empty(); }

  float* data();
  const float* data() const;
  float* on(DeviceMemory* memory);
  const float* on(DeviceMemory* memory) const;

  float* begin() { return data(); }
  float* end() { return data() + size(); }
  const float* begin() const { return data(); }
  const float* end() const { return data() + size(); }

  // Set every value (or n values from offset): in device memory when the buffer lives there.
  void fill(float value);
  void fill(std::size_t offset, std::size_t n, float value);
  // Resize to n values `value` on the host (drops any device copy).
  void assign(std::size_t n, float value);
  // The host values as a vector (up to date; the device copy is marked stale).
  std::vector<float>& host_vector();
  const std::vector<float>& host_vector() const {
    sync_host();
    return host_;
  }

  // Where the newest values are (for tests): the host, the device, or both equal.
  enum class Where { Host, Device, Both };
  Where where() const { return where_; }
  DeviceMemory* memory() const { return memory_; }

 private:
  void sync_host() const;
  void attach(DeviceMemory* memory) const;
  void drop_device() noexcept;

  mutable std::vector<float> host_;
  mutable DeviceMemory* memory_ = nullptr;
  mutable float* device_ = nullptr;
  mutable Where where_ = Where::Host;
};

}  // namespace laminar

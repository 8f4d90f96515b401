#include "framework/Buffer.hpp"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdint>
#include <utility>

namespace laminar {

namespace {
// Streaming stores for large copies that are not read again soon (the NaN guard's snapshots): stores
// that bypass the caches write each line once, without first reading it (a normal store's read for
// ownership), so a copy moves 2/3 of the bytes. dst[i] = src ? src[i] : value for i < n, by every
// thread. (Fills do not stream: a cleared input channel is read back by the delivery right after, and
// much of a 38 MB channel is then still in the L3 cache; streaming it measured slower.)
#if defined(__AVX512F__)
constexpr int kLine = 16;
inline void stream_line(float* d, const float* s, float value) {
  _mm512_stream_ps(d, s ? _mm512_loadu_ps(s) : _mm512_set1_ps(value));
}
#elif defined(__AVX__)
constexpr int kLine = 8;
inline void stream_line(float* d, const float* s, float value) {
  _mm256_stream_ps(d, s ? _mm256_loadu_ps(s) : _mm256_set1_ps(value));
}
#elif defined(__SSE2__)
constexpr int kLine = 4;
inline void stream_line(float* d, const float* s, float value) { _mm_stream_ps(d, s ? _mm_loadu_ps(s) : _mm_set1_ps(value)); }
#else
constexpr int kLine = 1;
inline void stream_line(float* d, const float* s, float value) { *d = s ? *s : value; }
#endif
void stream(float* dst, const float* src, float value, std::ptrdiff_t n) {
  constexpr std::size_t bytes = kLine * sizeof(float);
  const std::ptrdiff_t head =
      std::min<std::ptrdiff_t>(n, std::ptrdiff_t((bytes - reinterpret_cast<std::uintptr_t>(dst) % bytes) % bytes / sizeof(float)));
  const std::ptrdiff_t lines = (n - head) / kLine;
  float* const d = dst + head;
  const float* const s = src ? src + head : nullptr;
#pragma omp parallel
  {
#pragma omp for schedule(static) nowait
    for (std::ptrdiff_t l = 0; l < lines; ++l) stream_line(d + kLine * l, s ? s + kLine * l : nullptr, value);
#if defined(__SSE2__)
    _mm_sfence();  // this thread's streaming stores are visible before the region ends
#endif
  }
  for (std::ptrdiff_t i = 0; i < head; ++i) dst[i] = src ? src[i] : value;
  for (std::ptrdiff_t i = head + kLine * lines; i < n; ++i) dst[i] = src ? src[i] : value;
}
// Copies from this many floats (4 MiB) stream.
constexpr std::ptrdiff_t kStreamCopy = 1 << 20;
}  // namespace

Buffer::Buffer(const Buffer& other) : host_() { *this = other; }

Buffer& Buffer::operator=(const Buffer& other) {
  if (this == &other) return *this;
  if (other.memory_ && other.where_ != Where::Host) {
    // Resident on the device (newest there, or both copies equal): copy there, without a round trip
    // through the host, keeping this buffer's device allocation when it fits.
    if (memory_ != other.memory_ || host_.size() != other.host_.size()) {
      drop_device();
      host_.assign(other.host_.size(), 0.0f);
      attach(other.memory_);
    }
    if (!host_.empty()) other.memory_->copy(device_, other.device_, host_.size() * sizeof(float));
    where_ = Where::Device;
    return *this;
  }
  drop_device();
  // other's host copy is current (Host or Both). Large copies of the same size (the NaN guard's
  // snapshot of every layer, each step) by every thread; others by the vector.
  const std::ptrdiff_t n = std::ptrdiff_t(other.host_.size());
  if (host_.size() == other.host_.size() && n >= kStreamCopy) {
    stream(host_.data(), other.host_.data(), 0.0f, n);
  } else if (host_.size() == other.host_.size() && n >= (1 << 16)) {
    const float* src = other.host_.data();
    float* dst = host_.data();
#pragma omp parallel for simd schedule(static)
    for (std::ptrdiff_t i = 0; i < n; ++i) dst[i] = src[i];
  } else {
    host_ = other.host_;
  }
  where_ = Where::Host;
  return *this;
}

Buffer::Buffer(Buffer&& other) noexcept
    : host_(std::move(other.host_)), memory_(other.memory_), device_(other.device_), where_(other.where_) {
  other.memory_ = nullptr;
  other.device_ = nullptr;
  other.where_ = Where::Host;
  other.host_.clear();
}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this == &other) return *this;
  drop_device();
  host_ = std::move(other.host_);
  memory_ = std::exchange(other.memory_, nullptr);
  device_ = std::exchange(other.device_, nullptr);
  where_ = std::exchange(other.where_, Where::Host);
  other.host_.clear();
  return *this;
}

Buffer::~Buffer() { drop_device(); }

void Buffer::drop_device() noexcept {
  if (memory_ && device_) memory_->release(device_);
  memory_ = nullptr;
  device_ = nullptr;
  where_ = Where::Host;
}

void Buffer::sync_host() const {
  if (where_ == Where::Device) {
    if (!host_.empty()) {
      memory_->download(host_.data(), device_, host_.size() * sizeof(float));
      memory_->traffic.downloads += 1;
      memory_->traffic.download_bytes += host_.size() * sizeof(float);
    }
    where_ = Where::Both;
  }
}

void Buffer::attach(DeviceMemory* memory) const {
  if (memory_ == memory) return;
  if (memory_) {  // moving to another memory space: through the host
    sync_host();
    const_cast<Buffer*>(this)->drop_device();
  }
  // Allocate first: if it throws, this buffer is still a valid host-only buffer.
  float* d = host_.empty() ? nullptr : static_cast<float*>(memory->allocate(host_.size() * sizeof(float)));
  memory_ = memory;
  device_ = d;
  where_ = Where::Host;  // the new device copy is not written yet
}

float* Buffer::data() {
  sync_host();
  if (memory_) where_ = Where::Host;
  return host_.data();
}

const float* Buffer::data() const {
  sync_host();
  return host_.data();
}

const float* Buffer::on(DeviceMemory* memory) const {
  if (!memory) return data();
  attach(memory);
  if (where_ == Where::Host) {
    if (!host_.empty()) {
      memory_->upload(device_, host_.data(), host_.size() * sizeof(float));
      memory_->traffic.uploads += 1;
      memory_->traffic.upload_bytes += host_.size() * sizeof(float);
    }
    where_ = Where::Both;
  }
  return device_;
}

float* Buffer::on(DeviceMemory* memory) {
  if (!memory) return data();
  const float* p = static_cast<const Buffer*>(this)->on(memory);
  where_ = Where::Device;
  return const_cast<float*>(p);
}

void Buffer::fill(float value) { fill(0, host_.size(), value); }

void Buffer::fill(std::size_t offset, std::size_t n, float value) {
  if (n == 0) return;
  if (memory_ && offset == 0 && n == host_.size()) {  // every value: no need to upload the old ones
    memory_->fill(device_, n, value);
    where_ = Where::Device;
    return;
  }
  if (memory_) {
    // Keep the untouched part: bring the device copy up to date, then write there.
    float* d = on(memory_);
    memory_->fill(d + offset, n, value);
    return;
  }
  // Large buffers (a layer's input channels, cleared every step) by every thread: one core alone does
  // not reach the memory bandwidth.
  float* const p = host_.data() + offset;
  const std::ptrdiff_t count = std::ptrdiff_t(n);
#pragma omp parallel for simd schedule(static) if (parallel : count >= (1 << 16))
  for (std::ptrdiff_t i = 0; i < count; ++i) p[i] = value;
}

void Buffer::assign(std::size_t n, float value) {
  drop_device();
  host_.assign(n, value);
}

std::vector<float>& Buffer::host_vector() {
  data();
  return host_;
}

}  // namespace laminar

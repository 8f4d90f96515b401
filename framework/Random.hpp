#pragma once
// Deterministic random numbers: one independent stream per (seed, purpose name, index), so
// results never depend on construction order, thread count or platform (splitmix64).
#include <cstdint>
#include <string>

namespace laminar {

class Rng {
 public:
  Rng(std::uint64_t seed, const std::string& stream, std::uint64_t index = 0) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a of the stream name
    for (unsigned char c : stream) h = (h ^ c) * 1099511628211ull;
    state_ = seed * 0x9E3779B97F4A7C15ull ^ h ^ (index * 0xD1B54A32D192ED03ull);
    next();
  }
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 24 random bits (exactly representable as float).
  double uniform() { return double(next() >> 40) * (1.0 / 16777216.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) { return next() % n; }

 private:
  std::uint64_t state_;
};

}  // namespace laminar

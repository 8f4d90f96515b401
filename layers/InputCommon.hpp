#pragma once
// What input layers share: the order in which items are presented (in order, or shuffled per epoch
// with the simulation seed) and per-item normalisation.
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "framework/Random.hpp"

namespace laminar {

// The item shown at presentation index i (p * batch_size + b): i mod count, or with shuffle the
// (i mod count)-th entry of epoch i / count's permutation, a Fisher-Yates shuffle drawn from
// Rng(seed, "shuffle/<layer>", epoch). Two epochs' permutations are kept.
class PresentationOrder {
 public:
  PresentationOrder() = default;
  PresentationOrder(long count, bool shuffle, unsigned long long seed, std::string layer)
      : count_(count), shuffle_(shuffle), seed_(seed), layer_(std::move(layer)) {}
  long item(long i) {
    const long epoch = i / count_, pos = i % count_;
    if (!shuffle_) return pos;
    auto it = orders_.find(epoch);
    if (it == orders_.end()) {
      std::vector<long> order(static_cast<std::size_t>(count_));
      std::iota(order.begin(), order.end(), 0L);
      Rng rng(seed_, "shuffle/" + layer_, std::uint64_t(epoch));
      for (long k = count_ - 1; k > 0; --k) std::swap(order[std::size_t(k)], order[rng.below(std::uint64_t(k + 1))]);
      if (orders_.size() >= 2) orders_.erase(orders_.begin());
      it = orders_.emplace(epoch, std::move(order)).first;
    }
    return it->second[std::size_t(pos)];
  }
  double memory_bytes() const { return shuffle_ ? 2.0 * double(count_) * sizeof(long) : 0.0; }

 private:
  long count_ = 1;
  bool shuffle_ = false;
  unsigned long long seed_ = 1;
  std::string layer_;
  std::map<long, std::vector<long>> orders_;  // epoch -> permutation
};

// Per item, in place: "none"; "zero_mean" subtracts the mean; "standardize" also divides by the
// standard deviation; "unit_norm" scales to L2 norm 1. A constant item is left zero-mean (no division
// by 0).
inline void normalize_values(float* out, std::size_t n, const std::string& mode) {
  if (mode == "none" || n == 0) return;
  double mean = 0.0, sq = 0.0;
  for (std::size_t i = 0; i < n; ++i) mean += out[i];
  mean /= double(n);
  if (mode == "unit_norm") mean = 0.0;
  for (std::size_t i = 0; i < n; ++i) sq += (out[i] - mean) * (out[i] - mean);
  double div = 1.0;
  if (mode == "standardize") div = std::sqrt(sq / double(n));
  if (mode == "unit_norm") div = std::sqrt(sq);
  if (div <= 1e-12) div = 1.0;
  for (std::size_t i = 0; i < n; ++i) out[i] = float((out[i] - mean) / div);
}

}  // namespace laminar

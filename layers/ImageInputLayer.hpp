#pragma once
// Image input: presents one image per batch element for `display_period` steps, reading IDX
// files (MNIST/Fashion-MNIST), folders of PNG/JPEG images or HDF5 arrays, in order or shuffled
// with the simulation seed (a new order every epoch), with optional per-image normalisation.
#include <map>
#include <memory>
#include <vector>

#include "framework/ImageIO.hpp"
#include "framework/Layer.hpp"

namespace laminar {

class ImageInputLayer : public Layer {
 public:
  explicit ImageInputLayer(const BuildContext& ctx);
  void initialize(const SimulationConfig& sim) override;
  void update(long step) override;
  bool fires(long step) const override { return step % display_period_ == 0; }
  long dataset_size() const override { return count_; }
  long display_period() const { return display_period_; }
  // Dataset index shown to each batch element now.
  const std::vector<long>* current_items() const override { return &current_; }
  std::string item_label(long item) const;

 private:
  void load(long presentation);
  long item_for(long presentation_index);
  std::unique_ptr<DataSource> source_;
  std::unique_ptr<LabelTable> labels_;
  long count_ = 0;
  long display_period_ = 1;
  bool shuffle_ = false;
  unsigned long long seed_ = 1;
  std::map<long, std::vector<long>> orders_;  // epoch -> permutation (a few kept)
  std::vector<long> current_;
  std::vector<float> scratch_;
};

}  // namespace laminar

#pragma once
// Image input: presents one image per batch element for `display_period` steps, reading IDX
// files (MNIST/Fashion-MNIST), folders of PNG/JPEG images or HDF5 arrays, in order or shuffled
// with the simulation seed (a new order every epoch), with optional per-image normalisation.
// Presence (Layer::present()): with `absent_if_blank` an all-zero image is an absent modality; with
// `present_column` a labels-CSV column says per file whether the modality is present.
#include <memory>
#include <vector>

#include "framework/ImageIO.hpp"
#include "framework/Layer.hpp"
#include "layers/InputCommon.hpp"
#include "layers/Presence.hpp"

namespace laminar {

class ImageInputLayer : public Layer {
 public:
  explicit ImageInputLayer(const BuildContext& ctx);
  void initialize(const SimulationConfig& sim) override;
  void begin_step(long step) override;
  void resume(long step) override { prepare(step > 0 ? step - 1 : 0); }
  void update(long step) override {}
  bool fires(long step) const override { return step % display_period_ == 0; }
  long dataset_size() const override { return count_; }
  long display_period() const { return display_period_; }
  // Dataset index shown to each batch element now.
  const std::vector<long>* current_items() const override { return &current_; }
  std::string item_label(long item) const;
  // The item's name in its data source (the file name for image folders, the index otherwise).
  std::string item_file(long item) const { return source_->name(item); }
  const LabelTable* labels() const { return labels_.get(); }
  // Show the data of `step`'s presentation if not shown yet (idempotent within a step, so a layer
  // following this one, e.g. TextInput, can ask for it whatever the order of begin_step calls).
  void prepare(long step);
  const std::vector<char>* present() const override { return has_presence_ ? &present_ : nullptr; }
  double data_bytes() const override;
  std::string data_description() const override;
  std::string summary() const override;

 private:
  void load(long presentation);
  std::unique_ptr<DataSource> source_;
  std::unique_ptr<LabelTable> labels_;
  long labelled_ = 0;  // images with a labels row
  long count_ = 0;
  long display_period_ = 1;
  PresentationOrder order_;
  std::vector<long> current_;
  std::vector<float> scratch_;
  bool has_presence_ = false, absent_if_blank_ = false;
  long present_column_ = -1;  // index into labels_->columns, or -1
  std::vector<char> present_;
  long loaded_presentation_ = -1;
};

}  // namespace laminar

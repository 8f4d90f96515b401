#pragma once
// Audio input: presents one recording per batch element as a spectrogram image (frequency x time,
// row 0 the highest frequency), read from a folder of WAV/FLAC files (libsndfile) or an HDF5 array of
// waveforms; STFT magnitude/power or mel bands (FFTW), optional log compression and per-item
// normalisation; in order or shuffled with the seed, or following an ImageInput (a column of its labels
// CSV names each image's recording, the pairing of a bimodal data set).
// Presence (Layer::present()): `absent_if_silent`, `present_column`, and (with `follow`) an empty cell.
#include <memory>
#include <vector>

#include "framework/Audio.hpp"
#include "framework/ImageIO.hpp"
#include "framework/Layer.hpp"
#include "layers/InputCommon.hpp"

namespace laminar {

class ImageInputLayer;

class AudioInputLayer : public Layer {
 public:
  explicit AudioInputLayer(const BuildContext& ctx);
  ~AudioInputLayer() override;
  void resolve(Network& net) override;
  void initialize(const SimulationConfig& sim) override { prepare(0); }
  void begin_step(long step) override { prepare(step); }
  void resume(long step) override {
    loaded_presentation_ = -1;
    prepare(step > 0 ? step - 1 : 0);
  }
  void update(long) override {}
  bool fires(long step) const override;
  long dataset_size() const override;
  const std::vector<long>* current_items() const override { return &current_; }
  const std::vector<char>* present() const override { return &present_; }
  double data_bytes() const override;
  std::string data_description() const override { return "input bookkeeping (names, labels, orders) for " + source_->describe(); }
  std::string summary() const override;
  // The recording item `item` shows (an index into the layer's source; -1: none, the modality absent).
  long recording_of(long item) const;

 private:
  void prepare(long step);
  void show(long presentation);
  ImageInputLayer* follow_ = nullptr;
  std::unique_ptr<WaveSource> source_;
  std::unique_ptr<Spectrogram> spectrogram_;
  std::unique_ptr<LabelTable> labels_;
  const LabelTable* table_ = nullptr;  // the CSV (own or the followed layer's)
  std::size_t column_ = 0;             // with follow: the column naming each image's recording
  long present_column_ = -1;
  bool absent_if_silent_ = false;
  long count_ = 0;
  long display_period_ = 1;
  PresentationOrder order_;
  std::vector<long> recording_;  // with follow: item of the followed layer -> recording (-1: none)
  std::vector<long> current_;
  std::vector<char> present_;
  std::vector<float> scratch_;
  long loaded_presentation_ = -1;
};

}  // namespace laminar

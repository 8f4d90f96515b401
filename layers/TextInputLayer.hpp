#pragma once
// Text input: renders strings to fixed-size greyscale images (ink 1 on 0, anti-aliased) with
// stb_truetype, for a text modality (deep sparse coding: a person's name as a 128x16 image).
// The strings are a column of a labels CSV, in step with an ImageInput (`follow`: the same item
// for every batch element at every step), or a list given in params (`strings`).
// Presence (Layer::present()): an empty string (or a file without a CSV row) is an absent modality,
// and `present_column` may mark more items absent.
// Variation (so that a class's name is not one pixel-identical image): a font drawn per item from a
// list or a family x style grid, size and position jitter, all a pure function of (seed, item).
#include <string>
#include <vector>

#include "framework/Layer.hpp"

namespace laminar {

class ImageInputLayer;
struct LabelTable;

// A TrueType font and the layout rule of one TextInput layer (exposed for tests).
class TextRenderer {
 public:
  // `font_px`: em size in pixels (as PIL's ImageFont.truetype size, or points at 72 dpi).
  TextRenderer(std::vector<unsigned char> font_data, float font_px, bool shrink, bool center);
  static std::vector<unsigned char> read_font(const std::string& path);  // throws UserError
  bool valid() const { return valid_; }
  std::size_t memory_bytes() const { return data_.size() + info_.size(); }
  // Width and height in pixels of `text` at the font size (advance widths with kerning; ascent + descent).
  double width(const std::string& text) const;
  double height() const;
  // The em size used for `text` in an nx x ny image: font_px, or smaller with shrink when the text
  // does not fit; 0 when it does not fit and shrink is off.
  float fitted_px(const std::string& text, int nx, int ny, double size = 1.0) const;
  // Render into out[ny*nx] (row-major), values in [0, 1]; false when it does not fit (no shrink).
  // `size`: the em size is font_px * size; `dx`, `dy`: shift in pixels from the centred (or left)
  // placement, limited to the room the fitted text leaves so it stays inside the image.
  bool render(const std::string& text, int nx, int ny, float* out, double size = 1.0, double dx = 0.0,
              double dy = 0.0) const;

 private:
  std::vector<unsigned char> data_;
  std::vector<unsigned char> info_;  // stbtt_fontinfo, opaque here
  float font_px_;
  bool shrink_, center_, valid_ = false;
};

// UTF-8 -> code points (invalid bytes become U+FFFD).
std::vector<int> utf8_codepoints(const std::string& s);

class TextInputLayer : public Layer {
 public:
  explicit TextInputLayer(const BuildContext& ctx);
  ~TextInputLayer() override;
  void resolve(Network& net) override;
  void initialize(const SimulationConfig& sim) override;
  void begin_step(long step) override;
  void resume(long step) override {
    shown_ = false;
    begin_step(step > 0 ? step - 1 : 0);
  }
  void update(long step) override;
  bool fires(long step) const override;
  long dataset_size() const override;
  const std::vector<long>* current_items() const override { return &current_; }
  const std::vector<char>* present() const override { return &present_; }
  double data_bytes() const override;
  std::string data_description() const override { return "input data held in memory (fonts, texts, labels)"; }
  // The string item `item` shows ("" when absent).
  std::string text_of(long item) const;
  // How item `item` is drawn: index into the layer's fonts, em-size factor, shift in pixels.
  struct Style {
    std::size_t font = 0;
    double size = 1.0, dx = 0.0, dy = 0.0;
  };
  Style style_of(long item) const;

 private:
  void show(const std::vector<long>& items);
  void check_all_fit() const;
  ImageInputLayer* follow_ = nullptr;
  const LabelTable* table_ = nullptr;     // the CSV (own or the followed layer's)
  std::unique_ptr<LabelTable> own_table_;
  std::size_t column_ = 0;
  long present_column_ = -1;
  std::vector<std::string> strings_;
  std::vector<std::string> font_files_;
  std::vector<std::unique_ptr<TextRenderer>> renderers_;  // one per font file
  double size_jitter_ = 0.0, jitter_x_ = 0.0, jitter_y_ = 0.0;
  unsigned long long seed_ = 1;
  long display_period_ = 1;
  float scale_ = 1.0f;
  std::vector<long> current_;
  std::vector<char> present_;
  bool shown_ = false;
  std::vector<float> scratch_;  // one whole rendered text
};

}  // namespace laminar

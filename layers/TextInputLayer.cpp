#include "layers/TextInputLayer.hpp"

#include <stb/stb_truetype.h>  // implementation in libstb (pkg-config stb)

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>

#include "framework/ImageIO.hpp"
#include "framework/Network.hpp"
#include "layers/ImageInputLayer.hpp"
#include "layers/Presence.hpp"

namespace laminar {

namespace {
const char* kDefaultFont = "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf";

std::string trimmed(const std::string& s) {
  std::size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// The cell of `file`'s row in `column` ("" when the file has no row).
std::string cell(const LabelTable& t, const std::string& file, std::size_t column) {
  auto it = t.rows.find(file);
  return it == t.rows.end() ? std::string() : it->second[column];
}

std::string fmt(double v) {
  std::ostringstream s;
  s.precision(4);
  s << v;
  return s.str();
}
}  // namespace

std::vector<int> utf8_codepoints(const std::string& s) {
  std::vector<int> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    bool ok = n >= 0 && i + std::size_t(n) < s.size();
    int cp = n <= 0 ? c : n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; ok && k <= n; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + std::size_t(k)]);
      ok = (d >> 6) == 2;
      cp = (cp << 6) | (d & 0x3F);
    }
    out.push_back(ok ? cp : 0xFFFD);
    i += ok ? std::size_t(n) + 1 : 1;
  }
  return out;
}

// ---------------------------------------------------------------- TextRenderer

std::vector<unsigned char> TextRenderer::read_font(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": font file not found (Debian: apt-get install fonts-liberation)");
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

TextRenderer::TextRenderer(std::vector<unsigned char> font_data, float font_px, bool shrink, bool center)
    : data_(std::move(font_data)), info_(sizeof(stbtt_fontinfo)), font_px_(font_px), shrink_(shrink), center_(center) {
  auto* info = reinterpret_cast<stbtt_fontinfo*>(info_.data());
  const int offset = data_.empty() ? -1 : stbtt_GetFontOffsetForIndex(data_.data(), 0);
  valid_ = offset >= 0 && stbtt_InitFont(info, data_.data(), offset) != 0;
}

double TextRenderer::width(const std::string& text) const {
  const auto* info = reinterpret_cast<const stbtt_fontinfo*>(info_.data());
  const float scale = stbtt_ScaleForMappingEmToPixels(info, font_px_);
  const auto cps = utf8_codepoints(text);
  double w = 0.0;
  for (std::size_t i = 0; i < cps.size(); ++i) {
    int advance = 0, bearing = 0;
    stbtt_GetCodepointHMetrics(info, cps[i], &advance, &bearing);
    w += advance * double(scale);
    if (i + 1 < cps.size()) w += stbtt_GetCodepointKernAdvance(info, cps[i], cps[i + 1]) * double(scale);
  }
  return w;
}

double TextRenderer::height() const {
  const auto* info = reinterpret_cast<const stbtt_fontinfo*>(info_.data());
  int ascent = 0, descent = 0, gap = 0;
  stbtt_GetFontVMetrics(info, &ascent, &descent, &gap);
  return (ascent - descent) * double(stbtt_ScaleForMappingEmToPixels(info, font_px_));
}

float TextRenderer::fitted_px(const std::string& text, int nx, int ny) const {
  const double w = width(text), h = height();
  if (w <= nx && h <= ny) return font_px_;
  if (!shrink_) return 0.0f;
  // Width and height are linear in the em size; a hair smaller so rounding cannot overflow.
  const double f = std::min(w > nx ? nx / w : 1.0, h > ny ? ny / h : 1.0) * 0.999;
  return float(font_px_ * f);
}

bool TextRenderer::render(const std::string& text, int nx, int ny, float* out) const {
  std::fill(out, out + std::size_t(nx) * ny, 0.0f);
  const float px = fitted_px(text, nx, ny);
  if (px <= 0.0f) return false;
  const auto* info = reinterpret_cast<const stbtt_fontinfo*>(info_.data());
  const float scale = stbtt_ScaleForMappingEmToPixels(info, px);
  int ascent = 0, descent = 0, gap = 0;
  stbtt_GetFontVMetrics(info, &ascent, &descent, &gap);
  const double h = (ascent - descent) * double(scale);
  const auto cps = utf8_codepoints(text);
  double w = 0.0;  // at the fitted size
  for (std::size_t i = 0; i < cps.size(); ++i) {
    int advance = 0, bearing = 0;
    stbtt_GetCodepointHMetrics(info, cps[i], &advance, &bearing);
    w += advance * double(scale);
    if (i + 1 < cps.size()) w += stbtt_GetCodepointKernAdvance(info, cps[i], cps[i + 1]) * double(scale);
  }
  // Centred (or left-aligned) line box: ascent above the baseline, descent below; whole-pixel baseline.
  const int baseline = int(std::lround((ny - h) / 2.0 + ascent * double(scale)));
  double pen = center_ ? (nx - w) / 2.0 : 0.0;
  std::vector<unsigned char> glyph;
  for (std::size_t i = 0; i < cps.size(); ++i) {
    const int ix = int(std::floor(pen));
    const float shift = float(pen - ix);
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    stbtt_GetCodepointBitmapBoxSubpixel(info, cps[i], scale, scale, shift, 0.0f, &x0, &y0, &x1, &y1);
    const int gw = x1 - x0, gh = y1 - y0;
    if (gw > 0 && gh > 0) {
      glyph.assign(std::size_t(gw) * gh, 0);
      stbtt_MakeCodepointBitmapSubpixel(info, glyph.data(), gw, gh, gw, scale, scale, shift, 0.0f, cps[i]);
      for (int y = 0; y < gh; ++y) {
        const int oy = baseline + y0 + y;
        if (oy < 0 || oy >= ny) continue;
        for (int x = 0; x < gw; ++x) {
          const int ox = ix + x0 + x;
          if (ox < 0 || ox >= nx) continue;
          float& o = out[std::size_t(oy) * nx + ox];
          o = std::min(1.0f, o + glyph[std::size_t(y) * gw + x] / 255.0f);  // overlapping glyphs add up
        }
      }
    }
    int advance = 0, bearing = 0;
    stbtt_GetCodepointHMetrics(info, cps[i], &advance, &bearing);
    pen += advance * double(scale);
    if (i + 1 < cps.size()) pen += stbtt_GetCodepointKernAdvance(info, cps[i], cps[i + 1]) * double(scale);
  }
  return true;
}

// ---------------------------------------------------------------- TextInputLayer

TextInputLayer::TextInputLayer(const BuildContext& ctx) : Layer(ctx) {
  const ParamSet& p = params_;
  if (!geometry_.known()) geometry_ = Geometry{128, 16, 1};
  if (geometry_.nf != 1) p.fail("nf", "TextInput renders greyscale images: nf must be 1");
  const bool has_follow = p.has("follow"), has_strings = !p.strings("strings").empty(), has_labels = p.has("labels");
  if (has_follow && has_strings) p.fail("strings", "give `follow` (texts from a labels CSV) or `strings`, not both");
  if (!has_follow && !has_strings && !has_labels)
    p.fail_block("give `follow: <ImageInput>` (the name of each image from its labels CSV), `labels` (a CSV) or "
                 "`strings` (a list)");
  if (has_strings && has_labels) p.fail("labels", "give `labels` or `strings`, not both");
  if (p.has("present_column") && has_strings) p.fail("present_column", "present_column needs a labels CSV, not `strings`");
  std::vector<unsigned char> font;
  try {
    font = TextRenderer::read_font(p.string("font"));
  } catch (const UserError& e) {
    p.fail("font", e.what());
  }
  renderer_ = std::make_unique<TextRenderer>(std::move(font), float(p.real("font_size")),
                                             p.string("overflow") == "shrink", p.string("align") == "center");
  if (!renderer_->valid()) p.fail("font", p.string("font") + ": not a TrueType font stb_truetype can read");
  if (has_labels) {
    try {
      own_table_ = std::make_unique<LabelTable>(LabelTable::read(p.string("labels")));
    } catch (const UserError& e) {
      p.fail("labels", e.what());
    }
  }
  strings_ = p.strings("strings");
  display_period_ = p.has("display_period") ? p.integer("display_period") : ctx.sim.display_period;
  scale_ = float(p.real("scale"));
  if (has_follow && p.has("display_period"))
    p.fail("display_period", "a TextInput that follows an ImageInput shows its items when that layer does; drop display_period");
}

TextInputLayer::~TextInputLayer() = default;

void TextInputLayer::resolve(Network& net) {
  const ParamSet& p = params_;
  if (p.has("follow")) {
    Layer& l = net.layer(p.string("follow"), p, "follow");
    follow_ = dynamic_cast<ImageInputLayer*>(&l);
    if (!follow_) p.fail("follow", "layer '" + l.name() + "' (" + l.type() + ") is not an ImageInput; follow names an ImageInput layer");
    table_ = own_table_ ? own_table_.get() : follow_->labels();
    if (!table_)
      p.fail("follow", "ImageInput '" + l.name() + "' has no `labels` CSV; give it one, or give this layer `labels`");
  } else {
    table_ = own_table_.get();
  }
  const std::string csv = p.has("labels") ? p.string("labels") : follow_ ? follow_->params().string("labels") : "";
  if (table_) {
    const std::string& col = p.string("column");
    auto it = std::find(table_->columns.begin(), table_->columns.end(), col);
    if (it == table_->columns.end()) p.fail("column", csv + ": no column '" + col + "'" + did_you_mean(col, table_->columns));
    column_ = std::size_t(it - table_->columns.begin());
    if (p.has("present_column"))
      present_column_ = long(presence_column(*table_, p.string("present_column"), p, "present_column", csv));
    if (!follow_)  // a CSV alone: its rows in file-name order are the items
      for (const auto& [file, cells] : table_->rows) strings_.push_back(cells[column_]);
  }
  if (!follow_ && strings_.empty()) p.fail("labels", csv + ": the CSV has no rows");
  check_all_fit();
}

void TextInputLayer::check_all_fit() const {
  // With overflow: error every text is measured now, so `laminar check` reports one that does not fit.
  std::vector<std::string> texts;
  if (follow_ || (table_ && strings_.empty())) {
    for (const auto& [file, cells] : table_->rows) texts.push_back(trimmed(cells[column_]));
  } else {
    for (const auto& s : strings_) texts.push_back(trimmed(s));
  }
  const Geometry& g = geometry_;
  for (const auto& t : texts) {
    if (t.empty() || renderer_->fitted_px(t, g.nx, g.ny) > 0) continue;
    params_.fail("overflow", "text '" + t + "' is " + fmt(renderer_->width(t)) + " x " + fmt(renderer_->height()) +
                                 " px at font_size " + fmt(params_.real("font_size")) + " but the layer is " +
                                 std::to_string(g.nx) + " x " + std::to_string(g.ny) +
                                 " px; use overflow: shrink, a smaller font_size or a larger nx/ny");
  }
}

std::string TextInputLayer::text_of(long item) const {
  if (follow_) return trimmed(cell(*table_, follow_->item_file(item), column_));
  return trimmed(strings_[std::size_t(item % long(strings_.size()))]);
}

bool TextInputLayer::fires(long step) const {
  return follow_ ? follow_->fires(step) : step % display_period_ == 0;
}

long TextInputLayer::dataset_size() const {
  return follow_ ? follow_->dataset_size() : long(strings_.size());
}

void TextInputLayer::show(const std::vector<long>& items) {
  // Each text is rendered whole, then this process's tile (rows, columns) is kept (MPI).
  const Geometry& g = geometry_;
  const Geometry lg = local_geometry();
  const Tile t = tile_.nx > 0 ? tile_ : Tile{0, 0, geometry_.ny, geometry_.nx, 0, batch_};
  scratch_.resize(g.size());
  current_ = items;
  present_.assign(std::size_t(batch_), 1);
  for (int b = 0; b < batch_; ++b) {
    const long item = items[std::size_t(b)];
    const std::string text = text_of(item);
    float* out = scratch_.data();
    char here = text.empty() ? 0 : 1;
    if (here && present_column_ >= 0) {
      const std::string file = follow_ ? follow_->item_file(item)
                                       : std::next(table_->rows.begin(), item % long(table_->rows.size()))->first;
      here = presence_of(*table_, std::size_t(present_column_), file);
    }
    present_[std::size_t(b)] = here;
    if (!renderer_->render(here ? text : std::string(), g.nx, g.ny, out))
      throw UserError("layers." + name_ + ": text '" + text + "' does not fit " + std::to_string(g.nx) + "x" +
                      std::to_string(g.ny) + " px");  // unreachable: check_all_fit ran at build time
    if (scale_ != 1.0f)
      for (std::size_t i = 0; i < g.size(); ++i) out[i] *= scale_;
    const std::size_t w = std::size_t(lg.nx) * lg.nf;
    for (int y = 0; y < lg.ny; ++y)
      std::copy_n(out + (std::size_t(t.y0 + y) * g.nx + t.x0) * g.nf, w, &activity_.at(b, y, 0, 0));
  }
  shown_ = true;
}

void TextInputLayer::initialize(const SimulationConfig&) { begin_step(0); }

void TextInputLayer::begin_step(long step) {
  if (shown_ && !(step > 0 && fires(step))) return;
  if (follow_) {
    follow_->prepare(step);  // whatever the order of begin_step calls, the followed items are current
    show(*follow_->current_items());
  } else {
    const long presentation = step / display_period_;
    std::vector<long> items(static_cast<std::size_t>(batch_));
    const long b0 = tile_.nx > 0 ? tile_.b0 : 0;  // this process's first element of the whole batch
    for (int b = 0; b < batch_; ++b)
      items[std::size_t(b)] = (presentation * global_batch_ + b0 + b) % long(strings_.size());
    show(items);
  }
}

void TextInputLayer::update(long) {}

void laminar_register_TextInputLayer(Registry& r) {
  Schema s = Layer::common_schema();
  s.optional_string("follow", "An ImageInput with a labels CSV: show, for each batch element, the text of the image it "
                              "shows (same item, same steps).")
      .optional_string("labels", "CSV with `file` and `label` columns (default: the followed ImageInput's labels). "
                                 "Without `follow` its rows, in file-name order, are the items.")
      .string("column", std::string("label"), "CSV column holding the text.")
      .strings("strings", "The texts to show (instead of a CSV), item i = strings[i].")
      .optional_string("present_column", "CSV column saying per file whether the text modality is present (1/0, "
                                         "true/false, yes/no; empty: absent). An empty text is always absent.")
      .string("font", std::string(kDefaultFont), "TrueType font file (LiberationSans is metric-compatible with Arial).")
      .real("font_size", 12.0, 0, Schema::inf, "Em size in pixels (points at 72 dpi).", true)
      .choice("overflow", {"shrink", "error"}, std::string("shrink"),
              "A text wider or taller than the layer: shrink the font until it fits, or fail (checked for every "
              "text before the run).")
      .choice("align", {"center", "left"}, std::string("center"), "Horizontal placement of the line.")
      .optional_integer("display_period", 1, 1e12,
                        "Steps each text is shown without `follow` (default: simulation.display_period).")
      .real("scale", 1.0, -Schema::inf, Schema::inf, "Multiply pixel values (ink is 1, background 0).");
  register_layer<TextInputLayer>(
      r, KindInfo{Category::Layer, "TextInput", "Text rendered to a greyscale image (a text modality), one per batch element.",
                  "Renders a string per batch element with stb_truetype into an ny x nx x 1 image (default 16 x 128, "
                  "the deep sparse coding paper's text modality): anti-aliased ink 1 on background 0, one line, "
                  "centred (or left-aligned) with its ascent-to-descent box centred vertically, at `font_size` or, with "
                  "`overflow: shrink`, smaller where the text would not fit. With `follow: <ImageInput>` it shows the "
                  "`column` cell of the followed layer's labels CSV for the very image each batch element sees, "
                  "changing when that layer does. An empty text (or a file without a CSV row, or `present_column` "
                  "saying absent) leaves the image blank and marks the modality absent for that batch element (see "
                  "Error `mask`). Relative paths are relative to the working directory.",
                  "Name:\n  type: TextInput\n  follow: Faces   # an ImageInput with labels: names.csv\n"
                  "  nx: 128\n  ny: 16\n  nf: 1",
                  {"ImageInput", "Error", "ImageWriter"}, s});
}

}  // namespace laminar

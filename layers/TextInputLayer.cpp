#include "layers/TextInputLayer.hpp"

#include <stb/stb_truetype.h>  // implementation in libstb (pkg-config stb)

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>

#include "framework/FileCheck.hpp"
#include "framework/ImageIO.hpp"
#include "framework/Network.hpp"
#include "framework/Random.hpp"
#include "layers/ImageInputLayer.hpp"
#include "layers/Presence.hpp"

namespace laminar {

namespace {
const char* kFontDir = "/usr/share/fonts/truetype/liberation";
const char* kDefaultFont = "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf";
// Liberation's file names: LiberationSans-BoldItalic.ttf, LiberationMono-Regular.ttf, ...
const std::vector<std::string> kFamilies = {"sans", "serif", "mono", "sans_narrow"};
const std::vector<std::string> kFamilyFiles = {"Sans", "Serif", "Mono", "SansNarrow"};
const std::vector<std::string> kStyles = {"regular", "bold", "italic", "bold_italic"};
const std::vector<std::string> kStyleFiles = {"Regular", "Bold", "Italic", "BoldItalic"};

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
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw UserError(path + ": expected a font file, found a folder");
  require_regular_file(path);
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

float TextRenderer::fitted_px(const std::string& text, int nx, int ny, double size) const {
  // width() and height() are at font_px_; both are linear in the em size.
  const double w = width(text) * size, h = height() * size;
  if (w <= nx && h <= ny) return float(font_px_ * size);
  if (!shrink_) return 0.0f;
  // A hair smaller so rounding cannot overflow.
  const double f = std::min(w > nx ? nx / w : 1.0, h > ny ? ny / h : 1.0) * 0.999;
  return float(font_px_ * size * f);
}

bool TextRenderer::render(const std::string& text, int nx, int ny, float* out, double size, double dx,
                          double dy) const {
  std::fill(out, out + std::size_t(nx) * ny, 0.0f);
  const float px = fitted_px(text, nx, ny, size);
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
  // The shift is limited to the room left beside (above/below) the line box: the text stays inside.
  const double room_x = std::max(0.0, center_ ? (nx - w) / 2.0 : nx - w), room_y = std::max(0.0, (ny - h) / 2.0);
  dx = center_ ? std::clamp(dx, -room_x, room_x) : std::clamp(dx, 0.0, room_x);
  dy = std::clamp(dy, -room_y, room_y);
  const int baseline = int(std::lround((ny - h) / 2.0 + dy + ascent * double(scale)));
  double pen = (center_ ? (nx - w) / 2.0 : 0.0) + dx;
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
  // The fonts drawn from per item: `fonts`, the `font_families` x `font_styles` grid, or `font`.
  const auto& families = p.strings("font_families");
  const auto& styles = p.strings("font_styles");
  const bool grid = !families.empty() || !styles.empty();
  std::string font_key = "font";
  if (!p.strings("fonts").empty()) {
    if (grid) p.fail("fonts", "give `fonts` (files) or `font_families`/`font_styles` (the Liberation grid), not both");
    if (p.given("font")) p.fail("fonts", "give `font` (one file) or `fonts` (a list), not both");
    font_files_ = p.strings("fonts");
    font_key = "fonts";
  } else if (grid) {
    if (p.given("font")) p.fail("font_families", "give `font` (one file) or `font_families`/`font_styles`, not both");
    const std::vector<std::string> fam = families.empty() ? std::vector<std::string>{"sans"} : families;
    const std::vector<std::string> sty = styles.empty() ? std::vector<std::string>{"regular"} : styles;
    auto index = [&](const std::string& key, const std::string& v, const std::vector<std::string>& allowed) {
      auto it = std::find(allowed.begin(), allowed.end(), v);
      if (it == allowed.end()) {
        std::string all;
        for (const auto& a : allowed) all += (all.empty() ? "" : " | ") + a;
        p.fail(key, "'" + v + "' is not one of " + all + did_you_mean(v, allowed));
      }
      return std::size_t(it - allowed.begin());
    };
    for (const auto& f : fam)
      for (const auto& st : sty)
        font_files_.push_back(p.string("font_dir") + "/Liberation" + kFamilyFiles[index("font_families", f, kFamilies)] +
                              "-" + kStyleFiles[index("font_styles", st, kStyles)] + ".ttf");
    font_key = "font_families";
  } else {
    font_files_ = {p.string("font")};
  }
  for (const auto& file : font_files_) {
    std::vector<unsigned char> font;
    try {
      font = TextRenderer::read_font(file);
    } catch (const UserError& e) {
      p.fail(font_key, e.what());
    }
    renderers_.push_back(std::make_unique<TextRenderer>(std::move(font), float(p.real("font_size")),
                                                        p.string("overflow") == "shrink", p.string("align") == "center"));
    if (!renderers_.back()->valid()) p.fail(font_key, file + ": not a TrueType font stb_truetype can read");
  }
  size_jitter_ = p.real("size_jitter");
  jitter_x_ = p.real("jitter_x");
  jitter_y_ = p.real("jitter_y");
  seed_ = ctx.sim.seed;
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
    if (own_table_) {  // the followed layer checked its own CSV against its images; this one is checked here
      try {
        own_table_->require_matches(follow_->dataset_size(), [&](long i) { return follow_->item_file(i); },
                                    "ImageInput '" + l.name() + "'", p.string("labels"));
      } catch (const UserError& e) {
        p.fail("labels", e.what());
      }
    }
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
  // With size jitter every font is measured at the largest size an item can draw.
  const Geometry& g = geometry_;
  const double largest = 1.0 + size_jitter_;
  for (std::size_t f = 0; f < renderers_.size(); ++f) {
    const TextRenderer& r = *renderers_[f];
    for (const auto& t : texts) {
      if (t.empty() || r.fitted_px(t, g.nx, g.ny, largest) > 0) continue;
      params_.fail("overflow", "text '" + t + "' is " + fmt(r.width(t) * largest) + " x " + fmt(r.height() * largest) +
                                   " px at font_size " + fmt(params_.real("font_size") * largest) +
                                   (renderers_.size() > 1 ? " in " + font_files_[f] : std::string()) +
                                   " but the layer is " + std::to_string(g.nx) + " x " + std::to_string(g.ny) +
                                   " px; use overflow: shrink, a smaller font_size or size_jitter, or a larger nx/ny");
    }
  }
}

TextInputLayer::Style TextInputLayer::style_of(long item) const {
  // Four draws per item, always in this order (so a parameter set to 0 leaves the others unchanged).
  Rng rng(seed_, "text_style/" + name_, std::uint64_t(item));
  Style s;
  s.font = std::size_t(rng.below(renderers_.size()));
  s.size = 1.0 + size_jitter_ * rng.uniform(-1.0, 1.0);
  s.dx = jitter_x_ * rng.uniform(-1.0, 1.0);
  s.dy = jitter_y_ * rng.uniform(-1.0, 1.0);
  return s;
}

std::string TextInputLayer::text_of(long item) const {
  if (follow_) return trimmed(cell(*table_, follow_->item_file(item), column_));
  return trimmed(strings_[std::size_t(item % long(strings_.size()))]);
}

double TextInputLayer::data_bytes() const {
  double b = (own_table_ ? label_table_bytes(*own_table_) : 0.0) + double(geometry_.size()) * sizeof(float) +
             double(global_batch_) * (sizeof(long) + sizeof(char));
  for (const auto& r : renderers_) b += double(r->memory_bytes());
  for (const auto& s : strings_) b += 32.0 + double(s.size());
  return b;
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
    const Style st = style_of(item);
    if (!renderers_[st.font]->render(here ? text : std::string(), g.nx, g.ny, out, st.size, st.dx, st.dy))
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
      .strings("fonts", "TrueType font files, one drawn per item (instead of `font`).")
      .strings("font_families", "Draw the font per item from these Liberation families (sans | serif | mono | "
                                "sans_narrow) x `font_styles` (instead of `font`; default sans).")
      .strings("font_styles", "With `font_families`: the styles drawn from (regular | bold | italic | bold_italic; "
                              "default regular).")
      .string("font_dir", std::string(kFontDir), "Folder of the Liberation fonts for `font_families`.")
      .real("font_size", 12.0, 0, Schema::inf, "Em size in pixels (points at 72 dpi).", true)
      .real("size_jitter", 0.0, 0, 0.9,
            "Em size drawn per item uniformly in font_size x [1 - size_jitter, 1 + size_jitter).")
      .real("jitter_x", 0.0, 0, Schema::inf,
            "Horizontal shift in pixels drawn per item uniformly in [-jitter_x, jitter_x) (only right with align: "
            "left), limited to the room the text leaves.")
      .real("jitter_y", 0.0, 0, Schema::inf,
            "Vertical shift in pixels drawn per item uniformly in [-jitter_y, jitter_y) (baseline rounded to a whole "
            "pixel), limited to the room the line box leaves.")
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
                  "Error `mask`). Variation: so that the items of one class are not all the same image, the font "
                  "(from `fonts`, or the `font_families` x `font_styles` grid in that order), the em size "
                  "(`size_jitter`) and the placement (`jitter_x`, `jitter_y`) can be drawn per item, a pure function "
                  "of the simulation seed, the layer name and the item index (the same item always looks the same, "
                  "in every epoch and on any number of processes): Rng(seed, \"text_style/<layer>\", item) draws, in "
                  "order, the font index (below the number of fonts), then three uniforms u in [-1, 1) for the size "
                  "factor 1 + size_jitter u, the shift jitter_x u and the shift jitter_y u; the size is then shrunk "
                  "to fit (`overflow: shrink`) and the shift limited so that the text stays inside the image. "
                  "Relative paths are relative to the working directory.",
                  "Name:\n  type: TextInput\n  follow: Faces   # an ImageInput with labels: names.csv\n"
                  "  nx: 128\n  ny: 16\n  nf: 1\n  font_families: [sans, serif, mono]   # drawn per item\n"
                  "  font_styles: [regular, bold, italic]\n  size_jitter: 0.15\n  jitter_x: 6\n  jitter_y: 1",
                  {"ImageInput", "Error", "ImageWriter"}, s});
}

}  // namespace laminar

#include "layers/ImageInputLayer.hpp"

#include <algorithm>

#include "framework/Registry.hpp"

namespace laminar {

ImageInputLayer::ImageInputLayer(const BuildContext& ctx) : Layer(ctx) {
  const ParamSet& p = params_;
  try {
    source_ = open_data_source(p.string("path"), p.string("format"), p.string("dataset"), int(p.integer("channels")));
  } catch (const UserError& e) {
    p.fail("path", e.what());
  }
  if (p.has("labels")) {
    try {
      labels_ = std::make_unique<LabelTable>(LabelTable::read(p.string("labels")));
    } catch (const UserError& e) {
      p.fail("labels", e.what());
    }
  }
  count_ = source_->size();
  if (count_ <= 0) p.fail("path", source_->describe() + " holds no images");  // item_for() divides by it
  if (p.integer("limit") > 0) count_ = std::min<long>(count_, p.integer("limit"));
  if (labels_) {
    try {
      labelled_ = labels_->require_matches(count_, [&](long i) { return source_->name(i); }, source_->describe(),
                                           p.string("labels"));
    } catch (const UserError& e) {
      p.fail("labels", e.what());
    }
  }
  const Geometry data = source_->geometry();
  if (geometry_.known() && !(geometry_ == data))
    p.fail_block("nx, ny, nf give " + geometry_.str() + " but " + source_->describe() + " holds images of " + data.str() +
                 " (ny x nx x nf); drop nx/ny/nf to take the data's size");
  geometry_ = data;
  display_period_ = p.has("display_period") ? p.integer("display_period") : ctx.sim.display_period;
  order_ = PresentationOrder(count_, p.boolean("shuffle"), ctx.sim.seed, name_);
  absent_if_blank_ = p.boolean("absent_if_blank");
  if (p.has("present_column")) {
    if (!labels_) p.fail("present_column", "present_column needs `labels` (the CSV holding that column)");
    present_column_ = long(presence_column(*labels_, p.string("present_column"), p, "present_column", p.string("labels")));
  }
  has_presence_ = absent_if_blank_ || present_column_ >= 0;
}

std::string ImageInputLayer::item_label(long item) const {
  return labels_ ? labels_->label(source_->name(item)) : std::string();
}

void ImageInputLayer::load(long presentation) {
  // Batch element b here is element tile_.b0 + b of the whole batch; each image is read and
  // normalised whole, then this process's tile (rows, columns) is kept.
  const std::size_t n = geometry_.size();
  const std::string& norm = params_.string("normalize");
  const float scale = float(params_.real("scale"));
  const Geometry lg = local_geometry();
  const Tile t = tile_.nx > 0 ? tile_ : Tile{0, 0, geometry_.ny, geometry_.nx, 0, batch_};
  current_.resize(batch_);
  scratch_.resize(n);
  present_.assign(batch_, 1);
  for (int b = 0; b < batch_; ++b) {
    const long item = order_.item(presentation * global_batch_ + t.b0 + b);
    current_[b] = item;
    float* out = scratch_.data();
    source_->read(item, out);
    if (has_presence_) {
      char here = 1;
      if (present_column_ >= 0) here = presence_of(*labels_, std::size_t(present_column_), source_->name(item));
      if (absent_if_blank_ && std::all_of(out, out + n, [](float v) { return v == 0.0f; })) here = 0;
      present_[b] = here;
    }
    normalize_values(out, n, norm);
    if (scale != 1.0f)
      for (std::size_t i = 0; i < n; ++i) out[i] *= scale;
    const std::size_t w = std::size_t(lg.nx) * lg.nf;
    for (int y = 0; y < lg.ny; ++y)
      std::copy_n(out + (std::size_t(t.y0 + y) * geometry_.nx + t.x0) * geometry_.nf, w, &activity_.at(b, y, 0, 0));
  }
}

void ImageInputLayer::prepare(long step) {
  const long presentation = step / display_period_;
  if (presentation == loaded_presentation_) return;
  load(presentation);
  loaded_presentation_ = presentation;
}

void ImageInputLayer::initialize(const SimulationConfig&) { prepare(0); }

double ImageInputLayer::data_bytes() const {
  // The data source's own (an IDX file is read whole), the labels, two epochs' shuffled orders, one
  // decoded image and the items and presence of each batch element (at most the whole batch here).
  return double(source_->memory_bytes()) + (labels_ ? label_table_bytes(*labels_) : 0.0) +
         order_.memory_bytes() + double(geometry_.size()) * sizeof(float) +
         double(global_batch_) * (sizeof(long) + sizeof(char));
}

std::string ImageInputLayer::summary() const {
  if (!labels_) return {};
  std::string s = "labels: " + std::to_string(labelled_) + " of " + std::to_string(count_) + " images have a row in " +
                  params_.string("labels");
  if (labelled_ < count_) s += " (the others get an empty label)";
  return s;
}

std::string ImageInputLayer::data_description() const {
  return source_->memory_bytes() > 0 ? "input data held in memory: " + source_->describe()
                                     : "input bookkeeping (labels, orders, items) for " + source_->describe();
}

// New data at the start of the step (at step % display_period == 0), so every layer (and an Error
// layer's `mask`) sees this step's images and presence whatever its place in the schedule.
void ImageInputLayer::begin_step(long step) { prepare(step); }

void laminar_register_ImageInputLayer(Registry& r) {
  Schema s = Layer::common_schema();
  s.string("path", std::nullopt, "IDX file (optionally .gz), folder of PNG/JPEG images, or HDF5 file.")
      .choice("format", {"auto", "idx", "images", "hdf5"}, std::string("auto"),
              "Data format; auto: a folder is images, .h5/.hdf5 is hdf5, anything else IDX.")
      .string("dataset", std::string("images"), "HDF5 dataset holding the images, shape (N, ny, nx[, nf]).")
      .optional_string("labels", "CSV with a header including `file` and `label` columns (file names in the folder).")
      .integer("channels", 0, 0, 4, "Image folders: 0 keeps the first image's channels, 1 grey, 3 RGB.")
      .optional_integer("display_period", 1, 1e12, "Steps each image is shown (default: simulation.display_period).")
      .boolean("shuffle", false, "Present images in a seeded random order, reshuffled every epoch.")
      .choice("normalize", {"none", "zero_mean", "standardize", "unit_norm"}, std::string("none"),
              "Per image: none; zero_mean subtracts the mean; standardize also divides by the standard "
              "deviation; unit_norm scales to L2 norm 1.")
      .real("scale", 1.0, -Schema::inf, Schema::inf, "Multiply pixel values (after normalize); 8-bit data starts in [0, 1].")
      .integer("limit", 0, 0, 1e12, "Use only the first `limit` images (0: all).")
      .boolean("absent_if_blank", false,
               "An image whose pixels are all zero marks this modality absent for that batch element (see Error `mask`).")
      .optional_string("present_column",
                       "Column of the `labels` CSV saying per file whether this modality is present (1/0, true/false, "
                       "yes/no; empty or a file without a row: absent). Read by Error layers' `mask`.");
  register_layer<ImageInputLayer>(
      r, KindInfo{Category::Layer, "ImageInput", "Images from IDX, PNG/JPEG folders or HDF5, one per batch element.",
                  "Shows batch element b the image at presentation index `p * batch_size + b` (p counts display "
                  "periods), wrapping at the end of the data (an epoch). With `shuffle: true` each epoch uses a new "
                  "permutation drawn from the simulation seed. Its size comes from the data; nx/ny/nf, if given, "
                  "must match. 8-bit images are mapped to [0, 1] before `normalize` and `scale`. Relative paths are "
                  "relative to the working directory. With `absent_if_blank` or `present_column` the layer "
                  "declares per batch element whether its modality is present; an Error layer with `mask: <this "
                  "layer>` then gates its error to zero where it is absent (multimodal joint layers).",
                  "Input:\n  type: ImageInput\n  path: /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz\n"
                  "  normalize: standardize\n  shuffle: true",
                  {"Error", "Identity"}, s});
}

}  // namespace laminar

#include "layers/AudioInputLayer.hpp"

#include <algorithm>
#include <filesystem>

#include "framework/Network.hpp"
#include "framework/Registry.hpp"
#include "layers/ImageInputLayer.hpp"
#include "layers/Presence.hpp"

namespace laminar {

namespace {

SpectrogramConfig spectrogram_config(const ParamSet& p, int sample_rate) {
  SpectrogramConfig c;
  c.kind = p.string("spectrogram") == "stft" ? SpectrogramConfig::Kind::Stft : SpectrogramConfig::Kind::Mel;
  const std::string& w = p.string("window_function");
  c.window_function = w == "hamming"       ? SpectrogramConfig::Window::Hamming
                      : w == "rectangular" ? SpectrogramConfig::Window::Rectangular
                                           : SpectrogramConfig::Window::Hann;
  c.align = p.string("align") == "start" ? SpectrogramConfig::Align::Start : SpectrogramConfig::Align::Center;
  c.sample_rate = sample_rate;
  c.window = int(p.integer("window"));
  c.hop = int(p.integer("hop"));
  c.n_fft = p.has("n_fft") ? int(p.integer("n_fft")) : c.window;
  c.bands = int(p.integer("bands"));
  c.frames = int(p.integer("frames"));
  c.fmin = p.real("fmin");
  c.fmax = p.has("fmax") ? p.real("fmax") : 0.0;
  c.power = p.real("power");
  c.log = p.string("compression") == "log";
  c.log_offset = p.real("log_offset");
  return c;
}

}  // namespace

AudioInputLayer::AudioInputLayer(const BuildContext& ctx) : Layer(ctx) {
  const ParamSet& p = params_;
  const int rate = p.has("sample_rate") ? int(p.integer("sample_rate")) : 0;
  std::string format = p.string("format");
  if (format == "auto") {
    const std::string ext = std::filesystem::path(p.string("path")).extension().string();
    format = ext == ".h5" || ext == ".hdf5" ? "hdf5" : "wav";
  }
  if (format == "hdf5" && p.given("mixdown")) p.fail("mixdown", "mixdown applies to audio files; an HDF5 array holds mono waveforms");
  try {
    source_ = format == "hdf5" ? open_hdf5_waveforms(p.string("path"), p.string("dataset"), rate)
                               : open_wav_folder(p.string("path"), rate, p.boolean("mixdown"));
  } catch (const UserError& e) {
    p.fail("path", e.what());
  }
  const SpectrogramConfig c = spectrogram_config(p, source_->sample_rate());
  Spectrogram::Problem problem;
  if (!Spectrogram::check(c, problem)) p.fail(problem.key, problem.message + " (at " + std::to_string(c.sample_rate) + " Hz)");
  spectrogram_ = std::make_unique<Spectrogram>(c);
  const Geometry data{spectrogram_->frames(), spectrogram_->rows(), 1};
  if (geometry_.known() && !(geometry_ == data))
    p.fail_block("nx, ny, nf give " + geometry_.str() + " but the spectrogram is " + data.str() +
                 " (ny = " + (c.kind == SpectrogramConfig::Kind::Mel ? "bands" : "FFT bins in [fmin, fmax]") +
                 ", nx = frames, nf = 1); drop nx/ny/nf to take the spectrogram's size");
  geometry_ = data;
  if (p.has("labels")) {
    try {
      labels_ = std::make_unique<LabelTable>(LabelTable::read(p.string("labels")));
    } catch (const UserError& e) {
      p.fail("labels", e.what());
    }
  }
  count_ = source_->size();
  if (p.integer("limit") > 0) count_ = std::min<long>(count_, p.integer("limit"));
  if (p.has("follow")) {
    for (const char* key : {"display_period", "shuffle", "limit"})
      if (p.given(key))
        p.fail(key, std::string("an AudioInput that follows an ImageInput shows what that layer's items name; drop ") + key);
  } else if (labels_) {
    try {
      labels_->require_matches(count_, [&](long i) { return source_->name(i); }, source_->describe(), p.string("labels"));
    } catch (const UserError& e) {
      p.fail("labels", e.what());
    }
  }
  if (!p.has("follow") && p.given("column")) p.fail("column", "column names each image's recording with `follow`; give `follow` or drop column");
  display_period_ = p.has("display_period") ? p.integer("display_period") : ctx.sim.display_period;
  order_ = PresentationOrder(count_, p.boolean("shuffle"), ctx.sim.seed, name_);
  absent_if_silent_ = p.boolean("absent_if_silent");
}

AudioInputLayer::~AudioInputLayer() = default;

void AudioInputLayer::resolve(Network& net) {
  const ParamSet& p = params_;
  std::string csv = labels_ ? p.string("labels") : "";
  if (p.has("follow")) {
    Layer& l = net.layer(p.string("follow"), p, "follow");
    follow_ = dynamic_cast<ImageInputLayer*>(&l);
    if (!follow_) p.fail("follow", "layer '" + l.name() + "' (" + l.type() + ") is not an ImageInput; follow names an ImageInput layer");
    table_ = labels_ ? labels_.get() : follow_->labels();
    if (!table_)
      p.fail("follow", "ImageInput '" + l.name() + "' has no `labels` CSV; give it one (a column naming each image's "
                       "recording), or give this layer `labels`");
    if (labels_) {  // the followed layer checked its own CSV against its images; this one is checked here
      try {
        labels_->require_matches(follow_->dataset_size(), [&](long i) { return follow_->item_file(i); },
                                 "ImageInput '" + l.name() + "'", csv);
      } catch (const UserError& e) {
        p.fail("labels", e.what());
      }
    } else {
      csv = follow_->params().string("labels");
    }
    const std::string& col = p.string("column");
    auto it = std::find(table_->columns.begin(), table_->columns.end(), col);
    if (it == table_->columns.end()) p.fail("column", csv + ": no column '" + col + "'" + did_you_mean(col, table_->columns));
    column_ = std::size_t(it - table_->columns.begin());
    // Every image's recording is looked up now, so a name that is not in the folder is reported before the run.
    recording_.assign(std::size_t(follow_->dataset_size()), -1);
    for (long i = 0; i < follow_->dataset_size(); ++i) {
      const std::string file = follow_->item_file(i);
      auto row = table_->rows.find(file);
      std::string v = row == table_->rows.end() ? std::string() : row->second[column_];
      v.erase(0, v.find_first_not_of(" \t\r"));
      v.erase(v.find_last_not_of(" \t\r") + 1);
      if (v.empty()) continue;
      const long r = source_->find(v);
      if (r < 0 || r >= count_)
        p.fail("column", csv + ": row '" + file + "': column '" + col + "' names '" + v + "', which is not a recording of " +
                             source_->describe() + (r >= count_ ? " (beyond `limit`)" : ""));
      recording_[std::size_t(i)] = r;
    }
  } else {
    table_ = labels_.get();
  }
  if (p.has("present_column")) {
    if (!table_) p.fail("present_column", "present_column needs `labels` (the CSV holding that column)");
    present_column_ = long(presence_column(*table_, p.string("present_column"), p, "present_column", csv));
  }
}

bool AudioInputLayer::fires(long step) const { return follow_ ? follow_->fires(step) : step % display_period_ == 0; }

long AudioInputLayer::dataset_size() const { return follow_ ? follow_->dataset_size() : count_; }

long AudioInputLayer::recording_of(long item) const { return follow_ ? recording_[std::size_t(item)] : item; }

void AudioInputLayer::prepare(long step) {
  const long period = follow_ ? follow_->display_period() : display_period_;
  const long presentation = step / period;
  if (presentation == loaded_presentation_) return;
  if (follow_) follow_->prepare(step);  // whatever the order of begin_step calls, the followed items are current
  show(presentation);
  loaded_presentation_ = presentation;
}

void AudioInputLayer::show(long presentation) {
  // Each spectrogram is computed whole, then this process's tile (rows, columns) is kept (MPI).
  const Geometry& g = geometry_;
  const Geometry lg = local_geometry();
  const Tile t = tile_.nx > 0 ? tile_ : Tile{0, 0, g.ny, g.nx, 0, batch_};
  const std::string& norm = params_.string("normalize");
  const float scale = float(params_.real("scale"));
  scratch_.resize(g.size());
  current_.resize(std::size_t(batch_));
  present_.assign(std::size_t(batch_), 1);
  for (int b = 0; b < batch_; ++b) {
    const long item = follow_ ? (*follow_->current_items())[std::size_t(b)]
                              : order_.item(presentation * global_batch_ + t.b0 + b);
    current_[std::size_t(b)] = item;
    const long rec = recording_of(item);
    float* out = scratch_.data();
    char here = rec >= 0 ? 1 : 0;
    std::vector<float> wave;
    if (here) {
      wave = source_->read(rec);
      if (absent_if_silent_ && std::all_of(wave.begin(), wave.end(), [](float v) { return v == 0.0f; })) here = 0;
    }
    if (here && present_column_ >= 0)
      here = presence_of(*table_, std::size_t(present_column_), follow_ ? follow_->item_file(item) : source_->name(rec));
    present_[std::size_t(b)] = here;
    if (here) {
      spectrogram_->compute(wave, out);
      normalize_values(out, g.size(), norm);
      if (scale != 1.0f)
        for (std::size_t i = 0; i < g.size(); ++i) out[i] *= scale;
    } else {
      std::fill(scratch_.begin(), scratch_.end(), 0.0f);  // an absent modality shows nothing
    }
    for (int y = 0; y < lg.ny; ++y)
      std::copy_n(out + std::size_t(t.y0 + y) * std::size_t(g.nx) + std::size_t(t.x0), std::size_t(lg.nx),
                  &activity_.at(b, y, 0, 0));
  }
}

double AudioInputLayer::data_bytes() const {
  return double(source_->memory_bytes()) + double(spectrogram_->memory_bytes()) +
         (labels_ ? label_table_bytes(*labels_) : 0.0) + order_.memory_bytes() +
         double(recording_.size()) * sizeof(long) + double(geometry_.size()) * sizeof(float) +
         double(global_batch_) * (sizeof(long) + sizeof(char));
}

std::string AudioInputLayer::summary() const {
  std::string s = "spectrogram " + std::to_string(geometry_.ny) + " x " + std::to_string(geometry_.nx) + " of " +
                  std::to_string(spectrogram_->samples()) + " samples at " + std::to_string(source_->sample_rate()) + " Hz";
  if (follow_) {
    const long with = long(std::count_if(recording_.begin(), recording_.end(), [](long r) { return r >= 0; }));
    s += "; " + std::to_string(with) + " of " + std::to_string(recording_.size()) + " images name a recording";
  }
  return s;
}

void laminar_register_AudioInputLayer(Registry& r) {
  Schema s = Layer::common_schema();
  s.string("path", std::nullopt, "Folder of .wav/.flac files (sorted by name), or an HDF5 file of waveforms.")
      .choice("format", {"auto", "wav", "hdf5"}, std::string("auto"),
              "auto: .h5/.hdf5 is hdf5, anything else a folder of audio files (read by libsndfile).")
      .string("dataset", std::string("waveforms"),
              "HDF5: the dataset of shape (count, samples), with a `sample_rate` attribute (or give `sample_rate`).")
      .optional_integer("sample_rate", 1, 1e7,
                        "Hz every recording must have (an error names a file that differs; default: the first file's).")
      .boolean("mixdown", false, "Average the channels of multi-channel files (without it they are refused).")
      .optional_string("labels", "CSV with `file` and `label` columns (file names in the folder, or indices for HDF5); "
                                 "with `follow`, default the followed ImageInput's.")
      .optional_string("follow", "An ImageInput with a labels CSV: show, for each batch element, the recording its "
                                 "image's `column` cell names (same item, same steps).")
      .string("column", std::string("audio"), "With `follow`: the CSV column naming each image's recording (a file "
                                              "of `path`, or an index for HDF5; empty: no recording, absent).")
      .optional_string("present_column", "CSV column saying per file whether the audio modality is present (1/0, "
                                         "true/false, yes/no; empty: absent).")
      .boolean("absent_if_silent", false, "A recording whose samples are all zero marks the modality absent.")
      .choice("spectrogram", {"mel", "stft"}, std::string("mel"),
              "mel: `bands` triangular mel filters (HTK scale) of the STFT; stft: the STFT bins in [fmin, fmax].")
      .integer("window", 256, 2, 1 << 20, "Samples per STFT frame.")
      .integer("hop", 128, 1, 1 << 20, "Samples between frames.")
      .optional_integer("n_fft", 2, 1 << 22, "FFT length, at least `window` (the frame is zero-padded; default: window).")
      .choice("window_function", {"hann", "hamming", "rectangular"}, std::string("hann"),
              "Window applied to each frame (periodic Hann/Hamming, as scipy.signal.get_window).")
      .integer("bands", 32, 1, 4096, "Mel bands (spectrogram: mel): the image's height ny.")
      .integer("frames", 32, 1, 1 << 20, "Frames: the image's width nx. Recordings are padded or cropped to "
                                         "window + (frames - 1) hop samples.")
      .choice("align", {"center", "start"}, std::string("center"),
              "Where a recording sits in the fixed duration: padded/cropped equally on both sides, or at the start.")
      .real("fmin", 0.0, 0, Schema::inf, "Lowest frequency, Hz.")
      .optional_real("fmax", 0, Schema::inf, "Highest frequency, Hz (default: sample_rate / 2).", true)
      .real("power", 1.0, 0, 4, "Exponent of |X|: 1 magnitude, 2 power.", true)
      .choice("compression", {"log", "none"}, std::string("log"), "log: ln(log_offset + value); none: the value.")
      .real("log_offset", 1e-3, 0, Schema::inf, "Added before the log (keeps silence finite).", true)
      .choice("normalize", {"none", "zero_mean", "standardize", "unit_norm"}, std::string("none"),
              "Per spectrogram, after compression: none; zero_mean; standardize (also / standard deviation); "
              "unit_norm (L2 norm 1).")
      .real("scale", 1.0, -Schema::inf, Schema::inf, "Multiply values (after normalize).")
      .optional_integer("display_period", 1, 1e12, "Steps each recording is shown (default: simulation.display_period; "
                                                   "with follow: the followed layer's).")
      .boolean("shuffle", false, "Present recordings in a seeded random order, reshuffled every epoch (not with follow).")
      .integer("limit", 0, 0, 1e12, "Use only the first `limit` recordings (0: all).");
  register_layer<AudioInputLayer>(
      r, KindInfo{Category::Layer, "AudioInput", "Recordings (WAV/FLAC or HDF5 waveforms) as spectrogram images, one per batch element.",
                  "Decodes each recording with libsndfile (integer PCM scaled to [-1, 1)) or reads it from an HDF5 "
                  "array, brings it to window + (frames - 1) hop samples (zero-padded or cropped, centred or at "
                  "the start), and shows its spectrogram as an ny x nx x 1 image: frame t is samples [t hop, t hop "
                  "+ window) times the window, zero-padded to n_fft, its real FFT X_t[k] by FFTW (unscaled), "
                  "S[k, t] = |X_t[k]|^power; `stft` keeps the bins with fmin <= k sample_rate / n_fft <= fmax; "
                  "`mel` applies `bands` triangular filters of peak 1 on the HTK mel scale m(f) = 2595 log10(1 + "
                  "f / 700), edges equally spaced in mel from fmin to fmax (librosa.filters.mel(htk=True, "
                  "norm=None)); then `compression: log` takes ln(log_offset + value), then `normalize` and `scale`. "
                  "Row 0 is the highest frequency (as a spectrogram is drawn), column t frame t. Every file is "
                  "decoded once when the network is built, so an unreadable, empty, multi-channel or differently "
                  "sampled file is an error before the run. Without `follow` it presents recording `p * "
                  "batch_size + b` (p counts display periods), wrapping at the end (an epoch), shuffled per epoch "
                  "with `shuffle`. With `follow: <ImageInput>` each batch element gets the recording that its "
                  "image's `column` cell names (checked for every image when the network is built), so a labels "
                  "CSV pairs the two modalities (consistent or inconsistent pairs, or none: an empty cell makes "
                  "the audio absent). Absent (empty cell, `present_column`, `absent_if_silent`): the image is zero "
                  "and the modality absent for that batch element (see Error `mask`).",
                  "Speech:\n  type: AudioInput\n  follow: Digits        # an ImageInput with labels: pairs.csv\n"
                  "  path: spoken/          # the WAV files pairs.csv's `audio` column names\n"
                  "  sample_rate: 8000\n  spectrogram: mel\n  bands: 32\n  frames: 32\n  window: 256\n  hop: 128\n"
                  "  normalize: standardize",
                  {"ImageInput", "TextInput", "Error"}, s});
}

}  // namespace laminar

#pragma once
// Audio for input layers: waveform sources (a folder of WAV/FLAC files decoded by libsndfile, or an
// HDF5 array of waveforms) and the spectrogram that turns a waveform into an image (STFT magnitude or
// power, or mel bands, by FFTW).
#include <memory>
#include <string>
#include <vector>

namespace laminar {

// A read-only indexed set of mono waveforms at one sample rate.
class WaveSource {
 public:
  virtual ~WaveSource() = default;
  virtual long size() const = 0;
  virtual int sample_rate() const = 0;
  // The samples of item `index` (mono, float; integer PCM scaled to [-1, 1)). A user error naming the
  // file if it cannot be decoded.
  virtual std::vector<float> read(long index) const = 0;
  // The item's name: its file name in a folder, its index in an HDF5 array.
  virtual std::string name(long index) const = 0;
  // The index of the item named `name`, or -1.
  virtual long find(const std::string& name) const = 0;
  virtual std::string describe() const = 0;
  virtual std::size_t memory_bytes() const { return 0; }
};

// Every .wav/.flac file of a folder (sorted by name), each checked now: readable by libsndfile, at least
// one sample, one channel (or, with `mixdown`, any number, averaged), and all at one sample rate:
// `sample_rate` if > 0, else the first file's.
std::unique_ptr<WaveSource> open_wav_folder(const std::string& dir, int sample_rate, bool mixdown);
// An HDF5 dataset of shape (count, samples), any numeric type (integers are taken as they are); the
// sample rate is the dataset's `sample_rate` attribute or `sample_rate` (> 0), which must agree.
std::unique_ptr<WaveSource> open_hdf5_waveforms(const std::string& path, const std::string& dataset, int sample_rate);

struct SpectrogramConfig {
  enum class Kind { Stft, Mel };
  enum class Window { Hann, Hamming, Rectangular };
  enum class Align { Start, Center };
  Kind kind = Kind::Mel;
  Window window_function = Window::Hann;
  Align align = Align::Center;
  int sample_rate = 8000;
  int window = 256;  // samples per frame
  int hop = 128;     // samples between frames
  int n_fft = 256;   // FFT length (>= window; the frame is zero-padded)
  int bands = 32;    // mel bands (Kind::Mel)
  int frames = 32;   // frames, the image's width
  double fmin = 0.0, fmax = 0.0;  // Hz; fmax 0: sample_rate / 2
  double power = 1.0;             // 1: magnitude, 2: power
  bool log = false;               // ln(log_offset + value)
  double log_offset = 1e-3;
};

// The spectrogram of a waveform as an image of rows() x frames() (row 0 the highest frequency, as a
// spectrogram is drawn). The waveform is first brought to samples() = window + (frames - 1) hop samples:
// zero-padded when shorter, cropped when longer (its start, or its centre with Align::Center, kept).
// Frame t is samples [t hop, t hop + window) times the window (periodic Hann 0.5 - 0.5 cos(2 pi j / N),
// periodic Hamming 0.54 - 0.46 cos(2 pi j / N), or 1), zero-padded to n_fft, its real FFT X_t[k] (no
// scaling); S[k, t] = |X_t[k]|^power. Stft: the rows are the bins k with fmin <= k sr / n_fft <= fmax.
// Mel: `bands` triangular filters (peak 1, no area normalisation) on the HTK mel scale
// m(f) = 2595 log10(1 + f / 700), their edges bands + 2 points equally spaced in mel from m(fmin) to
// m(fmax), filter b weighting bin frequency f by max(0, min((f - f_b) / (f_b+1 - f_b),
// (f_b+2 - f) / (f_b+2 - f_b+1))) (librosa.filters.mel with htk=True, norm=None). Then, with `log`,
// ln(log_offset + value).
class Spectrogram {
 public:
  // A user error (a sentence, for "<key>: ...") when the configuration cannot work (e.g. a mel band
  // that holds no FFT bin); `key` names what to change.
  struct Problem {
    std::string key, message;
  };
  explicit Spectrogram(const SpectrogramConfig& c);
  ~Spectrogram();
  Spectrogram(const Spectrogram&) = delete;
  Spectrogram& operator=(const Spectrogram&) = delete;
  int rows() const { return rows_; }
  int frames() const { return cfg_.frames; }
  std::size_t samples() const { return std::size_t(cfg_.window) + std::size_t(cfg_.frames - 1) * std::size_t(cfg_.hop); }
  // out: rows() * frames() floats, row-major.
  void compute(const std::vector<float>& wave, float* out) const;
  std::size_t memory_bytes() const;
  // The configuration's problem, if any (checked by the constructor, which throws it as a UserError).
  static bool check(const SpectrogramConfig& c, Problem& problem);

 private:
  SpectrogramConfig cfg_;
  int rows_ = 0, first_bin_ = 0;
  std::vector<float> window_;
  std::vector<float> mel_;          // bands x bins (Kind::Mel)
  std::vector<int> mel_lo_, mel_hi_;  // each band's non-zero bins [lo, hi)
  float* frame_ = nullptr;          // FFTW buffers and plan
  void* spectrum_ = nullptr;
  void* plan_ = nullptr;
  mutable std::vector<float> bins_;  // |X|^power of one frame
};

}  // namespace laminar

#include "framework/Audio.hpp"

#include <fftw3.h>
#include <hdf5.h>
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>

#include "framework/Error.hpp"
#include "framework/FileCheck.hpp"
#include "framework/Hdf5Dataset.hpp"

namespace fs = std::filesystem;

namespace laminar {

namespace {

// An open libsndfile handle, closed on scope exit.
struct SoundFile {
  SNDFILE* f = nullptr;
  SF_INFO info{};
  explicit SoundFile(const std::string& path) { f = sf_open(path.c_str(), SFM_READ, &info); }
  ~SoundFile() {
    if (f) sf_close(f);
  }
  SoundFile(const SoundFile&) = delete;
  SoundFile& operator=(const SoundFile&) = delete;
};

// Decodes `path` to mono float samples; "" and the samples, or the problem (a sentence).
std::string decode(const std::string& path, bool mixdown, int expected_rate, std::vector<float>& out, int* rate) {
  require_regular_file(path);
  SoundFile s(path);
  if (!s.f) return std::string("not an audio file libsndfile can read (") + sf_strerror(nullptr) + ")";
  if (s.info.frames <= 0) return "holds no samples (an empty recording)";
  if (s.info.channels < 1) return "has no channels";
  if (s.info.channels > 1 && !mixdown)
    return "has " + std::to_string(s.info.channels) +
           " channels; AudioInput reads mono recordings (set `mixdown: true` to average the channels)";
  if (s.info.samplerate <= 0) return "has no valid sample rate";
  if (expected_rate > 0 && s.info.samplerate != expected_rate)
    return "is sampled at " + std::to_string(s.info.samplerate) + " Hz, expected " + std::to_string(expected_rate) +
           " Hz (every file must have `sample_rate`; resample it, e.g. sox in.wav -r " + std::to_string(expected_rate) +
           " out.wav)";
  if (s.info.frames > (sf_count_t(1) << 31)) return "is too long (" + std::to_string(s.info.frames) + " samples)";
  if (rate) *rate = s.info.samplerate;
  const std::size_t n = std::size_t(s.info.frames), c = std::size_t(s.info.channels);
  std::vector<float> raw(n * c);
  const sf_count_t got = sf_readf_float(s.f, raw.data(), sf_count_t(n));
  if (got != sf_count_t(n))
    return "truncated or corrupt: its header promises " + std::to_string(n) + " samples, " + std::to_string(got) +
           " could be decoded";
  out.assign(n, 0.0f);
  for (std::size_t i = 0; i < n; ++i) {
    float v = 0.0f;
    for (std::size_t k = 0; k < c; ++k) v += raw[i * c + k];
    out[i] = c == 1 ? v : v / float(c);
  }
  for (float v : out)
    if (!std::isfinite(v)) return "holds non-finite samples (NaN or infinity)";
  return {};
}

class WavFolder : public WaveSource {
 public:
  WavFolder(const std::string& dir, int sample_rate, bool mixdown) : dir_(dir), mixdown_(mixdown) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) throw UserError(dir + ": audio folder not found");
    if (!fs::is_directory(dir, ec)) throw UserError(dir + ": expected a folder of .wav/.flac files (or an HDF5 file with format: hdf5)");
    fs::directory_iterator it(dir, ec);
    if (ec) throw UserError(dir + ": cannot list the audio folder (" + ec.message() + ")");
    for (const auto& e : it) {
      if (!e.is_regular_file(ec)) continue;
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
      if (ext == ".wav" || ext == ".flac") files_.push_back(e.path().filename().string());
    }
    std::sort(files_.begin(), files_.end());
    if (files_.empty()) throw UserError(dir + ": no .wav/.flac files in this folder");
    // Every file decoded once now (in parallel; nothing is kept), so that `laminar check` and the start
    // of a run report an unreadable, empty, stereo or differently sampled file, not the step that shows it.
    rate_ = sample_rate;
    if (rate_ <= 0) {  // the first file's
      std::vector<float> w;
      const std::string problem = decode(dir_ + "/" + files_[0], mixdown_, 0, w, &rate_);
      if (!problem.empty()) throw UserError(dir_ + "/" + files_[0] + ": " + problem);
    }
    const long n = long(files_.size());
    std::vector<std::string> problems(files_.size());
#pragma omp parallel for schedule(dynamic, 16)
    for (long i = 0; i < n; ++i) {
      std::vector<float> w;
      try {
        problems[std::size_t(i)] = decode(dir_ + "/" + files_[std::size_t(i)], mixdown_, rate_, w, nullptr);
      } catch (const UserError& e) {
        problems[std::size_t(i)] = e.what();
      }
    }
    for (std::size_t i = 0; i < files_.size(); ++i)
      if (!problems[i].empty()) {
        const std::string path = dir_ + "/" + files_[i];
        throw UserError(problems[i].rfind(path, 0) == 0 ? problems[i] : path + ": " + problems[i]);
      }
  }
  long size() const override { return long(files_.size()); }
  int sample_rate() const override { return rate_; }
  std::vector<float> read(long index) const override {
    const std::string path = dir_ + "/" + files_[std::size_t(index)];
    std::vector<float> w;
    const std::string problem = decode(path, mixdown_, rate_, w, nullptr);
    if (!problem.empty()) throw UserError(path + ": " + problem + " (it was readable when the run started)");
    return w;
  }
  std::string name(long index) const override { return files_[std::size_t(index)]; }
  long find(const std::string& name) const override {
    auto it = std::lower_bound(files_.begin(), files_.end(), name);
    return it != files_.end() && *it == name ? long(it - files_.begin()) : -1;
  }
  std::string describe() const override {
    return dir_ + " (" + std::to_string(files_.size()) + " recordings at " + std::to_string(rate_) + " Hz)";
  }
  std::size_t memory_bytes() const override {
    std::size_t b = 0;
    for (const auto& f : files_) b += 32 + f.size();
    return b;
  }

 private:
  std::string dir_;
  bool mixdown_;
  int rate_ = 0;
  std::vector<std::string> files_;
};

class Hdf5Waves : public WaveSource {
 public:
  Hdf5Waves(const std::string& path, const std::string& dataset, int sample_rate) : path_(path), dataset_(dataset) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw UserError(path + ": data file not found");
    if (fs::is_directory(path, ec)) throw UserError(path + ": expected an HDF5 file, found a folder");
    require_regular_file(path);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file_ < 0) throw UserError(path + ": not a readable HDF5 file");
    if (H5Lexists(file_, dataset.c_str(), H5P_DEFAULT) <= 0) {
      close();
      throw UserError(path + ": no dataset '" + dataset + "' (set `dataset:` to the array's name)");
    }
    std::string problem;
    dset_ = open_hdf5_dataset(file_, dataset, problem);
    if (dset_ < 0) {
      close();
      throw UserError(path + ": " + problem);
    }
    const std::string where = path + ":" + dataset;
    hid_t space = H5Dget_space(dset_);
    const int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[8] = {0};
    if (rank == 2) H5Sget_simple_extent_dims(space, dims, nullptr);
    H5Sclose(space);
    hid_t type = H5Dget_type(dset_);
    const H5T_class_t cls = H5Tget_class(type);
    H5Tclose(type);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) fail(where + ": expected a numeric array of waveforms");
    if (rank != 2) fail(where + ": expected shape (count, samples), got rank " + std::to_string(rank));
    if (dims[0] == 0) fail(where + ": the dataset holds no waveforms");
    if (dims[1] == 0) fail(where + ": the waveforms have no samples");
    if (dims[1] > (hsize_t(1) << 31)) fail(where + ": waveforms of " + std::to_string(dims[1]) + " samples are too long");
    count_ = long(dims[0]);
    samples_ = std::size_t(dims[1]);
    int attr_rate = 0;
    if (H5Aexists(dset_, "sample_rate") > 0) {
      hid_t a = H5Aopen(dset_, "sample_rate", H5P_DEFAULT);
      double v = 0;
      hid_t as = a >= 0 ? H5Aget_space(a) : -1;
      const bool scalar = as >= 0 && H5Sget_simple_extent_npoints(as) == 1;
      if (as >= 0) H5Sclose(as);
      const bool ok = a >= 0 && scalar && H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0;
      if (a >= 0) H5Aclose(a);
      if (!ok || !(v > 0) || v > 1e7 || v != std::floor(v))
        fail(where + ": its `sample_rate` attribute is not a positive whole number of Hz");
      attr_rate = int(v);
    }
    if (attr_rate > 0 && sample_rate > 0 && attr_rate != sample_rate)
      fail(where + ": its `sample_rate` attribute says " + std::to_string(attr_rate) + " Hz but `sample_rate` is " +
           std::to_string(sample_rate) + " Hz");
    rate_ = attr_rate > 0 ? attr_rate : sample_rate;
    if (rate_ <= 0) fail(where + ": no `sample_rate` attribute on the dataset; give the layer `sample_rate`");
  }
  ~Hdf5Waves() override { close(); }
  long size() const override { return count_; }
  int sample_rate() const override { return rate_; }
  std::vector<float> read(long index) const override {
    std::vector<float> out(samples_);
    hsize_t start[2] = {hsize_t(index), 0}, count[2] = {1, hsize_t(samples_)};
    hid_t space = H5Dget_space(dset_);
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
    hid_t mem = H5Screate_simple(2, count, nullptr);
    const herr_t st = H5Dread(dset_, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, out.data());
    H5Sclose(mem);
    H5Sclose(space);
    if (st < 0) throw UserError(path_ + ":" + dataset_ + ": read of waveform " + std::to_string(index) + " failed");
    for (float v : out)
      if (!std::isfinite(v))
        throw UserError(path_ + ":" + dataset_ + ": waveform " + std::to_string(index) + " holds non-finite samples");
    return out;
  }
  std::string name(long index) const override { return std::to_string(index); }
  long find(const std::string& name) const override {
    char* end = nullptr;
    const long v = std::strtol(name.c_str(), &end, 10);
    return !name.empty() && end && *end == '\0' && v >= 0 && v < count_ ? v : -1;
  }
  std::string describe() const override {
    return path_ + ":" + dataset_ + " (HDF5, " + std::to_string(count_) + " waveforms of " + std::to_string(samples_) +
           " samples at " + std::to_string(rate_) + " Hz)";
  }

 private:
  [[noreturn]] void fail(const std::string& message) {
    close();
    throw UserError(message);
  }
  void close() {
    if (dset_ >= 0) H5Dclose(dset_);
    if (file_ >= 0) H5Fclose(file_);
    dset_ = file_ = -1;
  }
  std::string path_, dataset_;
  hid_t file_ = -1, dset_ = -1;
  long count_ = 0;
  std::size_t samples_ = 0;
  int rate_ = 0;
};

double hz_to_mel(double f) { return 2595.0 * std::log10(1.0 + f / 700.0); }
double mel_to_hz(double m) { return 700.0 * (std::pow(10.0, m / 2595.0) - 1.0); }

std::string fmt_hz(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

std::unique_ptr<WaveSource> open_wav_folder(const std::string& dir, int sample_rate, bool mixdown) {
  return std::make_unique<WavFolder>(dir, sample_rate, mixdown);
}

std::unique_ptr<WaveSource> open_hdf5_waveforms(const std::string& path, const std::string& dataset, int sample_rate) {
  return std::make_unique<Hdf5Waves>(path, dataset, sample_rate);
}

// ---------------------------------------------------------------- spectrogram

bool Spectrogram::check(const SpectrogramConfig& c, Problem& p) {
  const double nyquist = c.sample_rate / 2.0;
  const double fmax = c.fmax > 0 ? c.fmax : nyquist;
  if (c.n_fft < c.window) {
    p = {"n_fft", "n_fft (" + std::to_string(c.n_fft) + ") must be at least the window (" + std::to_string(c.window) + " samples)"};
    return false;
  }
  if (fmax > nyquist) {
    p = {"fmax", "fmax " + fmt_hz(fmax) + " Hz is above the Nyquist frequency " + fmt_hz(nyquist) + " Hz (sample_rate / 2)"};
    return false;
  }
  if (c.fmin >= fmax) {
    p = {"fmin", "fmin " + fmt_hz(c.fmin) + " Hz must be below fmax " + fmt_hz(fmax) + " Hz"};
    return false;
  }
  const double df = double(c.sample_rate) / c.n_fft;
  if (c.kind == SpectrogramConfig::Kind::Stft) {
    const int lo = int(std::ceil(c.fmin / df - 1e-9)), hi = int(std::floor(fmax / df + 1e-9));
    if (hi < lo) {
      p = {"fmin", "no FFT bin (spacing " + fmt_hz(df) + " Hz) lies in [fmin, fmax]; widen the range or raise n_fft"};
      return false;
    }
    return true;
  }
  const double m0 = hz_to_mel(c.fmin), m1 = hz_to_mel(fmax);
  const int bins = c.n_fft / 2 + 1;
  for (int b = 0; b < c.bands; ++b) {
    const double lo = mel_to_hz(m0 + (m1 - m0) * b / (c.bands + 1)), hi = mel_to_hz(m0 + (m1 - m0) * (b + 2) / (c.bands + 1));
    bool any = false;
    for (int k = 0; k < bins && !any; ++k) any = k * df > lo && k * df < hi;
    if (!any) {
      p = {"bands", "mel band " + std::to_string(b) + " (" + fmt_hz(lo) + "-" + fmt_hz(hi) + " Hz) holds no FFT bin (spacing " +
                        fmt_hz(df) + " Hz at n_fft " + std::to_string(c.n_fft) + "); use fewer bands, a larger n_fft or a wider fmin-fmax"};
      return false;
    }
  }
  return true;
}

Spectrogram::Spectrogram(const SpectrogramConfig& c) : cfg_(c) {
  Problem problem;
  if (!check(c, problem)) throw UserError(problem.key + ": " + problem.message);
  if (cfg_.fmax <= 0) cfg_.fmax = c.sample_rate / 2.0;
  const int N = c.window;
  window_.resize(std::size_t(N));
  for (int j = 0; j < N; ++j) {
    const double x = 2.0 * std::numbers::pi * j / N;
    switch (c.window_function) {
      case SpectrogramConfig::Window::Hann: window_[std::size_t(j)] = float(0.5 - 0.5 * std::cos(x)); break;
      case SpectrogramConfig::Window::Hamming: window_[std::size_t(j)] = float(0.54 - 0.46 * std::cos(x)); break;
      case SpectrogramConfig::Window::Rectangular: window_[std::size_t(j)] = 1.0f; break;
    }
  }
  const int bins = c.n_fft / 2 + 1;
  const double df = double(c.sample_rate) / c.n_fft;
  if (c.kind == SpectrogramConfig::Kind::Stft) {
    first_bin_ = int(std::ceil(c.fmin / df - 1e-9));
    rows_ = int(std::floor(cfg_.fmax / df + 1e-9)) - first_bin_ + 1;
  } else {
    rows_ = c.bands;
    mel_.assign(std::size_t(c.bands) * bins, 0.0f);
    mel_lo_.assign(std::size_t(c.bands), bins);
    mel_hi_.assign(std::size_t(c.bands), 0);
    const double m0 = hz_to_mel(c.fmin), m1 = hz_to_mel(cfg_.fmax);
    std::vector<double> edge(std::size_t(c.bands) + 2);
    for (int i = 0; i < c.bands + 2; ++i) edge[std::size_t(i)] = mel_to_hz(m0 + (m1 - m0) * i / (c.bands + 1));
    for (int b = 0; b < c.bands; ++b) {
      const double f0 = edge[std::size_t(b)], f1 = edge[std::size_t(b) + 1], f2 = edge[std::size_t(b) + 2];
      for (int k = 0; k < bins; ++k) {
        const double f = k * df;
        const double w = std::max(0.0, std::min((f - f0) / (f1 - f0), (f2 - f) / (f2 - f1)));
        if (w <= 0) continue;
        mel_[std::size_t(b) * bins + std::size_t(k)] = float(w);
        mel_lo_[std::size_t(b)] = std::min(mel_lo_[std::size_t(b)], k);
        mel_hi_[std::size_t(b)] = std::max(mel_hi_[std::size_t(b)], k + 1);
      }
    }
  }
  frame_ = fftwf_alloc_real(std::size_t(c.n_fft));
  spectrum_ = fftwf_alloc_complex(std::size_t(bins));
  // FFTW_ESTIMATE: no timing runs (plans are made once per layer; the frames are small).
  plan_ = fftwf_plan_dft_r2c_1d(c.n_fft, frame_, static_cast<fftwf_complex*>(spectrum_), FFTW_ESTIMATE);
  if (!frame_ || !spectrum_ || !plan_) throw UserError("AudioInput: FFTW could not plan an FFT of " + std::to_string(c.n_fft));
  bins_.resize(std::size_t(bins));
}

Spectrogram::~Spectrogram() {
  if (plan_) fftwf_destroy_plan(static_cast<fftwf_plan>(plan_));
  if (frame_) fftwf_free(frame_);
  if (spectrum_) fftwf_free(spectrum_);
}

std::size_t Spectrogram::memory_bytes() const {
  return (window_.size() + mel_.size() + bins_.size() + std::size_t(cfg_.n_fft) + 2 * bins_.size()) * sizeof(float) +
         (mel_lo_.size() + mel_hi_.size()) * sizeof(int) + samples() * sizeof(float);
}

void Spectrogram::compute(const std::vector<float>& wave, float* out) const {
  // The waveform fitted to samples(): zero-padded or cropped, at its start or centred.
  const std::size_t S = samples(), L = wave.size();
  std::vector<float> x(S, 0.0f);
  const bool centre = cfg_.align == SpectrogramConfig::Align::Center;
  if (L <= S) {
    const std::size_t o = centre ? (S - L) / 2 : 0;
    std::copy(wave.begin(), wave.end(), x.begin() + std::ptrdiff_t(o));
  } else {
    const std::size_t o = centre ? (L - S) / 2 : 0;
    std::copy_n(wave.begin() + std::ptrdiff_t(o), S, x.begin());
  }
  const int T = cfg_.frames, bins = cfg_.n_fft / 2 + 1;
  auto* X = static_cast<fftwf_complex*>(spectrum_);
  const bool magnitude = cfg_.power == 1.0;
  for (int t = 0; t < T; ++t) {
    const float* src = x.data() + std::size_t(t) * std::size_t(cfg_.hop);
    for (int j = 0; j < cfg_.window; ++j) frame_[j] = src[j] * window_[std::size_t(j)];
    std::fill(frame_ + cfg_.window, frame_ + cfg_.n_fft, 0.0f);
    fftwf_execute(static_cast<fftwf_plan>(plan_));
    for (int k = 0; k < bins; ++k) {
      const double re = X[k][0], im = X[k][1], p = re * re + im * im;
      bins_[std::size_t(k)] = float(magnitude ? std::sqrt(p) : std::pow(p, cfg_.power / 2.0));
    }
    for (int r = 0; r < rows_; ++r) {
      double v = 0.0;
      if (cfg_.kind == SpectrogramConfig::Kind::Stft) {
        v = bins_[std::size_t(first_bin_ + r)];
      } else {
        const float* w = mel_.data() + std::size_t(r) * bins;
        for (int k = mel_lo_[std::size_t(r)]; k < mel_hi_[std::size_t(r)]; ++k) v += double(w[k]) * bins_[std::size_t(k)];
      }
      if (cfg_.log) v = std::log(cfg_.log_offset + v);
      // row 0 the highest frequency
      out[std::size_t(rows_ - 1 - r) * std::size_t(T) + std::size_t(t)] = float(v);
    }
  }
}

}  // namespace laminar

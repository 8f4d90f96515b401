// Data input (framework/ImageIO.hpp): IDX files plain and gzipped, their corruption errors,
// folders of PNG images, HDF5 arrays, labels CSV files and the dictionary PNG writer. Every
// input file is written by the test into a temporary directory.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <functional>

#include "framework/ImageIO.hpp"
#include "framework/Network.hpp"
#include "stb/stb_image.h"
#include "stb/stb_image_write.h"
#include "tests/unit/TestUtil.hpp"

namespace laminar {
namespace {

using Bytes = std::vector<std::uint8_t>;

void put_be32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(std::uint8_t(v >> s));
}

// IDX: 00 00 <type> <ndims>, big-endian 32-bit dims, then the data (big-endian for floats).
Bytes idx_u8(const std::vector<std::uint32_t>& dims, const Bytes& data) {
  Bytes b{0, 0, 0x08, std::uint8_t(dims.size())};
  for (auto d : dims) put_be32(b, d);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}
Bytes idx_f32(const std::vector<std::uint32_t>& dims, const std::vector<float>& data) {
  Bytes b{0, 0, 0x0D, std::uint8_t(dims.size())};
  for (auto d : dims) put_be32(b, d);
  for (float f : data) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    put_be32(b, u);
  }
  return b;
}

void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
void write_text(const std::string& path, const std::string& s) { std::ofstream(path, std::ios::binary) << s; }
void write_gz(const std::string& path, const Bytes& b) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, b.data(), unsigned(b.size())), int(b.size()));
  gzclose(f);
}
Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

using test::error_of;

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << "message: " << (msg) << "\nmissing: " << (part)

// Three 2x3 images with distinct bytes: image i pixel (y, x) = 10*i + 3*y + x + 1.
Bytes three_images() {
  Bytes d;
  for (int i = 0; i < 3; ++i)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) d.push_back(std::uint8_t(10 * i + 3 * y + x + 1));
  return d;
}

void expect_three_images(const DataSource& s) {
  ASSERT_EQ(s.size(), 3);
  EXPECT_EQ(s.geometry(), (Geometry{3, 2, 1}));  // nx 3, ny 2, nf 1
  std::vector<float> out(6);
  for (int i = 0; i < 3; ++i) {
    s.read(i, out.data());
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) EXPECT_FLOAT_EQ(out[y * 3 + x], (10 * i + 3 * y + x + 1) / 255.0f);
  }
}

TEST(Idx, PlainAndGzip) {
  test::TempDir dir;
  const Bytes file = idx_u8({3, 2, 3}, three_images());
  write_bytes(dir.file("images-idx3-ubyte"), file);
  write_gz(dir.file("images-idx3-ubyte.gz"), file);
  expect_three_images(*open_idx(dir.file("images-idx3-ubyte")));
  expect_three_images(*open_idx(dir.file("images-idx3-ubyte.gz")));
  // auto picks IDX for anything that is not a folder or .h5
  expect_three_images(*open_data_source(dir.file("images-idx3-ubyte.gz"), "auto", "images", 0));
  EXPECT_HAS(open_idx(dir.file("images-idx3-ubyte"))->describe(), "IDX, 3 images of 2x3x1");
}

TEST(Idx, FourDimensionsAndFloats) {
  test::TempDir dir;
  // 2 images of 2x2x3 (rows, cols, channels), feature fastest.
  Bytes d;
  for (int i = 0; i < 24; ++i) d.push_back(std::uint8_t(i * 10));
  write_bytes(dir.file("rgb.idx"), idx_u8({2, 2, 2, 3}, d));
  auto s = open_idx(dir.file("rgb.idx"));
  EXPECT_EQ(s->geometry(), (Geometry{2, 2, 3}));
  std::vector<float> out(12);
  s->read(1, out.data());
  for (int j = 0; j < 12; ++j) EXPECT_FLOAT_EQ(out[j], (12 + j) * 10 / 255.0f);

  // Float IDX: values passed through unscaled, including negatives.
  std::vector<float> f{-1.5f, 0.25f, 3.0f, 1e-3f, -7.0f, 42.0f};
  write_bytes(dir.file("f.idx"), idx_f32({2, 1, 3}, f));
  auto fs = open_idx(dir.file("f.idx"));
  EXPECT_EQ(fs->geometry(), (Geometry{3, 1, 1}));
  std::vector<float> fo(3);
  fs->read(1, fo.data());
  EXPECT_EQ(fo, (std::vector<float>{1e-3f, -7.0f, 42.0f}));
}

TEST(Idx, CorruptFilesGiveClearErrors) {
  test::TempDir dir;
  const Bytes good = idx_u8({3, 2, 3}, three_images());
  auto err = [&](const std::string& name, const Bytes& b) {
    write_bytes(dir.file(name), b);
    return error_of([&] { open_idx(dir.file(name)); });
  };
  Bytes bad_magic = good;
  bad_magic[0] = 0x1f;
  EXPECT_HAS(err("magic", bad_magic), "not an IDX file");
  EXPECT_HAS(err("magic", bad_magic), dir.file("magic"));
  Bytes bad_type = good;
  bad_type[2] = 0x0B;
  EXPECT_HAS(err("type", bad_type), "IDX element type 0x0B unsupported");
  EXPECT_HAS(err("dims", idx_u8({6, 3}, Bytes(18, 1))), "IDX file has 2 dimensions");
  EXPECT_HAS(err("short-header", Bytes(good.begin(), good.begin() + 9)), "IDX header truncated");
  EXPECT_HAS(err("tiny", Bytes{0, 0}), "not an IDX file");
  EXPECT_HAS(err("zero-dim", idx_u8({3, 0, 3}, {})), "IDX dimension 1 is 0, not a valid size");
  std::string trunc = err("truncated", Bytes(good.begin(), good.end() - 1));
  EXPECT_HAS(trunc, "IDX header promises 3 images of 2x3x1 (34 bytes) but the file holds 33 bytes");
  EXPECT_HAS(trunc, "truncated or corrupt");
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_HAS(err("long", longer), "but the file holds 35 bytes");
  // Dimensions whose product overflows 64 bits (2^28 cubed = 2^84 wraps to 0) describe a
  // header-only file exactly if the size is computed in 64-bit integers: it must be refused.
  EXPECT_HAS(err("wrap3", idx_u8({1u << 28, 1u << 28, 1u << 28}, {})), "but the file holds 16 bytes");
  EXPECT_HAS(err("wrap4", idx_u8({1u << 24, 1u << 24, 1u << 24, 1u << 16}, {})), "but the file holds 20 bytes");
  EXPECT_HAS(error_of([&] { open_idx(dir.file("absent.gz")); }), "absent.gz: data file not found");
  EXPECT_HAS(error_of([&] { open_idx(dir.path()); }), "expected a file, found a folder");
}

TEST(Idx, CorruptGzip) {
  test::TempDir dir;
  // Enough data that the compressed stream is longer than its header.
  Bytes d(3 * 16 * 16);
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = std::uint8_t((i * 37) ^ (i >> 3));
  write_gz(dir.file("full.gz"), idx_u8({3, 16, 16}, d));
  const Bytes gz = read_bytes(dir.file("full.gz"));
  ASSERT_GT(gz.size(), 40u);
  // Truncated compressed stream.
  write_bytes(dir.file("cut.gz"), Bytes(gz.begin(), gz.begin() + long(gz.size() / 2)));
  std::string cut = error_of([&] { open_idx(dir.file("cut.gz")); });
  EXPECT_HAS(cut, dir.file("cut.gz"));
  EXPECT_HAS(cut, "truncated");
  EXPECT_HAS(cut, "truncated compressed data");
  // Only the 8-byte gzip trailer (CRC, length) missing: every byte decompresses, yet the file
  // is still cut short and must not pass silently.
  write_bytes(dir.file("notrailer.gz"), Bytes(gz.begin(), gz.end() - 8));
  EXPECT_HAS(error_of([&] { read_file_maybe_gz(dir.file("notrailer.gz")); }), "truncated compressed data");
  EXPECT_EQ(read_file_maybe_gz(dir.file("full.gz")).size(), 16 + d.size());
  // Garbage in the middle of the deflate stream.
  Bytes garbled = gz;
  for (std::size_t i = 12; i < gz.size() - 10; i += 3) garbled[i] ^= 0xA5;
  write_bytes(dir.file("garbled.gz"), garbled);
  std::string g = error_of([&] { open_idx(dir.file("garbled.gz")); });
  EXPECT_HAS(g, dir.file("garbled.gz"));
  EXPECT_TRUE(g.find("corrupt") != std::string::npos || g.find("not an IDX") != std::string::npos) << g;
}

// ---------------------------------------------------------------- image folders

void write_png_file(const std::string& path, int w, int h, int c, const Bytes& px) {
  ASSERT_EQ(px.size(), std::size_t(w) * h * c);
  ASSERT_NE(stbi_write_png(path.c_str(), w, h, c, px.data(), w * c), 0);
}

TEST(ImageFolder, GreyImagesSortedByName) {
  test::TempDir dir;
  // Written out of order; read back sorted by file name.
  for (int i : {2, 0, 1}) {
    Bytes px(4 * 3);
    for (int j = 0; j < 12; ++j) px[j] = std::uint8_t(100 * i + j);
    write_png_file(dir.file("img" + std::to_string(i) + ".png"), 4, 3, 1, px);
  }
  write_text(dir.file("notes.txt"), "not an image");  // ignored
  auto s = open_image_folder(dir.path(), 0);
  ASSERT_EQ(s->size(), 3);
  EXPECT_EQ(s->geometry(), (Geometry{4, 3, 1}));
  std::vector<float> out(12);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(s->name(i), "img" + std::to_string(i) + ".png");
    s->read(i, out.data());
    for (int j = 0; j < 12; ++j) EXPECT_FLOAT_EQ(out[j], (100 * i + j) / 255.0f);
  }
  // auto picks the folder reader
  EXPECT_EQ(open_data_source(dir.path(), "auto", "images", 0)->size(), 3);
}

TEST(ImageFolder, ColourChannels) {
  test::TempDir dir;
  Bytes rgb{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};  // 2x2 RGB
  write_png_file(dir.file("a.png"), 2, 2, 3, rgb);
  auto s = open_image_folder(dir.path(), 0);
  EXPECT_EQ(s->geometry(), (Geometry{2, 2, 3}));
  std::vector<float> out(12);
  s->read(0, out.data());
  for (int j = 0; j < 12; ++j) EXPECT_FLOAT_EQ(out[j], rgb[j] / 255.0f);
  // channels: 1 converts to grey (one value per pixel, white stays white)
  test::TempDir dir2;
  write_png_file(dir2.file("w.png"), 2, 1, 3, Bytes{255, 255, 255, 0, 0, 0});
  auto g = open_image_folder(dir2.path(), 1);
  EXPECT_EQ(g->geometry(), (Geometry{2, 1, 1}));
  std::vector<float> go(2);
  g->read(0, go.data());
  EXPECT_FLOAT_EQ(go[0], 1.0f);
  EXPECT_FLOAT_EQ(go[1], 0.0f);
  // RGBA keeps 3 channels (alpha dropped).
  test::TempDir dir3;
  write_png_file(dir3.file("x.png"), 1, 1, 4, Bytes{1, 2, 3, 4});
  auto r = open_image_folder(dir3.path(), 0);
  EXPECT_EQ(r->geometry(), (Geometry{1, 1, 3}));
  std::vector<float> ro(3);
  r->read(0, ro.data());
  EXPECT_FLOAT_EQ(ro[2], 3 / 255.0f);
}

TEST(ImageFolder, MismatchedSizesAndEmptyFolders) {
  test::TempDir dir;
  write_png_file(dir.file("a.png"), 4, 4, 1, Bytes(16, 7));
  write_png_file(dir.file("b.png"), 5, 4, 1, Bytes(20, 7));
  // Every image is checked when the folder is opened (so `laminar check` finds it, not hour 3 of a run).
  std::string msg = error_of([&] { open_image_folder(dir.path(), 0); });
  EXPECT_HAS(msg, "b.png: image is 5x4 (width x height) but the folder's first image (a.png) is 4x4");
  EXPECT_HAS(msg, "all images must have the same size");

  test::TempDir empty;
  write_text(empty.file("readme.md"), "nothing");
  EXPECT_HAS(error_of([&] { open_image_folder(empty.path(), 0); }), "no .png/.jpg/.jpeg/.bmp images");
  EXPECT_HAS(error_of([&] { open_image_folder(empty.file("missing"), 0); }), "image folder not found");
  // A file with an image extension that is not an image.
  test::TempDir bad;
  write_text(bad.file("fake.png"), "this is text");
  EXPECT_HAS(error_of([&] { open_image_folder(bad.path(), 0); }), "fake.png: cannot read image");
}

// ---------------------------------------------------------------- HDF5

TEST(Hdf5Input, FloatsBytesAndRank4) {
  test::TempDir dir;
  std::vector<float> f(2 * 3 * 4);
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = float(i) * 0.5f - 3.0f;
  test::write_h5_floats(dir.file("f.h5"), "data", f, {2, 3, 4});
  auto s = open_hdf5_images(dir.file("f.h5"), "data");
  EXPECT_EQ(s->size(), 2);
  EXPECT_EQ(s->geometry(), (Geometry{4, 3, 1}));
  std::vector<float> out(12);
  s->read(1, out.data());
  for (int j = 0; j < 12; ++j) EXPECT_FLOAT_EQ(out[j], f[12 + j]);

  // uint8 data is mapped to [0, 1]; rank 4 gives nf.
  std::vector<std::uint8_t> u(3 * 2 * 2 * 2);
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = std::uint8_t(i * 11);
  test::write_h5(dir.file("u.h5"), "images", H5T_NATIVE_UINT8, H5T_STD_U8LE, u.data(), {3, 2, 2, 2});
  auto us = open_data_source(dir.file("u.h5"), "auto", "images", 0);
  EXPECT_EQ(us->geometry(), (Geometry{2, 2, 2}));
  std::vector<float> uo(8);
  us->read(2, uo.data());
  for (int j = 0; j < 8; ++j) EXPECT_FLOAT_EQ(uo[j], (16 + j) * 11 / 255.0f);

  // Wider integers are passed through as numbers.
  std::vector<std::int16_t> w{-300, 5, 1000, 7};
  test::write_h5(dir.file("w.h5"), "images", H5T_NATIVE_INT16, H5T_STD_I16LE, w.data(), {1, 2, 2});
  auto ws = open_hdf5_images(dir.file("w.h5"), "images");
  std::vector<float> wo(4);
  ws->read(0, wo.data());
  EXPECT_EQ(wo, (std::vector<float>{-300, 5, 1000, 7}));
}

TEST(Hdf5Input, Errors) {
  test::TempDir dir;
  std::vector<float> f(6, 1.0f);
  test::write_h5_floats(dir.file("flat.h5"), "images", f, {6});
  EXPECT_HAS(error_of([&] { open_hdf5_images(dir.file("flat.h5"), "images"); }),
             "expected shape (count, ny, nx) or (count, ny, nx, nf), got rank 1");
  EXPECT_HAS(error_of([&] { open_hdf5_images(dir.file("flat.h5"), "pixels"); }),
             "no dataset 'pixels' (set `dataset:` to the array's name)");
  write_text(dir.file("text.h5"), "not hdf5");
  EXPECT_HAS(error_of([&] { open_hdf5_images(dir.file("text.h5"), "images"); }), "not a readable HDF5 file");
  EXPECT_HAS(error_of([&] { open_hdf5_images(dir.file("none.h5"), "images"); }), "none.h5: data file not found");
}

// ---------------------------------------------------------------- the ImageInput layer

// An ImageInput layer over 5 float images of 2x3, batch 2, display period 3.
std::unique_ptr<Network> input_net(const test::TempDir& dir, const std::string& extra) {
  std::vector<float> f(5 * 6);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 6; ++j) f[i * 6 + j] = float(i + 1) * float(j * j) - 2.0f;
  test::write_h5_floats(dir.file("in.h5"), "images", f, {5, 2, 3});
  std::string yaml = "simulation:\n  steps: 30\n  batch_size: 2\n  display_period: 3\nlayers:\n  Input:\n"
                     "    type: ImageInput\n    path: " + dir.file("in.h5") + "\n" + extra;
  return std::make_unique<Network>(NetworkSpec::from(ParamsDocument::parse(yaml, "in.yaml"), Registry::builtin()));
}

std::vector<double> raw_image(int i) {
  std::vector<double> v(6);
  for (int j = 0; j < 6; ++j) v[j] = double(i + 1) * (j * j) - 2.0;
  return v;
}

TEST(ImageInput, NormalizeAndScale) {
  test::TempDir dir;
  for (std::string norm : {"none", "zero_mean", "standardize", "unit_norm"}) {
    SCOPED_TRACE(norm);
    auto net = input_net(dir, "    normalize: " + norm + "\n    scale: 0.5\n");
    Layer& in = *net->find_layer("Input");
    in.initialize(net->sim());
    ASSERT_EQ(in.geometry(), (Geometry{3, 2, 1}));
    for (int b = 0; b < 2; ++b) {
      std::vector<double> x = raw_image(b);  // presentation 0 shows images 0 and 1
      double mean = 0, sq = 0;
      for (double v : x) mean += v / 6;
      if (norm == "unit_norm" || norm == "none") mean = 0;
      for (double v : x) sq += (v - mean) * (v - mean);
      double div = norm == "standardize" ? std::sqrt(sq / 6) : norm == "unit_norm" ? std::sqrt(sq) : 1.0;
      for (int j = 0; j < 6; ++j)
        EXPECT_NEAR(in.activity().data()[b * 6 + j], 0.5 * (x[j] - mean) / div, 1e-5) << "b " << b << " j " << j;
    }
  }
}

TEST(ImageInput, PresentationOrderAndShuffle) {
  test::TempDir dir;
  {
    auto net = input_net(dir, "");
    Layer& in = *net->find_layer("Input");
    in.initialize(net->sim());
    EXPECT_EQ(in.dataset_size(), 5);
    std::vector<long> shown;
    for (long n = 0; n < 15; ++n) {
      if (n > 0) {
        in.begin_step(n);  // input layers load new data at the start of a step
        in.update(n);
      }
      EXPECT_EQ(in.fires(n), n % 3 == 0);
      if (n % 3 == 0) shown.insert(shown.end(), in.current_items()->begin(), in.current_items()->end());
    }
    // Presentation p shows items p*B + b, wrapping at the end of the data.
    EXPECT_EQ(shown, (std::vector<long>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4}));
    EXPECT_FLOAT_EQ(in.activity().data()[6 + 5], float(raw_image(4)[5]));
  }
  {
    auto net = input_net(dir, "    shuffle: true\n    limit: 4\n");
    Layer& in = *net->find_layer("Input");
    in.initialize(net->sim());
    EXPECT_EQ(in.dataset_size(), 4);
    std::vector<long> shown;
    for (long n = 0; n < 24; ++n) {
      if (n > 0) {
        in.begin_step(n);  // input layers load new data at the start of a step
        in.update(n);
      }
      if (n % 3 == 0) shown.insert(shown.end(), in.current_items()->begin(), in.current_items()->end());
    }
    ASSERT_EQ(shown.size(), 16u);  // four epochs of four images
    bool any_reordered = false;
    for (int epoch = 0; epoch < 4; ++epoch) {
      std::vector<long> e(shown.begin() + epoch * 4, shown.begin() + epoch * 4 + 4);
      std::vector<long> sorted = e;
      std::sort(sorted.begin(), sorted.end());
      EXPECT_EQ(sorted, (std::vector<long>{0, 1, 2, 3})) << "epoch " << epoch << " is not a permutation";
      any_reordered |= e != sorted;
    }
    EXPECT_TRUE(any_reordered) << "shuffle never changed the order";
  }
}

// ---------------------------------------------------------------- labels CSV

TEST(Labels, Parse) {
  test::TempDir dir;
  write_text(dir.file("labels.csv"),
             "file,label,split\r\n"
             "a.png,cat,train\r\n"
             "\r\n"
             "\"b,2.png\",\"dog \"\"big\"\"\",test\n"
             "c.png,,train\n");
  LabelTable t = LabelTable::read(dir.file("labels.csv"));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"file", "label", "split"}));
  EXPECT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.label("a.png"), "cat");
  EXPECT_EQ(t.label("b,2.png"), "dog \"big\"");
  EXPECT_EQ(t.label("c.png"), "");
  EXPECT_EQ(t.label("missing.png"), "");
  EXPECT_EQ(t.rows.at("a.png")[2], "train");
  // Column order need not be file first.
  write_text(dir.file("swapped.csv"), "label,file\n7,x.png\n");
  EXPECT_EQ(LabelTable::read(dir.file("swapped.csv")).label("x.png"), "7");
}

TEST(Labels, Errors) {
  test::TempDir dir;
  write_text(dir.file("bad.csv"), "file,label\na.png,1\n\nb.png,2,extra\n");
  EXPECT_HAS(error_of([&] { LabelTable::read(dir.file("bad.csv")); }),
             dir.file("bad.csv") + ":4: expected 2 comma-separated cells, got 3");
  write_text(dir.file("short.csv"), "file,label\nb.png\n");
  EXPECT_HAS(error_of([&] { LabelTable::read(dir.file("short.csv")); }), ":2: expected 2 comma-separated cells, got 1");
  write_text(dir.file("nolabel.csv"), "file,class\na.png,1\n");
  EXPECT_HAS(error_of([&] { LabelTable::read(dir.file("nolabel.csv")); }), ":1: header has no 'label' column");
  write_text(dir.file("empty.csv"), "");
  EXPECT_HAS(error_of([&] { LabelTable::read(dir.file("empty.csv")); }), ":1: empty labels CSV");
  EXPECT_HAS(error_of([&] { LabelTable::read(dir.file("absent.csv")); }), "absent.csv: labels CSV not found");
}

// ---------------------------------------------------------------- PNG output

TEST(DictionaryPng, TilesScaledAroundMidGrey) {
  test::TempDir dir;
  // 4 kernels of 3x3x1: tiles zoomed x16 (48 / 3) on a 2x2 grid with 1-pixel grid lines.
  std::vector<float> w(4 * 9, 0.0f);
  w[0] = 2.0f;           // kernel 0 top-left: its maximum -> white
  w[1] = -2.0f;          // -> black
  w[9 + 4] = 0.5f;       // kernel 1 centre: the only nonzero -> white
  WeightsView v{w.data(), 4, 3, 3, 1};
  write_dictionary_png(v, dir.file("d.png"));
  int W, H, C;
  unsigned char* px = stbi_load(dir.file("d.png").c_str(), &W, &H, &C, 1);
  ASSERT_NE(px, nullptr);
  EXPECT_EQ(W, 2 * (48 + 1) + 1);
  EXPECT_EQ(H, 2 * (48 + 1) + 1);
  auto at = [&](int x, int y) { return int(px[y * W + x]); };
  EXPECT_EQ(at(0, 0), 40);                 // grid line
  EXPECT_EQ(at(1 + 8, 1 + 8), 255);        // kernel 0, (0,0)
  EXPECT_EQ(at(1 + 16 + 8, 1 + 8), 0);     // kernel 0, (0,1)
  EXPECT_EQ(at(1 + 32 + 8, 1 + 8), 128);   // kernel 0, (0,2): zero -> mid-grey
  EXPECT_EQ(at(50 + 16 + 8, 1 + 16 + 8), 255);  // kernel 1 centre
  EXPECT_EQ(at(1 + 8, 50 + 8), 128);       // kernel 2: all zero -> mid-grey
  stbi_image_free(px);
}

}  // namespace
}  // namespace laminar

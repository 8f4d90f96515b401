// A deterministic mutation fuzzer for Laminar's input paths (no libFuzzer needed).
//
// Usage: fuzz_params CORPUS_DIR [--iterations N] [--seed S] [--save DIR] [--verbose]
//
// The corpus holds seeds of three kinds:
//   *.yaml      params files (relative data paths such as data/tiny.idx resolve in a scratch
//               folder the harness fills: data/tiny.idx (4 images of 8x8), data/labels.csv and
//               data/folder/img{0,1,2}.png)
//   *.idx.hex   IDX files written as hexadecimal text (whitespace and #-comments ignored)
//   *.csv       labels CSVs
// Each iteration picks a seed (by a seeded PRNG, so every run with the same --seed does the same
// cases), applies 1-4 mutations (byte flips, line deletion/duplication, key/value swaps,
// truncation, huge or special numbers, YAML syntax, header fields set to boundary values) and
// feeds the result to:
//   params: ParamsDocument::parse, NetworkSpec::from and, when every size is small, Network;
//   IDX:    open_idx (plain and gzip-compressed) and read() of the first and last image, and one
//           in four times a whole network reading it;
//   CSV:    LabelTable::read and label(), and one in four times a network with `labels:` and
//           `present_column:`;
//   checkpoints: a checkpoint of the first params seed, mutated through HDF5 (an attribute or a
//           dataset replaced by a boundary value, another type or shape, deleted; NaN/Inf in data;
//           bytes of the file flipped), half of the time re-sealed (its digest recomputed) so that
//           the checks behind the digest are reached: inspect_checkpoint, restore_checkpoint and
//           a few steps.
// Every network that is built (small enough) is also stepped for 3 steps, writing its output.
// laminar::UserError is the expected outcome for bad input. Anything else escaping (another
// exception type, including std::bad_alloc, which a size check should have refused first) is a
// failure: the input is saved under --save (default: the scratch folder is kept) and the program
// exits 1 after the run. Crashes and memory errors are caught by the sanitizers (the `sanitize`
// preset) or end the process.
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <hdf5.h>

#include "framework/Checkpoint.hpp"
#include "framework/Error.hpp"
#include "framework/Output.hpp"
#include "framework/Simulation.hpp"
#include "framework/ImageIO.hpp"
#include "framework/Network.hpp"
#include "framework/Params.hpp"
#include "framework/Registry.hpp"

namespace fs = std::filesystem;
using namespace laminar;

namespace {

struct Rng {  // splitmix64: tiny, deterministic across platforms
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n ? std::size_t(next() % n) : 0; }
  bool chance(int one_in) { return below(std::size_t(one_in)) == 0; }
};

using Bytes = std::string;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const fs::path& p, const Bytes& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(b.data(), std::streamsize(b.size()));
}

Bytes from_hex(const std::string& text) {
  Bytes out;
  int nib = -1;
  bool comment = false;
  for (char c : text) {
    if (comment) { comment = c != '\n'; continue; }
    if (c == '#') { comment = true; continue; }
    int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
    if (v < 0) continue;
    if (nib < 0) nib = v;
    else { out.push_back(char(nib * 16 + v)); nib = -1; }
  }
  return out;
}

Bytes gzip_bytes(const Bytes& b) {
  uLongf cap = compressBound(uLong(b.size())) + 32;
  Bytes out(cap, '\0');
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // gzip wrapper
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(b.data()));
  z.avail_in = uInt(b.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::vector<std::string> split_lines(const Bytes& b) {
  std::vector<std::string> lines;
  std::string cur;
  for (char c : b) {
    cur += c;
    if (c == '\n') { lines.push_back(cur); cur.clear(); }
  }
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

Bytes join(const std::vector<std::string>& lines) {
  Bytes b;
  for (auto& l : lines) b += l;
  return b;
}

const char* kSpecialValues[] = {
    "0", "-1", "1", "2", "3", "1e308", "-1e308", "1e-320", "9223372036854775807", "-9223372036854775808",
    "99999999999999999999999", "2147483647", "2147483648", "4294967296", "65536", "1073741824", "0.5",
    ".nan", ".inf", "-.inf", "nan", "inf", "true", "false", "null", "~", "\"\"", "[]", "{}", "[1, 2]",
    "{a: 1}", "&x 1", "*x", "!!binary AAAA", "0x7fffffff", "1e9", "-0", "1_000", "'4'", "|\n  block\n",
    "V1", "Input", "Residual", "Dictionary", "data/tiny.idx", "data/labels.csv", "data/folder", "/nonexistent",
    "\"\\u0000\"", "\xff\xfe", "a,b", "''",
};
const char* kSpecialLines[] = {
    "{\n", "[\n", "]\n", "}\n", ":\n", "- \n", "\t  x: 1\n", "? key\n", "<<: *x\n", "&x a: 1\n", "---\n", "...\n",
    "%YAML 1.2\n", "layers:\n", "connections:\n", "probes:\n", "simulation:\n", "  type: LCA\n", "  type: Error\n",
    "  pre: V1\n", "  post: V1\n", "  original: Dictionary\n", "    nx: 100000\n", "    nf: 0\n",
    "    patch_size: 1000000\n", "    stride: 0\n", "    batch_size: 100000000\n", "    steps: 0\n",
    "  X:\n    type: Transpose\n    original: X\n    pre: V1\n    post: V1\n",
    "  Loop:\n    type: Convolution\n    pre: V1\n    post: V1\n",
};

// Replace the value of a `key: value` line, or a number anywhere, with a special value.
void mutate_value(std::vector<std::string>& lines, Rng& r) {
  if (lines.empty()) return;
  std::string& l = lines[r.below(lines.size())];
  const std::string v = kSpecialValues[r.below(std::size(kSpecialValues))];
  auto colon = l.find(": ");
  if (colon != std::string::npos && !r.chance(4)) {
    l = l.substr(0, colon + 2) + v + "\n";
    return;
  }
  auto d = l.find_first_of("0123456789");
  if (d == std::string::npos) return;
  auto e = l.find_first_not_of("0123456789.e-", d);
  l = l.substr(0, d) + v + (e == std::string::npos ? "\n" : l.substr(e));
}

Bytes mutate_text(const Bytes& in, Rng& r, const std::vector<Bytes>& others) {
  Bytes b = in;
  const int n = 1 + int(r.below(4));
  for (int m = 0; m < n; ++m) {
    auto lines = split_lines(b);
    switch (r.below(12)) {
      case 0:  // byte flip
        if (!b.empty()) b[r.below(b.size())] ^= char(1u << r.below(8));
        continue;
      case 1:  // random byte
        if (!b.empty()) b[r.below(b.size())] = char(r.below(256));
        continue;
      case 2:  // truncation
        b.resize(r.below(b.size() + 1));
        continue;
      case 3:  // line deletion
        if (!lines.empty()) lines.erase(lines.begin() + long(r.below(lines.size())));
        break;
      case 4:  // line duplication (possibly elsewhere: duplicate keys and blocks)
        if (!lines.empty()) {
          std::string l = lines[r.below(lines.size())];
          lines.insert(lines.begin() + long(r.below(lines.size() + 1)), l);
        }
        break;
      case 5: {  // key/value swap within a line
        if (lines.empty()) break;
        std::string& l = lines[r.below(lines.size())];
        auto colon = l.find(": ");
        if (colon == std::string::npos) break;
        auto ind = l.find_first_not_of(' ');
        std::string key = l.substr(ind, colon - ind), val = l.substr(colon + 2);
        if (!val.empty() && val.back() == '\n') val.pop_back();
        l = l.substr(0, ind) + val + ": " + key + "\n";
        break;
      }
      case 6: {  // swap two lines' values
        if (lines.size() < 2) break;
        std::string& a = lines[r.below(lines.size())];
        std::string& c = lines[r.below(lines.size())];
        auto ca = a.find(": "), cc = c.find(": ");
        if (ca == std::string::npos || cc == std::string::npos) break;
        std::string va = a.substr(ca + 2), vc = c.substr(cc + 2);
        a = a.substr(0, ca + 2) + vc;
        c = c.substr(0, cc + 2) + va;
        break;
      }
      case 7:
      case 8:  // huge / special values
        mutate_value(lines, r);
        break;
      case 9:  // structural YAML noise
        lines.insert(lines.begin() + long(r.below(lines.size() + 1)), kSpecialLines[r.below(std::size(kSpecialLines))]);
        break;
      case 10: {  // indentation change
        if (lines.empty()) break;
        std::string& l = lines[r.below(lines.size())];
        if (r.chance(2) && l.rfind("  ", 0) == 0) l.erase(0, 2);
        else l.insert(0, r.chance(4) ? "\t" : "  ");
        break;
      }
      case 11: {  // splice lines from another seed of the same kind
        if (others.empty()) break;
        auto o = split_lines(others[r.below(others.size())]);
        if (o.empty()) break;
        std::size_t from = r.below(o.size()), len = 1 + r.below(6);
        std::vector<std::string> piece(o.begin() + long(from), o.begin() + long(std::min(o.size(), from + len)));
        lines.insert(lines.begin() + long(r.below(lines.size() + 1)), piece.begin(), piece.end());
        break;
      }
    }
    b = join(lines);
  }
  return b;
}

const std::uint32_t kSpecialDims[] = {0, 1, 2, 3, 4, 7, 8, 255, 256, 65535, 65536, 0x3FFFFFFF, 0x40000000,
                                      0x40000001, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x10000000, 0x01000000};

void put_be32(Bytes& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    if (at + std::size_t(i) < b.size()) b[at + std::size_t(i)] = char((v >> (24 - 8 * i)) & 0xFF);
}

Bytes mutate_binary(const Bytes& in, Rng& r) {
  Bytes b = in;
  const int n = 1 + int(r.below(4));
  for (int m = 0; m < n; ++m) {
    const std::size_t ndims = b.size() >= 4 ? std::size_t(std::uint8_t(b[3])) : 0;
    switch (r.below(9)) {
      case 0:
        if (!b.empty()) b[r.below(b.size())] ^= char(1u << r.below(8));
        break;
      case 1:
        b.resize(r.below(b.size() + 1));
        break;
      case 2:  // element type
        if (b.size() > 2) {
          const unsigned char types[] = {0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF};
          b[2] = char(types[r.below(std::size(types))]);
        }
        break;
      case 3:  // number of dimensions
        if (b.size() > 3) b[3] = char(r.chance(2) ? 3 + r.below(2) : r.below(256));
        break;
      case 4:  // one dimension field
        put_be32(b, 4 + 4 * r.below(std::max<std::size_t>(ndims, 1) + 1), kSpecialDims[r.below(std::size(kSpecialDims))]);
        break;
      case 5: {  // every dimension the same boundary value (products that overflow)
        const std::uint32_t v = kSpecialDims[r.below(std::size(kSpecialDims))];
        for (std::size_t i = 0; i < std::min<std::size_t>(ndims, 8); ++i) put_be32(b, 4 + 4 * i, v);
        break;
      }
      case 6:  // append garbage
        for (std::size_t i = 0, k = 1 + r.below(64); i < k; ++i) b.push_back(char(r.below(256)));
        break;
      case 7:  // delete a run of bytes
        if (!b.empty()) {
          std::size_t at = r.below(b.size());
          b.erase(at, 1 + r.below(16));
        }
        break;
      case 8:  // dimension field chosen so the product matches the file, with the rest adjusted
        if (ndims == 3 && b.size() >= 16) {
          put_be32(b, 4, std::uint32_t(r.below(3) + 1));
          put_be32(b, 8, std::uint32_t(1 + r.below(20)));
          put_be32(b, 12, std::uint32_t(1 + r.below(20)));
        }
        break;
    }
  }
  return b;
}

// A network is built only when every size it could allocate is small (the harness looks for
// crashes, not for how long a huge allocation takes).
bool small_enough(const NetworkSpec& spec) {
  if (spec.sim.batch_size > 8) return false;
  auto ok = [](const ParamSet& p) {
    for (auto& [k, v] : p.values()) {
      if (const long long* i = std::get_if<long long>(&v)) {
        const bool size_key = k == "nx" || k == "ny" || k == "nf" || k == "patch_size" || k == "patch_size_x" ||
                              k == "patch_size_y" || k == "stride" || k == "stride_x" || k == "stride_y";
        if (size_key && *i > 64) return false;
      }
    }
    return true;
  };
  for (auto* list : {&spec.layers, &spec.connections, &spec.probes})
    for (auto& o : *list)
      if (!ok(o.params)) return false;
  return true;
}

enum class Outcome { Ok, UserErr };
long g_networks_built = 0;  // reported: how often mutated input got as far as a whole network
long g_networks_stepped = 0;
long g_checkpoints_restored = 0;

// Three steps of a built network, its output in `run-out` (replaced each time, no reserve).
void step_network(Network& net) {
  Simulation sim(net, RunOptions{true, false});
  sim.prepare();
  OutputOptions oo;
  oo.overwrite = true;
  oo.reserve_bytes = 0;
  Output out("run-out", oo);
  sim.attach(out);
  sim.initialize();
  for (long n = 0; n < 3; ++n) sim.step(n);
  sim.finish();
  out.close();
  ++g_networks_stepped;
}

struct Stats {
  long cases = 0, accepted = 0, user_errors = 0, failures = 0;
};

Outcome run_params(const Bytes& text) {
  ParamsDocument doc = ParamsDocument::parse(text, "fuzz.yaml");
  NetworkSpec spec = NetworkSpec::from(doc, Registry::builtin());
  if (small_enough(spec)) {
    Network net(spec);
    (void)net.describe_schedule();
    ++g_networks_built;
    step_network(net);
  }
  return Outcome::Ok;
}

void run_idx(const fs::path& file) {
  auto src = open_idx(file.string());
  const Geometry g = src->geometry();
  const std::size_t bytes = fs::file_size(file);
  // An accepted header must describe data the file holds (for gzip, allow its best ratio ~1000:1).
  const double claimed = double(src->size()) * double(g.size());
  if (g.size() == 0 || claimed > 1100.0 * double(bytes) + 64)
    throw std::logic_error("IDX accepted: header claims " + std::to_string(src->size()) + " images of " + g.str() +
                           " in a file of " + std::to_string(bytes) + " bytes");
  std::vector<float> img(g.size());
  src->read(0, img.data());
  src->read(src->size() - 1, img.data());
  (void)src->describe();
}

void run_csv(const fs::path& file) {
  LabelTable t = LabelTable::read(file.string());
  (void)t.label("img0.png");
  (void)t.label("");
  for (auto& [k, row] : t.rows) (void)t.label(k);
}


// ---- Checkpoints: a valid one of the first params seed, mutated through HDF5.

struct CkObject {
  std::string object, attribute;  // attribute empty: the dataset `object`
};

herr_t collect_attribute(hid_t, const char* name, const H5A_info_t*, void* data) {
  auto& v = *static_cast<std::pair<std::string, std::vector<CkObject>>*>(data);
  v.second.push_back({v.first, name});
  return 0;
}

herr_t collect_object(hid_t root, const char* name, const H5O_info_t* info, void* data) {
  auto& all = *static_cast<std::vector<CkObject>*>(data);
  std::pair<std::string, std::vector<CkObject>> attrs{name, {}};
  hsize_t at = 0;
  H5Aiterate_by_name(root, name, H5_INDEX_NAME, H5_ITER_INC, &at, collect_attribute, &attrs, H5P_DEFAULT);
  all.insert(all.end(), attrs.second.begin(), attrs.second.end());
  if (info->type == H5O_TYPE_DATASET) all.push_back({name, ""});
  return 0;
}

void write_string_attr(hid_t obj, const std::string& name, const std::string& value) {
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, std::max<std::size_t>(1, value.size()));
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) H5Awrite(a, type, value.c_str()), H5Aclose(a);
  H5Sclose(space);
  H5Tclose(type);
}

void write_int_attr(hid_t obj, const std::string& name, long long v) {
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, name.c_str(), H5T_NATIVE_LLONG, space, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) H5Awrite(a, H5T_NATIVE_LLONG, &v), H5Aclose(a);
  H5Sclose(space);
}

std::string read_string_attr(hid_t obj, const std::string& name) {
  hid_t a = H5Aopen(obj, name.c_str(), H5P_DEFAULT);
  if (a < 0) return {};
  hid_t t = H5Aget_type(a);
  std::string out;
  if (H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) {
    out.resize(H5Tget_size(t));
    H5Aread(a, t, out.data());
  }
  H5Tclose(t);
  H5Aclose(a);
  return out;
}

const long long kSpecialInts[] = {0, -1, 1, -100, 2, 3, 4, 5, 1000000, -9223372036854775807LL - 1, 9223372036854775807LL,
                                  2147483648LL, 1LL << 53, (1LL << 53) + 1};

// Mutates the checkpoint at `path` in place; returns what it did (for failure reports).
std::string mutate_checkpoint(const std::string& path, Rng& r, const std::vector<Bytes>& text_seeds) {
  if (r.chance(8)) {  // raw bytes of the file
    Bytes b = read_text(path);
    const int n = 1 + int(r.below(8));
    for (int i = 0; i < n && !b.empty(); ++i) b[r.below(b.size())] ^= char(1u << r.below(8));
    if (r.chance(4)) b.resize(r.below(b.size() + 1));
    write_bytes(path, b);
    return "bytes flipped/truncated";
  }
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) return "unopenable";
  std::vector<CkObject> all;
  H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, collect_object, &all);
  std::string did;
  const int n = 1 + int(r.below(3));
  for (int m = 0; m < n && !all.empty(); ++m) {
    const CkObject& o = all[r.below(all.size())];
    if (!o.attribute.empty()) {
      hid_t obj = H5Oopen(f, o.object.c_str(), H5P_DEFAULT);
      if (obj < 0) continue;
      hid_t a = H5Aopen(obj, o.attribute.c_str(), H5P_DEFAULT);
      hid_t t = a >= 0 ? H5Aget_type(a) : -1;
      const bool is_string = t >= 0 && H5Tget_class(t) == H5T_STRING;
      if (t >= 0) H5Tclose(t);
      if (a >= 0) H5Aclose(a);
      switch (r.below(5)) {
        case 0:
          H5Adelete(obj, o.attribute.c_str());
          did += " delete " + o.object + "@" + o.attribute;
          break;
        case 1:  // another type
          if (is_string) write_int_attr(obj, o.attribute, kSpecialInts[r.below(std::size(kSpecialInts))]);
          else write_string_attr(obj, o.attribute, kSpecialValues[r.below(std::size(kSpecialValues))]);
          did += " retype " + o.object + "@" + o.attribute;
          break;
        default:
          if (is_string) {
            const Bytes v = mutate_text(read_string_attr(obj, o.attribute), r, text_seeds);
            write_string_attr(obj, o.attribute, v);
          } else {
            write_int_attr(obj, o.attribute, kSpecialInts[r.below(std::size(kSpecialInts))]);
          }
          did += " value " + o.object + "@" + o.attribute;
      }
      H5Oclose(obj);
      continue;
    }
    hid_t d = H5Dopen2(f, o.object.c_str(), H5P_DEFAULT);
    if (d < 0) continue;
    hid_t space = H5Dget_space(d);
    const hssize_t count = H5Sget_simple_extent_npoints(space);
    H5Sclose(space);
    const int what = int(r.below(4));
    if (what == 0 && count > 0) {  // one element NaN, Inf or huge
      std::vector<double> v(static_cast<std::size_t>(count));
      H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
      const double specials[] = {std::nan(""), INFINITY, -INFINITY, 1e30, -1e30, 3e38};
      v[r.below(v.size())] = specials[r.below(std::size(specials))];
      H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
      H5Dclose(d);
      did += " special value in " + o.object;
      continue;
    }
    H5Dclose(d);
    H5Ldelete(f, o.object.c_str(), H5P_DEFAULT);
    did += " delete " + o.object;
    if (what == 1) continue;
    // Replaced by another shape (what 2) or by text (what 3).
    hsize_t dims[2] = {hsize_t(1 + r.below(5)), hsize_t(1 + r.below(5))};
    hid_t sp = H5Screate_simple(what == 2 ? int(1 + r.below(2)) : 1, dims, nullptr);
    hid_t type = what == 2 ? H5Tcopy(H5T_NATIVE_FLOAT) : H5Tcopy(H5T_C_S1);
    if (what == 3) H5Tset_size(type, 4);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t nd = H5Dcreate2(f, o.object.c_str(), type, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (nd >= 0) {
      std::vector<char> zeros(std::size_t(dims[0] * dims[1]) * 8, 'x');
      H5Dwrite(nd, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data());
      H5Dclose(nd);
    }
    H5Pclose(lcpl);
    H5Tclose(type);
    H5Sclose(sp);
    did += what == 2 ? " (reshaped)" : " (as text)";
  }
  H5Fclose(f);
  return did;
}

// The network the checkpoints belong to, built once; each case restores a mutated checkpoint into it.
struct CheckpointTarget {
  ParamsDocument doc;
  NetworkSpec spec;
  Network net;
  std::unique_ptr<Output> out;
  std::unique_ptr<Simulation> sim;
  std::string valid;  // a valid checkpoint of it
  explicit CheckpointTarget(const Bytes& params)
      : doc(ParamsDocument::parse(params, "checkpoint-seed.yaml")), spec(NetworkSpec::from(doc, Registry::builtin())), net(spec) {
    OutputOptions oo;
    oo.overwrite = true;
    oo.reserve_bytes = 0;
    out = std::make_unique<Output>("ck-out", oo);
    sim = std::make_unique<Simulation>(net, *out, RunOptions{true, false});
    sim->initialize();
    for (long n = 0; n < 2; ++n) sim->step(n);
    valid = CheckpointWriter("ck-src", 1, out->run_id()).write(net, 2, out->mark(), "periodic");
  }
  void run(const std::string& path) {
    const CheckpointInfo info = inspect_checkpoint(path, net);
    restore_checkpoint(net, info);
    for (long n = info.step; n < info.step + 2; ++n) sim->step(n);
    ++g_checkpoints_restored;
  }
};
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: fuzz_params CORPUS_DIR [--iterations N] [--seed S] [--save DIR] [--verbose]\n";
    return 2;
  }
  fs::path corpus = fs::absolute(argv[1]);
  long iterations = 2000;
  std::uint64_t seed = 1;
  fs::path save;
  bool verbose = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--iterations" && i + 1 < argc) iterations = std::atol(argv[++i]);
    else if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--save" && i + 1 < argc) save = fs::absolute(argv[++i]);
    else if (a == "--verbose") verbose = true;
    else { std::cerr << "fuzz_params: unknown argument " << a << "\n"; return 2; }
  }

  std::vector<Bytes> params, idx, csv;
  std::vector<std::string> params_names, idx_names, csv_names;
  std::vector<fs::path> entries(fs::directory_iterator(corpus), fs::directory_iterator{});
  std::sort(entries.begin(), entries.end());
  for (auto& p : entries) {
    const std::string name = p.filename().string();
    auto ends = [&](const std::string& s) { return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0; };
    if (ends(".yaml")) { params.push_back(read_text(p)); params_names.push_back(name); }
    else if (ends(".idx.hex")) { idx.push_back(from_hex(read_text(p))); idx_names.push_back(name); }
    else if (ends(".csv")) { csv.push_back(read_text(p)); csv_names.push_back(name); }
  }
  if (params.empty() || idx.empty() || csv.empty()) {
    std::cerr << "fuzz_params: " << corpus << " needs *.yaml, *.idx.hex and *.csv seeds\n";
    return 2;
  }

  // The scratch folder the params' relative paths resolve in.
  std::string tmpl = (fs::temp_directory_path() / "laminar-fuzz-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) { std::perror("mkdtemp"); return 2; }
  const fs::path work = tmpl;
  fs::create_directories(work / "data" / "folder");
  const Bytes tiny_idx = idx[0];  // the first IDX seed (sorted by name) is the valid 4 x 8x8 file
  write_bytes(work / "data" / "tiny.idx", tiny_idx);
  write_bytes(work / "data" / "labels.csv", csv[0]);
  for (int i = 0; i < 3; ++i) {  // 8x8 grey PNGs for folder inputs
    std::vector<unsigned char> px(64, static_cast<unsigned char>(40 * i));
    write_png((work / "data" / "folder" / ("img" + std::to_string(i) + ".png")).string(), px.data(), 8, 8, 1);
  }
  fs::current_path(work);

  // Every seed must be valid input: mutations of valid input reach deepest, and a seed that is
  // refused would quietly turn this harness into a test of the YAML parser's error path.
  for (std::size_t k = 0; k < params.size() + idx.size() + csv.size(); ++k) {
    std::string name;
    try {
      if (k < params.size()) { name = params_names[k]; run_params(params[k]); }
      else if (k < params.size() + idx.size()) {
        name = idx_names[k - params.size()];
        write_bytes(work / "seed.idx", idx[k - params.size()]);
        run_idx(work / "seed.idx");
      } else {
        name = csv_names[k - params.size() - idx.size()];
        write_bytes(work / "seed.csv", csv[k - params.size() - idx.size()]);
        run_csv(work / "seed.csv");
      }
    } catch (const std::exception& e) {
      std::cerr << "fuzz_params: corpus seed " << name << " is not valid input: " << e.what() << "\n";
      return 2;
    }
  }

  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  CheckpointTarget target(params[0]);
  {  // the untouched checkpoint restores
    target.run(target.valid);
  }
  const std::string ck_case = (work / "fuzz-checkpoint.h5").string();

  g_networks_built = g_networks_stepped = g_checkpoints_restored = 0;
  Stats st;
  const auto t0 = std::chrono::steady_clock::now();
  for (long it = 0; it < iterations; ++it) {
    Rng r{seed * 0x100000001B3ULL + std::uint64_t(it)};
    r.next();
    const std::size_t kind = r.below(24);  // 11/24 params, 6/24 IDX, 3/24 CSV, 4/24 checkpoints
    std::string what, seed_name;
    Bytes input;
    bool gz = false;
    ++st.cases;
    try {
      try {
        if (kind < 11) {
          std::size_t k = r.below(params.size());
          seed_name = params_names[k];
          input = r.chance(16) ? params[k] : mutate_text(params[k], r, params);
          what = "params";
          run_params(input);
        } else if (kind < 17) {
          std::size_t k = r.below(idx.size());
          seed_name = idx_names[k];
          input = r.chance(16) ? idx[k] : mutate_binary(idx[k], r);
          gz = r.chance(4);
          what = gz ? "idx.gz" : "idx";
          const fs::path f = work / (gz ? "fuzz.idx.gz" : "fuzz.idx");
          write_bytes(f, gz ? (r.chance(3) ? gzip_bytes(input).substr(0, r.below(input.size() + 20)) : gzip_bytes(input)) : input);
          run_idx(f);
          if (r.chance(4)) {  // the same data through a whole network
            write_bytes(work / "data" / "tiny.idx", input);
            struct Restore { fs::path p; const Bytes& b; ~Restore() { write_bytes(p, b); } } restore{work / "data" / "tiny.idx", tiny_idx};
            what = "idx-in-network";
            run_params(params[0]);
          }
        } else if (kind >= 20) {
          seed_name = "checkpoint of " + params_names[0];
          fs::copy_file(target.valid, ck_case, fs::copy_options::overwrite_existing);
          what = "checkpoint";
          const std::string did = mutate_checkpoint(ck_case, r, params);
          const bool sealed = r.chance(2);
          if (sealed) {
            try {
              seal_checkpoint(ck_case);
            } catch (const UserError&) {
            }
          }
          input = read_text(ck_case);
          what = "checkpoint (" + did.substr(did.empty() ? 0 : 1) + (sealed ? ", re-sealed" : "") + ")";
          target.run(ck_case);
        } else {
          std::size_t k = r.below(csv.size());
          seed_name = csv_names[k];
          input = r.chance(16) ? csv[k] : mutate_text(csv[k], r, csv);
          what = "csv";
          write_bytes(work / "fuzz.csv", input);
          run_csv(work / "fuzz.csv");
          if (r.chance(4)) {
            write_bytes(work / "data" / "labels.csv", input);
            struct Restore { fs::path p; const Bytes& b; ~Restore() { write_bytes(p, b); } } restore{work / "data" / "labels.csv", csv[0]};
            what = "csv-in-network";
            // The params seed with labels (the first seed whose text mentions labels.csv).
            for (auto& p : params)
              if (p.find("data/labels.csv") != std::string::npos) { run_params(p); break; }
          }
        }
        ++st.accepted;
      } catch (const UserError& e) {
        ++st.user_errors;
        if (verbose) std::cout << "case " << it << " (" << what << ", " << seed_name << "): " << e.what() << "\n";
      }
    } catch (const std::exception& e) {
      ++st.failures;
      const fs::path dir = save.empty() ? work / "failures" : save;
      fs::create_directories(dir);
      const fs::path f = dir / ("case-" + std::to_string(it) + "." + what.substr(0, what.find(' ')));
      write_bytes(f, input);
      std::cout << "FAILURE case " << it << " (" << what << " from " << seed_name << (gz ? ", gzip" : "")
                << "): " << typeid(e).name() << ": " << e.what() << "\n  input saved as " << f << "\n";
    } catch (...) {
      ++st.failures;
      std::cout << "FAILURE case " << it << " (" << what << " from " << seed_name << "): unknown exception\n";
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "fuzz_params: " << st.cases << " cases (seed " << seed << ", " << params.size() << " params, "
            << idx.size() << " IDX, " << csv.size() << " CSV seeds) in " << secs << " s: " << st.accepted
            << " accepted, " << st.user_errors << " user errors (" << g_networks_built << " networks built, "
            << g_networks_stepped << " stepped; " << g_checkpoints_restored << " mutated checkpoints restored and stepped), "
            << st.failures << " failures\n";
  fs::current_path(fs::temp_directory_path());
  if (st.failures == 0) fs::remove_all(work);
  else if (save.empty()) std::cout << "scratch folder kept: " << work << "\n";
  return st.failures == 0 ? 0 : 1;
}

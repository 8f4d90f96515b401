#include "framework/Params.hpp"

#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "framework/FileCheck.hpp"

namespace laminar {

namespace {

std::string fmt_number(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (std::tolower(a[i - 1]) == std::tolower(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string describe_node(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Scalar: {
      // Keep the message on one line: a quote left open swallows the rest of the file as the value.
      std::string v = n.Scalar();
      const bool long_value = v.size() > 60 || v.find('\n') != std::string::npos;
      if (long_value) v = v.substr(0, std::min(v.find('\n'), std::size_t(40))) + "...";
      std::string s = "'" + v + "'";
      if (long_value && n.Tag() == "!") s += " (a quote left unclosed?)";  // "!": a quoted scalar
      return s;
    }
    default: return "an undefined value";
  }
}

// Text quoted in a message, at most `n` bytes (cut on a UTF-8 character boundary) and "...": a
// --set value or key path can be kilobytes long (e.g. 10000 nested brackets).
std::string clip(const std::string& s, std::size_t n = 80) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "...";
}

Location mark_location(const std::string& file, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.line < 0 ? Location{file} : Location{file, m.line + 1, m.column + 1};
}

// `<<` written plainly (a quoted '<<' is an ordinary key), or tagged !!merge.
bool is_merge_key(const YAML::Node& key) {
  return key.IsScalar() && key.Scalar() == "<<" && (key.Tag() == "?" || key.Tag() == "tag:yaml.org,2002:merge");
}

// YAML merge keys (`<<: *defaults` or `<<: [*a, *b]`), which yaml-cpp keeps as an ordinary key:
// each key of the merged mappings that the mapping does not give itself is added to it (of a
// list, the first mapping giving a key wins), and `<<` is removed, as the YAML merge type says.
// The added keys are the anchored key nodes, so an error in one points at the line of the
// anchor that gave it; each added value is a node of its own sharing the anchored value, so a
// --set of one mapping's key does not change the mappings it was merged from or into.
// Children first, so that a merged mapping has its own merges applied. `budget` bounds the
// walk (aliases can share one node many times over); `depth` catches an alias to an ancestor.
void apply_merge_keys(const YAML::Node& node, const std::string& file, int depth, long& budget) {
  if (--budget < 0)
    throw UserError(Location{file}, "YAML aliases expand to too many nodes (over a million) to apply merge keys (<<)");
  if (depth > 2500)
    throw UserError(mark_location(file, node), "YAML nested too deeply (an alias inside the node it refers to?)");
  if (node.IsSequence()) {
    for (const auto& e : node) apply_merge_keys(e, file, depth + 1, budget);
    return;
  }
  if (!node.IsMap()) return;
  YAML::Node merge_key, merge;
  bool merges = false;
  std::set<std::string> own;
  for (const auto& kv : node) {
    apply_merge_keys(kv.second, file, depth + 1, budget);
    if (is_merge_key(kv.first)) {
      if (merges)
        throw UserError(mark_location(file, kv.first), "<<: merge key given twice (merge several mappings with <<: [*a, *b])");
      merges = true;
      merge_key = kv.first;
      merge = kv.second;
    } else if (kv.first.IsScalar()) {
      own.insert(kv.first.Scalar());
    }
  }
  if (!merges) return;
  std::vector<YAML::Node> sources;
  auto bad = [&](const YAML::Node& v) {
    throw UserError(mark_location(file, v), "<<: a merge key takes a mapping or a list of mappings (e.g. <<: *defaults), got " +
                                               describe_node(v));
  };
  if (merge.IsMap()) {
    sources.push_back(merge);
  } else if (merge.IsSequence()) {
    for (const auto& e : merge) {
      if (!e.IsMap()) bad(e);
      sources.push_back(e);
    }
  } else {
    bad(merge);
  }
  YAML::Node map = node;  // a handle on the same mapping, to modify it
  map.remove(merge_key);
  for (const auto& source : sources)
    for (const auto& kv : source) {
      if (!kv.first.IsScalar() || !own.insert(kv.first.Scalar()).second) continue;
      map[kv.first] = kv.second;
    }
}

}  // namespace

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string n = nearest(word, candidates);
  return n.empty() ? "" : " (did you mean '" + n + "'?)";
}

std::string format_value(const ParamValue& v) {
  struct V {
    std::string operator()(long long x) const { return std::to_string(x); }
    std::string operator()(double x) const { return fmt_number(x); }
    std::string operator()(bool x) const { return x ? "true" : "false"; }
    std::string operator()(const std::string& x) const { return x; }
    std::string operator()(const std::vector<std::string>& x) const {
      std::string s = "[";
      for (std::size_t i = 0; i < x.size(); ++i) s += (i ? ", " : "") + x[i];
      return s + "]";
    }
    std::string operator()(const std::vector<double>& x) const {
      std::string s = "[";
      for (std::size_t i = 0; i < x.size(); ++i) s += (i ? ", " : "") + fmt_number(x[i]);
      return s + "]";
    }
  };
  return std::visit(V{}, v);
}

// ---------------------------------------------------------------- ParamSpec / Schema

std::string ParamSpec::type_name() const {
  switch (type) {
    case ParamType::Integer: return "integer";
    case ParamType::Real: return "number";
    case ParamType::Boolean: return "boolean";
    case ParamType::String: return "string";
    case ParamType::Choice: return "choice";
    case ParamType::StringList: return "list of names";
    case ParamType::RealList: return "number or list of numbers";
  }
  return "?";
}

std::string ParamSpec::range_text() const {
  if (type == ParamType::Choice) {
    std::string s;
    for (std::size_t i = 0; i < choices.size(); ++i) s += (i ? " | " : "") + choices[i];
    return s;
  }
  if (type != ParamType::Integer && type != ParamType::Real && type != ParamType::RealList) return "";
  bool lo = !std::isinf(min), hi = !std::isinf(max);
  if (lo && hi) return std::string(min_exclusive ? "(" : "[") + fmt_number(min) + ", " + fmt_number(max) + "]";
  if (lo) return std::string(min_exclusive ? "> " : ">= ") + fmt_number(min);
  if (hi) return "<= " + fmt_number(max);
  return "";
}

Schema& Schema::add(ParamSpec spec) {
  if (find(spec.name)) throw InternalError("parameter '" + spec.name + "' declared twice");
  specs_.push_back(std::move(spec));
  return *this;
}

const ParamSpec* Schema::find(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

Schema& Schema::merge(const Schema& other) {
  for (const auto& s : other.specs_) add(s);
  return *this;
}

Schema& Schema::integer(const std::string& name, std::optional<long long> def, double min, double max,
                        const std::string& doc) {
  ParamSpec s{name, ParamType::Integer, !def, def ? std::optional(std::to_string(*def)) : std::nullopt,
              min, max, false, {}, doc};
  return add(s);
}
Schema& Schema::real(const std::string& name, std::optional<double> def, double min, double max,
                     const std::string& doc, bool min_exclusive) {
  ParamSpec s{name, ParamType::Real, !def, def ? std::optional(fmt_number(*def)) : std::nullopt,
              min, max, min_exclusive, {}, doc};
  return add(s);
}
Schema& Schema::boolean(const std::string& name, std::optional<bool> def, const std::string& doc) {
  ParamSpec s{name, ParamType::Boolean, !def,
              def ? std::optional<std::string>(*def ? "true" : "false") : std::nullopt,
              -inf, inf, false, {}, doc};
  return add(s);
}
Schema& Schema::string(const std::string& name, std::optional<std::string> def, const std::string& doc) {
  ParamSpec s{name, ParamType::String, !def, def, -inf, inf, false, {}, doc};
  return add(s);
}
Schema& Schema::choice(const std::string& name, std::vector<std::string> choices,
                       std::optional<std::string> def, const std::string& doc) {
  ParamSpec s{name, ParamType::Choice, !def, def, -inf, inf, false, std::move(choices), doc};
  return add(s);
}
Schema& Schema::strings(const std::string& name, const std::string& doc) {
  ParamSpec s{name, ParamType::StringList, false, std::string("[]"), -inf, inf, false, {}, doc};
  return add(s);
}
Schema& Schema::optional_integer(const std::string& name, double min, double max, const std::string& doc) {
  ParamSpec s{name, ParamType::Integer, false, std::nullopt, min, max, false, {}, doc};
  return add(s);
}
Schema& Schema::optional_real(const std::string& name, double min, double max, const std::string& doc,
                              bool min_exclusive) {
  ParamSpec s{name, ParamType::Real, false, std::nullopt, min, max, min_exclusive, {}, doc};
  return add(s);
}
Schema& Schema::optional_string(const std::string& name, const std::string& doc) {
  ParamSpec s{name, ParamType::String, false, std::nullopt, -inf, inf, false, {}, doc};
  return add(s);
}

Schema& Schema::optional_reals(const std::string& name, double min, double max, const std::string& doc,
                               bool min_exclusive) {
  ParamSpec s{name, ParamType::RealList, false, std::nullopt, min, max, min_exclusive, {}, doc};
  return add(s);
}

// ---------------------------------------------------------------- ParamSet

void ParamSet::set(const std::string& name, ParamValue v, Location where, bool given) {
  values_[name] = std::move(v);
  locations_[name] = std::move(where);
  if (given) given_.insert(name);
}

const ParamValue& ParamSet::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw InternalError(owner_ + ": parameter '" + name + "' read but not set");
  return it->second;
}

long long ParamSet::integer(const std::string& name) const { return std::get<long long>(get(name)); }
double ParamSet::real(const std::string& name) const { return std::get<double>(get(name)); }
bool ParamSet::boolean(const std::string& name) const { return std::get<bool>(get(name)); }
const std::string& ParamSet::string(const std::string& name) const { return std::get<std::string>(get(name)); }
const std::vector<std::string>& ParamSet::strings(const std::string& name) const {
  return std::get<std::vector<std::string>>(get(name));
}

std::vector<double> ParamSet::reals(const std::string& name) const {
  const ParamValue& v = get(name);
  if (const double* x = std::get_if<double>(&v)) return {*x};
  return std::get<std::vector<double>>(v);
}
bool ParamSet::is_list(const std::string& name) const {
  return std::holds_alternative<std::vector<double>>(get(name));
}

Location ParamSet::location(const std::string& name) const {
  auto it = locations_.find(name);
  return (it != locations_.end() && given(name)) ? it->second : block_location_;
}

void ParamSet::fail(const std::string& name, const std::string& message) const {
  throw UserError(location(name), owner_ + "." + name + ": " + message);
}

void ParamSet::fail_block(const std::string& message) const {
  throw UserError(block_location_, owner_ + ": " + message);
}

// ---------------------------------------------------------------- ParamsDocument

ParamsDocument ParamsDocument::parse(const std::string& text, const std::string& name) {
  ParamsDocument d;
  d.file_ = name;
  try {
    d.root_ = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {  // its own message is only "bad file"
    throw UserError(Location{name, e.mark.line + 1, e.mark.column + 1},
                    "YAML syntax error: nested too deeply (the parser stops at " + std::to_string(e.depth()) +
                        " levels of [ ] or { })");
  } catch (const YAML::ParserException& e) {
    throw UserError(Location{name, e.mark.line + 1, e.mark.column + 1},
                    "YAML syntax error: " + e.msg);
  }
  if (!d.root_.IsMap())
    throw UserError(Location{name, 1, 1}, "expected a YAML mapping with sections 'simulation', "
                                          "'layers', 'connections', 'probes'; got " +
                                              describe_node(d.root_));
  long budget = 1000000;
  apply_merge_keys(d.root_, name, 0, budget);
  return d;
}

ParamsDocument ParamsDocument::load(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw UserError(path + ": is a folder, not a params file (give the YAML file inside it)");
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot open params file (" + std::strerror(errno) + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

void ParamsDocument::set_override(const std::string& assignment, const std::string& option) {
  const std::string written = clip(option.empty() ? "--set " + assignment : option);
  const Location cli{"command line (" + written + ")"};
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UserError(cli, "expected KEY.PATH=VALUE, e.g. --set layers.V1.lambda=0.2");
  std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  // std::getline drops a trailing empty piece: `simulation.steps.` would be `simulation.steps`.
  if (path.front() == '.' || path.back() == '.' || path.find("..") != std::string::npos)
    throw UserError(cli, "empty key in path '" + clip(path) + "' (a leading, trailing or doubled '.')");
  std::vector<std::string> keys;
  std::stringstream ps(path);
  for (std::string k; std::getline(ps, k, '.');) keys.push_back(k);
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {  // its own message is only "bad file"
    throw UserError(cli, "value '" + clip(text) + "' is not valid YAML: nested too deeply (the parser stops at " +
                             std::to_string(e.depth()) + " levels of [ ] or { })");
  } catch (const YAML::ParserException& e) {
    throw UserError(cli, "value '" + clip(text) + "' is not valid YAML: " + e.msg);
  }
  // Walk down with fresh handles (YAML::Node assignment would rebind, not replace).
  std::vector<YAML::Node> chain{root_};
  std::string walked;
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    const YAML::Node& parent = chain.back();
    walked += (i ? "." : "") + keys[i];
    YAML::Node child = parent[keys[i]];
    if (!child.IsDefined() || !child.IsMap()) {
      std::vector<std::string> known;
      if (parent.IsMap())
        for (const auto& kv : parent) known.push_back(kv.first.Scalar());
      throw UserError(cli, "'" + clip(walked) + "' is not a section of " + file_ +
                               did_you_mean(keys[i], known));
    }
    chain.push_back(child);
  }
  chain.back()[keys.back()] = value;
  overrides_[path] = written;
}

Location ParamsDocument::location(const YAML::Node& node, const std::string& path) const {
  auto it = overrides_.find(path);
  if (it != overrides_.end()) return Location{"command line (" + it->second + ")"};
  if (!node.IsDefined()) return Location{file_};  // an absent key has no position (and Mark() would throw)
  YAML::Mark m = node.Mark();
  if (m.line < 0) return Location{file_};
  return Location{file_, m.line + 1, m.column + 1};
}

std::string ParamsDocument::dump() const {
  YAML::Emitter out;
  out << root_;
  return out.c_str();
}

namespace {

bool parse_real(const std::string& s, double& out) {
  std::string t = lower(s);
  if (t == ".inf" || t == "inf" || t == "+.inf" || t == "+inf") { out = INFINITY; return true; }
  if (t == "-.inf" || t == "-inf") { out = -INFINITY; return true; }
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (b != e && *b == '+') ++b;
  auto r = std::from_chars(b, e, out);
  return r.ec == std::errc() && r.ptr == e && std::isfinite(out);
}

bool parse_integer(const std::string& s, long long& out) {
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (b != e && *b == '+') ++b;
  auto r = std::from_chars(b, e, out);
  if (r.ec == std::errc() && r.ptr == e) return true;
  double d;  // accept 1e3 or 100.0 when integral
  if (parse_real(s, d) && std::floor(d) == d && std::fabs(d) < 9e15) {
    out = static_cast<long long>(d);
    return true;
  }
  return false;
}

bool parse_bool(const std::string& s, bool& out) {
  std::string t = lower(s);
  if (t == "true" || t == "yes" || t == "on") { out = true; return true; }
  if (t == "false" || t == "no" || t == "off") { out = false; return true; }
  return false;
}

}  // namespace

ParamSet ParamsDocument::validate(const YAML::Node& block, const std::string& path,
                                  const Schema& schema, const std::set<std::string>& ignored,
                                  const YAML::Node& name) const {
  ParamSet ps(path, location(name.IsDefined() && !name.IsNull() ? name : block, path));
  if (!block.IsDefined() || block.IsNull()) {
    // An absent section: everything takes its default; required keys are reported below.
  } else if (!block.IsMap()) {
    throw UserError(location(block, path), path + ": expected a mapping of key: value, got " + describe_node(block));
  }

  std::vector<std::string> known;
  for (const auto& s : schema.specs()) known.push_back(s.name);
  for (const auto& k : ignored) known.push_back(k);

  std::set<std::string> seen;
  if (block.IsDefined() && block.IsMap()) {  // IsMap() throws on an absent (invalid) node
    for (const auto& kv : block) {
      const std::string key = kv.first.Scalar();
      const std::string key_path = path + "." + key;
      Location key_loc = location(kv.first, key_path);
      if (!seen.insert(key).second) throw UserError(key_loc, key_path + ": key given twice");
      if (ignored.count(key)) continue;
      const ParamSpec* spec = schema.find(key);
      if (!spec) {
        std::string msg = key_path + ": unknown key" + did_you_mean(key, known);
        if (did_you_mean(key, known).empty()) {
          msg += "; known keys:";
          for (const auto& k : known) msg += " " + k;
        }
        throw UserError(key_loc, msg);
      }
      const YAML::Node& v = kv.second;
      Location vloc = location(v, key_path);
      auto bad = [&](const std::string& expected) {
        throw UserError(vloc, key_path + ": expected " + expected + ", got " + describe_node(v));
      };
      std::string range = spec->range_text();
      switch (spec->type) {
        case ParamType::Integer: {
          long long x;
          if (!v.IsScalar() || !parse_integer(v.Scalar(), x))
            bad("an integer" + (range.empty() ? "" : " " + range));
          if (x < spec->min || x > spec->max || (spec->min_exclusive && x == spec->min))
            bad("an integer " + range);
          ps.set(key, x, vloc, true);
          break;
        }
        case ParamType::Real: {
          double x;
          if (!v.IsScalar() || !parse_real(v.Scalar(), x)) bad("a number" + (range.empty() ? "" : " " + range));
          if (x < spec->min || x > spec->max || (spec->min_exclusive && x == spec->min))
            bad("a number " + range);
          ps.set(key, x, vloc, true);
          break;
        }
        case ParamType::Boolean: {
          bool x;
          if (!v.IsScalar() || !parse_bool(v.Scalar(), x)) bad("true or false");
          ps.set(key, x, vloc, true);
          break;
        }
        case ParamType::String: {
          if (!v.IsScalar() || v.Scalar().empty()) bad("a non-empty string");
          ps.set(key, v.Scalar(), vloc, true);
          break;
        }
        case ParamType::Choice: {
          if (!v.IsScalar()) bad("one of " + range);
          std::string x = v.Scalar();
          if (std::find(spec->choices.begin(), spec->choices.end(), x) == spec->choices.end())
            throw UserError(vloc, key_path + ": expected one of " + range + ", got '" + x + "'" +
                                      did_you_mean(x, spec->choices));
          ps.set(key, x, vloc, true);
          break;
        }
        case ParamType::StringList: {
          std::vector<std::string> xs;
          if (v.IsScalar()) {
            xs.push_back(v.Scalar());
          } else if (v.IsSequence()) {
            for (const auto& e : v) {
              if (!e.IsScalar()) bad("a list of names");
              xs.push_back(e.Scalar());
            }
          } else {
            bad("a list of names");
          }
          ps.set(key, xs, vloc, true);
          break;
        }
        case ParamType::RealList: {
          const std::string want = "a number or a non-empty list of numbers" + (range.empty() ? "" : " " + range);
          auto number = [&](const YAML::Node& e, const std::string& item) {
            double x = 0;
            const bool ok = e.IsScalar() && parse_real(e.Scalar(), x) &&
                            !(x < spec->min || x > spec->max || (spec->min_exclusive && x == spec->min));
            if (!ok) throw UserError(location(e, key_path), key_path + ": expected " + want + ", got " + item + describe_node(e));
            return x;
          };
          if (v.IsScalar()) {
            ps.set(key, number(v, ""), vloc, true);
          } else if (v.IsSequence() && v.size() > 0) {
            std::vector<double> xs;
            for (const auto& e : v) xs.push_back(number(e, "item " + std::to_string(xs.size() + 1) + " = "));
            ps.set(key, xs, vloc, true);
          } else {
            bad(want + (v.IsSequence() ? " (this one is empty)" : ""));
          }
          break;
        }
      }
    }
  }

  // Defaults and required keys.
  for (const auto& spec : schema.specs()) {
    if (ps.has(spec.name)) continue;
    if (spec.required)
      throw UserError(ps.block_location(), path + ": missing required key '" + spec.name + "' (" +
                                               spec.type_name() +
                                               (spec.range_text().empty() ? "" : " " + spec.range_text()) +
                                               ": " + spec.doc + ")");
    if (!spec.default_text) continue;  // optional, unset
    const std::string& d = *spec.default_text;
    switch (spec.type) {
      case ParamType::Integer: { long long x = 0; parse_integer(d, x); ps.set(spec.name, x, {}, false); break; }
      case ParamType::Real: { double x = 0; parse_real(d, x); ps.set(spec.name, x, {}, false); break; }
      case ParamType::Boolean: { bool x = false; parse_bool(d, x); ps.set(spec.name, x, {}, false); break; }
      case ParamType::String:
      case ParamType::Choice: ps.set(spec.name, d, {}, false); break;
      case ParamType::StringList: ps.set(spec.name, std::vector<std::string>{}, {}, false); break;
      case ParamType::RealList: break;  // declared without a default (optional_reals)
    }
  }
  return ps;
}

}  // namespace laminar

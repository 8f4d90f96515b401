#pragma once
// Parameters: each kind declares its parameters once (a Schema); that declaration drives
// validation, error messages, `laminar check` and the generated reference (`laminar describe`).
// Validation is all-or-nothing and unknown keys are errors with a "did you mean" hint.
#include <yaml-cpp/yaml.h>

#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "framework/Error.hpp"

namespace laminar {

enum class ParamType { Integer, Real, Boolean, String, Choice, StringList, RealList };

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Real;
  bool required = false;              // no default: the user must give it
  std::optional<std::string> default_text;  // YAML text of the default; empty optional = unset
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;
  std::vector<std::string> choices;   // for Choice
  std::string doc;

  std::string type_name() const;     // "integer", "number", "one of soft|hard", ...
  std::string range_text() const;     // "> 0", "[0, 1]", "soft | hard", ""
};

// The declared parameters of one kind (or of the simulation section).
class Schema {
 public:
  static constexpr double inf = std::numeric_limits<double>::infinity();

  // A parameter with a default (optional), or required when `def` is std::nullopt.
  Schema& integer(const std::string& name, std::optional<long long> def, double min, double max,
                  const std::string& doc);
  Schema& real(const std::string& name, std::optional<double> def, double min, double max,
               const std::string& doc, bool min_exclusive = false);
  Schema& boolean(const std::string& name, std::optional<bool> def, const std::string& doc);
  Schema& string(const std::string& name, std::optional<std::string> def, const std::string& doc);
  Schema& choice(const std::string& name, std::vector<std::string> choices,
                 std::optional<std::string> def, const std::string& doc);
  Schema& strings(const std::string& name, const std::string& doc);  // list, default empty
  // An optional parameter with no default: absent means "not set" (ParamSet::has is false).
  Schema& optional_integer(const std::string& name, double min, double max, const std::string& doc);
  Schema& optional_real(const std::string& name, double min, double max, const std::string& doc,
                        bool min_exclusive = false);
  Schema& optional_string(const std::string& name, const std::string& doc);
  // An optional number or non-empty list of numbers, each in [min, max] (or (min, max]); unset when
  // absent. ParamSet::reals reads either form as a list, ParamSet::is_list tells which was written.
  Schema& optional_reals(const std::string& name, double min, double max, const std::string& doc,
                         bool min_exclusive = false);

  Schema& merge(const Schema& other);  // append other's parameters (common keys of a family)

  const std::vector<ParamSpec>& specs() const { return specs_; }
  const ParamSpec* find(const std::string& name) const;

 private:
  Schema& add(ParamSpec spec);
  std::vector<ParamSpec> specs_;
};

using ParamValue = std::variant<long long, double, bool, std::string, std::vector<std::string>, std::vector<double>>;

// Validated values of one block (e.g. `layers.V1`), with the source position of each key.
class ParamSet {
 public:
  ParamSet() = default;
  ParamSet(std::string owner, Location block_location)
      : owner_(std::move(owner)), block_location_(std::move(block_location)) {}

  const std::string& owner() const { return owner_; }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  bool given(const std::string& name) const { return given_.count(name) > 0; }  // by the user

  long long integer(const std::string& name) const;
  double real(const std::string& name) const;
  bool boolean(const std::string& name) const;
  const std::string& string(const std::string& name) const;
  const std::vector<std::string>& strings(const std::string& name) const;
  // A RealList parameter: a single number as a one-element list, or the list as written.
  std::vector<double> reals(const std::string& name) const;
  bool is_list(const std::string& name) const;  // written as a YAML list (not a single number)

  Location location(const std::string& name) const;  // the key's position, or the block's
  const Location& block_location() const { return block_location_; }

  // A user error about one key: "file:line:col: layers.V1.tau: message".
  [[noreturn]] void fail(const std::string& name, const std::string& message) const;
  // A user error about the whole block.
  [[noreturn]] void fail_block(const std::string& message) const;

  void set(const std::string& name, ParamValue v, Location where, bool given);
  const std::map<std::string, ParamValue>& values() const { return values_; }

 private:
  const ParamValue& get(const std::string& name) const;
  std::string owner_;
  Location block_location_;
  std::map<std::string, ParamValue> values_;
  std::map<std::string, Location> locations_;
  std::set<std::string> given_;
};

// A loaded params document: the YAML tree, its file name, and the command-line overrides.
class ParamsDocument {
 public:
  static ParamsDocument load(const std::string& path);
  static ParamsDocument parse(const std::string& text, const std::string& name);

  // Apply `--set a.b.c=value` (value parsed as YAML). The parent of the last key must exist.
  // `option` is how the user wrote it, for messages (default "--set a.b.c=value"; e.g. "--steps 10").
  void set_override(const std::string& assignment, const std::string& option = "");

  const YAML::Node& root() const { return root_; }
  const std::string& file() const { return file_; }
  Location location(const YAML::Node& node, const std::string& path) const;

  // Validate one block against a schema. `path` is the dotted path ("layers.V1");
  // `ignored` keys (e.g. "type") are handled by the caller. `name` is the block's key node (e.g.
  // `V1:`): errors about the whole block point there rather than at its first entry.
  ParamSet validate(const YAML::Node& block, const std::string& path, const Schema& schema,
                    const std::set<std::string>& ignored = {}, const YAML::Node& name = YAML::Node()) const;

  // Emit the resolved document as YAML text (overrides applied).
  std::string dump() const;

 private:
  YAML::Node root_;
  std::string file_;
  std::map<std::string, std::string> overrides_;  // path -> original assignment text
};

// The nearest candidate by edit distance, or "" if none is close enough.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);
// " (did you mean 'x'?)" or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

std::string format_value(const ParamValue& v);

}  // namespace laminar

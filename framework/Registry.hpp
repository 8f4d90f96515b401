#pragma once
// The registry: type name -> factory + parameter schema + documentation, for layers,
// connections and probes. Built-in kinds register through a list CMake generates from the
// files in layers/, connections/ and probes/ (framework/BuiltinKinds.cpp.in); plugins (shared
// libraries, framework/Plugin.hpp) add theirs at run time into a copy of the built-in registry.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/Params.hpp"

namespace laminar {

class Layer;
class Connection;
class Probe;
class Backend;

struct SimulationConfig {
  long steps = 0;
  double dt = 1.0;
  int batch_size = 1;
  unsigned long long seed = 1;
  std::string output = "output";
  long display_period = 200;
  int threads = 0;  // OpenMP threads; 0 = OpenMP's default
  bool write_csv = false;
  long checkpoint_every = 0;  // steps between checkpoints; 0 = none
  int checkpoint_keep = 2;
  long nan_check = 1;  // steps between non-finite checks; 0 = none
  bool resume = false;  // continue from the newest checkpoint in `output` if there is one
  int mpi_rows = 0, mpi_columns = 0, mpi_batch_groups = 0;  // decomposition under MPI; 0 = automatic
  std::string backend = "cpu";  // cpu, cuda or device_emulation (Backend::named)
  std::string device_convolution = "auto";  // auto, direct or gemm (Backend::set_convolution_algorithm)

  static Schema schema();
};

struct BuildContext {
  std::string name;     // the object's name in params (e.g. "V1")
  std::string type;     // its kind (e.g. "LCA")
  ParamSet params;      // validated against the kind's schema
  const SimulationConfig& sim;
  Backend& backend;     // the run's numeric kernels (Backend.hpp); layers and connections compute through it
};

enum class Category { Layer, Connection, Probe };
std::string category_name(Category c);  // "layer", "connection", "probe"
std::string category_section(Category c);  // "layers", "connections", "probes"

struct KindInfo {
  Category category = Category::Layer;
  std::string name;         // YAML `type:`
  std::string summary;      // one line
  std::string description;  // a paragraph or more (Markdown)
  std::string example;      // a YAML snippet using the kind
  std::vector<std::string> related;
  Schema schema;            // includes the family's common parameters
  std::function<std::unique_ptr<Layer>(const BuildContext&)> make_layer;
  std::function<std::unique_ptr<Connection>(const BuildContext&)> make_connection;
  std::function<std::unique_ptr<Probe>(const BuildContext&)> make_probe;
  std::string origin;       // set by Registry::add: "" for built-in kinds, else the plugin's file
};

class Registry {
 public:
  // The registry with every built-in kind. Programs that load plugins copy it
  // (`Registry r = Registry::builtin();`) and load into the copy; the copy must outlive every
  // NetworkSpec and Network made from it (they point into it).
  static Registry& builtin();

  // Adds a kind; a user error if its name is taken in its category (naming both origins).
  void add(KindInfo kind);
  const KindInfo* find(Category c, const std::string& name) const;
  std::vector<std::string> names(Category c) const;
  std::vector<const KindInfo*> all() const;

  // Load a plugin (a shared library made with LAMINAR_PLUGIN, framework/Plugin.hpp) and let it
  // add its kinds. `where` says where the path came from and prefixes every error (e.g.
  // "params.yaml:2:12: plugins[0]" or "--plugin x.so"). The same file loaded twice is loaded once.
  // Libraries are never unloaded (the kinds' code lives in them). Defined in framework/Plugin.cpp.
  void load_plugin(const std::string& path, const std::string& where);
  // The plugins loaded into this registry (canonical paths, load order).
  const std::vector<std::string>& plugins() const { return plugins_; }

 private:
  std::map<std::string, KindInfo> kinds_[3];
  std::vector<std::string> plugins_;
  std::string loading_;  // the plugin whose laminar_register is running ("" otherwise)
};

void register_builtin_kinds(Registry& registry);

// Helpers for kind files: `register_layer<LCALayer>(registry, info)`.
template <class T>
void register_layer(Registry& r, KindInfo info) {
  info.category = Category::Layer;
  info.make_layer = [](const BuildContext& c) { return std::make_unique<T>(c); };
  r.add(std::move(info));
}
template <class T>
void register_connection(Registry& r, KindInfo info) {
  info.category = Category::Connection;
  info.make_connection = [](const BuildContext& c) { return std::make_unique<T>(c); };
  r.add(std::move(info));
}
template <class T>
void register_probe(Registry& r, KindInfo info) {
  info.category = Category::Probe;
  info.make_probe = [](const BuildContext& c) { return std::make_unique<T>(c); };
  r.add(std::move(info));
}

}  // namespace laminar

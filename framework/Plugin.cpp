#include "framework/Plugin.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>

#include "framework/FileCheck.hpp"
#include "framework/Params.hpp"

namespace laminar {

namespace fs = std::filesystem;

void Registry::load_plugin(const std::string& path, const std::string& where) {
  auto fail = [&](const std::string& msg) -> void { throw UserError(where + ": " + msg); };
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("plugin file '" + path + "' not found");
  if (fs::is_directory(path, ec)) fail("plugin '" + path + "' is a directory, not a shared library (.so)");
  try {
    require_regular_file(path);  // dlopen of a FIFO would block
  } catch (const UserError& e) {
    fail(std::string("plugin ") + e.what());
  }
  const std::string file = fs::canonical(path, ec).string();
  if (std::find(plugins_.begin(), plugins_.end(), file) != plugins_.end()) return;  // already loaded

  // RTLD_NOW: a plugin built against another Laminar whose symbols are missing here fails now,
  // with the missing symbol named, rather than in the middle of a run. Never dlclose'd.
  dlerror();
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = dlerror();
    fail("cannot load plugin '" + path + "': " + (e ? e : "unknown dlopen error") +
         " (a plugin is a shared library built with laminar_add_plugin from Laminar's CMake package)");
  }
  auto symbol = [&](const char* name) {
    dlerror();
    void* s = dlsym(handle, name);
    if (!s || dlerror())
      fail("plugin '" + path + "' does not export `" + name +
           "`: it is not a Laminar plugin (define its registration with LAMINAR_PLUGIN(registry) { ... } from "
           "\"framework/Plugin.hpp\")");
    return s;
  };
  auto version = reinterpret_cast<int (*)()>(symbol("laminar_plugin_api_version"));
  auto do_register = reinterpret_cast<void (*)(Registry&)>(symbol("laminar_register"));
  const int v = version();
  if (v != LAMINAR_PLUGIN_API_VERSION)
    fail("plugin '" + path + "' was built for plugin API version " + std::to_string(v) + ", but this laminar (" +
         LAMINAR_VERSION + ") has plugin API version " + std::to_string(LAMINAR_PLUGIN_API_VERSION) +
         "; rebuild the plugin against this Laminar's installed CMake package");

  loading_ = file;
  try {
    do_register(*this);
  } catch (const UserError& e) {  // e.g. a kind name clash, which names the plugin already
    loading_.clear();
    fail(e.what());
  } catch (const std::exception& e) {
    loading_.clear();
    fail(std::string("plugin '") + path + "': " + e.what());
  } catch (...) {
    loading_.clear();
    fail("plugin '" + path + "': laminar_register threw a non-standard exception");
  }
  loading_.clear();
  plugins_.push_back(file);
}

void load_params_plugins(Registry& registry, const ParamsDocument& doc) {
  const YAML::Node& root = doc.root();
  if (!root.IsMap()) return;  // NetworkSpec::from reports the document's shape
  YAML::Node key, list;
  for (const auto& kv : root)
    if (kv.first.Scalar() == "plugins") key = kv.first, list = kv.second;
  if (!key.IsDefined() || list.IsNull()) return;
  if (!list.IsSequence())
    throw UserError(doc.location(list, "plugins"),
                    "plugins: expected a list of plugin files, e.g. `plugins: [build/my_plugin.so]`");
  fs::path folder = fs::path(doc.file()).parent_path();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& item = list[i];
    const std::string entry = "plugins[" + std::to_string(i) + "]";
    if (!item.IsScalar() || item.Scalar().empty())
      throw UserError(doc.location(item, entry), entry + ": expected the path of a plugin file (.so)");
    fs::path p(item.Scalar());
    std::string resolved = p.is_absolute() || folder.empty() ? p.string() : (folder / p).string();
    std::string where = doc.location(item, entry).str() + ": " + entry;
    if (resolved != item.Scalar() && !fs::exists(resolved))
      where += " ('" + item.Scalar() + "' is relative to the params file's folder)";
    registry.load_plugin(resolved, where);
  }
}

}  // namespace laminar

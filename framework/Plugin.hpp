#pragma once
// Runtime plugins: a shared library that adds layer, connection or probe kinds to Laminar
// without editing it. A plugin is one or more C++ files that define kinds exactly as the
// built-in ones do (a class deriving from Layer, Connection or Probe, and a KindInfo with its
// schema and documentation) and register them in one function:
//
//   #include "framework/Plugin.hpp"
//   LAMINAR_PLUGIN(registry) {
//     laminar::register_probe<WinnerTakeAll>(registry, {.name = "WinnerTakeAll", ...});
//   }
//
// Build it with the installed CMake package (`find_package(Laminar)`,
// `laminar_add_plugin(name SOURCES ...)`) and load it with `plugins: [path.so]` at the top of a
// params file (paths relative to the params file's folder) or `laminar run --plugin path.so`.
//
// The plugin does not contain Laminar: its references to Laminar's functions (Registry, the
// base classes, Backend kernels, ...) resolve when it is loaded against the `laminar`
// executable, which exports its symbols, so there is one registry and one copy of every type.
// On load Laminar checks laminar_plugin_api_version() against its own
// LAMINAR_PLUGIN_API_VERSION: the number changes whenever a change to Laminar's headers would
// break plugins built against an older version (class layouts, virtual functions), so a stale
// plugin is refused with both numbers rather than crashing.
#include "framework/Connection.hpp"
#include "framework/Layer.hpp"
#include "framework/Probe.hpp"
#include "framework/Registry.hpp"

#define LAMINAR_PLUGIN_API_VERSION 4

#define LAMINAR_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

// Defines both symbols Laminar looks up: the API version the plugin was compiled against and
// the registration function (whose body follows the macro).
#define LAMINAR_PLUGIN(registry)                                                          \
  LAMINAR_PLUGIN_EXPORT int laminar_plugin_api_version() { return LAMINAR_PLUGIN_API_VERSION; } \
  LAMINAR_PLUGIN_EXPORT void laminar_register(::laminar::Registry& registry)

namespace laminar {

class ParamsDocument;

// Load the plugins a params file lists in its top-level `plugins:` (a list of paths, relative
// to the params file's folder or absolute) into `registry`; errors name the file, line and entry.
void load_params_plugins(Registry& registry, const ParamsDocument& doc);

}  // namespace laminar

// A plugin that claims to be built for a newer plugin API than the laminar loading it.
#include "framework/Plugin.hpp"

extern "C" __attribute__((visibility("default"))) int laminar_plugin_api_version() {
  return LAMINAR_PLUGIN_API_VERSION + 1;
}
extern "C" __attribute__((visibility("default"))) void laminar_register(laminar::Registry&) {}

# laminar_add_plugin(<name> SOURCES <files...> [OUTPUT_DIRECTORY <dir>])
#
# Builds a Laminar plugin: a shared library <name>.so (a CMake MODULE library, no "lib" prefix)
# whose sources define kinds and register them with LAMINAR_PLUGIN(registry) { ... } from
# "framework/Plugin.hpp". Load it with `plugins: [path/to/<name>.so]` in a params file or
# `laminar run --plugin path/to/<name>.so`.
#
# The plugin is compiled against Laminar::plugin_api (headers only) and does NOT link Laminar's
# library: its references to Laminar resolve against the `laminar` executable that loads it, so
# the plugin and Laminar share one registry and one copy of every function.
function(laminar_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "OUTPUT_DIRECTORY" "SOURCES")
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "laminar_add_plugin(${name}): give SOURCES")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE Laminar::plugin_api)
  set_target_properties(${name} PROPERTIES PREFIX "" CXX_EXTENSIONS OFF POSITION_INDEPENDENT_CODE ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  endif()
endfunction()

// A valid shared library that is not a Laminar plugin: no laminar_register, no API version.
extern "C" int not_a_laminar_plugin() { return 42; }

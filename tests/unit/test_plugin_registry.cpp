// Registry copies for plugins: kinds added to a copy leave the built-in registry alone, clashing
// names are refused naming both origins, `plugins:` is accepted by NetworkSpec::from, and
// load_plugin's file errors. (Loading real plugins is tested end to end by system.plugins.)
#include <gtest/gtest.h>

#include "framework/Network.hpp"
#include "framework/Plugin.hpp"
#include "tests/unit/TestUtil.hpp"

using namespace laminar;

namespace {
using laminar::test::error_of;
KindInfo probe_kind(const std::string& name) {
  KindInfo k;
  k.category = Category::Probe;
  k.name = name;
  k.schema = Probe::common_schema();
  return k;
}
}  // namespace

TEST(PluginRegistry, CopyIsIndependentAndClashesNameBothOrigins) {
  Registry copy = Registry::builtin();
  copy.add(probe_kind("MyProbe"));
  EXPECT_NE(copy.find(Category::Probe, "MyProbe"), nullptr);
  EXPECT_EQ(Registry::builtin().find(Category::Probe, "MyProbe"), nullptr);
  EXPECT_EQ(copy.find(Category::Probe, "MyProbe")->origin, "");
  EXPECT_EQ(copy.find(Category::Layer, "LCA")->origin, "");
  // The same name in another category is fine; in the same category it is not.
  KindInfo layer = probe_kind("Stats");
  layer.category = Category::Layer;
  EXPECT_NO_THROW(copy.add(layer));
  std::string msg = error_of([&] { copy.add(probe_kind("Stats")); });
  EXPECT_NE(msg.find("probe type 'Stats' (built-in) clashes with the existing probe type 'Stats' (built-in)"),
            std::string::npos) << msg;
}

TEST(PluginRegistry, LoadPluginFileErrors) {
  Registry copy = Registry::builtin();
  std::string msg = error_of([&] { copy.load_plugin("/nonexistent/x.so", "--plugin /nonexistent/x.so"); });
  EXPECT_EQ(msg, "--plugin /nonexistent/x.so: plugin file '/nonexistent/x.so' not found");
  msg = error_of([&] { copy.load_plugin("/", "--plugin /"); });
  EXPECT_NE(msg.find("is a directory"), std::string::npos) << msg;
  msg = error_of([&] { copy.load_plugin(__FILE__, "here"); });  // a C++ source, not a shared library
  EXPECT_EQ(msg.rfind(std::string("here: cannot load plugin '") + __FILE__ + "': ", 0), 0u) << msg;
  EXPECT_TRUE(copy.plugins().empty());
}

TEST(PluginRegistry, PluginsSectionIsAcceptedAndMustBeAList) {
  const std::string net =
      "simulation: {steps: 1}\n"
      "layers: {Input: {type: ImageInput, path: x.idx}}\n";
  EXPECT_NO_THROW(NetworkSpec::from(ParamsDocument::parse("plugins: []\n" + net, "p.yaml"), Registry::builtin()));
  std::string msg = error_of(
      [&] { NetworkSpec::from(ParamsDocument::parse("plugins: a.so\n" + net, "p.yaml"), Registry::builtin()); });
  EXPECT_NE(msg.find("p.yaml:1:10: plugins: expected a list"), std::string::npos) << msg;
  msg = error_of([&] {
    Registry r = Registry::builtin();
    load_params_plugins(r, ParamsDocument::parse("plugins: [sub/a.so]\n" + net, "dir/p.yaml"));
  });
  EXPECT_NE(msg.find("dir/p.yaml:1:11: plugins[0] ('sub/a.so' is relative to the params file's folder): plugin file "
                     "'dir/sub/a.so' not found"),
            std::string::npos) << msg;
}

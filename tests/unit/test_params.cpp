// Params validation (ParamsDocument, NetworkSpec::from): every user error names the file, line
// and column, the dotted key, what was expected and what was given, with a "did you mean" hint
// where one is close; `--set` overrides change values and errors then name the command line.
#include <gtest/gtest.h>

#include <functional>

#include "framework/Network.hpp"
#include "framework/Params.hpp"
#include "tests/unit/TestUtil.hpp"

namespace laminar {
namespace {

const std::string kBase = R"(simulation:
  steps: 10
  display_period: 5
  batch_size: 2
layers:
  Input:
    type: ImageInput
    path: INPUT_PATH
  Residual:
    type: Error
  V1:
    type: LCA
    nx: 4
    ny: 4
    nf: 8
    tau: 10
    lambda: 0.1
)" + std::string(test::kCanonicalConnections);

// 1-based line of the first line containing `needle` in `text`.
int line_of(const std::string& text, const std::string& needle) {
  auto pos = text.find(needle);
  if (pos == std::string::npos) throw std::runtime_error("'" + needle + "' not in text");
  return 1 + int(std::count(text.begin(), text.begin() + long(pos), '\n'));
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  if (pos == std::string::npos) throw std::runtime_error("'" + from + "' not in text");
  return text.replace(pos, from.size(), to);
}

using test::error_of;

std::string spec_error(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  return error_of([&] {
    ParamsDocument doc = ParamsDocument::parse(yaml, "net.yaml");
    for (const auto& s : sets) doc.set_override(s);
    NetworkSpec::from(doc, Registry::builtin());
  });
}

const ObjectSpec& find(const std::vector<ObjectSpec>& v, const std::string& name) {
  for (const auto& o : v)
    if (o.name == name) return o;
  throw std::runtime_error("no object " + name);
}

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << "message: " << (msg) << "\nmissing: " << (part)
#define EXPECT_LACKS(msg, part) EXPECT_EQ((msg).find(part), std::string::npos) << "message: " << (msg) << "\nunexpected: " << (part)

TEST(Params, BaseDocumentIsValid) {
  ParamsDocument doc = ParamsDocument::parse(kBase, "net.yaml");
  NetworkSpec spec = NetworkSpec::from(doc, Registry::builtin());
  EXPECT_EQ(spec.sim.steps, 10);
  EXPECT_EQ(spec.sim.batch_size, 2);
  EXPECT_EQ(spec.sim.display_period, 5);
  EXPECT_DOUBLE_EQ(spec.sim.dt, 1.0);  // default
  ASSERT_EQ(spec.layers.size(), 3u);
  ASSERT_EQ(spec.connections.size(), 3u);
  const ParamSet& v1 = find(spec.layers, "V1").params;
  EXPECT_DOUBLE_EQ(v1.real("lambda"), 0.1);
  EXPECT_DOUBLE_EQ(v1.real("tau"), 10.0);
  EXPECT_EQ(v1.string("threshold"), "soft");  // default
  EXPECT_TRUE(v1.given("tau"));
  EXPECT_FALSE(v1.given("threshold"));
  EXPECT_EQ(v1.location("tau").line, line_of(kBase, "tau: 10"));
  EXPECT_EQ(v1.location("tau").column, 10);  // the value's column
  EXPECT_EQ(find(spec.connections, "Dictionary").params.integer("patch_size"), 4);
}

TEST(Params, UnknownKeyNamesPositionAndSuggests) {
  std::string y = replace(kBase, "    lambda: 0.1", "    lamda: 0.1");
  std::string msg = spec_error(y);
  EXPECT_HAS(msg, "net.yaml:" + std::to_string(line_of(y, "lamda")) + ":5: layers.V1.lamda: unknown key");
  EXPECT_EQ(line_of(y, "lamda"), 17);
  EXPECT_HAS(msg, "did you mean 'lambda'?");
}

TEST(Params, UnknownKeyWithoutNearMatchListsKnownKeys) {
  std::string y = replace(kBase, "    patch_size: 4", "    patch_size: 4\n    kernel_weights_zz: 1");
  std::string msg = spec_error(y);
  EXPECT_HAS(msg, "net.yaml:" + std::to_string(line_of(y, "kernel_weights_zz")) + ":5:");
  EXPECT_HAS(msg, "connections.Dictionary.kernel_weights_zz: unknown key");
  EXPECT_LACKS(msg, "did you mean");
  EXPECT_HAS(msg, "known keys:");
  EXPECT_HAS(msg, "patch_size");
  EXPECT_HAS(msg, "learning_rate");
}

TEST(Params, UnknownSimulationKey) {
  std::string y = replace(kBase, "  batch_size: 2", "  batchsize: 2");
  std::string msg = spec_error(y);
  EXPECT_HAS(msg, "net.yaml:4:3: simulation.batchsize: unknown key");
  EXPECT_HAS(msg, "did you mean 'batch_size'?");
}

TEST(Params, UnknownSection) {
  std::string y = replace(kBase, "connections:", "conections:");
  std::string msg = spec_error(y);
  EXPECT_HAS(msg, "net.yaml:" + std::to_string(line_of(y, "conections")) + ":1: conections: unknown section");
  EXPECT_HAS(msg, "did you mean 'connections'?");
}

TEST(Params, WrongType) {
  {
    std::string y = replace(kBase, "tau: 10", "tau: fast");
    std::string msg = spec_error(y);
    EXPECT_HAS(msg, "net.yaml:16:10: layers.V1.tau: expected a number > 0, got 'fast'");
  }
  {
    std::string y = replace(kBase, "patch_size: 4", "patch_size: 4.5");
    std::string msg = spec_error(y);
    EXPECT_HAS(msg, "net.yaml:" + std::to_string(line_of(y, "patch_size")) + ":17: connections.Dictionary.patch_size:");
    EXPECT_HAS(msg, "expected an integer");
    EXPECT_HAS(msg, "got '4.5'");
  }
  {
    std::string y = replace(kBase, "    lambda: 0.1", "    lambda: 0.1\n    self_interaction: maybe");
    std::string msg = spec_error(y);
    EXPECT_HAS(msg, "net.yaml:18:23: layers.V1.self_interaction: expected true or false, got 'maybe'");
  }
  {
    std::string y = replace(kBase, "tau: 10", "tau: [1, 2]");
    std::string msg = spec_error(y);
    EXPECT_HAS(msg, "layers.V1.tau: expected a number > 0, got a list");
  }
  {
    std::string y = replace(kBase, "    lambda: 0.1", "    lambda: 0.1\n    threshold: sof");
    std::string msg = spec_error(y);
    EXPECT_HAS(msg, "net.yaml:18:16: layers.V1.threshold: expected one of soft | soft_nonneg | hard | firm, got 'sof'");
    EXPECT_HAS(msg, "did you mean 'soft'?");
  }
}

TEST(Params, OutOfRange) {
  {
    std::string msg = spec_error(replace(kBase, "tau: 10", "tau: 0"));
    EXPECT_HAS(msg, "net.yaml:16:10: layers.V1.tau: expected a number > 0, got '0'");
  }
  {
    std::string msg = spec_error(replace(kBase, "tau: 10", "tau: -3.5"));
    EXPECT_HAS(msg, "layers.V1.tau: expected a number > 0, got '-3.5'");
  }
  {
    std::string msg = spec_error(replace(kBase, "batch_size: 2", "batch_size: 0"));
    EXPECT_HAS(msg, "net.yaml:4:15: simulation.batch_size: expected an integer [1, 1048576], got '0'");
  }
  {
    std::string msg = spec_error(replace(kBase, "lambda: 0.1", "lambda: -0.1"));
    EXPECT_HAS(msg, "net.yaml:17:13: layers.V1.lambda: expected a number >= 0, got '-0.1'");
  }
  {
    std::string msg = spec_error(replace(kBase, "patch_size: 4", "patch_size: 0"));
    EXPECT_HAS(msg, "connections.Dictionary.patch_size: expected an integer [1, 4096], got '0'");
  }
  {  // the boundary itself is allowed where the range is closed
    ParamsDocument doc = ParamsDocument::parse(replace(kBase, "lambda: 0.1", "lambda: 0"), "net.yaml");
    EXPECT_DOUBLE_EQ(find(NetworkSpec::from(doc, Registry::builtin()).layers, "V1").params.real("lambda"), 0.0);
  }
}

TEST(Params, MissingRequired) {
  std::string y = replace(kBase, "    patch_size: 4\n", "");
  std::string msg = spec_error(y);
  // Reported at the block's name, naming the key, its type and range and its meaning.
  EXPECT_HAS(msg, "net.yaml:" + std::to_string(line_of(y, "type: Convolution") - 1) +
                      ":3: connections.Dictionary: missing required key 'patch_size' (integer [1, 4096]: ");
  EXPECT_HAS(msg, "Kernel width");
  std::string y2 = replace(kBase, "    original: Dictionary\n", "");
  EXPECT_HAS(spec_error(y2), "connections.ResidualToV1: missing required key 'original'");
}

TEST(Params, UnknownTypeWithHint) {
  std::string y = replace(kBase, "type: LCA", "type: LCB");
  std::string msg = spec_error(y);
  EXPECT_HAS(msg, "net.yaml:12:11: layers.V1.type: unknown layer type 'LCB' (did you mean 'LCA'?)");
  EXPECT_HAS(msg, "known:");
  EXPECT_HAS(msg, "ImageInput");
  std::string y2 = replace(kBase, "type: Transpose", "type: Transpoze");
  EXPECT_HAS(spec_error(y2), "connections.ResidualToV1.type: unknown connection type 'Transpoze' (did you mean 'Transpose'?)");
  // A layer type used as a connection is unknown in that category.
  std::string y3 = replace(kBase, "type: Identity", "type: Error");
  EXPECT_HAS(spec_error(y3), "connections.InputToResidual.type: unknown connection type 'Error'");
  std::string y4 = replace(kBase, "  Residual:\n    type: Error\n", "  Residual:\n    nx: 3\n");
  EXPECT_HAS(spec_error(y4), "layers.Residual: missing `type:`");
}

TEST(Params, SetOverrideChangesValue) {
  ParamsDocument doc = ParamsDocument::parse(kBase, "net.yaml");
  doc.set_override("layers.V1.lambda=0.25");
  doc.set_override("layers.V1.threshold=hard");  // a key not in the file
  doc.set_override("simulation.steps=7");
  NetworkSpec spec = NetworkSpec::from(doc, Registry::builtin());
  const ParamSet& v1 = find(spec.layers, "V1").params;
  EXPECT_DOUBLE_EQ(v1.real("lambda"), 0.25);
  EXPECT_EQ(v1.string("threshold"), "hard");
  EXPECT_EQ(spec.sim.steps, 7);
  EXPECT_EQ(v1.location("lambda").file, "command line (--set layers.V1.lambda=0.25)");
  EXPECT_EQ(v1.location("tau").file, "net.yaml");
  // The resolved YAML records the override.
  EXPECT_HAS(spec.resolved_yaml, "lambda: 0.25");
  EXPECT_HAS(spec.resolved_yaml, "threshold: hard");
}

TEST(Params, SetOverrideErrorsNameTheCommandLine) {
  std::string msg = spec_error(kBase, {"layers.V1.tau=-5"});
  EXPECT_HAS(msg, "command line (--set layers.V1.tau=-5): layers.V1.tau: expected a number > 0, got '-5'");
  EXPECT_LACKS(msg, "net.yaml:16");
  // An overridden key that the kind does not know.
  std::string msg2 = spec_error(kBase, {"layers.V1.lamda=0.3"});
  EXPECT_HAS(msg2, "command line (--set layers.V1.lamda=0.3): layers.V1.lamda: unknown key");
  EXPECT_HAS(msg2, "did you mean 'lambda'?");
}

TEST(Params, BadSetPath) {
  auto set_error = [](const std::string& assignment) {
    return error_of([&] {
      ParamsDocument doc = ParamsDocument::parse(kBase, "net.yaml");
      doc.set_override(assignment);
    });
  };
  std::string m1 = set_error("layer.V1.lambda=0.2");
  EXPECT_HAS(m1, "command line (--set layer.V1.lambda=0.2): 'layer' is not a section of net.yaml");
  EXPECT_HAS(m1, "did you mean 'layers'?");
  std::string m2 = set_error("layers.V2.lambda=0.2");
  EXPECT_HAS(m2, "'layers.V2' is not a section of net.yaml");
  EXPECT_HAS(m2, "did you mean 'V1'?");
  std::string m3 = set_error("layers.V1.tau.x=1");  // tau is a value, not a section
  EXPECT_HAS(m3, "'layers.V1.tau' is not a section");
  EXPECT_HAS(set_error("layers.V1.lambda"), "expected KEY.PATH=VALUE");
  EXPECT_HAS(set_error("=3"), "expected KEY.PATH=VALUE");
  EXPECT_HAS(set_error("layers..lambda=3"), "empty key in path 'layers..lambda'");
  EXPECT_HAS(set_error("layers.V1.lambda=[1, 2"), "value '[1, 2' is not valid YAML");
}

TEST(Params, DuplicateNames) {
  // Two layers with one name.
  std::string y = replace(kBase, "  Residual:\n    type: Error\n", "  Residual:\n    type: Error\n  Input:\n    type: Error\n");
  std::string msg = spec_error(y);
  EXPECT_HAS(msg, "layers.Input: a layer with this name already exists");
  EXPECT_HAS(msg, "net.yaml:" + std::to_string(line_of(y, "  Input:\n    type: Error")) + ":3:");
  // Two connections with one name.
  std::string yc = kBase + std::string("  Dictionary:\n    type: Identity\n    pre: Input\n    post: Residual\n");
  EXPECT_HAS(spec_error(yc), "net.yaml:34:3: connections.Dictionary: a connection with this name already exists");
  // A whole section twice: the second must not be silently dropped.
  std::string ys = kBase + std::string("layers:\n  V2:\n    type: Error\n    nx: 1\n    ny: 1\n    nf: 1\n");
  EXPECT_HAS(spec_error(ys), "net.yaml:34:1: layers: section given twice");
  // One key twice in a block.
  std::string y2 = replace(kBase, "    lambda: 0.1", "    lambda: 0.1\n    tau: 20");
  std::string msg2 = spec_error(y2);
  EXPECT_HAS(msg2, "net.yaml:18:5: layers.V1.tau: key given twice");
}

TEST(Params, StepsAndEpochs) {
  std::string both = replace(kBase, "  steps: 10", "  steps: 10\n  epochs: 2");
  EXPECT_HAS(spec_error(both), "net.yaml:3:11: simulation.epochs: give `steps` or `epochs`, not both");
  std::string neither = replace(kBase, "  steps: 10\n", "");
  EXPECT_HAS(spec_error(neither), "net.yaml:1:1: simulation: missing `steps` (number of timesteps) or `epochs`");
  // Epochs alone is fine at this stage (steps derive from the dataset when the network is built).
  ParamsDocument doc = ParamsDocument::parse(replace(kBase, "  steps: 10", "  epochs: 1.5"), "net.yaml");
  NetworkSpec spec = NetworkSpec::from(doc, Registry::builtin());
  EXPECT_EQ(spec.sim.steps, 0);
  EXPECT_DOUBLE_EQ(spec.sim_params.real("epochs"), 1.5);
  // No simulation section at all.
  std::string none = replace(kBase, "simulation:\n  steps: 10\n  display_period: 5\n  batch_size: 2\n", "");
  EXPECT_HAS(spec_error(none), "simulation: missing `steps`");
}

TEST(Params, SyntaxAndShapeErrors) {
  EXPECT_HAS(spec_error("simulation:\n  steps: [1, 2\nlayers: {}\n"), "net.yaml:");
  EXPECT_HAS(spec_error("simulation:\n  steps: [1, 2\nlayers: {}\n"), "YAML syntax error");
  EXPECT_HAS(spec_error("- a\n- b\n"), "net.yaml:1:1: expected a YAML mapping");
  EXPECT_HAS(spec_error("simulation:\n  steps: 3\n"), "layers: the network declares no layers");
  std::string y = replace(kBase, "  V1:\n    type: LCA", "  V1: 7\n  V0:\n    type: LCA");
  EXPECT_HAS(spec_error(y), "layers.V1: expected a mapping with at least `type:`");
}

TEST(Params, NetworkLevelErrorsPointAtTheKey) {
  // Resolving names happens when the network is built; the error points at `pre:`.
  test::TempDir dir;
  std::vector<float> img(2 * 8 * 8, 0.5f);
  test::write_h5_floats(dir.file("images.h5"), "images", img, {2, 8, 8});
  std::string base = replace(kBase, "INPUT_PATH", dir.file("images.h5"));
  {
    std::string y = replace(base, "    pre: V1\n    post: Residual\n    channel", "    pre: V11\n    post: Residual\n    channel");
    std::string msg = error_of([&] {
      Network net(NetworkSpec::from(ParamsDocument::parse(y, "net.yaml"), Registry::builtin()));
    });
    EXPECT_HAS(msg, "net.yaml:" + std::to_string(line_of(y, "pre: V11")) + ":10: connections.Dictionary.pre: no layer named 'V11' (did you mean 'V1'?)");
  }
  {  // stride that does not match the layer sizes (8x8 input, 4x4 V1 => stride 2)
    std::string y = replace(base, "    patch_size: 4", "    patch_size: 4\n    stride: 1");
    std::string msg = error_of([&] {
      Network net(NetworkSpec::from(ParamsDocument::parse(y, "net.yaml"), Registry::builtin()));
    });
    EXPECT_HAS(msg, "net.yaml:" + std::to_string(line_of(y, "stride: 1")) + ":13: connections.Dictionary.stride: stride 1 does not match");
    EXPECT_HAS(msg, "implies stride 2");
  }
  {  // patch smaller than the stride
    std::string y = replace(base, "    patch_size: 4", "    patch_size: 1");
    std::string msg = error_of([&] {
      Network net(NetworkSpec::from(ParamsDocument::parse(y, "net.yaml"), Registry::builtin()));
    });
    EXPECT_HAS(msg, "connections.Dictionary.patch_size: patch_size 1 is smaller than the stride 2");
  }
  {  // the valid document builds
    Network net(NetworkSpec::from(ParamsDocument::parse(base, "net.yaml"), Registry::builtin()));
    EXPECT_EQ(net.find_layer("Residual")->geometry(), (Geometry{8, 8, 1}));
  }
}

TEST(Params, NearestSuggestions) {
  EXPECT_EQ(nearest("lamda", {"lambda", "tau", "dt"}), "lambda");
  EXPECT_EQ(nearest("TAU", {"lambda", "tau"}), "tau");  // case-insensitive
  EXPECT_EQ(nearest("completely_different", {"lambda", "tau"}), "");
  EXPECT_EQ(did_you_mean("thresold", {"threshold"}), " (did you mean 'threshold'?)");
  EXPECT_EQ(did_you_mean("xyz", {"threshold"}), "");
}

}  // namespace
}  // namespace laminar

// Inputs that used to be accepted silently or reported misleadingly: YAML merge keys (<<), --set
// paths with an empty key, huge --set values quoted whole in messages, epochs: 0, special files
// (devices, FIFOs) given as inputs, labels CSVs that match no image or start with a BOM. The
// command-line side of each is in tests/badinput (cases C3-...).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "framework/FileCheck.hpp"
#include "framework/ImageIO.hpp"
#include "framework/Network.hpp"
#include "framework/Params.hpp"
#include "tests/unit/TestUtil.hpp"

namespace laminar {
namespace {

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << "message: " << (msg) << "\nmissing: " << (part)

using test::error_of;

const std::string kHead = R"(simulation:
  steps: 10
  display_period: 5
layers:
  Input:
    type: ImageInput
    path: in.h5
  Residual:
    type: Error
)";

// Two LCA layers sharing their settings through an anchor and the merge key.
const std::string kMerged = kHead + R"(  V1: &lca_defaults
    type: LCA
    nx: 4
    ny: 4
    nf: 8
    tau: 10
    lambda: 0.1
  V2:
    <<: *lca_defaults
    nf: 16
    lambda: 0.2
  V3:
    <<: [{threshold: hard, tau: 30}, *lca_defaults]
)" + std::string(test::kCanonicalConnections);

// The same network written out in full.
const std::string kExpanded = kHead + R"(  V1:
    type: LCA
    nx: 4
    ny: 4
    nf: 8
    tau: 10
    lambda: 0.1
  V2:
    type: LCA
    nx: 4
    ny: 4
    nf: 16
    tau: 10
    lambda: 0.2
  V3:
    threshold: hard
    tau: 30
    type: LCA
    nx: 4
    ny: 4
    nf: 8
    lambda: 0.1
)" + std::string(test::kCanonicalConnections);

NetworkSpec spec_of(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  ParamsDocument doc = ParamsDocument::parse(yaml, "net.yaml");
  for (const auto& s : sets) doc.set_override(s);
  return NetworkSpec::from(doc, Registry::builtin());
}

const ObjectSpec& layer(const NetworkSpec& spec, const std::string& name) {
  for (const auto& o : spec.layers)
    if (o.name == name) return o;
  throw std::runtime_error("no layer " + name);
}

TEST(InputChecks, MergeKeyEqualsTheExpandedDocument) {
  NetworkSpec merged = spec_of(kMerged), expanded = spec_of(kExpanded);
  ASSERT_EQ(merged.layers.size(), expanded.layers.size());
  for (std::size_t i = 0; i < merged.layers.size(); ++i) {
    EXPECT_EQ(merged.layers[i].name, expanded.layers[i].name);
    EXPECT_EQ(merged.layers[i].kind, expanded.layers[i].kind) << merged.layers[i].name;
    EXPECT_TRUE(merged.layers[i].params.values() == expanded.layers[i].params.values()) << merged.layers[i].name;
  }
  EXPECT_DOUBLE_EQ(layer(merged, "V2").params.real("lambda"), 0.2);  // its own key wins
  EXPECT_DOUBLE_EQ(layer(merged, "V3").params.real("tau"), 30.0);   // the first mapping of the list wins
  EXPECT_EQ(layer(merged, "V3").params.string("threshold"), "hard");
  // A merged key keeps the position of the anchored one (where to fix it).
  EXPECT_EQ(layer(merged, "V2").params.location("tau").line, 15);
  EXPECT_EQ(layer(merged, "V2").params.location("nf").line, 19);
}

TEST(InputChecks, SetOverrideOfAMergedKeyChangesThatLayerOnly) {
  NetworkSpec spec = spec_of(kMerged, {"layers.V2.tau=50"});
  EXPECT_DOUBLE_EQ(layer(spec, "V2").params.real("tau"), 50.0);
  EXPECT_DOUBLE_EQ(layer(spec, "V1").params.real("tau"), 10.0);
  EXPECT_DOUBLE_EQ(layer(spec, "V3").params.real("tau"), 30.0);
  NetworkSpec spec1 = spec_of(kMerged, {"layers.V1.tau=7"});
  EXPECT_DOUBLE_EQ(layer(spec1, "V1").params.real("tau"), 7.0);
  EXPECT_DOUBLE_EQ(layer(spec1, "V2").params.real("tau"), 10.0);
}

TEST(InputChecks, MergeKeyErrors) {
  // An error in an anchored value names the anchor's line, for every layer merging it.
  std::string bad = kMerged;
  bad.replace(bad.find("tau: 10"), 7, "tau: -1");
  EXPECT_HAS(error_of([&] { spec_of(bad); }), "net.yaml:15:10: layers.V1.tau: expected a number > 0");
  EXPECT_HAS(error_of([&] { ParamsDocument::parse("a:\n  <<: 3\n", "net.yaml"); }),
             "net.yaml:2:7: <<: a merge key takes a mapping or a list of mappings (e.g. <<: *defaults), got '3'");
  EXPECT_HAS(error_of([&] { ParamsDocument::parse("a:\n  <<: [{b: 1}, 2]\n", "net.yaml"); }), "got '2'");
  // A quoted '<<' is an ordinary key.
  ParamsDocument doc = ParamsDocument::parse("a:\n  '<<': {b: 1}\n", "net.yaml");
  EXPECT_TRUE(doc.root()["a"]["<<"].IsMap());
  EXPECT_FALSE(doc.root()["a"]["b"].IsDefined());
}

TEST(InputChecks, SetPathWithAnEmptyKey) {
  for (const std::string path : {"simulation.steps.", ".simulation.steps", "simulation..steps"}) {
    std::string msg = error_of([&] { spec_of(kExpanded, {path + "=5"}); });
    EXPECT_HAS(msg, "command line (--set " + path + "=5): empty key in path '" + path + "'");
  }
}

TEST(InputChecks, HugeSetValuesAreClippedInMessages) {
  const std::string deep = std::string(10000, '[') + std::string(10000, ']');
  std::string msg = error_of([&] { spec_of(kExpanded, {"layers.V1.lambda=" + deep}); });
  EXPECT_HAS(msg, "is not valid YAML: nested too deeply");
  EXPECT_HAS(msg, "[[[...");
  EXPECT_LT(msg.size(), 400u) << msg.substr(0, 400);
  const std::string long_key(5000, 'k');
  std::string msg2 = error_of([&] { spec_of(kExpanded, {"layers." + long_key + ".x=1"}); });
  EXPECT_HAS(msg2, "is not a section of net.yaml");
  EXPECT_LT(msg2.size(), 400u) << msg2.substr(0, 400);
}

TEST(InputChecks, EpochsMustBePositive) {
  std::string y = kExpanded;
  y.replace(y.find("steps: 10"), 9, "epochs: 0");
  EXPECT_HAS(error_of([&] { spec_of(y); }), "net.yaml:2:11: simulation.epochs: expected a number (0, 1000000000], got '0'");
}

TEST(InputChecks, SpecialFilesAreRefusedWithoutOpeningThem) {
  EXPECT_HAS(error_of([] { require_regular_file("/dev/zero"); }),
             "/dev/zero: not a regular file (a device, FIFO or socket); give a file");
  test::TempDir dir;
  const std::string fifo = dir.file("pipe");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // Each would block forever in open() (no writer) without the check.
  EXPECT_HAS(error_of([&] { ParamsDocument::load(fifo); }), fifo + ": not a regular file");
  EXPECT_HAS(error_of([&] { open_idx(fifo); }), fifo + ": not a regular file");
  EXPECT_HAS(error_of([&] { open_hdf5_images(fifo, "images"); }), fifo + ": not a regular file");
  EXPECT_HAS(error_of([&] { LabelTable::read(fifo); }), fifo + ": not a regular file");
  EXPECT_HAS(error_of([&] { open_idx("/dev/urandom"); }), "/dev/urandom: not a regular file");
  // Missing files and folders keep their own messages; a regular file passes.
  require_regular_file(dir.file("missing"));
  require_regular_file(dir.path());
  std::ofstream(dir.file("plain")) << "x";
  require_regular_file(dir.file("plain"));
}

TEST(InputChecks, LabelsCsvWithBomAndMatchedRows) {
  test::TempDir dir;
  std::ofstream(dir.file("bom.csv")) << "\xEF\xBB\xBF" "file,label\na.png,cat\n";
  LabelTable t = LabelTable::read(dir.file("bom.csv"));
  EXPECT_EQ(t.columns[0], "file");
  EXPECT_EQ(t.label("a.png"), "cat");
  const std::vector<std::string> names{"a.png", "b.png"};
  auto name_of = [&](long i) { return names[std::size_t(i)]; };
  EXPECT_EQ(t.require_matches(2, name_of, "two images", "bom.csv"), 1);
  std::ofstream(dir.file("other.csv")) << "file,label\na,cat\nb,dog\n";
  std::string msg = error_of([&] { LabelTable::read(dir.file("other.csv")).require_matches(2, name_of, "two images", "other.csv"); });
  EXPECT_HAS(msg, "other.csv: 0 of its 2 rows name an image of two images: e.g. image 'a.png' has no row, and the first row's file is 'a'");
  std::ofstream(dir.file("header.csv")) << "file,label\n";
  EXPECT_HAS(error_of([&] { LabelTable::read(dir.file("header.csv")).require_matches(2, name_of, "two images", "header.csv"); }),
             "header.csv: the CSV has a header but no rows");
}

}  // namespace
}  // namespace laminar

// Schedule derivation (Network::derive_schedule): a topological order of the delivery graph in
// which cycles are broken only at stateful (LCA) layers, whose outgoing edges read the
// previous step. Cycles made only of stateless layers are rejected with a clear error.
#include <gtest/gtest.h>

#include "framework/Network.hpp"
#include "tests/unit/TestUtil.hpp"

namespace laminar {
namespace {

std::vector<std::string> order(const Network& net) {
  std::vector<std::string> names;
  for (const Layer* l : net.schedule()) names.push_back(l->name());
  return names;
}

std::unique_ptr<Network> build(const std::string& yaml) {
  ParamsDocument doc = ParamsDocument::parse(yaml, "sched.yaml");
  return std::make_unique<Network>(NetworkSpec::from(doc, Registry::builtin()));
}

class Schedule : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<float> img(3 * 8 * 8, 0.25f);
    test::write_h5_floats(dir_.file("images.h5"), "images", img, {3, 8, 8});
  }
  std::string input_block() const {
    return "  Input:\n    type: ImageInput\n    path: " + dir_.file("images.h5") + "\n";
  }
  test::TempDir dir_;
};

const char* kSim = "simulation:\n  steps: 4\n  display_period: 2\n";

using test::kCanonicalConnections;

const char* kResidual = "  Residual:\n    type: Error\n";
const char* kV1 = "  V1:\n    type: LCA\n    nx: 4\n    ny: 4\n    nf: 3\n";

TEST_F(Schedule, CanonicalLca) {
  auto net = build(std::string(kSim) + "layers:\n" + input_block() + kResidual + kV1 + kCanonicalConnections);
  EXPECT_EQ(order(*net), (std::vector<std::string>{"Input", "Residual", "V1"}));
  // Residual reads Input this step and V1 from the previous step; V1 reads Residual this step.
  const std::string d = net->describe_schedule();
  EXPECT_NE(d.find("+ excitatory <- Input.activity via InputToResidual (Identity), this step"), std::string::npos) << d;
  EXPECT_NE(d.find("- inhibitory <- V1.activity via Dictionary (Convolution), previous step"), std::string::npos) << d;
  EXPECT_NE(d.find("+ excitatory <- Residual.activity via ResidualToV1 (Transpose), this step"), std::string::npos) << d;
  ASSERT_EQ(net->incoming(*net->find_layer("Residual")).size(), 2u);
  EXPECT_EQ(net->incoming(*net->find_layer("Residual"))[0]->name(), "InputToResidual");  // declaration order
  EXPECT_EQ(net->incoming(*net->find_layer("Residual"))[1]->name(), "Dictionary");
  EXPECT_TRUE(net->incoming(*net->find_layer("Input")).empty());
}

TEST_F(Schedule, CanonicalLcaInAnyDeclarationOrder) {
  // Declaration order must not change the derived order.
  const std::string layers[][3] = {{kV1, kResidual, ""}, {kResidual, kV1, ""}, {kV1, "", kResidual}};
  for (const auto& l : layers) {
    std::string yaml = std::string(kSim) + "layers:\n" + l[0] + l[1] + input_block() + l[2] + kCanonicalConnections;
    auto net = build(yaml);
    EXPECT_EQ(order(*net), (std::vector<std::string>{"Input", "Residual", "V1"})) << yaml;
  }
}

TEST_F(Schedule, TwoLayerHierarchy) {
  // Input -> E1 <- Phi1 a1 ; V1 <- Phi1^T E1 - E2 ; E2 = u1 - Phi2 a2 ; V2 <- Phi2^T E2.
  // Both errors read the codes of the previous step, so they come before both LCA layers, and
  // each LCA layer reads errors of this step.
  std::string yaml = std::string(kSim) + "layers:\n" + input_block() + R"(  E1:
    type: Error
  V1:
    type: LCA
    nx: 4
    ny: 4
    nf: 3
  E2:
    type: Error
  V2:
    type: LCA
    nx: 2
    ny: 2
    nf: 5
connections:
  InputToE1:
    type: Identity
    pre: Input
    post: E1
  Phi1:
    type: Convolution
    pre: V1
    post: E1
    channel: inhibitory
    patch_size: 4
  E1ToV1:
    type: Transpose
    original: Phi1
    pre: E1
    post: V1
  V1ToE2:
    type: Identity
    pre: V1
    post: E2
    pre_buffer: membrane
  Phi2:
    type: Convolution
    pre: V2
    post: E2
    channel: inhibitory
    patch_size: 2
  E2ToV2:
    type: Transpose
    original: Phi2
    pre: E2
    post: V2
  E2ToV1:
    type: Identity
    pre: E2
    post: V1
    channel: inhibitory
)";
  auto net = build(yaml);
  EXPECT_EQ(order(*net), (std::vector<std::string>{"Input", "E1", "E2", "V1", "V2"}));
  EXPECT_EQ(net->find_layer("E2")->geometry(), (Geometry{4, 4, 3}));  // inferred through V1ToE2
  const std::string d = net->describe_schedule();
  EXPECT_NE(d.find("V1.membrane via V1ToE2 (Identity), previous step"), std::string::npos) << d;
  EXPECT_NE(d.find("E2.activity via E2ToV1 (Identity), this step"), std::string::npos) << d;
  EXPECT_NE(d.find("V2.activity via Phi2 (Convolution), previous step"), std::string::npos) << d;
}

TEST_F(Schedule, FeedForwardChainFollowsData) {
  // A stateless chain declared backwards: C <- B <- A <- Input.
  std::string yaml = std::string(kSim) + "layers:\n" + R"(  C:
    type: Error
  B:
    type: Error
  A:
    type: Error
)" + input_block() + R"(connections:
  BToC:
    type: Identity
    pre: B
    post: C
  AToB:
    type: Identity
    pre: A
    post: B
  InputToA:
    type: Identity
    pre: Input
    post: A
)";
  auto net = build(yaml);
  EXPECT_EQ(order(*net), (std::vector<std::string>{"Input", "A", "B", "C"}));
}

TEST_F(Schedule, StatelessCycleIsRejected) {
  std::string yaml = std::string(kSim) + "layers:\n" + input_block() + R"(  A:
    type: Error
  B:
    type: Error
connections:
  InputToA:
    type: Identity
    pre: Input
    post: A
  AToB:
    type: Identity
    pre: A
    post: B
  BToA:
    type: Identity
    pre: B
    post: A
    channel: inhibitory
)";
  try {
    build(yaml);
    FAIL() << "a cycle of Error layers was accepted";
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("sched.yaml"), std::string::npos) << msg;
    EXPECT_NE(msg.find("the layers A, B form a cycle (through connections AToB, BToA) with no stateful (LCA) layer"),
              std::string::npos)
        << msg;
  }
}

TEST_F(Schedule, StatelessCycleBesideAnLcaLayerIsRejected) {
  // An LCA layer elsewhere does not break a cycle it is not part of.
  std::string yaml = std::string(kSim) + "layers:\n" + input_block() + kResidual + kV1 + R"(  A:
    type: Error
    nx: 2
    ny: 2
    nf: 1
  B:
    type: Error
  C:
    type: Error
)" + kCanonicalConnections + R"(  AToB:
    type: Identity
    pre: A
    post: B
  BToC:
    type: Identity
    pre: B
    post: C
  CToA:
    type: Identity
    pre: C
    post: A
)";
  try {
    build(yaml);
    FAIL() << "a cycle of Error layers was accepted";
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("the layers A, B, C form a cycle"), std::string::npos) << msg;
  }
}

TEST_F(Schedule, CycleErrorNamesOnlyTheCycle) {
  // D only reads the cycle (it is blocked, not part of it); the message names A and B alone.
  std::string yaml = std::string(kSim) + "layers:\n" + R"(  D:
    type: Error
  A:
    type: Error
    nx: 2
    ny: 2
    nf: 1
  B:
    type: Error
connections:
  AToB:
    type: Identity
    pre: A
    post: B
  BToA:
    type: Identity
    pre: B
    post: A
  BToD:
    type: Identity
    pre: B
    post: D
)";
  try {
    build(yaml);
    FAIL() << "a cycle of Error layers was accepted";
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("the layers A, B form a cycle"), std::string::npos) << msg;
  }
}

TEST_F(Schedule, CycleThroughAnLcaLayerIsAccepted) {
  // E -> V (LCA) -> E: broken at V, which is read from the previous step.
  std::string yaml = std::string(kSim) + R"(layers:
  V:
    type: LCA
    nx: 3
    ny: 3
    nf: 2
  E:
    type: Error
connections:
  VToE:
    type: Identity
    pre: V
    post: E
  EToV:
    type: Identity
    pre: E
    post: V
    channel: inhibitory
)";
  auto net = build(yaml);
  EXPECT_EQ(order(*net), (std::vector<std::string>{"E", "V"}));
}

}  // namespace
}  // namespace laminar

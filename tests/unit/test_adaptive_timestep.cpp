// The adaptive timestep (probes/AdaptiveTimestepProbe.hpp): the controller on hand-computed energy
// sequences, its checkpoint state, and the LCA update with a dt per batch element (LcaStep::factors) on
// every backend: all factors equal = the constant-dt loop bit for bit, and each element = the constant-dt
// loop run with its own factor.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "framework/Backend.hpp"
#include "probes/AdaptiveTimestepProbe.hpp"
#include "tests/unit/TestUtil.hpp"

namespace laminar {
namespace {

// Worked by hand from the rule in AdaptiveTimestepProbe.hpp with base_min 1, base_max 2, tau_factor 0.5,
// growth_factor 0.5 (s: the timescale chosen by each advance, cap: the cap after it; p: previous()):
// element 0:  100: first energy -> s 1.  90: fell, rate (100-90)/p 1 = 10, tau_eff 10, 0.5*10 = 5 >= cap 2 ->
//   s 2, cap 3.  80: rate 10/p 1, tau_eff 9, 4.5 >= 3 -> s 3, cap 4.5.  85: rose -> s 1, cap 2.  85: equal ->
//   s stays 1.  70: rate 15/p 1, tau_eff 85/15, 2.83 >= 2 -> s 2, cap 3.  60: rate 10/p 1, tau_eff 7, 3.5 >= 3
//   -> s 3, cap 4.5.  50: rate 10/p 2 = 5 (p: the timescale two steps back, 2), tau_eff 12, 6 >= 4.5 -> s 4.5,
//   cap 6.75.
// element 1:  50: s 1.  10: rate 40, tau_eff 1.25, 0.625 < cap 2 -> s 0.625, cap 2.  9: rate 1/p 1, tau_eff 10,
//   5 >= 2 -> s 2, cap 3.  0: not positive -> s 1, cap 2.  NaN: s 1, cap 2, nothing known.  5: first energy
//   again -> s 1.  4: rate 1/p 1, tau_eff 5, 2.5 >= 2 -> s 2, cap 3.  3.9: rate 0.1/p 1, tau_eff 40, 20 >= 3 ->
//   s 3, cap 4.5.
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const std::vector<std::vector<double>> kEnergy{{100, 50}, {90, 10}, {80, 9}, {85, 0}, {85, kNaN}, {70, 5},
                                               {60, 4},   {50, 3.9}};
const std::vector<std::vector<double>> kScale{{1, 1}, {2, 0.625}, {3, 2}, {1, 1}, {1, 1}, {2, 1}, {3, 2}, {4.5, 3}};
const std::vector<std::vector<double>> kCap{{2, 2}, {3, 2}, {4.5, 3}, {2, 2}, {2, 2}, {3, 2}, {4.5, 3}, {6.75, 4.5}};

AdaptiveTimescale::Settings settings() {
  AdaptiveTimescale::Settings s;
  s.base_min = 1.0;
  s.base_max = 2.0;
  s.tau_factor = 0.5;
  s.growth_factor = 0.5;
  return s;
}

TEST(AdaptiveTimescale, FollowsTheHandComputedSequence) {
  AdaptiveTimescale c(settings(), 2);
  EXPECT_EQ(c.scale(), (std::vector<double>{1, 1}));
  EXPECT_EQ(c.cap(), (std::vector<double>{2, 2}));
  for (std::size_t n = 0; n < kEnergy.size(); ++n) {
    SCOPED_TRACE("advance " + std::to_string(n));
    c.advance(kEnergy[n]);
    for (int b = 0; b < 2; ++b) {
      EXPECT_NEAR(c.scale()[b], kScale[n][b], 1e-12 * kScale[n][b]) << "element " << b;
      EXPECT_NEAR(c.cap()[b], kCap[n][b], 1e-12 * kCap[n][b]) << "element " << b;
    }
  }
  c.reset();  // a new input
  EXPECT_EQ(c.scale(), (std::vector<double>{1, 1}));
  EXPECT_EQ(c.cap(), (std::vector<double>{2, 2}));
  c.advance({10, 10});  // the first energy after a reset: nothing to compare with
  EXPECT_EQ(c.scale(), (std::vector<double>{1, 1}));
}

TEST(AdaptiveTimescale, BaseMinIsTheFloorAndGrowthZeroFixesTheCap) {
  AdaptiveTimescale::Settings s;
  s.base_min = 0.25;
  s.base_max = 4.0;
  s.tau_factor = 1e6;
  s.growth_factor = 0.0;
  AdaptiveTimescale c(s, 1);
  EXPECT_EQ(c.scale()[0], 0.25);
  c.advance({10.0});
  EXPECT_EQ(c.scale()[0], 0.25);
  for (double e : {9.0, 8.0, 7.0, 6.0}) {
    c.advance({e});
    EXPECT_EQ(c.scale()[0], 4.0);
    EXPECT_EQ(c.cap()[0], 4.0);
  }
  c.advance({6.5});  // rose
  EXPECT_EQ(c.scale()[0], 0.25);
}

TEST(AdaptiveTimescale, StateRoundTripContinuesIdentically) {
  AdaptiveTimescale a(settings(), 2), b(settings(), 2);
  for (std::size_t n = 0; n < 3; ++n) a.advance(kEnergy[n]);
  ASSERT_EQ(a.state().size(), a.state_size());
  ASSERT_TRUE(b.set_state(a.state()));
  EXPECT_FALSE(b.set_state(std::vector<double>(3, 1.0)));
  for (std::size_t n = 3; n < kEnergy.size(); ++n) {
    a.advance(kEnergy[n]);
    b.advance(kEnergy[n]);
    EXPECT_EQ(a.state(), b.state());
  }
}

// The LCA update with per-element factors, on the CPU and the device backends (the name puts the cuda
// instance into ctest gpu.unit_kernels, with the other device kernel tests).
class AdaptiveDeviceElementKernels : public ::testing::TestWithParam<std::string> {};

TEST_P(AdaptiveDeviceElementKernels, PerElementDtMatchesTheConstantDtLoop) {
  Backend* be = nullptr;
  try {
    be = &Backend::named(GetParam());
  } catch (const UserError& e) {
    GTEST_SKIP() << e.what();
  }
  std::mt19937 rng(9);
  const int batch = 3;
  const Geometry g{6, 5, 7};
  Tensor ge(batch, g), gi(batch, g), u0(batch, g), a0(batch, g);
  for (Tensor* t : {&ge, &gi, &u0, &a0}) test::fill_random(t->vector(), rng, -2.0f, 2.0f);
  const std::size_t n = g.size();
  using T = math::Threshold;
  for (T kind : {T::Soft, T::SoftNonNegative, T::Hard, T::Firm})
    for (bool euler : {false, true})
      for (int channels = 0; channels < 4; ++channels) {
        SCOPED_TRACE("threshold " + std::to_string(int(kind)) + (euler ? " euler" : " exponential") + " channels " +
                     std::to_string(channels));
        LcaStep st;
        st.threshold.kind = kind;
        st.threshold.lambda = 0.4f;
        st.threshold.width = 0.3f;
        st.euler = euler;
        st.decay = float(std::exp(-0.3));
        st.rate = 0.3f;
        st.self = channels == 3 ? 0.0f : 1.0f;
        auto run = [&](const LcaStep& s, int steps) {
          Tensor u = u0, a = a0, x = ge, y = gi;
          const Tensor* exc = channels & 1 ? &x : nullptr;
          const Tensor* inh = channels & 2 ? &y : nullptr;
          for (int k = 0; k < steps; ++k) be->lca_update(s, exc, inh, u, a);
          std::vector<float> out = u.vector();
          out.insert(out.end(), a.vector().begin(), a.vector().end());
          return out;
        };
        // Every element at the constant factor: bit-identical to the constant-dt loop.
        LcaStep same = st;
        same.factors.assign(batch, euler ? st.rate : st.decay);
        EXPECT_EQ(run(same, 3), run(st, 3));
        // Distinct factors: element b equals the constant-dt loop with factor b, element for element.
        LcaStep each = st;
        each.factors = euler ? std::vector<float>{0.1f, 0.5f, 1.0f} : std::vector<float>{0.9f, 0.5f, 0.0f};
        const std::vector<float> got = run(each, 2);
        for (int b = 0; b < batch; ++b) {
          LcaStep one = st;
          (euler ? one.rate : one.decay) = each.factors[std::size_t(b)];
          const std::vector<float> want = run(one, 2);
          for (std::size_t part : {std::size_t(0), std::size_t(batch) * n})  // membrane, then activity
            for (std::size_t i = 0; i < n; ++i)
              ASSERT_EQ(got[part + std::size_t(b) * n + i], want[part + std::size_t(b) * n + i])
                  << "element " << b << " value " << i << (part ? " (activity)" : " (membrane)");
        }
      }
}

// More batch elements than travel in the device kernel's functor (LcaUpdate::kInline): their
// factors are read from the device's memory; each element still equals the constant-dt loop with its factor.
TEST_P(AdaptiveDeviceElementKernels, ManyBatchElements) {
  Backend* be = nullptr;
  try {
    be = &Backend::named(GetParam());
  } catch (const UserError& e) {
    GTEST_SKIP() << e.what();
  }
  std::mt19937 rng(4);
  const int batch = 70;
  const Geometry g{2, 2, 3};
  Tensor ge(batch, g), u0(batch, g), a0(batch, g);
  for (Tensor* t : {&ge, &u0, &a0}) test::fill_random(t->vector(), rng, -2.0f, 2.0f);
  for (bool euler : {false, true}) {
    LcaStep st;
    st.threshold.kind = math::Threshold::Soft;
    st.threshold.lambda = 0.3f;
    st.euler = euler;
    for (int b = 0; b < batch; ++b) st.factors.push_back(float(b) / float(batch));
    Tensor u = u0, a = a0;
    be->lca_update(st, &ge, nullptr, u, a);
    be->lca_update(st, &ge, nullptr, u, a);
    for (int b = 0; b < batch; ++b) {
      LcaStep one = st;
      one.factors.clear();
      one.decay = one.rate = st.factors[std::size_t(b)];
      Tensor uu = u0, aa = a0;
      be->lca_update(one, &ge, nullptr, uu, aa);
      be->lca_update(one, &ge, nullptr, uu, aa);
      for (std::size_t i = 0; i < g.size(); ++i) {
        ASSERT_EQ(u.vector()[std::size_t(b) * g.size() + i], uu.vector()[std::size_t(b) * g.size() + i]) << b;
        ASSERT_EQ(a.vector()[std::size_t(b) * g.size() + i], aa.vector()[std::size_t(b) * g.size() + i]) << b;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, AdaptiveDeviceElementKernels,
                         ::testing::Values(std::string("cpu"), std::string("device_emulation"), std::string("cuda")),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace laminar

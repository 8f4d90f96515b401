#include <gtest/gtest.h>

#include "framework/Registry.hpp"

TEST(Registry, HasBuiltinKinds) {
  auto& r = laminar::Registry::builtin();
  EXPECT_NE(r.find(laminar::Category::Layer, "LCA"), nullptr);
  EXPECT_NE(r.find(laminar::Category::Connection, "Transpose"), nullptr);
}

#include "imock/server/name_pool.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace imock::server {
namespace {

TEST(NamePool, OneCopyPerValueAndHandlesReadAsTheirText) {
  name_pool pool;
  const auto a = pool.get("imock-demo-key");
  const auto b = pool.get(std::string("imock-demo-key"));
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(&a.str(), &b.str());  // the same stored string
  EXPECT_TRUE(a == "imock-demo-key");
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == pool.get("other"));
  const std::string copy = a;
  EXPECT_EQ(copy, "imock-demo-key");
}

TEST(NamePool, EmptyTextIsTheEmptyHandleAndKeepsNothing) {
  name_pool pool;
  const auto e = pool.get("");
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(e.str(), "");
  EXPECT_TRUE(e == shared_name{});
  EXPECT_EQ(pool.size(), 0u);
}

TEST(NamePool, ValuesNobodyHoldsAreSweptSoClientsCannotGrowIt) {
  name_pool pool;
  const auto kept = pool.get("kept");
  for (int i = 0; i < 100'000; ++i) (void)pool.get("client-chosen-" + std::to_string(i));
  EXPECT_LE(pool.size(), 130u);  // bounded by twice what is held, at least 64
  EXPECT_EQ(kept.str(), "kept");
  EXPECT_EQ(&pool.get("kept").str(), &kept.str());  // a held value survives every sweep
}

TEST(NamePool, CopiesAndMovesCountHolders) {
  name_pool pool;
  std::vector<shared_name> held;
  {
    auto n = pool.get("x");
    held.push_back(n);             // copy: two holders
    held.push_back(std::move(n));  // move: still two
    EXPECT_TRUE(n.empty());        // NOLINT: a moved-from handle is empty
  }
  held[0] = held[1];  // self-value assignment keeps the count
  held.erase(held.begin());
  for (int i = 0; i < 1'000; ++i) (void)pool.get("y" + std::to_string(i));
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].str(), "x");  // one holder left: never swept
  held.clear();
  for (int i = 0; i < 1'000; ++i) (void)pool.get("z" + std::to_string(i));
  EXPECT_LE(pool.size(), 130u);
}

}  // namespace
}  // namespace imock::server

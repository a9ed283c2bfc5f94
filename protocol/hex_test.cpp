#include "imock/protocol/hex.hpp"

#include <gtest/gtest.h>

namespace imock {
namespace {

TEST(Hex, EveryByteRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const auto text = to_hex(all);
  EXPECT_EQ(text.size(), 512u);
  EXPECT_EQ(text.substr(0, 8), "00010203");
  EXPECT_EQ(text.substr(504), "fcfdfeff");
  EXPECT_EQ(from_hex(text), all);
  EXPECT_EQ(from_hex("C0fF"), std::string("\xC0\xFF"));
}

TEST(Hex, OddLengthsAndNonDigitsAreRefused) {
  EXPECT_EQ(from_hex("abc"), std::nullopt);
  EXPECT_EQ(from_hex("zz"), std::nullopt);
  EXPECT_EQ(from_hex("0g"), std::nullopt);
  EXPECT_EQ(from_hex(""), std::string());
}

}  // namespace
}  // namespace imock

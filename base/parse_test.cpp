#include "imock/base/parse.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string_view>
#include <utility>

namespace imock {
namespace {

TEST(Parse, UnsignedIsPlainDecimalDigitsOnly) {
  EXPECT_EQ(parse_unsigned("0"), 0u);
  EXPECT_EQ(parse_unsigned("007"), 7u);
  EXPECT_EQ(parse_unsigned("18446744073709551615"), UINT64_MAX);
  for (const std::string_view bad : {"", "-1", "+5", "0x10", "1e3", "19_000", " 1", "18446744073709551616"}) {
    EXPECT_EQ(parse_unsigned(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(Parse, DurationsInTheDocumentedForms) {
  constexpr auto k_max = std::numeric_limits<std::int64_t>::max();
  const std::pair<std::string_view, std::optional<std::int64_t>> cases[] = {
      {"250ms", 250},
      {"1.5s", 1'500},
      {"2m", 120'000},
      {"1h", 3'600'000},
      {"7d", 604'800'000},
      {"0", 0},
      {"0s", 0},
      {"0.0d", 0},
      {"10", 10'000},  // bare number: seconds
      {"0.25", 250},
      {"0.3h", 1'080'000},                 // exact, not 1079999
      {"1.50000000000000000000s", 1'500},  // trailing zeros do not count
      {"0.001s", 1},
      {"007s", 7'000},
      {"9223372036854775807ms", k_max},
      {"9223372036854775s", 9'223'372'036'854'775'000},
      {"9223372036854775.807s", k_max},
      // refused
      {"", std::nullopt},
      {"-1s", std::nullopt},
      {"-0", std::nullopt},
      {"+1s", std::nullopt},
      {"s", std::nullopt},
      {"ms", std::nullopt},
      {".5s", std::nullopt},
      {"1.s", std::nullopt},
      {"1.5.5s", std::nullopt},
      {"1.5ms", std::nullopt},    // not whole milliseconds
      {"0.0001s", std::nullopt},  // would round to 0, which means "permanent"
      {"0.12345678901d", std::nullopt},
      {"10 s", std::nullopt},
      {" 1s", std::nullopt},
      {"1s ", std::nullopt},
      {"1S", std::nullopt},
      {"1sec", std::nullopt},
      {"1m30s", std::nullopt},
      {"1e3", std::nullopt},
      {"10 parsecs", std::nullopt},
      {"9223372036854775808ms", std::nullopt},
      {"9223372036854775.808s", std::nullopt},
      {"106751991168d", std::nullopt},
      {"99999999999999999999999", std::nullopt},
  };
  for (const auto& [text, want] : cases) {
    EXPECT_EQ(parse_duration_ms(text), want) << "'" << text << "'";
  }
}

}  // namespace
}  // namespace imock

#include "imock/base/json_exact.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>

namespace imock::json_exact {
namespace {

namespace json = boost::json;

json::value must_parse(std::string_view text) {
  boost::system::error_code ec;
  auto v = parse(text, ec);
  EXPECT_FALSE(ec) << text << ": " << ec.message();
  return v;
}

// The value the storm_merge fuzz target found: Boost.JSON 1.81 reads it one unit in
// the last place off, so what its serializer writes does not read back.
TEST(JsonExact, ReadsBackEveryDoubleBoostJsonWrites) {
  const double found = 5.000000000000001E71;
  const auto text = json::serialize(json::value(found));
  EXPECT_EQ(must_parse(text).as_double(), found) << text;
  for (const double d : {0.1, 1e-300, 2.2250738585072014e-308, 4.9e-324, 1.7976931348623157e308,
                         16998300010001.089844, -3.5, 123456789.123456789, 1e23}) {
    const auto t = json::serialize(json::value(d));
    EXPECT_EQ(must_parse(t).as_double(), d) << t;
    EXPECT_EQ(json::serialize(must_parse(t)), t);
  }
}

TEST(JsonExact, BuildsTheSameDocumentAsBoostJson) {
  const std::string doc =
      R"({"a":[1,-2,18446744073709551615,2.5,"s\u00e9",true,false,null,{}],"k\"ey":{"n":[]}, )"
      R"("big":1e400,"neg":-0.0,"e":1E2})";
  const auto ours = must_parse(doc);
  EXPECT_EQ(ours, json::parse(doc));
  EXPECT_TRUE(ours.at("a").as_array()[2].is_uint64());
  EXPECT_TRUE(ours.at("a").as_array()[1].is_int64());
  EXPECT_EQ(ours.at("e").as_double(), 100.0);
}

TEST(JsonExact, BadTextIsAnErrorAsWithBoostJson) {
  for (const std::string_view bad : {"", "{", "[1,]", "{} x", "nul", "\"\\x\"", "01", "1e"}) {
    boost::system::error_code ec, boost_ec;
    const auto v = parse(bad, ec);
    json::parse(bad, boost_ec);
    EXPECT_TRUE(ec) << bad;
    EXPECT_EQ(ec, boost_ec) << bad;
    EXPECT_TRUE(v.is_null());
  }
  boost::system::error_code ec;
  EXPECT_EQ(parse("  [1] \n", ec), json::parse("[1]"));
  EXPECT_FALSE(ec);
}

}  // namespace
}  // namespace imock::json_exact

#include "imock/base/json_fields.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace imock::json_fields {
namespace {

boost::json::object parse(std::string_view text) { return boost::json::parse(text).as_object(); }

TEST(JsonFields, LenientGettersTakeTheRightTypeAndFallBackOtherwise) {
  const auto o = parse(R"({"s":"x","n":7,"d":2.5,"big":1e30,"b":true,"a":["p",3,"q"],"z":null})");
  EXPECT_EQ(string_or(o, "s"), "x");
  EXPECT_EQ(string_or(o, "n", "fb"), "fb");
  EXPECT_EQ(string_or(o, "z", "fb"), "fb");
  EXPECT_EQ(int_or(o, "n"), 7);
  EXPECT_EQ(int_or(o, "d", -1), -1) << "2.5 is not an integer";
  EXPECT_EQ(int_or(o, "big", -1), -1) << "out of range";
  EXPECT_EQ(int_or(o, "missing", 4), 4);
  EXPECT_DOUBLE_EQ(number_or(o, "d", 0), 2.5);
  EXPECT_TRUE(bool_or(o, "b", false));
  EXPECT_TRUE(bool_or(o, "s", true));
  EXPECT_EQ(strings(o, "a"), (std::vector<std::string>{"p", "q"}));
  EXPECT_TRUE(strings(o, "s").empty());
}

TEST(JsonFields, TheStrictReaderCollectsEveryProblemWithItsField) {
  const auto o = parse(R"({"count":"3","ok":1,"name":"n","rate":0.5})");
  field_reader r(o);
  EXPECT_EQ(r.string("name"), "n");
  EXPECT_EQ(r.number("rate"), 0.5);
  EXPECT_FALSE(r.integer("count"));
  EXPECT_FALSE(r.boolean("ok"));
  EXPECT_FALSE(r.string("user", /*required=*/true));
  EXPECT_FALSE(r.integer("absent"));
  r.problem("rate", "'rate' must be at most 0.25");
  ASSERT_EQ(r.problems().size(), 4u);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.problems()[0].field, "count");
  EXPECT_EQ(r.problems()[0].message, "'count' must be an integer");
  EXPECT_EQ(r.problems()[1].message, "'ok' must be true or false");
  EXPECT_EQ(r.problems()[2].message, "'user' is required");
  EXPECT_EQ(r.problems()[3].field, "rate");
}

TEST(FieldReader, SpelledValuesAreReadAsTheyComeThroughAQueryString) {
  const auto o = parse(R"({"count":"3","ok":"1","off":"false","rate":"0.5","user":42,"bad":"3x"})");
  field_reader r(o, /*spelled=*/true);
  EXPECT_EQ(r.integer("count"), 3);
  EXPECT_EQ(r.boolean("ok"), true);
  EXPECT_EQ(r.boolean("off"), false);
  EXPECT_EQ(r.number("rate"), 0.5);
  EXPECT_EQ(r.string("user"), "42");
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.integer("bad"));
  ASSERT_EQ(r.problems().size(), 1u);
  EXPECT_EQ(r.problems()[0].message, "'bad' must be an integer");
}

}  // namespace
}  // namespace imock::json_fields

#include "imock/base/constant_time.hpp"

#include <gtest/gtest.h>

namespace imock {
namespace {

TEST(ConstantTime, EqualOnlyForTheSameBytes) {
  EXPECT_TRUE(equal_in_constant_time("", ""));
  EXPECT_TRUE(equal_in_constant_time("s3cret-token", "s3cret-token"));
  EXPECT_FALSE(equal_in_constant_time("s3cret-token", "s3cret-tokem"));
  EXPECT_FALSE(equal_in_constant_time("s3cret-token", "S3cret-token"));
  // A prefix, either way round, and the empty string are not the token.
  EXPECT_FALSE(equal_in_constant_time("s3cret", "s3cret-token"));
  EXPECT_FALSE(equal_in_constant_time("s3cret-token", "s3cret"));
  EXPECT_FALSE(equal_in_constant_time("", "s3cret-token"));
  // Bytes past a NUL count.
  EXPECT_FALSE(equal_in_constant_time(std::string_view("ab\0c", 4), std::string_view("ab\0d", 4)));
  EXPECT_FALSE(equal_in_constant_time(std::string_view("ab\0", 3), "ab"));
}

}  // namespace
}  // namespace imock

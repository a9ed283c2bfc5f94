#include "imock/base/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

namespace imock {
namespace {

TEST(Utf8, WellFormedTextIsUtf8) {
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8("alice"));
  EXPECT_TRUE(is_utf8("\xc3\xa9t\xc3\xa9"));          // été
  EXPECT_TRUE(is_utf8("\xe6\xb6\x88\xe6\x81\xaf"));   // 消息
  EXPECT_TRUE(is_utf8("\xf0\x9f\x98\x80"));           // U+1F600
  EXPECT_TRUE(is_utf8(std::string("a\0b", 3)));       // U+0000 is UTF-8 (MQTT forbids it)
}

TEST(Utf8, LengthCountsCodePoints) {
  EXPECT_EQ(utf8_length(""), 0u);
  EXPECT_EQ(utf8_length("abc"), 3u);
  EXPECT_EQ(utf8_length("\xe6\xb6\x88\xe6\x81\xaf"), 2u);
  EXPECT_EQ(utf8_length("\xf0\x9f\x98\x80!"), 2u);
  EXPECT_EQ(utf8_length("a\xc3"), std::nullopt);
}

TEST(Utf8, MalformedSequencesAreNot) {
  for (const char* bad : {"\x88", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                          "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "ok\xff"}) {
    EXPECT_FALSE(is_utf8(bad)) << bad;
  }
}

TEST(Utf8, AsUtf8ReplacesEachBadByteAndKeepsTheRest) {
  EXPECT_EQ(as_utf8("alice"), "alice");
  EXPECT_EQ(as_utf8("\x88key"), "?key");
  EXPECT_EQ(as_utf8("\xc3\xa9\xc3"), "\xc3\xa9?");   // a sequence cut short at the end
  EXPECT_EQ(as_utf8("\xed\xa0\x80"), "???");          // a surrogate: three bad bytes
  EXPECT_TRUE(is_utf8(as_utf8("\xff\xfe\xc3\x28")));
}

}  // namespace
}  // namespace imock

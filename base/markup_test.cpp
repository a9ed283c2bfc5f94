#include "imock/base/markup.hpp"

#include <gtest/gtest.h>

namespace imock {
namespace {

TEST(XmlEscape, EscapesTheFourCharactersThatEndTextOrAnAttribute) {
  EXPECT_EQ(xml_escape(R"(a & b < c > d "e")"), "a &amp; b &lt; c &gt; d &quot;e&quot;");
}

TEST(XmlEscape, KeepsNewlinesTabsAndUtf8AndBlanksOtherControlCharacters) {
  EXPECT_EQ(xml_escape("line\n\tnext \xe4\xbd\xa0"), "line\n\tnext \xe4\xbd\xa0");
  EXPECT_EQ(xml_escape(std::string("a\x01" "b\x1b" "c\r", 6)), "a b c ");
}

TEST(XmlEscape, LeavesPlainTextAlone) { EXPECT_EQ(xml_escape("status 6 31010"), "status 6 31010"); }

}  // namespace
}  // namespace imock

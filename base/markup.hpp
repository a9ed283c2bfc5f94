// Text that goes into XML or HTML: the JUnit report, the storm charts' SVG and HTML,
// web pages.
#pragma once

#include <string>
#include <string_view>

namespace imock {

/// `text` safe inside XML/HTML text and double-quoted attributes: & < > " escaped,
/// control characters other than newline and tab (not allowed in XML 1.0) as spaces.
std::string xml_escape(std::string_view text);

}  // namespace imock

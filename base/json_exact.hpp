// JSON text to a value with every double read exactly (correctly rounded).
// Boost.JSON 1.81's parser reads some doubles one unit in the last place off: the text
// "5.000000000000001E71", which its own serializer writes, reads back as
// 5.000000000000002E71, so a file written and read again is not the same file
// (Boost 1.83 added parse_options::numbers for this). This parser is Boost.JSON's own,
// with the text of each double read again by std::from_chars. Use it for files imock
// writes and reads back: storm results, their shards.
#pragma once

#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include <string_view>

namespace imock::json_exact {

/// The value of `text`, one JSON document with nothing after it; on an error, null
/// and `ec` set (the same errors as boost::json::parse).
boost::json::value parse(std::string_view text, boost::system::error_code& ec);

}  // namespace imock::json_exact

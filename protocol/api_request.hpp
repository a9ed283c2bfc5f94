// A call of the signed server API as an app server sends it (docs/server-api.md,
// SPEC.md §6): its signature, its headers, its form body. One definition for the side
// that sends (the SDK's token fetch, the harness, the tests) and the side that checks
// (imock-server).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imock {

/// Lower-case hex SHA1(app_secret + nonce + timestamp).
std::string api_signature(std::string_view app_secret, std::string_view nonce,
                          std::string_view timestamp);

/// The four headers of a signed call: App-Key, Nonce, Timestamp, Signature.
std::vector<std::pair<std::string, std::string>> signed_headers(std::string_view app_key,
                                                                std::string_view app_secret,
                                                                std::string_view nonce,
                                                                std::string_view timestamp);

/// application/x-www-form-urlencoded escaping of one key or value: letters, digits and
/// "-_.~" as they are, every other byte as %XX.
std::string form_escape(std::string_view s);

}  // namespace imock

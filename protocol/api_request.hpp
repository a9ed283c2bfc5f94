// A call of the signed server API as an app server sends it (docs/server-api.md,
// SPEC.md §6): its signature, its headers, its form body. One definition for the side
// that sends (the SDK's token fetch, the harness, the tests) and the side that checks
// (imock-server). The form body is also what a navigation request carries
// (docs/protocol.md §8).
#pragma once

#include <optional>
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

/// A decoded application/x-www-form-urlencoded body: its fields in their order; a key
/// may repeat (lists: userId=a&userId=b).
class form_fields {
 public:
  /// `+` is a space, %XX a byte; empty segments ("a=1&&b=2") carry nothing. nullopt on
  /// a bad %-escape.
  static std::optional<form_fields> parse(std::string_view body);

  /// Every value of `key`, in order.
  [[nodiscard]] std::vector<std::string_view> all(std::string_view key) const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

}  // namespace imock

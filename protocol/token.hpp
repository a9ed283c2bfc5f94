// The imock token: who a client is, signed by the app secret (docs/protocol.md §7).
//
//   token   = base64url(payload) "." base64url(mac)   (no padding)
//   mac     = HMAC-SHA256(app_secret, "imock-token-v1" || payload)
//   payload = version (1 byte = 1) | issued_at_ms (8, big endian)
//           | expires_at_ms (8, big endian, 0 = never) | nonce (8 random bytes)
//           | app_key_len (1) app_key | user_id_len (1) user_id
//
// The payload is not encrypted: the client reads the user id without the secret
// (it opens its local database before it connects). At most 256 bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "imock/protocol/codes.hpp"

namespace imock::token {

inline constexpr std::size_t k_max_token_size = 256;
inline constexpr std::size_t k_max_app_key_size = 32;
inline constexpr std::size_t k_max_user_id_size = 64;

struct claims {
  std::string app_key;
  std::string user_id;
  std::int64_t issued_at_ms = 0;
  std::int64_t expires_at_ms = 0;  // 0: never expires
  std::uint64_t nonce = 0;
  friend bool operator==(const claims&, const claims&) = default;
};

/// True when `user_id` is 1..64 bytes of letters, digits and `+ = - _`
/// (the older documented alphabet; the server accepts what old SDKs send).
bool valid_user_id(std::string_view user_id) noexcept;

/// Signs `c` with `app_secret`. nullopt when a field cannot be carried
/// (empty or oversize app key or user id, invalid user id characters).
std::optional<std::string> issue(const claims& c, std::string_view app_secret);

/// Issues with issued_at = now_ms, a fresh random nonce, and expiry
/// now_ms + lifetime_ms when lifetime_ms > 0 (else never).
std::optional<std::string> issue(std::string_view app_key, std::string_view user_id,
                                 std::string_view app_secret, std::int64_t now_ms,
                                 std::int64_t lifetime_ms = 0);

/// Reads the claims without checking the signature (what the client does to
/// find its database). nullopt when the token is malformed.
std::optional<claims> peek(std::string_view token);

struct verify_options {
  std::int64_t now_ms = 0;
  /// Tokens issued strictly before this time are revoked (0 = none revoked).
  std::int64_t revoked_before_ms = 0;
  /// The code a revoked token gives (SPEC.md §6: unverified, default 31020).
  rc::code revoked_code = rc::code::conn_token_expire;
};

struct verify_result {
  rc::code result = rc::code::conn_token_incorrect;  // ok on success
  std::optional<claims> token_claims;  // set whenever the token is well-formed and authentic
  [[nodiscard]] bool ok() const noexcept { return result == rc::code::ok; }
};

/// Checks a token presented for `app_key`:
///  - malformed, bad signature (constant-time compare), or issued for another
///    app key: 31004;
///  - expires_at_ms != 0 and now_ms >= expires_at_ms: 31020;
///  - issued_at_ms < revoked_before_ms: options.revoked_code;
///  - otherwise ok.
verify_result verify(std::string_view token, std::string_view app_key, std::string_view app_secret,
                     const verify_options& options);

}  // namespace imock::token

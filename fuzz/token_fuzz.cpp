// libFuzzer target for the token (protocol/token.hpp, docs/protocol.md §7): peek() and
// verify() on any text, and a differential check on both ways a token comes about.
//
// Input layout: byte 0 picks the mode.
//   even: the rest is a token as a client sends it. peek() must not crash; what it
//         reads, issue() signs again, and that token peeks back to the same claims,
//         with the same payload text (one text per payload: no malleable encoding),
//         and verifies.
//   odd:  claims from the input (app key, user id: short strings; issued and expiry:
//         8 bytes each), signed by issue(); then up to 4 edits (position, byte) to the
//         token. An edited token that still verifies must be the same text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "imock/fuzz/fuzz_input.hpp"
#include "imock/protocol/token.hpp"

namespace {

using imock::fuzz::check;
namespace token = imock::token;

constexpr std::string_view k_secret = "fuzz-secret";

std::int64_t time_from(imock::fuzz::input& in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | in.byte();
  return static_cast<std::int64_t>(v >> 1);  // 0 .. INT64_MAX
}

// `t` was issued for `c` with k_secret: it reads back as `c` and verifies as its times say.
void check_issued(const std::string& t, const token::claims& c) {
  check(t.size() <= token::k_max_token_size);
  const auto back = token::peek(t);
  check(back.has_value() && *back == c);
  const token::verify_options at_issue{.now_ms = c.issued_at_ms};
  const auto r = token::verify(t, c.app_key, k_secret, at_issue);
  const bool expired = c.expires_at_ms != 0 && c.issued_at_ms >= c.expires_at_ms;
  check(r.result == (expired ? imock::rc::code::conn_token_expire : imock::rc::code::ok));
  check(r.token_claims.has_value() && *r.token_claims == c);
  // Another secret or another app key never lets it in.
  check(!token::verify(t, c.app_key, "other-secret", at_issue).ok());
  check(!token::verify(t, std::string(c.app_key) + "x", k_secret, at_issue).ok());
}

std::string_view payload_text(std::string_view t) { return t.substr(0, t.find('.')); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  imock::fuzz::input in(data, size);
  const std::uint8_t mode = in.byte();
  if ((mode & 1) == 0) {
    const std::string text(in.rest());
    const auto r = token::verify(text, "app", k_secret, {.now_ms = 1});
    const auto c = token::peek(text);
    // verify() reads what peek() reads: a token it calls authentic is well-formed.
    check(!r.token_claims.has_value() || c.has_value());
    if (!c) return 0;
    check(text.size() <= token::k_max_token_size);
    const auto again = token::issue(*c, k_secret);
    if (!again) return 0;  // claims peek() reads but issue() refuses (e.g. an odd user id)
    check_issued(*again, *c);
    check(payload_text(*again) == payload_text(text));
    return 0;
  }
  token::claims c;
  c.app_key = std::string(in.short_string());
  c.user_id = std::string(in.short_string());
  c.issued_at_ms = time_from(in);
  c.expires_at_ms = time_from(in);
  c.nonce = static_cast<std::uint64_t>(time_from(in));
  const auto t = token::issue(c, k_secret);
  const bool carriable = !c.app_key.empty() && c.app_key.size() <= token::k_max_app_key_size &&
                         token::valid_user_id(c.user_id);
  check(t.has_value() == carriable);
  if (!t) return 0;
  check_issued(*t, c);
  std::string edited = *t;
  for (int i = 0, edits = mode >> 1 & 3; i <= edits && !in.empty(); ++i) {
    const std::size_t at = in.byte() % (edited.size() + 1);
    const char b = static_cast<char>(in.byte());
    if (at == edited.size()) {
      edited.push_back(b);
    } else {
      edited[at] = b;
    }
  }
  const auto r = token::verify(edited, c.app_key, k_secret, {.now_ms = c.issued_at_ms});
  if (r.token_claims) check(edited == *t);
  return 0;
}

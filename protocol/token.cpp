#include "imock/protocol/token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <limits>
#include <span>

namespace imock::token {
namespace {

constexpr std::uint8_t k_version = 1;
// Domain separation: a MAC made with the app secret for anything else (the
// server API signature, a future token version) can never pass for this one.
constexpr std::string_view k_mac_domain = "imock-token-v1";
constexpr std::size_t k_mac_size = 32;
// version | issued_at_ms | expires_at_ms | nonce
constexpr std::size_t k_fixed_size = 1 + 8 + 8 + 8;
constexpr std::size_t k_min_payload_size = k_fixed_size + 1 + 1 + 1 + 1;
constexpr std::size_t k_max_payload_size =
    k_fixed_size + 1 + k_max_app_key_size + 1 + k_max_user_id_size;

constexpr std::size_t encoded_size(std::size_t n) noexcept {
  return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

// issue() never has to fail for size once the fields fit their own limits.
static_assert(encoded_size(k_max_payload_size) + 1 + encoded_size(k_mac_size) <= k_max_token_size);

constexpr std::string_view k_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// -1 for bytes outside the alphabet, so OR-ing a group's values is negative
// when any of them is invalid: one branch per four characters.
constexpr std::array<std::int8_t, 256> k_decode = [] {
  std::array<std::int8_t, 256> table{};
  table.fill(-1);
  for (std::size_t i = 0; i < k_alphabet.size(); ++i) {
    table[static_cast<unsigned char>(k_alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}();

void append_base64url(std::string& out, std::span<const std::uint8_t> in) {
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16 | std::uint32_t{in[i + 1]} << 8 | in[i + 2];
    out += k_alphabet[v >> 18];
    out += k_alphabet[(v >> 12) & 0x3f];
    out += k_alphabet[(v >> 6) & 0x3f];
    out += k_alphabet[v & 0x3f];
  }
  if (in.size() - i == 1) {
    out += k_alphabet[in[i] >> 2];
    out += k_alphabet[(in[i] & 0x03) << 4];
  } else if (in.size() - i == 2) {
    out += k_alphabet[in[i] >> 2];
    out += k_alphabet[(in[i] & 0x03) << 4 | in[i + 1] >> 4];
    out += k_alphabet[(in[i + 1] & 0x0f) << 2];
  }
}

int sextet(char c) noexcept { return k_decode[static_cast<unsigned char>(c)]; }

// Strict: no padding, and the unused low bits of the last character must be
// zero. Otherwise several strings would be the same token, and anything keyed
// on the token string (a cache, a list of used tokens) could be sidestepped.
// Returns the decoded size, nullopt when invalid or larger than `out`.
std::optional<std::size_t> decode_base64url(std::string_view in, std::span<std::uint8_t> out) {
  const std::size_t rest = in.size() % 4;
  if (rest == 1) return std::nullopt;
  const std::size_t size = in.size() / 4 * 3 + (rest == 0 ? 0 : rest - 1);
  if (size > out.size()) return std::nullopt;
  std::size_t i = 0;
  std::size_t o = 0;
  for (; i + 4 <= in.size(); i += 4, o += 3) {
    const int a = sextet(in[i]);
    const int b = sextet(in[i + 1]);
    const int c = sextet(in[i + 2]);
    const int d = sextet(in[i + 3]);
    if ((a | b | c | d) < 0) return std::nullopt;
    const auto v = static_cast<std::uint32_t>(a << 18 | b << 12 | c << 6 | d);
    out[o] = static_cast<std::uint8_t>(v >> 16);
    out[o + 1] = static_cast<std::uint8_t>(v >> 8);
    out[o + 2] = static_cast<std::uint8_t>(v);
  }
  if (rest == 2) {
    const int a = sextet(in[i]);
    const int b = sextet(in[i + 1]);
    if ((a | b) < 0 || (b & 0x0f) != 0) return std::nullopt;
    out[o] = static_cast<std::uint8_t>(a << 2 | b >> 4);
  } else if (rest == 3) {
    const int a = sextet(in[i]);
    const int b = sextet(in[i + 1]);
    const int c = sextet(in[i + 2]);
    if ((a | b | c) < 0 || (c & 0x03) != 0) return std::nullopt;
    out[o] = static_cast<std::uint8_t>(a << 2 | b >> 4);
    out[o + 1] = static_cast<std::uint8_t>((b & 0x0f) << 4 | c >> 2);
  }
  return size;
}

void store_be64(std::uint8_t* p, std::uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}

std::uint64_t load_be64(const std::uint8_t* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

using mac_bytes = std::array<std::uint8_t, k_mac_size>;

bool compute_mac(std::string_view secret, std::span<const std::uint8_t> payload, mac_bytes& mac) {
  if (secret.size() > static_cast<std::size_t>(INT_MAX)) return false;
  std::array<std::uint8_t, k_mac_domain.size() + k_max_payload_size> input;
  std::copy(payload.begin(), payload.end(),
            std::copy(k_mac_domain.begin(), k_mac_domain.end(), input.begin()));
  unsigned int mac_size = 0;
  // A null key tells HMAC_Init_ex "keep the previous key"; an empty secret must
  // still be an (empty) key, so never hand OpenSSL a null pointer.
  static constexpr unsigned char k_empty_key = 0;
  const void* key = secret.empty() ? &k_empty_key : static_cast<const void*>(secret.data());
  return HMAC(EVP_sha256(), key, static_cast<int>(secret.size()), input.data(),
              k_mac_domain.size() + payload.size(), mac.data(), &mac_size) != nullptr &&
         mac_size == k_mac_size;
}

bool representable(const claims& c) noexcept {
  return !c.app_key.empty() && c.app_key.size() <= k_max_app_key_size && valid_user_id(c.user_id) &&
         c.issued_at_ms >= 0 && c.expires_at_ms >= 0;
}

struct parsed_token {
  claims token_claims;
  std::array<std::uint8_t, k_max_payload_size> payload;
  std::size_t payload_size = 0;
  mac_bytes mac;
};

std::optional<parsed_token> parse(std::string_view token) {
  if (token.size() > k_max_token_size) return std::nullopt;
  const std::size_t dot = token.find('.');
  if (dot == std::string_view::npos) return std::nullopt;

  parsed_token out;
  // A second '.' is not in the alphabet, so the MAC part's decode refuses it.
  const auto mac_size = decode_base64url(token.substr(dot + 1), out.mac);
  if (!mac_size || *mac_size != k_mac_size) return std::nullopt;
  const auto payload_size = decode_base64url(token.substr(0, dot), out.payload);
  if (!payload_size || *payload_size < k_min_payload_size) return std::nullopt;
  out.payload_size = *payload_size;

  const std::uint8_t* p = out.payload.data();
  const std::uint8_t* const end = p + out.payload_size;
  if (*p++ != k_version) return std::nullopt;
  claims& c = out.token_claims;
  c.issued_at_ms = static_cast<std::int64_t>(load_be64(p));
  c.expires_at_ms = static_cast<std::int64_t>(load_be64(p + 8));
  c.nonce = load_be64(p + 16);
  p += 24;

  // The length bytes are checked against what is left, so a forged length can
  // neither read past the payload nor leave bytes behind it.
  const std::size_t app_key_size = *p++;
  if (app_key_size == 0 || app_key_size > k_max_app_key_size ||
      app_key_size + 1 > static_cast<std::size_t>(end - p)) {
    return std::nullopt;
  }
  c.app_key.assign(reinterpret_cast<const char*>(p), app_key_size);
  p += app_key_size;
  const std::size_t user_id_size = *p++;
  if (user_id_size != static_cast<std::size_t>(end - p)) return std::nullopt;
  c.user_id.assign(reinterpret_cast<const char*>(p), user_id_size);

  // issue() never produces these, so a token carrying them was not made by us.
  if (!representable(c)) return std::nullopt;
  return out;
}

}  // namespace

bool valid_user_id(std::string_view user_id) noexcept {
  if (user_id.empty() || user_id.size() > k_max_user_id_size) return false;
  for (const char ch : user_id) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '+' || ch == '=' || ch == '-' || ch == '_';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> issue(const claims& c, std::string_view app_secret) {
  if (!representable(c)) return std::nullopt;

  std::array<std::uint8_t, k_max_payload_size> payload;
  std::uint8_t* p = payload.data();
  *p++ = k_version;
  store_be64(p, static_cast<std::uint64_t>(c.issued_at_ms));
  store_be64(p + 8, static_cast<std::uint64_t>(c.expires_at_ms));
  store_be64(p + 16, c.nonce);
  p += 24;
  *p++ = static_cast<std::uint8_t>(c.app_key.size());
  p = std::copy(c.app_key.begin(), c.app_key.end(), p);
  *p++ = static_cast<std::uint8_t>(c.user_id.size());
  p = std::copy(c.user_id.begin(), c.user_id.end(), p);
  const std::span<const std::uint8_t> bytes(payload.data(), p);

  mac_bytes mac;
  if (!compute_mac(app_secret, bytes, mac)) return std::nullopt;

  std::string token;
  token.reserve(encoded_size(bytes.size()) + 1 + encoded_size(mac.size()));
  append_base64url(token, bytes);
  token += '.';
  append_base64url(token, mac);
  return token;
}

std::optional<std::string> issue(std::string_view app_key, std::string_view user_id,
                                 std::string_view app_secret, std::int64_t now_ms,
                                 std::int64_t lifetime_ms) {
  if (now_ms < 0) return std::nullopt;
  claims c;
  c.app_key = app_key;
  c.user_id = user_id;
  c.issued_at_ms = now_ms;
  if (lifetime_ms > 0) {
    if (lifetime_ms > std::numeric_limits<std::int64_t>::max() - now_ms) return std::nullopt;
    c.expires_at_ms = now_ms + lifetime_ms;
  }
  // The nonce keeps two tokens issued in the same millisecond distinct, so
  // each one can be told apart in logs and revoked-token lists.
  std::array<std::uint8_t, 8> nonce;
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) return std::nullopt;
  c.nonce = load_be64(nonce.data());
  return issue(c, app_secret);
}

std::optional<claims> peek(std::string_view token) {
  auto parsed = parse(token);
  if (!parsed) return std::nullopt;
  return std::move(parsed->token_claims);
}

// Order of the checks:
//  1. format, app key, signature -- all 31004, and nothing time-based is looked
//     at before the signature holds, so a forged token learns nothing about the
//     clock or the revocation time;
//  2. expiry before revocation: a token that is both expired and revoked gives
//     31020. Expiry is a property of the token the client can read itself, and
//     31020 is the documented code; the revoked code is configurable
//     (SPEC.md §6, unverified) and only decides the remaining case.
verify_result verify(std::string_view token, std::string_view app_key, std::string_view app_secret,
                     const verify_options& options) {
  verify_result r;  // 31004 until proven otherwise
  auto parsed = parse(token);
  if (!parsed) return r;
  if (parsed->token_claims.app_key != app_key) return r;
  mac_bytes expected;
  if (!compute_mac(app_secret, std::span(parsed->payload.data(), parsed->payload_size), expected)) {
    return r;
  }
  if (CRYPTO_memcmp(expected.data(), parsed->mac.data(), k_mac_size) != 0) return r;

  const claims& c = r.token_claims.emplace(std::move(parsed->token_claims));
  if (c.expires_at_ms != 0 && options.now_ms >= c.expires_at_ms) {
    r.result = rc::code::conn_token_expire;
  } else if (c.issued_at_ms < options.revoked_before_ms) {
    r.result = options.revoked_code;
  } else {
    r.result = rc::code::ok;
  }
  return r;
}

}  // namespace imock::token

#include "imock/protocol/token.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace imock::token {
namespace {

using bytes = std::vector<std::uint8_t>;

constexpr std::string_view k_app_key = "app-key";
constexpr std::string_view k_secret = "secret";
constexpr std::int64_t k_now = 1'700'000'000'000;
constexpr std::int64_t k_max_time = std::numeric_limits<std::int64_t>::max();
constexpr std::string_view k_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// The test's own base64url, written independently of token.cpp (and lax on
// purpose: it ignores stray trailing bits) so tampered tokens can be rebuilt.
std::string encode(const bytes& in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const std::uint8_t b : in) {
    acc = acc << 8 | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += k_alphabet[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += k_alphabet[(acc << (6 - bits)) & 0x3f];
  return out;
}

bytes decode(std::string_view in) {
  bytes out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    acc = acc << 6 | static_cast<std::uint32_t>(k_alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits));
    }
  }
  return out;
}

struct parts {
  bytes payload;
  std::string mac_part;  // still encoded
};

parts split(std::string_view token) {
  const auto dot = token.find('.');
  return {decode(token.substr(0, dot)), std::string(token.substr(dot + 1))};
}

std::string join(const bytes& payload, std::string_view mac_part) {
  return encode(payload) + "." + std::string(mac_part);
}

// Signs any payload, well-formed or not, the way token.hpp says: so the tests
// below show that peek() refuses a bad layout even under a valid signature.
std::string sign(const bytes& payload, std::string_view secret = k_secret) {
  bytes input(std::string_view("imock-token-v1").begin(), std::string_view("imock-token-v1").end());
  input.insert(input.end(), payload.begin(), payload.end());
  bytes mac(32);
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), input.data(), input.size(),
       mac.data(), &size);
  return join(payload, encode(mac));
}

void put_be64(bytes& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

bytes build_payload(std::string_view app_key, std::string_view user_id,
                    std::int64_t issued_at = k_now, std::int64_t expires_at = 0,
                    std::uint8_t version = 1) {
  bytes p{version};
  put_be64(p, static_cast<std::uint64_t>(issued_at));
  put_be64(p, static_cast<std::uint64_t>(expires_at));
  put_be64(p, 0x0102030405060708);  // nonce
  p.push_back(static_cast<std::uint8_t>(app_key.size()));
  p.insert(p.end(), app_key.begin(), app_key.end());
  p.push_back(static_cast<std::uint8_t>(user_id.size()));
  p.insert(p.end(), user_id.begin(), user_id.end());
  return p;
}

// Changes the last character so its unused low bits are set: the same bytes
// to a lax decoder, a different string to a strict one.
std::string with_stray_bits(std::string part) {
  char& last = part.back();
  last = k_alphabet[k_alphabet.find(last) | 1];
  return part;
}

claims sample_claims() {
  return {.app_key = std::string(k_app_key),
          .user_id = "user_1",
          .issued_at_ms = k_now,
          .expires_at_ms = k_now + 3'600'000,
          .nonce = 0xfedcba9876543210};
}

std::string sample_token() { return issue(sample_claims(), k_secret).value(); }

verify_result check(std::string_view token, std::int64_t now_ms = k_now,
                    std::int64_t revoked_before_ms = 0,
                    rc::code revoked_code = rc::code::conn_token_expire) {
  return verify(
      token, k_app_key, k_secret,
      {.now_ms = now_ms, .revoked_before_ms = revoked_before_ms, .revoked_code = revoked_code});
}

// Refused as malformed / forged: 31004 and no claims handed back.
void expect_refused(std::string_view token) {
  const auto r = check(token);
  EXPECT_EQ(r.result, rc::code::conn_token_incorrect) << token;
  EXPECT_FALSE(r.token_claims.has_value()) << token;
}

// --- format ---------------------------------------------------------------

TEST(Token, IssueMatchesHandComputedVectors) {
  // Expected strings computed outside the project (Python hmac + base64).
  EXPECT_EQ(issue({.app_key = "k",
                   .user_id = "u",
                   .issued_at_ms = 1,
                   .expires_at_ms = 2,
                   .nonce = 0x0102030405060708},
                  "s"),
            "AQAAAAAAAAABAAAAAAAAAAIBAgMEBQYHCAFrAXU.TJHVzdgLwnpvoAklqxp069WS73z6Zx4NdVEWX9oRPP4");
  EXPECT_EQ(issue({.app_key = "app-key",
                   .user_id = "user_1",
                   .issued_at_ms = 1'700'000'000'000,
                   .expires_at_ms = 0,
                   .nonce = 0xfedcba9876543210},
                  "secret"),
            "AQAAAYvP5WgAAAAAAAAAAAD-3LqYdlQyEAdhcHAta2V5BnVzZXJfMQ."
            "exO6dvX3Cs7Bddeo56mhfS-NAsTlBJdSLmW-8U5cbBs");
}

TEST(Token, PayloadLayoutIsAsDocumented) {
  const auto [payload, mac_part] = split(sample_token());
  EXPECT_EQ(payload, bytes({
                         0x01,                                            // version
                         0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // issued_at_ms
                         0x00, 0x00, 0x01, 0x8b, 0xd0, 0x1c, 0x56, 0x80,  // expires_at_ms
                         0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,  // nonce
                         7,    'a',  'p',  'p',  '-',  'k',  'e',  'y',   // app key
                         6,    'u',  's',  'e',  'r',  '_',  '1',         // user id
                     }));
  EXPECT_EQ(decode(mac_part).size(), 32u);
}

TEST(Token, RoundTripGivesBackTheClaims) {
  const auto token = sample_token();
  EXPECT_EQ(peek(token), sample_claims());
  const auto r = check(token);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.token_claims, sample_claims());
}

TEST(Token, IssueAtNowSetsIssuedAtAndLifetime) {
  const auto with_lifetime = peek(issue(k_app_key, "u1", k_secret, k_now, 60'000).value());
  ASSERT_TRUE(with_lifetime);
  EXPECT_EQ(with_lifetime->app_key, k_app_key);
  EXPECT_EQ(with_lifetime->user_id, "u1");
  EXPECT_EQ(with_lifetime->issued_at_ms, k_now);
  EXPECT_EQ(with_lifetime->expires_at_ms, k_now + 60'000);

  EXPECT_EQ(peek(issue(k_app_key, "u1", k_secret, k_now).value()).value().expires_at_ms, 0);
  EXPECT_EQ(peek(issue(k_app_key, "u1", k_secret, k_now, -5).value()).value().expires_at_ms, 0);
}

TEST(Token, PeekReadsClaimsWithoutTheSecret) {
  // A token from an app whose secret the reader never sees.
  const auto token = issue(k_app_key, "offline_user", "not-known-to-the-client", k_now).value();
  const auto c = peek(token);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user_id, "offline_user");
  EXPECT_EQ(c->app_key, k_app_key);
}

// --- tampering -------------------------------------------------------------

TEST(Token, FlippingAnyPayloadByteIsRefusedAs31004) {
  const auto [payload, mac_part] = split(sample_token());
  for (std::size_t i = 0; i < payload.size(); ++i) {
    SCOPED_TRACE(i);
    bytes tampered = payload;
    tampered[i] ^= 0x01;
    expect_refused(join(tampered, mac_part));
  }
}

TEST(Token, TamperedUserIdIsRefusedAs31004) {
  const auto [payload, mac_part] = split(sample_token());
  bytes tampered = payload;
  tampered.back() = '2';  // user_1 -> user_2, still a valid user id
  const auto forged = join(tampered, mac_part);
  ASSERT_EQ(peek(forged).value().user_id, "user_2");  // well-formed: only the MAC catches it
  expect_refused(forged);
}

TEST(Token, TamperedExpiryIsRefusedAs31004) {
  const auto [payload, mac_part] = split(sample_token());
  bytes tampered = payload;
  tampered[9] = 0x7f;  // expires_at_ms: far in the future
  const auto forged = join(tampered, mac_part);
  ASSERT_TRUE(peek(forged));
  // Not 31020: a forged token learns nothing about time.
  const auto r = check(forged, sample_claims().expires_at_ms + 1);
  EXPECT_EQ(r.result, rc::code::conn_token_incorrect);
}

TEST(Token, TamperedIssuedAtIsRefusedAs31004) {
  const auto [payload, mac_part] = split(sample_token());
  bytes tampered = payload;
  tampered[8] ^= 0x10;  // issued_at_ms: a little later, to dodge a revocation
  const auto forged = join(tampered, mac_part);
  ASSERT_TRUE(peek(forged));
  EXPECT_EQ(check(forged, k_now, k_now + 1).result, rc::code::conn_token_incorrect);
}

TEST(Token, TamperedNonceIsRefusedAs31004) {
  const auto [payload, mac_part] = split(sample_token());
  bytes tampered = payload;
  tampered[20] ^= 0xff;
  ASSERT_TRUE(peek(join(tampered, mac_part)));
  expect_refused(join(tampered, mac_part));
}

TEST(Token, TamperedAppKeyIsRefusedAs31004) {
  const auto [payload, mac_part] = split(sample_token());
  bytes tampered = payload;
  tampered[26] = 'b';  // app-key -> bpp-key
  const auto forged = join(tampered, mac_part);
  ASSERT_EQ(peek(forged).value().app_key, "bpp-key");
  const auto r = verify(forged, "bpp-key", k_secret, {.now_ms = k_now});
  EXPECT_EQ(r.result, rc::code::conn_token_incorrect);
  EXPECT_FALSE(r.token_claims);
}

TEST(Token, FlippedMacByteIsRefusedAs31004) {
  const auto [payload, mac_part] = split(sample_token());
  const bytes mac = decode(mac_part);
  for (std::size_t i = 0; i < mac.size(); ++i) {
    SCOPED_TRACE(i);
    bytes tampered = mac;
    tampered[i] ^= 0x80;
    expect_refused(join(payload, encode(tampered)));
  }
}

TEST(Token, MacFromAnotherTokenIsRefusedAs31004) {
  const auto mine = split(sample_token());
  const auto theirs = split(issue(k_app_key, "other_user", k_secret, k_now).value());
  expect_refused(join(mine.payload, theirs.mac_part));
  expect_refused(join(theirs.payload, mine.mac_part));
}

TEST(Token, AnotherAppsSecretIsRefusedAs31004) {
  const auto token = issue(sample_claims(), "another-apps-secret").value();
  ASSERT_TRUE(peek(token));
  expect_refused(token);
}

TEST(Token, TokenPresentedForAnotherAppKeyIsRefusedAs31004) {
  // Same secret on purpose: the app key check must not rely on secrets differing.
  const auto r = verify(sample_token(), "other-app", k_secret, {.now_ms = k_now});
  EXPECT_EQ(r.result, rc::code::conn_token_incorrect);
  EXPECT_FALSE(r.token_claims);
}

TEST(Token, EmptySecretIsAKeyLikeAnyOther) {
  const auto token = issue(sample_claims(), "").value();
  EXPECT_TRUE(verify(token, k_app_key, "", {.now_ms = k_now}).ok());
  expect_refused(token);
}

// --- expiry and revocation -------------------------------------------------

TEST(Token, ValidUntilOneMillisecondBeforeExpiry) {
  const auto token = sample_token();
  EXPECT_TRUE(check(token, sample_claims().expires_at_ms - 1).ok());
}

TEST(Token, ExpiresAtExactlyExpiresAtMsAs31020) {
  const auto r = check(sample_token(), sample_claims().expires_at_ms);
  EXPECT_EQ(r.result, rc::code::conn_token_expire);
  EXPECT_EQ(r.token_claims, sample_claims());  // authentic, so the caller may log who it was
}

TEST(Token, ZeroExpiryNeverExpires) {
  const auto token = issue(k_app_key, "forever", k_secret, k_now).value();
  EXPECT_TRUE(check(token, k_max_time).ok());
}

TEST(Token, RevokedBeforeEqualToIssuedAtKeepsTokenValid) {
  EXPECT_TRUE(check(sample_token(), k_now, k_now).ok());
}

TEST(Token, RevokedBeforeAfterIssuedAtGives31020ByDefault) {
  const auto r = check(sample_token(), k_now, k_now + 1);
  EXPECT_EQ(r.result, rc::code::conn_token_expire);
  EXPECT_EQ(r.token_claims, sample_claims());
}

TEST(Token, RevokedCodeIsConfigurable) {
  EXPECT_EQ(check(sample_token(), k_now, k_now + 1, rc::code::conn_token_incorrect).result,
            rc::code::conn_token_incorrect);
}

TEST(Token, ExpiredAndRevokedReportsExpired) {
  const auto r = check(sample_token(), sample_claims().expires_at_ms, k_max_time,
                       rc::code::conn_token_incorrect);
  EXPECT_EQ(r.result, rc::code::conn_token_expire);
}

TEST(Token, OlderTokenStillVerifiesAfterANewOneIsIssued) {
  const auto older = issue(k_app_key, "user_1", k_secret, k_now).value();
  const auto newer = issue(k_app_key, "user_1", k_secret, k_now).value();
  EXPECT_NE(older, newer);  // same user, same millisecond: the nonce tells them apart
  EXPECT_NE(peek(older).value().nonce, peek(newer).value().nonce);
  EXPECT_TRUE(check(newer).ok());
  EXPECT_TRUE(check(older).ok());
}

// --- limits ----------------------------------------------------------------

TEST(Token, ValidUserIdAcceptsTheDocumentedAlphabet) {
  EXPECT_TRUE(valid_user_id("abcXYZ019+=-_"));
  EXPECT_TRUE(valid_user_id("a"));
  EXPECT_TRUE(valid_user_id(std::string(64, 'x')));
  EXPECT_FALSE(valid_user_id(""));
  EXPECT_FALSE(valid_user_id(std::string(65, 'x')));
  for (const std::string_view bad : {"a b", "a.b", "a/b", "a@b", "a\nb", "\xc3\xa9"}) {
    EXPECT_FALSE(valid_user_id(bad)) << bad;
  }
  EXPECT_FALSE(valid_user_id(std::string_view("a\0b", 3)));
}

TEST(Token, UserIdOf64BytesIsAccepted) {
  const std::string user_id(64, 'u');
  const auto token = issue(k_app_key, user_id, k_secret, k_now);
  ASSERT_TRUE(token);
  EXPECT_EQ(check(*token).token_claims.value().user_id, user_id);
}

TEST(Token, UserIdOf65BytesIsRefusedByIssue) {
  EXPECT_FALSE(issue(k_app_key, std::string(65, 'u'), k_secret, k_now));
}

TEST(Token, InvalidUserIdIsRefusedByIssue) {
  EXPECT_FALSE(issue(k_app_key, "", k_secret, k_now));
  EXPECT_FALSE(issue(k_app_key, "has space", k_secret, k_now));
  EXPECT_FALSE(issue(k_app_key, "dot.ted", k_secret, k_now));
}

TEST(Token, EmptyOrOversizeAppKeyIsRefusedByIssue) {
  EXPECT_FALSE(issue("", "u", k_secret, k_now));
  EXPECT_FALSE(issue(std::string(33, 'k'), "u", k_secret, k_now));
  EXPECT_TRUE(issue(std::string(32, 'k'), "u", k_secret, k_now));
}

TEST(Token, NegativeOrOverflowingTimesAreRefusedByIssue) {
  EXPECT_FALSE(issue(k_app_key, "u", k_secret, -1));
  EXPECT_FALSE(issue(k_app_key, "u", k_secret, k_now, k_max_time));
  claims c = sample_claims();
  c.issued_at_ms = -1;
  EXPECT_FALSE(issue(c, k_secret));
  c = sample_claims();
  c.expires_at_ms = -1;
  EXPECT_FALSE(issue(c, k_secret));
}

TEST(Token, LargestTokenFitsIn256Bytes) {
  const claims c{.app_key = std::string(32, 'k'),
                 .user_id = std::string(64, 'u'),
                 .issued_at_ms = k_max_time,
                 .expires_at_ms = k_max_time,
                 .nonce = std::numeric_limits<std::uint64_t>::max()};
  const auto token = issue(c, k_secret);
  ASSERT_TRUE(token);
  EXPECT_LE(token->size(), k_max_token_size);
  EXPECT_EQ(token->size(), 208u);  // docs/protocol.md §7
  EXPECT_EQ(peek(*token), c);
  EXPECT_TRUE(verify(*token, c.app_key, k_secret, {.now_ms = k_now}).ok());
}

TEST(Token, TokenLongerThan256BytesIsRefused) {
  const std::string token = std::string(256 - 44, 'A') + "." + std::string(44, 'A');
  ASSERT_EQ(token.size(), 257u);
  EXPECT_FALSE(peek(token));
  expect_refused(token);
}

// --- malformed input -------------------------------------------------------

TEST(Token, EmptyTokenIsRefused) {
  EXPECT_FALSE(peek(""));
  expect_refused("");
}

TEST(Token, TokenWithoutDotIsRefused) {
  std::string token = sample_token();
  token.erase(token.find('.'), 1);
  EXPECT_FALSE(peek(token));
  expect_refused(token);
  expect_refused(".");
}

TEST(Token, TokenWithTwoDotsIsRefused) {
  const std::string token = sample_token();
  EXPECT_FALSE(peek(token + ".x"));
  EXPECT_FALSE(peek(token + "."));
  EXPECT_FALSE(peek("." + token));
  std::string inside = token;
  inside.insert(5, ".");
  EXPECT_FALSE(peek(inside));
  expect_refused(token + ".");
}

TEST(Token, CharactersOutsideBase64UrlAreRefused) {
  const std::string token = sample_token();
  for (const char bad : {'+', '/', '=', ' ', '\0', '\x80', '*'}) {
    SCOPED_TRACE(static_cast<int>(bad));
    std::string in_payload = token;
    in_payload[3] = bad;
    EXPECT_FALSE(peek(in_payload));
    std::string in_mac = token;
    in_mac[token.find('.') + 3] = bad;
    EXPECT_FALSE(peek(in_mac));
    expect_refused(in_mac);
  }
}

TEST(Token, PaddingIsRefused) {
  // A 41-byte payload and a 32-byte MAC: both would end in "=" in padded base64.
  const bytes payload = build_payload(k_app_key, "user_12");
  ASSERT_EQ(payload.size() % 3, 2u);
  const auto token = sign(payload);
  ASSERT_TRUE(check(token).ok());
  expect_refused(token + "=");
  expect_refused(std::string(token).insert(token.find('.'), "="));
}

TEST(Token, NonCanonicalTrailingBitsAreRefused) {
  // user_1: 40-byte payload, 2 characters in its last group; user_12: 41 bytes, 3 characters.
  // The MAC (32 bytes) always ends in a 3-character group.
  for (const std::string_view user_id : {"user_1", "user_12"}) {
    SCOPED_TRACE(user_id);
    const auto token = sign(build_payload(k_app_key, user_id));
    ASSERT_TRUE(check(token).ok());
    const auto [payload, mac_part] = split(token);
    // Same bytes to a lax decoder: these would verify if stray bits were ignored.
    expect_refused(with_stray_bits(encode(payload)) + "." + mac_part);
    expect_refused(encode(payload) + "." + with_stray_bits(mac_part));
  }
}

TEST(Token, ImpossibleBase64LengthIsRefused) {
  // A 42-byte payload is exactly 56 characters; one more makes 4n+1, which no
  // byte string encodes to.
  const bytes payload = build_payload(k_app_key, "user_123");
  ASSERT_EQ(payload.size() % 3, 0u);
  const auto token = sign(payload);
  ASSERT_TRUE(check(token).ok());
  const auto mac_part = split(token).mac_part;
  expect_refused(encode(payload) + "A." + mac_part);
  expect_refused(encode(payload) + "." + mac_part.substr(0, 41));
}

TEST(Token, TruncatedPayloadIsRefused) {
  const auto [payload, mac_part] = split(sample_token());
  for (std::size_t n = 0; n < payload.size(); ++n) {
    SCOPED_TRACE(n);
    const bytes prefix(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(peek(join(prefix, mac_part)));
    EXPECT_FALSE(peek(sign(prefix)));  // even when signed
  }
}

TEST(Token, TrailingBytesAfterUserIdAreRefused) {
  bytes payload = build_payload(k_app_key, "user_1");
  payload.push_back('x');
  expect_refused(sign(payload));
}

TEST(Token, WrongVersionIsRefused) {
  for (const std::uint8_t version : {0, 2, 0xff}) {
    SCOPED_TRACE(static_cast<int>(version));
    const auto token = sign(build_payload(k_app_key, "user_1", k_now, 0, version));
    EXPECT_FALSE(peek(token));
    expect_refused(token);
  }
}

TEST(Token, MacOfWrongSizeIsRefused) {
  const auto [payload, mac_part] = split(sample_token());
  bytes mac = decode(mac_part);
  mac.pop_back();
  EXPECT_FALSE(peek(join(payload, encode(mac))));
  mac.push_back(0);
  mac.push_back(0);
  EXPECT_FALSE(peek(join(payload, encode(mac))));
  EXPECT_FALSE(peek(join(payload, "")));
}

TEST(Token, SignedButUnrepresentableClaimsAreRefused) {
  // Each of these carries a valid MAC; only the layout rules refuse them.
  const std::vector<bytes> payloads = {
      build_payload("", "user_1"),
      build_payload(k_app_key, ""),
      build_payload(std::string(33, 'k'), "user_1"),
      build_payload(k_app_key, std::string(65, 'u')),
      build_payload(k_app_key, "bad user"),
      build_payload(k_app_key, "user_1", -1, 0),
      build_payload(k_app_key, "user_1", k_now, -1),
  };
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    SCOPED_TRACE(i);
    const auto token = sign(payloads[i]);
    EXPECT_FALSE(peek(token));
    expect_refused(token);
  }
}

TEST(Token, LengthByteLongerThanPayloadIsRefused) {
  bytes payload = build_payload(k_app_key, "user_1");
  payload[25] = 200;  // app key length past the end
  expect_refused(sign(payload));
  payload = build_payload(k_app_key, "user_1");
  payload[25 + 1 + k_app_key.size()] = 7;  // user id length one past the end
  expect_refused(sign(payload));
}

}  // namespace
}  // namespace imock::token

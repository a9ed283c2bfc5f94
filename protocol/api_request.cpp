#include "protocol/api_request.hpp"

#include <openssl/sha.h>

#include <array>

#include "protocol/hex.hpp"

namespace imock {

std::string api_signature(std::string_view app_secret, std::string_view nonce,
                          std::string_view timestamp) {
  std::string input;
  input.reserve(app_secret.size() + nonce.size() + timestamp.size());
  input.append(app_secret).append(nonce).append(timestamp);
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::vector<std::pair<std::string, std::string>> signed_headers(std::string_view app_key,
                                                                std::string_view app_secret,
                                                                std::string_view nonce,
                                                                std::string_view timestamp) {
  return {{"App-Key", std::string(app_key)},
          {"Nonce", std::string(nonce)},
          {"Timestamp", std::string(timestamp)},
          {"Signature", api_signature(app_secret, nonce, timestamp)}};
}

std::string form_escape(std::string_view s) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += k_hex[u >> 4];
      out += k_hex[u & 0x0F];
    }
  }
  return out;
}

}  // namespace imock

#include "imock/protocol/api_request.hpp"

#include <openssl/sha.h>

#include <array>

#include "imock/protocol/hex.hpp"

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

namespace {

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One key or value. False on a bad escape.
bool form_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_digit(in[i + 1]);
      const int lo = hex_digit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return true;
}

}  // namespace

std::optional<form_fields> form_fields::parse(std::string_view body) {
  form_fields result;
  while (!body.empty()) {
    const auto amp = body.find('&');
    const auto pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string key;
    std::string value;
    if (!form_decode(pair.substr(0, eq), key)) return std::nullopt;
    if (eq != std::string_view::npos && !form_decode(pair.substr(eq + 1), value)) {
      return std::nullopt;
    }
    result.fields_.emplace_back(std::move(key), std::move(value));
  }
  return result;
}

std::vector<std::string_view> form_fields::all(std::string_view key) const {
  std::vector<std::string_view> values;
  for (const auto& [k, v] : fields_) {
    if (k == key) values.emplace_back(v);
  }
  return values;
}

}  // namespace imock

#include "imock/net/address.hpp"

#include <charconv>

namespace imock::net {

std::string host_port::to_string() const {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

std::optional<host_port> parse_host_port(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<host_port> {
    if (error != nullptr) *error = "bad address '" + std::string(text) + "': " + std::move(why);
    return std::nullopt;
  };
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return fail("missing ']' after the IPv6 address");
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return fail("expected ':PORT' after ']'");
    port = rest.substr(1);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("expected HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail("put an IPv6 address in brackets: [::1]:PORT");
    }
  }
  if (host.empty()) return fail("empty host");
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size()) {
    return fail("port is not a number");
  }
  if (value > 65535) return fail("port over 65535");
  return host_port{std::string(host), static_cast<std::uint16_t>(value)};
}

}  // namespace imock::net

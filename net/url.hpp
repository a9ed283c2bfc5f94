// URLs imock reads from its users: where an MQTT server is (mqtt://, mqtts://, ws://,
// wss://) and where an HTTP API is (http://). Parsed with Boost.URL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "imock/protocol/transport.hpp"

namespace imock::net {

/// An MQTT server: `mqtt://` (also `tcp://`), `mqtts://` (also `ssl://`, `tls://`),
/// `ws://`, `wss://`. Ports default to 1883, 8883, 80 and 443; WebSocket paths to /mqtt.
struct server_url {
  transport via = transport::tcp;
  std::string host;  // IPv6 without brackets
  std::uint16_t port = 0;
  std::string path;  // WebSocket request target; "/mqtt" when none is given
  /// "mqtt://host:port", "ws://host:port/mqtt".
  [[nodiscard]] std::string to_string() const;
};

/// nullopt and `error` ("bad server URL 'x': why") when it is not one of the schemes
/// with a host.
std::optional<server_url> parse_server_url(std::string_view url, std::string* error = nullptr);

/// An HTTP endpoint: `http://HOST[:PORT][/PATH]` (port 80 by default).
struct http_url {
  std::string host;
  std::uint16_t port = 80;
  std::string path;  // "" when none is given
  /// "host:port" (IPv6 in brackets): the Host header.
  [[nodiscard]] std::string authority() const;
};

std::optional<http_url> parse_http_url(std::string_view url, std::string* error = nullptr);

}  // namespace imock::net

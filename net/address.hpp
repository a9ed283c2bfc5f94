// "HOST:PORT" listen and connect addresses ("127.0.0.1:0", "[::1]:18830", "localhost:80").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imock::net {

struct host_port {
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 0;
  /// "host:port", IPv6 hosts in brackets.
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const host_port&, const host_port&) = default;
};

/// Parses "HOST:PORT". nullopt (and `error` says why) when the port is missing,
/// not a number, or over 65535, or the host is empty.
std::optional<host_port> parse_host_port(std::string_view text, std::string* error = nullptr);

}  // namespace imock::net

// How a client reaches the server (docs/protocol.md §1): MQTT over TCP, over TLS,
// over WebSocket at /mqtt, over WebSocket on TLS. One enum for the server's listeners,
// the SDK's URLs, scenarios and the storm tool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "imock/base/names.hpp"

namespace imock {

enum class transport : std::uint8_t { tcp, tls, ws, wss };
inline constexpr std::size_t k_transport_count = 4;

inline constexpr names<transport, k_transport_count> k_transport_names{{{
    {"tcp", transport::tcp},
    {"tls", transport::tls},
    {"ws", transport::ws},
    {"wss", transport::wss},
}}};

inline constexpr std::string_view to_string(transport t) noexcept {
  return k_transport_names.of(t);
}

}  // namespace imock

// A blocking MQTT 5 client for end-to-end tests of imock-server: one packet at a
// time over TCP, TLS, WebSocket or WSS, every wait bounded. Not the reference SDK
// (client/): this one does only what a test tells it, so tests can send anything,
// including broken bytes.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "imock/net/http_client.hpp"
#include "imock/protocol/mqtt.hpp"
#include "imock/server/hub.hpp"
#include "imock/server/server.hpp"

namespace imock::server::testing {

using namespace std::chrono_literals;

class wire_client {
 public:
  virtual ~wire_client() = default;

  /// Connects to the listener of `via` in `bound` (TLS without verification, WS
  /// at /mqtt with subprotocol mqtt). nullptr and `error` set on failure.
  static std::unique_ptr<wire_client> open(transport via, const bound_addresses& bound,
                                           std::string* error = nullptr,
                                           std::string_view ws_subprotocol = "mqtt");

  /// Sends raw bytes (one WebSocket message for WS/WSS). False on error.
  virtual bool send_bytes(std::string_view bytes) = 0;
  bool send(const mqtt::packet& p) { return send_bytes(mqtt::encode(p)); }

  /// The next packet, or nullopt when none arrives within `timeout` or the peer
  /// closed (closed() then says so) or sent bytes that do not decode.
  std::optional<mqtt::packet> receive(std::chrono::milliseconds timeout = 5s);

  /// Waits until the server closes the connection; false if it is still open
  /// after `timeout`. Packets arriving meanwhile are dropped.
  bool wait_closed(std::chrono::milliseconds timeout = 5s);

  [[nodiscard]] bool closed() const noexcept { return closed_; }

 protected:
  /// Reads some bytes, waiting at most `timeout`. Empty + closed_ on EOF/error,
  /// empty alone on timeout.
  virtual std::string read_some(std::chrono::milliseconds timeout) = 0;

  bool closed_ = false;

 private:
  mqtt::decoder decoder_;
};

/// A CONNECT as the reference SDK sends it.
mqtt::connect connect_packet(std::string_view app_key, std::string_view token,
                             std::string_view device, bool reconnect = false,
                             bool reconnect_kick = false, std::string_view platform = "ios",
                             std::uint16_t keep_alive = 30);

/// The reason code and `rc-code` of a CONNACK or DISCONNECT (rc 0 when absent).
struct verdict {
  std::string packet;  // "CONNACK", "DISCONNECT", "none", ...
  int reason = -1;
  int rc = 0;
  [[nodiscard]] std::string to_string() const;
};
verdict verdict_of(const std::optional<mqtt::packet>& p);

/// A plain HTTP/1.1 request to `host_port` (net/http_client.hpp); bounded by 10 s.
using http_result = net::http_response;
using net::http_request;

/// The sum of one family's samples in a /metrics text (every label set):
/// metric_sum(body, "imock_connections") is the open connections of all transports.
std::uint64_t metric_sum(std::string_view prometheus_text, std::string_view family);

/// POST to the signed server API with a correct signature.
http_result server_api_call(const std::string& host_port, std::string_view app_key,
                            std::string_view app_secret, std::string_view path,
                            std::string_view form_body);

}  // namespace imock::server::testing

// imock-server inside another program, on a thread of its own: started in the
// constructor, run on its thread, stopped and joined in the destructor. One way to
// host a server for imock::testing, the harness's real-socket world and imock's own
// tests, instead of each writing start / thread / stop / join again.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "imock/protocol/transport.hpp"
#include "imock/server/server.hpp"

namespace imock::server {

/// `c` with its listeners on ephemeral loopback ports (127.0.0.1:0): MQTT and HTTP,
/// and MQTTS and HTTPS when `tls` (a self-signed certificate unless one is configured);
/// no navigation-only ports.
server_config on_ephemeral_ports(server_config c, bool tls);

class local_server {
 public:
  /// Binds (server::start(): throws std::runtime_error naming the address) and runs.
  explicit local_server(server_options options);
  ~local_server();
  local_server(const local_server&) = delete;
  local_server& operator=(const local_server&) = delete;

  [[nodiscard]] server& get() noexcept { return *server_; }
  [[nodiscard]] const bound_addresses& bound() const noexcept { return bound_; }
  /// mqtt://, mqtts://, ws://.../mqtt or wss://.../mqtt of this server; "" when that
  /// listener is off.
  [[nodiscard]] std::string url(transport t) const;
  /// Graceful shutdown (server::stop) and join; the destructor does it with 1 s.
  void stop(std::int64_t grace_ms = 1000);

 private:
  std::unique_ptr<server> server_;
  bound_addresses bound_;
  std::thread thread_;
};

}  // namespace imock::server

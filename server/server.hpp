// imock-server as a library: the listeners, sessions and HTTP endpoints around the
// hub. The harness embeds it; server/main.cpp wraps it in a CLI. No Asio in this
// header: it is included widely.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "imock/server/config.hpp"
#include "imock/server/server_api.hpp"

namespace imock::server {

class hub;

struct server_options {
  server_config config;
  /// Server time runs `speed` times faster than the wall clock (the harness's
  /// --speed): keep alive, CONNECT timeout, token lifetimes, blocks and CONNACK
  /// delays are all in server time.
  double speed = 1.0;
  std::uint64_t fault_seed = 1;
  std::optional<std::filesystem::path> ready_file;
  /// Print every event to stderr as it happens.
  bool echo_events = false;
  /// SIGINT / SIGTERM: graceful shutdown (DISCONNECT 0x8B to all, bounded wait).
  bool handle_signals = false;
  /// Files the console lists (GET /admin/files): a conformance matrix, storm charts.
  std::vector<std::filesystem::path> console_files;
};

/// The addresses actually bound (port 0 resolved), for --ready-file and tests.
struct bound_addresses {
  std::string mqtt;
  std::string http;
  std::optional<std::string> mqtts;
  std::optional<std::string> https;
  std::vector<std::string> navigation;  // listen.navigation: navigation-only HTTP ports
  std::string tls_fingerprint_sha256;  // empty without TLS
  std::string tls_cert_pem;            // for clients that pin the self-signed certificate
};

class server {
 public:
  explicit server(server_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds every listener and writes the ready file. Throws std::runtime_error
  /// with a message naming the address on failure (in use, bad address, TLS).
  bound_addresses start();

  /// Runs the event loop on the calling thread until the server has shut down.
  void run();

  /// Graceful shutdown from any thread: stop accepting, DISCONNECT 0x8B to every
  /// session, wait at most `grace_ms` (wall clock) for them to close, then stop.
  void stop(std::int64_t grace_ms = 2000);

  /// Runs `fn` on the server's thread with its hub and waits for it (from any
  /// thread other than the server's). For in-process harnesses.
  void call(const std::function<void(hub&)>& fn);

  /// An admin or server API request handled as if it came over HTTP (thread-safe).
  api_response request(const api_request& r);

  /// Server time now, in ms since the epoch (scaled by `speed`).
  [[nodiscard]] std::int64_t now_ms() const;

  class impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace imock::server

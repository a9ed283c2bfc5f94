// A scenario over real sockets: an in-process imock-server, and per scenario client
// one of three adapters: the reference SDK in-process (one client::client each), a
// client program (--client-cmd, JSON lines), or an app run by hand (imock-harness
// serve: the person is told what to do, and the app is seen through the server).
// Scenario time is wall-clock time sped up `speed` times.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "imock/harness/world.hpp"
#include "imock/server/config.hpp"
#include "imock/server/local_server.hpp"

namespace imock::client {
class runtime;
}  // namespace imock::client

namespace imock::harness {

/// Clients are apps run by hand (imock-harness serve).
struct hand_clients {
  /// How long a client action (connect, disconnect) waits for the app, scenario ms.
  std::int64_t wait_ms = 300'000;
  /// Where instructions go (stdout when empty).
  std::function<void(const std::string&)> say;
};

struct real_world_options {
  double speed = 20.0;
  /// Run this program (with /bin/sh -c) per client instead of the in-process SDK.
  std::optional<std::string> client_cmd;
  /// How long (wall clock) a client program may take to print its "ready" line.
  std::chrono::milliseconds ready_wait{2000};
  std::filesystem::path data_dir;  // empty: a fresh temporary folder
  std::optional<hand_clients> by_hand;
  /// Where the server listens (default: ephemeral ports on loopback).
  std::optional<server::listen_config> listen;
  std::filesystem::path ready_file;  // the server writes its bound addresses here
  bool echo_events = false;          // the event log to stderr as well
  /// The slack added to timing checks, in scenario ms (reported).
  std::int64_t slack_ms = 0;
  /// Record the run and write the recording here when it stops (serve --record).
  std::filesystem::path record_file;
};

class real_world final : public world {
 public:
  real_world(const scenario& s, real_world_options options);
  ~real_world() override;

  void start() override;
  void stop() override;
  std::int64_t now_ms() override;
  std::int64_t server_now_ms() override;
  bool wait(std::int64_t until_ms, const std::function<bool()>& done) override;
  server::api_response request(const server::api_request& r) override;
  harness_client& client(const client_spec& spec) override;
    std::string timing_note() const override;
  void note(const std::string& line) override;

  [[nodiscard]] const server::bound_addresses& bound() const noexcept { return bound_; }

 private:
  using clock_type = std::chrono::steady_clock;
  class hand_client;

  /// Where an app run by hand connects, and a token for each client.
  void introduce();
  /// "127.0.0.1:PORT" where nothing accepts: a port bound (so nobody else takes it)
  /// but not listening, so connects to it are refused. A `dead` navigation host.
  std::string dead_address();
  /// The client (by hand) that a connect the server saw came from.
  const client_spec* hand_client_of(const std::string& user, const std::string& device) const;

  const scenario& s_;
  real_world_options options_;
  clock_type::time_point start_ = clock_type::now();
  std::unique_ptr<server::local_server> server_;
  server::bound_addresses bound_;
  std::unique_ptr<client::runtime> runtime_;
    std::map<std::string, std::unique_ptr<harness_client>> clients_;
  std::map<std::string, std::uint32_t> hand_attempts_;  // server thread only
  std::filesystem::path data_dir_;
  bool remove_data_dir_ = false;
  int dead_fd_ = -1;
  std::string dead_address_;
};

}  // namespace imock::harness

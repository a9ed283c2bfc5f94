// A scenario over real sockets: an in-process imock-server on loopback, and the
// reference SDK in-process (one client::client per scenario client), or one client
// program per scenario client (--client-cmd, JSON lines), or nobody at all
// (server-side mode: a client you run yourself). Scenario time is wall-clock time
// sped up `speed` times.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "harness/world.hpp"
#include "server/config.hpp"
#include "server/server.hpp"

namespace imock::client {
class runtime;
}  // namespace imock::client

namespace imock::harness {

struct real_world_options {
  double speed = 20.0;
  /// Run this program (with /bin/sh -c) per client instead of the in-process SDK.
  std::optional<std::string> client_cmd;
  /// How long (wall clock) a client program may take to print its "ready" line.
  std::chrono::milliseconds ready_wait{2000};
  std::filesystem::path data_dir;  // empty: a fresh temporary folder
  bool server_only = false;        // no clients: server-side mode
  std::optional<server::listen_config> listen;
  /// The slack added to timing checks, in scenario ms (reported).
  std::int64_t slack_ms = 0;
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
  std::vector<std::string> addresses() const override;

  [[nodiscard]] const server::bound_addresses& bound() const noexcept { return bound_; }

 private:
  using clock_type = std::chrono::steady_clock;

  const scenario& s_;
  real_world_options options_;
  clock_type::time_point start_ = clock_type::now();
  std::unique_ptr<server::server> server_;
  server::bound_addresses bound_;
  std::thread server_thread_;
  std::unique_ptr<client::runtime> runtime_;
  std::map<std::string, std::unique_ptr<harness_client>> clients_;
  std::filesystem::path data_dir_;
  bool remove_data_dir_ = false;
};

}  // namespace imock::harness

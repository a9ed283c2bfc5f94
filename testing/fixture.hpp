// imock::testing: imock inside a user's own GoogleTest tests. An in-process
// imock-server on ephemeral loopback ports as a fixture, bounded waits that return
// [[nodiscard]] AssertionResults (what was seen instead goes into the failure
// message), a recorder for the reference SDK's callbacks, and a call that runs a
// scenario file. Every wait is bounded; nothing sleeps.
//
//   class MySdk : public imock::testing::server_fixture {};
//   TEST_F(MySdk, KickShowsStatus6) {
//     imock::testing::recorder app;
//     auto c = client("phone", app);                    // the reference SDK, or yours
//     imock::testing::connect(*c, token_for("alice"), app);
//     ASSERT_TRUE(app.wait_for("status 0 0"));
//     ASSERT_EQ(admin("/admin/kick", R"({"user":"alice"})").http_status, 200);
//     EXPECT_TRUE(app.wait_for("status 6 31010"));
//     EXPECT_TRUE(wait_for_event(server::event_kind::kick, "alice"));
//   }
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "imock/client/sdk.hpp"
#include "imock/server/event_log.hpp"
#include "imock/server/local_server.hpp"
#include "imock/server/server.hpp"

namespace imock::testing {

using namespace std::chrono_literals;

/// Lines of what happened, in order, from any thread; waits bounded by a timeout.
/// The reference SDK's callbacks are written "db_opened 0", "status 10 0" (status and
/// cause), "success alice", "error 31004"; anything else may be added too.
class recorder {
 public:
  void add(std::string line);

  /// `line` has been recorded (as a whole line), within `timeout`.
  [[nodiscard]] ::testing::AssertionResult wait_for(const std::string& line,
                                                    std::chrono::milliseconds timeout = 10s);
  /// `line` has been recorded `n` times, within `timeout`.
  [[nodiscard]] ::testing::AssertionResult wait_count(const std::string& line, int n,
                                                      std::chrono::milliseconds timeout = 10s);
  /// `line` does not appear during the whole `window`.
  [[nodiscard]] ::testing::AssertionResult absent_for(const std::string& line,
                                                      std::chrono::milliseconds window);
  /// `line` appears at most `n` times during the whole `window`.
  [[nodiscard]] ::testing::AssertionResult count_stays(const std::string& line, int n,
                                                       std::chrono::milliseconds window);

  struct entry {
    std::string line;
    std::thread::id thread;  // where it was added (callbacks: the SDK's callback thread)
  };
  [[nodiscard]] std::vector<entry> entries() const;
  [[nodiscard]] std::string dump() const;

 private:
  [[nodiscard]] int count(const std::string& line) const;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<entry> entries_;
};

/// "status 13 30011": how a status change is recorded.
std::string status_line(rc::status s, rc::code cause);
/// Sends the client's status changes to `r`.
void listen(client::client& c, recorder& r);
/// connect() with callbacks that record into `r`.
void connect(client::client& c, const std::string& token, recorder& r, int time_limit_s = 0);

/// An imock-server in this process for each test, on ephemeral loopback ports (TCP,
/// HTTP; TLS and WSS too when the config asks), its event log watched.
class server_fixture : public ::testing::Test {
 protected:
  /// The config the server starts with: default_config() (the demo app) unless a
  /// test overrides this. Listen addresses are replaced by ephemeral loopback ports.
  virtual server::server_config config() const { return server::default_config(); }
  /// Server (and reference client) time runs this much faster than the wall clock.
  virtual double speed() const { return 1.0; }

  void SetUp() override;
  void TearDown() override;

  [[nodiscard]] server::server& server() noexcept { return server_->get(); }
  [[nodiscard]] const server::bound_addresses& bound() const noexcept { return server_->bound(); }
  /// mqtt://, mqtts://, ws://.../mqtt or wss://.../mqtt of this server.
  [[nodiscard]] std::string url(transport t = transport::tcp) const;
  /// http://HOST:PORT: the server API, the admin API, navigation.
  [[nodiscard]] std::string http_url() const { return "http://" + bound().http; }
  /// A fresh token of `user` for `app` (the config's first app by default).
  [[nodiscard]] std::string token_for(std::string_view user, std::string_view app = {}) const;
  /// An admin API call, in-process (docs/admin-api.md), with a JSON body.
  server::api_response admin(std::string_view path, std::string_view json_body = "{}");
  /// A reference SDK client on this server (TCP unless `t` says otherwise), already
  /// initialised with the first app, its status changes going to `r`.
  std::unique_ptr<client::client> client(std::string_view device, recorder& r,
                                         transport t = transport::tcp);

  /// The server logged an event of `kind` about `user` (any user when empty), within
  /// `timeout` (wall clock), since the test began.
  [[nodiscard]] ::testing::AssertionResult wait_for_event(server::event_kind kind,
                                                          std::string_view user = {},
                                                          std::chrono::milliseconds timeout = 10s);
  /// The events the server logged since the test began, one line each (to_text).
  [[nodiscard]] std::vector<server::event> events() const;

 private:
  std::unique_ptr<server::local_server> server_;
  std::unique_ptr<client::runtime> runtime_;
  std::filesystem::path data_dir_;
  std::string first_app_, first_secret_;

  mutable std::mutex events_mutex_;
  std::condition_variable events_changed_;
  std::vector<server::event> events_;
};

/// Runs a scenario file (docs/scenarios.md) from a test: in simulation (exact,
/// deterministic, no sockets) unless `real_sockets`. Passes when the scenario passes;
/// a failure carries the report, the failed step with its file:line:column and the
/// trace around it.
[[nodiscard]] ::testing::AssertionResult run_scenario_file(const std::filesystem::path& file,
                                                           bool real_sockets = false);

}  // namespace imock::testing

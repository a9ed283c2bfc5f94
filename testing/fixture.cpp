#include "imock/testing/fixture.hpp"

#include <unistd.h>

#include <atomic>

#include "imock/harness/loader.hpp"
#include "imock/harness/runner.hpp"
#include "imock/harness/trace.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/hub.hpp"

namespace imock::testing {

// --- recorder --------------------------------------------------------------------

void recorder::add(std::string line) {
  std::lock_guard lock(mutex_);
  entries_.push_back({std::move(line), std::this_thread::get_id()});
  changed_.notify_all();
}

int recorder::count(const std::string& line) const {
  int n = 0;
  for (const auto& e : entries_) n += e.line == line ? 1 : 0;
  return n;
}

std::string recorder::dump() const {
  std::string out;
  for (const auto& e : entries_) out += "[" + e.line + "] ";
  return out.empty() ? "nothing" : out;
}

std::vector<recorder::entry> recorder::entries() const {
  std::lock_guard lock(mutex_);
  return entries_;
}

::testing::AssertionResult recorder::wait_for(const std::string& line,
                                              std::chrono::milliseconds timeout) {
  return wait_count(line, 1, timeout);
}

::testing::AssertionResult recorder::wait_count(const std::string& line, int n,
                                                std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (changed_.wait_for(lock, timeout, [&] { return count(line) >= n; })) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "waited " << timeout.count() << " ms for " << n
                                       << " x '" << line << "'; saw: " << dump();
}

::testing::AssertionResult recorder::absent_for(const std::string& line,
                                                std::chrono::milliseconds window) {
  return count_stays(line, 0, window);
}

::testing::AssertionResult recorder::count_stays(const std::string& line, int n,
                                                 std::chrono::milliseconds window) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, window, [&] { return count(line) > n; })) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "'" << line << "' seen more than " << n << " times within " << window.count()
         << " ms; saw: " << dump();
}

std::string status_line(rc::status s, rc::code cause) {
  return "status " + std::to_string(static_cast<int>(s)) + " " +
         std::to_string(static_cast<int>(cause));
}

void listen(client::client& c, recorder& r) {
  c.set_connection_status_listener(
      [&r](rc::status s, rc::code cause) { r.add(status_line(s, cause)); });
}

void connect(client::client& c, const std::string& token, recorder& r, int time_limit_s) {
  c.connect(
      token, time_limit_s,
      [&r](rc::code code) { r.add("db_opened " + std::to_string(static_cast<int>(code))); },
      [&r](const std::string& user) { r.add("success " + user); },
      [&r](rc::code code) { r.add("error " + std::to_string(static_cast<int>(code))); });
}

// --- server_fixture ----------------------------------------------------------------

void server_fixture::SetUp() {
  auto c = config();
  const bool tls = c.listen.mqtts.has_value() || c.listen.https.has_value();
  c = server::on_ephemeral_ports(std::move(c), tls);
  if (!c.apps.empty()) {
    first_app_ = c.apps.front().key;
    first_secret_ = c.apps.front().secret;
  }
  server_ = std::make_unique<server::local_server>(
      server::server_options{.config = std::move(c), .speed = speed()});
  // On the server's thread (call() waits for it), before the test does anything.
  server_->get().call([this](server::hub& h) {
    h.events().add_listener([this](const server::event& e) {
      std::lock_guard lock(events_mutex_);
      events_.push_back(e);
      events_changed_.notify_all();
    });
  });
  runtime_ = std::make_unique<client::runtime>(client::runtime_options{.speed = speed()});
  static std::atomic<int> fixtures{0};
  data_dir_ = std::filesystem::temp_directory_path() /
              ("imock-testing-" + std::to_string(::getpid()) + "-" + std::to_string(++fixtures));
}

void server_fixture::TearDown() {
  runtime_.reset();
  if (server_) {
    server_->stop(1000);
    server_.reset();
  }
  std::error_code ignored;
  std::filesystem::remove_all(data_dir_, ignored);
}

std::string server_fixture::url(transport t) const { return server_->url(t); }

std::string server_fixture::token_for(std::string_view user, std::string_view app) const {
  const std::string key(app.empty() ? std::string_view(first_app_) : app);
  return token::issue(key, user, first_secret_, server_->get().now_ms()).value_or("");
}

server::api_response server_fixture::admin(std::string_view path, std::string_view json_body) {
  return server_->get().request({.method = "POST",
                           .path = std::string(path),
                           .content_type = "application/json",
                           .body = std::string(json_body)});
}

std::unique_ptr<client::client> server_fixture::client(std::string_view device, recorder& r,
                                                       transport t) {
  auto c = std::make_unique<client::client>(*runtime_);
  const auto rc = c->init(first_app_, {.urls = {url(t)},
                                       .tls_verify = false,
                                       .data_dir = data_dir_,
                                       .device_id = std::string(device)});
  EXPECT_EQ(rc, rc::code::ok) << "init of the reference client";
  listen(*c, r);
  return c;
}

::testing::AssertionResult server_fixture::wait_for_event(server::event_kind kind,
                                                          std::string_view user,
                                                          std::chrono::milliseconds timeout) {
  std::unique_lock lock(events_mutex_);
  const auto seen = [&] {
    for (const auto& e : events_) {
      if (e.kind == kind && (user.empty() || e.user == user)) return true;
    }
    return false;
  };
  if (events_changed_.wait_for(lock, timeout, seen)) return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure();
  failure << "waited " << timeout.count() << " ms for a server event '"
          << server::k_event_kind_names.of(kind) << "'"
          << (user.empty() ? std::string() : " of user '" + std::string(user) + "'")
          << "; the server logged:";
  if (events_.empty()) failure << " nothing";
  for (const auto& e : events_) failure << "\n  " << server::to_text(e);
  return failure;
}

std::vector<server::event> server_fixture::events() const {
  std::lock_guard lock(events_mutex_);
  return events_;
}

// --- scenarios -----------------------------------------------------------------------

::testing::AssertionResult run_scenario_file(const std::filesystem::path& file, bool real_sockets) {
  std::vector<harness::load_error> errors;
  const auto s = harness::load_scenario(file, errors);
  if (!s) {
    auto failure = ::testing::AssertionFailure();
    failure << "the scenario does not load:";
    for (const auto& e : errors) failure << "\n  " << e.to_string();
    return failure;
  }
  const auto r = harness::run_scenario(
      *s, {.mode = real_sockets ? harness::run_mode::real : harness::run_mode::sim});
  if (r.passed) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "FAIL " << r.name << " (" << r.mode << ")\n  step  " << r.failed_step << "\n  "
         << r.failure << "\n"
         << harness::render_trace(r.trace, r.failed_index > 20 ? r.failed_index - 20 : 0);
}

}  // namespace imock::testing

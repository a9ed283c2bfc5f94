#include "harness/runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "client/sdk.hpp"
#include "protocol/token.hpp"
#include "server/hub.hpp"
#include "server/server.hpp"
#include "server/server_api.hpp"

extern char** environ;

namespace imock::harness {
namespace {

using clock_type = std::chrono::steady_clock;
namespace json = boost::json;

// --- the trace --------------------------------------------------------------------

// Every event of the run, in arrival order. Expectations wait on it with a cursor
// per source: an expectation only looks at entries after what the previous
// expectation of the same source matched.
class trace_store {
 public:
  trace_store(clock_type::time_point start, double speed) : start_(start), speed_(speed) {}

  std::int64_t now_ms() const {
    return static_cast<std::int64_t>(
        std::chrono::duration<double, std::milli>(clock_type::now() - start_).count() * speed_);
  }
  clock_type::time_point real_deadline(std::int64_t scenario_ms) const {
    return clock_type::now() + std::chrono::microseconds(static_cast<std::int64_t>(
                                   static_cast<double>(scenario_ms) * 1000.0 / speed_));
  }

  void add(trace_entry e) {
    std::lock_guard lock(mutex_);
    e.t_ms = now_ms();
    entries_.push_back(std::move(e));
    changed_.notify_all();
  }

  using pred = std::function<bool(const trace_entry&)>;

  // The first entry of `source` at index >= from that satisfies `p`, waiting until
  // `deadline`. Returns its index, or nullopt.
  std::optional<std::size_t> wait_for(const std::string& source, std::size_t from, const pred& p,
                                      clock_type::time_point deadline) {
    std::unique_lock lock(mutex_);
    std::optional<std::size_t> found;
    changed_.wait_until(lock, deadline, [&] {
      for (std::size_t i = from; i < entries_.size(); ++i) {
        if (entries_[i].source == source && p(entries_[i])) {
          found = i;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  // Counts matches from `from` while waiting until `deadline`, or until `stop(n)`.
  int count_until(const std::string& source, std::size_t from, const pred& p,
                  clock_type::time_point deadline, const std::function<bool(int)>& stop) {
    std::unique_lock lock(mutex_);
    int n = 0;
    changed_.wait_until(lock, deadline, [&] {
      n = 0;
      for (std::size_t i = from; i < entries_.size(); ++i) {
        if (entries_[i].source == source && p(entries_[i])) ++n;
      }
      return stop(n);
    });
    return n;
  }

  std::vector<trace_entry> snapshot() const {
    std::lock_guard lock(mutex_);
    return entries_;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
  }

 private:
  clock_type::time_point start_;
  double speed_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<trace_entry> entries_;
};

std::string status_name(int s) {
  const auto* row = rc::find_status(s);
  return row != nullptr ? std::string(row->name) : "?";
}

std::string describe(const trace_entry& e) {
  std::string out = e.kind;
  if (e.kind == "status") {
    out += " " + std::to_string(e.status) + " " + status_name(e.status);
    if (e.code != 0) out += " (cause " + std::to_string(e.code) + ")";
    return out;
  }
  if (e.kind == "error" || e.kind == "db_opened") return out + " " + std::to_string(e.code);
  if (e.kind == "success") return out + " " + e.user;
  if (e.code != 0) out += " code=" + std::to_string(e.code);
  if (!e.user.empty() || !e.device.empty()) out += " " + e.user + "/" + e.device;
  if (!e.detail.empty()) out += " " + e.detail;
  return out;
}

// --- clients ------------------------------------------------------------------------

struct client_setup {
  std::string name;
  std::string app_key;
  std::vector<std::string> urls;
  std::string device;
  std::string platform;
  std::uint16_t heartbeat_s = 30;
  bool reconnect_kick = false;
  std::vector<std::int64_t> schedule_ms;
  std::filesystem::path data_dir;  // empty: no database
  double speed = 1;
};

// A client under test, whatever implements it. Events go to the trace.
class harness_client {
 public:
  virtual ~harness_client() = default;
  virtual bool init() = 0;  // false: the client could not be started
  virtual void connect(const std::string& token, int time_limit_s, bool init_first) = 0;
  virtual void disconnect() = 0;
  virtual void logout() = 0;
  virtual void network(bool up) = 0;
  virtual void foreground() = 0;
  virtual void reconnect_kick(bool on) = 0;
};

// The reference SDK, in this process.
class in_process_client final : public harness_client {
 public:
  in_process_client(client::runtime& rt, client_setup setup, trace_store& trace)
      : setup_(std::move(setup)), trace_(trace), client_(rt) {}

  bool init() override {
    inited_ = true;
    const auto rc = client_.init(setup_.app_key, {.urls = setup_.urls,
                                                  .tls_verify = false,
                                                  .data_dir = setup_.data_dir,
                                                  .device_id = setup_.device,
                                                  .platform = setup_.platform,
                                                  .heartbeat_s = setup_.heartbeat_s,
                                                  .schedule_ms = setup_.schedule_ms,
                                                  .reconnect_kick = setup_.reconnect_kick});
    const std::string name = setup_.name;
    client_.set_connection_status_listener([this, name](rc::status st, rc::code cause) {
      trace_.add({.source = name,
                  .kind = "status",
                  .status = static_cast<int>(st),
                  .code = static_cast<int>(cause)});
    });
    client_.set_trace([this, name](std::int64_t t, const std::string& line) {
      if (line.starts_with("open_transport #")) {
        trace_.add({.source = name, .kind = "attempt", .detail = line.substr(15), .client_ms = t});
      }
    });
    return rc == rc::code::ok;
  }

  void connect(const std::string& token, int time_limit_s, bool init_first) override {
    if (init_first && !inited_) init();
    const std::string name = setup_.name;
    client_.connect(
        token, time_limit_s,
        [this, name](rc::code c) {
          trace_.add({.source = name, .kind = "db_opened", .code = static_cast<int>(c)});
        },
        [this, name](const std::string& user) {
          trace_.add({.source = name, .kind = "success", .user = user});
        },
        [this, name](rc::code c) {
          trace_.add({.source = name, .kind = "error", .code = static_cast<int>(c)});
        });
  }
  void disconnect() override { client_.disconnect(); }
  void logout() override { client_.logout(); }
  void network(bool up) override { client_.set_network_available(up); }
  void foreground() override { client_.app_foreground(); }
  void reconnect_kick(bool on) override { client_.set_reconnect_kick_enable(on); }

 private:
  client_setup setup_;
  trace_store& trace_;
  client::client client_;
  bool inited_ = false;
};

// Another SDK implementation: a program speaking JSON lines on stdin/stdout
// (docs/scenarios.md, "Other clients"). One process per scenario client.
class external_client final : public harness_client {
 public:
  external_client(std::string command, client_setup setup, trace_store& trace)
      : command_(std::move(command)), setup_(std::move(setup)), trace_(trace) {}

  ~external_client() override {
    if (pid_ > 0) {
      send({{"cmd", "quit"}});
      ::close(in_);
      // Bounded: give it a moment to exit, then kill it.
      for (int i = 0; i < 100; ++i) {
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
      }
    }
    stop_ = true;
    if (reader_.joinable()) reader_.join();
    if (out_ >= 0) ::close(out_);
  }

  bool init() override {
    if (pid_ <= 0 && !start()) return false;
    json::array urls;
    for (const auto& u : setup_.urls) urls.emplace_back(u);
    json::array schedule;
    for (auto ms : setup_.schedule_ms) schedule.emplace_back(ms);
    send({{"cmd", "init"},
          {"app_key", setup_.app_key},
          {"urls", urls},
          {"device", setup_.device},
          {"platform", setup_.platform},
          {"heartbeat_s", setup_.heartbeat_s},
          {"reconnect_kick", setup_.reconnect_kick},
          {"schedule_ms", schedule},
          {"data_dir", setup_.data_dir.string()},
          {"tls_verify", false},
          {"speed", setup_.speed}});
    inited_ = true;
    return true;
  }
  void connect(const std::string& token, int time_limit_s, bool init_first) override {
    if (pid_ <= 0 && !start()) return;
    if (init_first && !inited_) init();
    send({{"cmd", "connect"}, {"token", token}, {"time_limit_s", time_limit_s}});
  }
  void disconnect() override { send({{"cmd", "disconnect"}}); }
  void logout() override { send({{"cmd", "logout"}}); }
  void network(bool up) override { send({{"cmd", "network"}, {"available", up}}); }
  void foreground() override { send({{"cmd", "foreground"}}); }
  void reconnect_kick(bool on) override { send({{"cmd", "reconnect_kick"}, {"on", on}}); }

 private:
  bool start() {
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
    posix_spawn_file_actions_addclose(&fa, to_child[1]);
    posix_spawn_file_actions_addclose(&fa, from_child[0]);
    // The client must not inherit the in-process server's sockets (a listening socket
    // held open by a child keeps "stop accepting" from refusing connections).
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    std::string sh = "/bin/sh", dash_c = "-c";
    char* argv[] = {sh.data(), dash_c.data(), command_.data(), nullptr};
    const int rc = posix_spawn(&pid_, "/bin/sh", &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(to_child[0]);
    ::close(from_child[1]);
    in_ = to_child[1];
    out_ = from_child[0];
    if (rc != 0) {
      pid_ = -1;
      trace_.add({.source = setup_.name, .kind = "trace", .detail = "cannot start: " + command_});
      return false;
    }
    signal(SIGPIPE, SIG_IGN);
    reader_ = std::thread([this] { read_loop(); });
    // Wait (bounded, wall clock) for the program's "ready" line, so its start-up time
    // does not eat into the scenario's first time windows.
    std::unique_lock lock(ready_mutex_);
    if (!ready_cv_.wait_for(lock, std::chrono::seconds(20), [this] { return ready_; })) {
      trace_.add({.source = setup_.name, .kind = "trace",
                  .detail = "no \"ready\" line within 20 s from: " + command_});
    }
    return true;
  }

 public:
  /// Starts the program now (before the steps run); false if it cannot start.
  bool launch() { return pid_ > 0 || start(); }

 private:

  void send(const json::object& o) {
    if (in_ < 0) return;
    const std::string line = json::serialize(o) + "\n";
    // A client that stopped reading must not hang the harness: writes are small and
    // the pipe holds 64 KiB; a failed write is reported in the trace.
    if (::write(in_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      trace_.add({.source = setup_.name, .kind = "trace", .detail = "write to client failed"});
    }
  }

  void read_loop() {
    std::string buffer;
    char chunk[4096];
    while (!stop_) {
      pollfd p{.fd = out_, .events = POLLIN, .revents = 0};
      if (poll(&p, 1, 100) <= 0) continue;
      const auto n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = buffer.find('\n')) != std::string::npos) {
        on_line(buffer.substr(0, nl));
        buffer.erase(0, nl + 1);
      }
    }
  }

  void on_line(const std::string& line) {
    boost::system::error_code ec;
    const auto v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      trace_.add({.source = setup_.name, .kind = "trace", .detail = "unparsable line: " + line});
      return;
    }
    const auto& o = v.as_object();
    const auto get_int = [&](const char* k) {
      const auto* x = o.if_contains(k);
      return x != nullptr && x->is_number() ? x->to_number<int>() : 0;
    };
    const auto* ev = o.if_contains("event");
    if (ev == nullptr || !ev->is_string()) return;
    const std::string event(ev->as_string());
    trace_entry e{.source = setup_.name, .kind = event};
    if (event == "status") {
      e.status = get_int("status");
      e.code = get_int("code");
    } else if (event == "error" || event == "db_opened") {
      e.code = get_int("code");
    } else if (event == "success") {
      if (const auto* u = o.if_contains("user"); u != nullptr && u->is_string()) {
        e.user = std::string(u->as_string());
      }
    } else if (event == "attempt") {
      e.detail = std::to_string(get_int("n"));
      if (const auto* t = o.if_contains("t_ms"); t != nullptr && t->is_number()) {
        e.client_ms = t->to_number<std::int64_t>();
      }
    } else {
      if (event == "ready") {
        std::lock_guard lock(ready_mutex_);
        ready_ = true;
        ready_cv_.notify_all();
      }
      return;  // ready, init and other chatter are not part of the trace
    }
    trace_.add(std::move(e));
  }

  std::string command_;
  client_setup setup_;
  trace_store& trace_;
  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  std::thread reader_;
  std::atomic<bool> stop_{false};
  bool inited_ = false;
  std::mutex ready_mutex_;
  std::condition_variable ready_cv_;
  bool ready_ = false;
};

// --- matching ----------------------------------------------------------------------

bool matches(const client_event_match& m, const trace_entry& e) {
  if (e.kind != m.event) return false;
  if (m.status && e.status != *m.status) return false;
  if (m.code && e.code != *m.code) return false;
  if (m.user && !m.user->empty() && e.user != *m.user) return false;
  return true;
}

bool matches(const server_event_match& m, const trace_entry& e) {
  if (e.kind != m.kind) return false;
  if (m.code && e.code != *m.code) return false;
  if (m.user && e.user != *m.user) return false;
  if (m.device && e.device != *m.device) return false;
  if (m.detail_contains && e.detail.find(*m.detail_contains) == std::string::npos) return false;
  return true;
}

std::string describe(const client_event_match& m) {
  std::string out = m.event;
  if (m.status) out += " " + std::to_string(*m.status) + " " + status_name(*m.status);
  if (m.code) out += (m.event == "status" ? " cause " : " ") + std::to_string(*m.code);
  if (m.user && !m.user->empty()) out += " " + *m.user;
  return out;
}

std::string describe(const server_event_match& m) {
  std::string out = "server " + m.kind;
  if (m.code) out += " code=" + std::to_string(*m.code);
  if (m.user) out += " user=" + *m.user;
  if (m.device) out += " device=" + *m.device;
  if (m.detail_contains) out += " detail~'" + *m.detail_contains + "'";
  return out;
}

std::string format_ms(std::int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

// --- the run -------------------------------------------------------------------------

class run {
 public:
  run(const scenario& s, const run_options& o)
      : s_(s),
        options_(o),
        speed_(o.force_speed ? o.speed : s.speed.value_or(o.speed)),
        trace_(clock_type::now(), speed_) {}

  scenario_result go() {
    scenario_result r;
    r.name = s_.name;
    r.file = s_.file;
    r.speed = speed_;
    const auto wall_start = clock_type::now();
    std::string failure;
    std::size_t failed_at_trace = 0;
    try {
      start_server();
      for (std::size_t i = 0; i < s_.steps.size() && failure.empty(); ++i) {
        const auto& st = s_.steps[i];
        trace_.add({.source = "step", .kind = "step", .detail = st.text});
        failure = std::visit([&](const auto& body) { return do_step(body); }, st.body);
        if (!failure.empty()) {
          r.failed_step = st.where.to_string() + ": " + st.text;
          failed_at_trace = trace_.size();
        }
      }
    } catch (const std::exception& e) {
      failure = std::string("the run broke: ") + e.what();
    }
    stop();
    r.passed = failure.empty();
    r.failure = failure;
    r.failed_index = failed_at_trace;
    r.trace = trace_.snapshot();
    r.wall_seconds = std::chrono::duration<double>(clock_type::now() - wall_start).count();
    return r;
  }

 private:
  // --- set-up ---
  void start_server() {
    auto config = s_.server;
    bool tls = false;
    for (const auto& [name, c] : s_.clients) {
      tls = tls || c.transport == transport_kind::tls || c.transport == transport_kind::wss;
    }
    config.listen = {.mqtt = "127.0.0.1:0", .http = "127.0.0.1:0"};
    if (options_.listen) {
      config.listen = *options_.listen;
      tls = tls || config.listen.tls_self_signed || config.listen.tls_cert.has_value();
    }
    if (tls && !options_.listen) {
      config.listen.mqtts = "127.0.0.1:0";
      config.listen.https = "127.0.0.1:0";
      config.listen.tls_self_signed = true;
    }
    server_ = std::make_unique<server::server>(
        server::server_options{.config = config, .speed = speed_, .fault_seed = s_.seed});
    bound_ = server_->start();
    server_thread_ = std::thread([this] { server_->run(); });
    server_->call([this](server::hub& h) {
      h.events().set_listener([this](const server::event& e) {
        if (e.kind == "accept" || e.kind == "api" || e.kind == "start") return;  // noise
        trace_.add({.source = "server",
                    .kind = e.kind,
                    .code = e.code,
                    .user = e.user,
                    .device = e.device,
                    .detail = e.detail});
      });
    });
    if (options_.server_only) {
      introduce();
    } else if (!options_.client_cmd) {
      runtime_ = std::make_unique<client::runtime>(client::runtime_options{.speed = speed_});
    }
    if (options_.data_dir.empty()) {
      data_dir_ = std::filesystem::temp_directory_path() /
                  ("imock-harness-" + std::to_string(getpid()) + "-" + s_.name);
      remove_data_dir_ = true;
    } else {
      data_dir_ = options_.data_dir / s_.name;
    }
    if (options_.client_cmd && !options_.server_only) {
      for (const auto& [name, spec] : s_.clients) {
        auto& c = client_for(name);
        if (!static_cast<external_client&>(c).launch()) {
          throw std::runtime_error("cannot start the client program: " + *options_.client_cmd);
        }
      }
    }
  }

  void stop() {
    clients_.clear();
    runtime_.reset();
    if (server_) {
      server_->stop(500);
      server_thread_.join();
      server_.reset();
    }
    if (remove_data_dir_) {
      std::error_code ignored;
      std::filesystem::remove_all(data_dir_, ignored);
    }
  }

  harness_client& client_for(const std::string& name) {
    auto it = clients_.find(name);
    if (it != clients_.end()) return *it->second;
    const auto& spec = s_.clients.at(name);
    client_setup setup{.name = name,
                       .app_key = spec.app,
                       .device = spec.device,
                       .platform = spec.platform,
                       .heartbeat_s = static_cast<std::uint16_t>(spec.heartbeat_ms / 1000),
                       .reconnect_kick = spec.reconnect_kick,
                       .schedule_ms = spec.schedule_ms.value_or(std::vector<std::int64_t>{}),
                       .data_dir = spec.database ? data_dir_ : std::filesystem::path(),
                       .speed = speed_};
    switch (spec.transport) {
      case transport_kind::tcp:
        setup.urls = {"mqtt://" + bound_.mqtt};
        break;
      case transport_kind::tls:
        setup.urls = {"mqtts://" + bound_.mqtts.value_or("")};
        break;
      case transport_kind::ws:
        setup.urls = {"ws://" + bound_.http + "/mqtt"};
        break;
      case transport_kind::wss:
        setup.urls = {"wss://" + bound_.https.value_or("") + "/mqtt"};
        break;
    }
    std::unique_ptr<harness_client> c;
    if (options_.client_cmd) {
      c = std::make_unique<external_client>(*options_.client_cmd, setup, trace_);
    } else {
      c = std::make_unique<in_process_client>(*runtime_, setup, trace_);
    }
    return *clients_.emplace(name, std::move(c)).first->second;
  }

  const server::app_config* app_of(const std::string& key) const { return s_.server.find_app(key); }

  std::string make_token(const client_spec& spec, const client_action& a) {
    const auto* app = app_of(spec.app);
    const std::string secret = app != nullptr ? app->secret : "unknown-app-secret";
    const std::int64_t lifetime = app != nullptr ? app->token_lifetime_ms : 0;
    const auto now = server_->now_ms();
    switch (a.token) {
      case token_kind::fresh:
        return token::issue(spec.app, spec.user, secret, now, lifetime).value_or("");
      case token_kind::api: {
        const auto r = api_call(spec.app, "/user/getToken.json", "userId=" + spec.user);
        boost::system::error_code ec;
        const auto v = json::parse(r.body, ec);
        if (!ec && v.is_object()) {
          if (const auto* t = v.as_object().if_contains("token"); t != nullptr && t->is_string()) {
            return std::string(t->as_string());
          }
        }
        return "";
      }
      case token_kind::expired:
        return token::issue(spec.app, spec.user, secret, now - 3'600'000, 1000).value_or("");
      case token_kind::tampered: {
        auto t = token::issue(spec.app, spec.user, secret, now, lifetime).value_or("");
        if (!t.empty()) t[t.size() - 2] = t[t.size() - 2] == 'A' ? 'B' : 'A';
        return t;
      }
      case token_kind::other_app:
        return token::issue("imock-other-app", spec.user, "other-secret", now).value_or("");
      case token_kind::unreadable:
        return "this-is-not-a-token";
      case token_kind::empty:
        return "";
      case token_kind::literal:
        return a.token_text;
      case token_kind::previous: {
        const auto it = last_token_.find(spec.name);
        return it != last_token_.end() ? it->second : "";
      }
    }
    return "";
  }

  server::api_response api_call(const std::string& app_key, const std::string& path,
                                const std::string& form) {
    const auto* app = app_of(app_key);
    const std::string nonce = std::to_string(++nonce_);
    const std::string ts = std::to_string(server_->now_ms());
    server::api_request req{
        .method = "POST",
        .path = path,
        .content_type = "application/x-www-form-urlencoded",
        .headers = {{"app-key", app_key},
                    {"nonce", nonce},
                    {"timestamp", ts},
                    {"signature",
                     server::api_signature(app != nullptr ? app->secret : "", nonce, ts)}},
        .body = form};
    return server_->request(req);
  }

  void say(const std::string& line) {
    if (options_.say) {
      options_.say(line);
    } else {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    }
  }

  // Server-side mode: tell the person where to point their client, and with what.
  void introduce() {
    say("scenario " + s_.name + ": " + s_.description);
    say("  mqtt   mqtt://" + bound_.mqtt);
    say("  ws     ws://" + bound_.http + "/mqtt   (server API and admin API on http://" +
        bound_.http + ")");
    if (bound_.mqtts) say("  mqtts  mqtts://" + *bound_.mqtts);
    if (bound_.https) say("  wss    wss://" + *bound_.https + "/mqtt");
    for (const auto& [name, c] : s_.clients) {
      const auto* app = app_of(c.app);
      const auto token =
          token::issue(c.app, c.user, app != nullptr ? app->secret : "x", server_->now_ms(),
                       app != nullptr ? app->token_lifetime_ms : 0);
      say("  client '" + name + "': app key " + c.app + ", user " + c.user + ", device " +
          c.device + ", token " + token.value_or("(cannot issue)"));
    }
  }

  // The server's log entries that are this client's connect attempts.
  trace_store::pred attempt_of(const std::string& client) const {
    const auto user = s_.clients.at(client).user;
    return [user](const trace_entry& e) { return e.kind == "connect" && e.user == user; };
  }

  std::string server_side_client_step(const client_action& a) {
    const auto& spec = s_.clients.at(a.client);
    const auto wait = trace_.real_deadline(options_.client_wait_ms);
    const auto user = spec.user;
    switch (a.what) {
      case client_action::kind::connect: {
        say("now: connect your client '" + a.client + "' (user " + user + ")");
        const auto found = trace_.wait_for("server", cursor("server"), attempt_of(a.client), wait);
        if (!found)
          return "your client '" + a.client + "' did not connect within " +
                 format_ms(options_.client_wait_ms);
        return {};
      }
      case client_action::kind::disconnect:
      case client_action::kind::logout: {
        say("now: " +
            std::string(a.what == client_action::kind::logout ? "log out" : "disconnect") +
            " your client '" + a.client + "'");
        const auto found = trace_.wait_for(
            "server", cursor("server"),
            [user](const trace_entry& e) {
              return (e.kind == "disconnect" || e.kind == "closed") && e.user == user;
            },
            wait);
        if (!found)
          return "your client '" + a.client + "' did not disconnect within " +
                 format_ms(options_.client_wait_ms);
        return {};
      }
      case client_action::kind::network_down:
        say("now: take the network away from your client '" + a.client + "'");
        return {};
      case client_action::kind::network_up:
        say("now: give the network back to your client '" + a.client + "'");
        return {};
      case client_action::kind::foreground:
        say("now: bring your client '" + a.client + "' to the foreground");
        return {};
      case client_action::kind::init:
      case client_action::kind::set_reconnect_kick:
        return {};
    }
    return {};
  }

  // Server-side mode turns a client expectation about attempts into one about the
  // server's log; the rest cannot be seen from the server.
  bool skip_client_expectation(const std::string& client, const std::string& what) {
    if (!options_.server_only || client.empty()) return false;
    say("  (skipped, client-side: " + client + " " + what + ")");
    return true;
  }

  // --- steps ---
  std::string do_step(const client_action& a) {
    if (options_.server_only) return server_side_client_step(a);
    auto& c = client_for(a.client);
    const auto& spec = s_.clients.at(a.client);
    switch (a.what) {
      case client_action::kind::init:
        if (!c.init()) return "client " + a.client + " could not be initialised";
        break;
      case client_action::kind::connect: {
        const auto token = make_token(spec, a);
        last_token_[spec.name] = token;
        const auto limit_ms = a.time_limit_ms.value_or(spec.time_limit_ms);
        c.connect(token,
                  static_cast<int>(limit_ms <= 0 ? limit_ms / 1000 - (limit_ms < 0 ? 1 : 0)
                                                 : (limit_ms + 999) / 1000),
                  a.init_first);
        break;
      }
      case client_action::kind::disconnect:
        c.disconnect();
        break;
      case client_action::kind::logout:
        c.logout();
        break;
      case client_action::kind::network_down:
        c.network(false);
        break;
      case client_action::kind::network_up:
        c.network(true);
        break;
      case client_action::kind::foreground:
        c.foreground();
        break;
      case client_action::kind::set_reconnect_kick:
        c.reconnect_kick(a.on);
        break;
    }
    return {};
  }

  std::string do_step(const server_action& a) {
    server::api_request req{.method = "POST", .path = a.path, .body = a.json_body};
    const auto r = server_->request(req);
    if (r.http_status != 200) {
      return "admin call " + a.path + " " + a.json_body + " failed: HTTP " +
             std::to_string(r.http_status) + " " + r.body;
    }
    return {};
  }

  std::string do_step(const api_action& a) {
    std::string form = a.form;
    if (const auto pos = form.find("{now}"); pos != std::string::npos) {
      form.replace(pos, 5, std::to_string(server_->now_ms() + 1));
    }
    // Signed with the step's app (the client's, or the first app by default).
    const std::string app = !a.app.empty()           ? a.app
                            : s_.server.apps.empty() ? std::string()
                                                     : s_.server.apps.front().key;
    const auto r = api_call(app, a.path, form);
    const int want = a.expect_code.value_or(200);
    boost::system::error_code ec;
    const auto v = json::parse(r.body, ec);
    int got = -1;
    if (!ec && v.is_object()) {
      if (const auto* c = v.as_object().if_contains("code"); c != nullptr && c->is_number()) {
        got = c->to_number<int>();
      }
    }
    if (got != want) {
      return "server API " + a.path + " answered code " + std::to_string(got) + ", expected " +
             std::to_string(want) + ": " + r.body;
    }
    return {};
  }

  std::string do_step(const wait_action& a) {
    std::this_thread::sleep_until(trace_.real_deadline(a.ms));
    return {};
  }

  std::size_t& cursor(const std::string& source) { return cursors_[source]; }

  std::string seen_after(const std::string& source, std::size_t from) const {
    std::string out;
    int n = 0;
    const auto all = trace_.snapshot();
    for (std::size_t i = from; i < all.size(); ++i) {
      if (all[i].source != source) continue;
      if (++n > 12) {
        out += ", ...";
        break;
      }
      out += (out.empty() ? "" : ", ") + describe(all[i]) + " at " + format_ms(all[i].t_ms);
    }
    return out.empty() ? "nothing" : out;
  }

  std::string do_step(const expect_step& a) {
    if (options_.server_only && !a.client.empty()) {
      // Only attempts can be seen from the server.
      const bool attempts_only = std::all_of(a.client_events.begin(), a.client_events.end(),
                                             [](const auto& m) { return m.event == "attempt"; });
      if (!attempts_only) {
        skip_client_expectation(a.client, "events");
        return {};
      }
      auto& at = cursor("server");
      for (std::size_t k = 0; k < a.client_events.size(); ++k) {
        const auto found =
            trace_.wait_for("server", at, attempt_of(a.client), trace_.real_deadline(a.within_ms));
        if (!found)
          return "expected a connect attempt from " + a.client + " within " +
                 format_ms(a.within_ms);
        at = *found + 1;
        last_match_["server"] = *found;
      }
      return {};
    }
    const auto deadline = trace_.real_deadline(a.within_ms);
    const std::string source = a.client.empty() ? "server" : a.client;
    auto& at = cursor(source);
    const auto start = at;
    const std::size_t n = a.client.empty() ? a.server_events.size() : a.client_events.size();
    for (std::size_t k = 0; k < n; ++k) {
      trace_store::pred p;
      std::string want;
      if (a.client.empty()) {
        const auto m = a.server_events[k];
        p = [m](const trace_entry& e) { return matches(m, e); };
        want = describe(m);
      } else {
        const auto m = a.client_events[k];
        p = [m](const trace_entry& e) { return matches(m, e); };
        want = describe(m);
      }
      const auto found = trace_.wait_for(source, at, p, deadline);
      if (!found) {
        return "expected " + source + ": " + want +
               (n > 1 ? " (event " + std::to_string(k + 1) + " of " + std::to_string(n) + ")"
                      : "") +
               " within " + format_ms(a.within_ms) + "\nsaw instead (" + source +
               ", after the previous match): " + seen_after(source, start);
      }
      at = *found + 1;
      last_match_[source] = *found;
    }
    return {};
  }

  // The source and predicate of an absent/count step; in server-side mode a client's
  // attempts are read from the server's log (nullopt source: cannot be checked).
  std::optional<std::string> source_of(const std::string& client,
                                       const std::optional<client_event_match>& c) {
    if (client.empty()) return std::string("server");
    if (!options_.server_only) return client;
    if (c && c->event == "attempt") return std::string("server");
    return std::nullopt;
  }

  trace_store::pred pred_of(const std::string& client, const std::optional<client_event_match>& c,
                            const std::optional<server_event_match>& s) {
    if (options_.server_only && !client.empty() && c && c->event == "attempt") {
      return attempt_of(client);
    }
    if (c) {
      return [m = *c](const trace_entry& e) { return matches(m, e); };
    }
    return [m = *s](const trace_entry& e) { return matches(m, e); };
  }

  std::string do_step(const absent_step& a) {
    const auto maybe_source = source_of(a.client, a.client_event);
    if (!maybe_source) {
      skip_client_expectation(a.client, "absent " + describe(*a.client_event));
      return {};
    }
    const std::string& source = *maybe_source;
    const auto from = cursor(source);
    const auto found =
        trace_.wait_for(source, from, pred_of(a.client, a.client_event, a.server_event),
                        trace_.real_deadline(a.for_ms));
    if (found) {
      const auto all = trace_.snapshot();
      return "expected no " +
             (a.client_event ? describe(*a.client_event) : describe(*a.server_event)) + " from " +
             source + " for " + format_ms(a.for_ms) + ", but saw " + describe(all[*found]) +
             " at " + format_ms(all[*found].t_ms);
    }
    // The window is consumed: later expectations look after it.
    cursor(source) = trace_.size();
    return {};
  }

  std::string do_step(const count_step& a) {
    const auto maybe_source = source_of(a.client, a.client_event);
    if (!maybe_source) {
      skip_client_expectation(a.client, "count " + describe(*a.client_event));
      return {};
    }
    const std::string& source = *maybe_source;
    const auto from = cursor(source);
    const auto p = pred_of(a.client, a.client_event, a.server_event);
    // Stop early only when the answer cannot change any more: at_least reached
    // (and no upper bound), or an upper bound exceeded.
    const int n =
        trace_.count_until(source, from, p, trace_.real_deadline(a.within_ms), [&](int k) {
          if ((a.equals && k > *a.equals) || (a.at_most && k > *a.at_most)) return true;
          return a.at_least && !a.equals && !a.at_most && k >= *a.at_least;
        });
    const std::string what = a.client_event ? describe(*a.client_event) : describe(*a.server_event);
    auto fail = [&](const std::string& bound) {
      return "expected " + bound + " x " + what + " from " + source + " within " +
             format_ms(a.within_ms) + ", saw " + std::to_string(n) + ": " +
             seen_after(source, from);
    };
    if (a.equals && n != *a.equals) return fail("exactly " + std::to_string(*a.equals));
    if (a.at_least && n < *a.at_least) return fail("at least " + std::to_string(*a.at_least));
    if (a.at_most && n > *a.at_most) return fail("at most " + std::to_string(*a.at_most));
    cursor(source) = trace_.size();
    return {};
  }

  std::string do_step(const schedule_step& a) {
    const std::string source = options_.server_only ? "server" : a.client;
    const auto from = cursor(source);
    std::int64_t total = 0;
    for (auto ms : a.intervals_ms) total += ms;
    const auto within = a.within_ms > 0 ? a.within_ms : total + total / 10 + 5'000;
    const trace_store::pred is_attempt =
        options_.server_only ? attempt_of(a.client)
                             : [](const trace_entry& e) { return e.kind == "attempt"; };
    const bool from_matched = [&] {
      const auto it = last_match_.find(source);
      if (it == last_match_.end() || it->second + 1 != from) return false;
      return is_attempt(trace_.snapshot()[it->second]);
    }();
    const int need = static_cast<int>(a.intervals_ms.size()) + 1;
    const int n = (from_matched ? 1 : 0) +
                  trace_.count_until(source, from, is_attempt, trace_.real_deadline(within),
                                     [&](int k) { return k + (from_matched ? 1 : 0) >= need; });
    std::vector<trace_entry> attempts;
    const auto all = trace_.snapshot();
    // An attempt the previous expectation of this client matched is the first one.
    if (const auto it = last_match_.find(source);
        it != last_match_.end() && it->second + 1 == from && is_attempt(all[it->second])) {
      attempts.push_back(all[it->second]);
    }
    for (std::size_t i = from; i < all.size() && static_cast<int>(attempts.size()) < need; ++i) {
      if (all[i].source == source && is_attempt(all[i])) attempts.push_back(all[i]);
    }
    if (n < need) {
      return "expected " + std::to_string(need) + " connect attempts from " + source + " within " +
             format_ms(within) + ", saw " + std::to_string(attempts.size()) + ": " +
             seen_after(source, from);
    }
    std::string report;
    bool ok = true;
    for (std::size_t k = 0; k < a.intervals_ms.size(); ++k) {
      // Prefer the client's own clock (when it reports one): it does not include the
      // delivery delay of the callback thread.
      const bool client_clock = attempts[k].client_ms != 0 && attempts[k + 1].client_ms != 0;
      const auto gap = client_clock ? attempts[k + 1].client_ms - attempts[k].client_ms
                                    : attempts[k + 1].t_ms - attempts[k].t_ms;
      const auto want = a.intervals_ms[k];
      const bool good = std::llabs(gap - want) <= a.tolerance_ms;
      ok = ok && good;
      report += "\n  gap " + std::to_string(k + 1) + ": expected " + format_ms(want) + ", got " +
                format_ms(gap) +
                (good ? "" : "   <-- off by more than " + format_ms(a.tolerance_ms));
    }
    if (!ok) return "reconnect schedule of " + source + " is off:" + report;
    // Leave the cursor after the last attempt checked.
    for (std::size_t i = from, seen = from_matched ? 1 : 0; i < all.size(); ++i) {
      if (all[i].source == source && is_attempt(all[i]) && ++seen == attempts.size()) {
        cursor(source) = i + 1;
        break;
      }
    }
    return {};
  }

  std::string do_step(const status_step& a) {
    if (skip_client_expectation(a.client, "status " + std::to_string(a.status))) return {};
    // The latest status the client reported, waiting up to 1 s of scenario time
    // for one that matches.
    const auto deadline = trace_.real_deadline(1000);
    int last = -1;
    while (true) {
      last = -1;
      for (const auto& e : trace_.snapshot()) {
        if (e.source == a.client && e.kind == "status") last = e.status;
      }
      if (last == a.status || clock_type::now() >= deadline) break;
      trace_.wait_for(
          a.client, trace_.size(), [](const trace_entry&) { return true; }, deadline);
    }
    if (last != a.status) {
      return "expected " + a.client + "'s status to be " + std::to_string(a.status) + " " +
             status_name(a.status) + ", it is " + std::to_string(last) + " " + status_name(last);
    }
    return {};
  }

  const scenario& s_;
  run_options options_;
  double speed_;
  trace_store trace_;
  std::unique_ptr<server::server> server_;
  server::bound_addresses bound_;
  std::thread server_thread_;
  std::unique_ptr<client::runtime> runtime_;
  std::map<std::string, std::unique_ptr<harness_client>> clients_;
  std::map<std::string, std::size_t> cursors_;
  std::map<std::string, std::size_t> last_match_;  // trace index an expect last matched
  std::map<std::string, std::string> last_token_;
  std::filesystem::path data_dir_;
  bool remove_data_dir_ = false;
  std::uint64_t nonce_ = 0;
};

}  // namespace

scenario_result run_scenario(const scenario& s, const run_options& options) {
  run r(s, options);
  return r.go();
}

std::string render_trace(const std::vector<trace_entry>& trace, std::size_t from, std::size_t to) {
  std::string out;
  to = std::min(to, trace.size());
  for (std::size_t i = from; i < to; ++i) {
    const auto& e = trace[i];
    char head[64];
    std::snprintf(head, sizeof head, "  %9.3f  %-10s ", static_cast<double>(e.t_ms) / 1000.0,
                  e.source.c_str());
    out += head;
    out += e.kind == "step" ? "> " + e.detail : describe(e);
    out += "\n";
  }
  return out;
}

std::string render_failure(const scenario_result& r) {
  std::string out = "FAIL " + r.name + " (" + r.file + ")\n";
  if (!r.failed_step.empty()) out += "  step  " + r.failed_step + "\n";
  std::string failure = r.failure;
  for (std::size_t pos = 0; (pos = failure.find('\n', pos)) != std::string::npos; pos += 3) {
    failure.replace(pos, 1, "\n  ");
  }
  out += "  " + failure + "\n";
  const std::size_t end = std::min(r.trace.size(), r.failed_index + 2);
  const std::size_t begin = end > 40 ? end - 40 : 0;
  out += "  trace (scenario time, last " + std::to_string(end - begin) + " entries):\n";
  out += render_trace(r.trace, begin, end);
  return out;
}

std::string trace_jsonl(const std::vector<trace_entry>& trace) {
  std::string out;
  for (const auto& e : trace) {
    json::object o{{"t_ms", e.t_ms}, {"source", e.source}, {"kind", e.kind}};
    if (e.status >= 0) o["status"] = e.status;
    if (e.code != 0) o["code"] = e.code;
    if (!e.user.empty()) o["user"] = e.user;
    if (!e.device.empty()) o["device"] = e.device;
    if (!e.detail.empty()) o["detail"] = e.detail;
    if (e.client_ms != 0) o["client_ms"] = e.client_ms;
    out += json::serialize(o) + "\n";
  }
  return out;
}

}  // namespace imock::harness

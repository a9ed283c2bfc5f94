#include "harness/real_world.hpp"

#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "client/sdk.hpp"
#include "harness/client_program.hpp"
#include "server/hub.hpp"

namespace imock::harness {
namespace {

namespace json = boost::json;

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

// The reference SDK, in this process.
class in_process_client final : public harness_client {
 public:
  in_process_client(client::runtime& rt, client_setup setup, trace_log& trace)
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
    client_.set_attempt_listener([this, name](std::int64_t t, std::uint32_t n) {
      trace_.add(
          {.source = name, .kind = "attempt", .detail = "#" + std::to_string(n), .client_ms = t});
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
  void disconnect() override { returned("disconnect", client_.disconnect()); }
  void logout() override { returned("logout", client_.logout()); }
  void network(bool up) override { client_.set_network_available(up); }
  void foreground() override { client_.app_foreground(); }
  void reconnect_kick(bool on) override {
    returned("reconnect_kick", client_.set_reconnect_kick_enable(on));
  }

 private:
  void returned(const char* call, rc::code code) {
    trace_.add({.source = setup_.name,
                .kind = "returned",
                .code = static_cast<int>(code),
                .detail = call});
  }

  client_setup setup_;
  trace_log& trace_;
  client::client client_;
  bool inited_ = false;
};

// Another SDK implementation: a program speaking JSON lines on stdin/stdout
// (docs/scenarios.md, "Other clients"). One process per scenario client; its events
// are read on a thread of their own and enter the trace as they arrive.
class external_client final : public harness_client {
 public:
  external_client(std::string command, client_setup setup, trace_log& trace,
                  std::chrono::milliseconds ready_wait)
      : program_(std::move(command)),
        setup_(std::move(setup)),
        trace_(trace),
        ready_wait_(ready_wait) {}

  ~external_client() override {
    stop_ = true;
    if (reader_.joinable()) reader_.join();
  }

  /// Starts the program now (before the steps run); false if it cannot start.
  bool launch() { return program_.started() || start(); }

  bool init() override {
    if (!launch()) return false;
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
    if (!launch()) return;
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
    if (!program_.start()) {
      trace_.add({.source = setup_.name,
                  .kind = "trace",
                  .detail = "cannot start: " + program_.command()});
      return false;
    }
    reader_ = std::thread([this] { read_loop(); });
    // Wait (bounded, wall clock) for the program's "ready" line, so its start-up time
    // does not eat into the scenario's first time windows. A program that never says
    // it is costs this wait once per client, and the report says why.
    std::unique_lock lock(ready_mutex_);
    if (!ready_cv_.wait_for(lock, ready_wait_, [this] { return ready_; })) {
      warn_no_ready(program_.command(), ready_wait_, setup_.name, trace_);
    }
    return true;
  }

  void send(const json::object& o) {
    if (!program_.started()) return;
    if (!program_.send(o)) {
      trace_.add({.source = setup_.name, .kind = "trace", .detail = "write to client failed"});
    }
  }

  void read_loop() {
    while (!stop_ && !program_.closed()) {
      const auto line =
          program_.read_line(client_program::clock_type::now() + std::chrono::milliseconds(100));
      if (line) on_line(*line);
    }
  }

  void on_line(const std::string& line) {
    const auto o = parse_program_line(line);
    if (!o) {
      trace_.add({.source = setup_.name, .kind = "trace", .detail = "unparsable line: " + line});
      return;
    }
    if (auto e = trace_entry_of(setup_.name, *o)) {
      trace_.add(std::move(*e));
    } else if (event_name(*o) == "ready") {
      std::lock_guard lock(ready_mutex_);
      ready_ = true;
      ready_cv_.notify_all();
    }
    // init, idle and other chatter are not part of the trace
  }

  client_program program_;
  client_setup setup_;
  trace_log& trace_;
  std::chrono::milliseconds ready_wait_;
  std::thread reader_;
  std::atomic<bool> stop_{false};
  bool inited_ = false;
  std::mutex ready_mutex_;
  std::condition_variable ready_cv_;
  bool ready_ = false;
};

}  // namespace

real_world::real_world(const scenario& s, real_world_options options)
    : s_(s), options_(std::move(options)) {}

real_world::~real_world() { stop(); }

std::int64_t real_world::now_ms() {
  return static_cast<std::int64_t>(
      std::chrono::duration<double, std::milli>(clock_type::now() - start_).count() *
      options_.speed);
}

std::int64_t real_world::server_now_ms() { return server_->now_ms(); }

bool real_world::wait(std::int64_t until_ms, const std::function<bool()>& done) {
  const auto deadline = start_ + std::chrono::microseconds(static_cast<std::int64_t>(
                                     static_cast<double>(until_ms) * 1000.0 / options_.speed));
  while (true) {
    const auto seen = trace().size();
    if (done && done()) return true;
    if (clock_type::now() >= deadline) return false;
    trace().wait_growth(seen, deadline);
  }
}

server::api_response real_world::request(const server::api_request& r) {
  return server_->request(r);
}

std::string real_world::timing_note() const {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "real sockets at %gx: timing checks take %s of slack (%.0f ms of wall time)",
                options_.speed, format_ms(options_.slack_ms).c_str(),
                static_cast<double>(options_.slack_ms) / options_.speed);
  return buf;
}

std::vector<std::string> real_world::addresses() const {
  std::vector<std::string> out{"  mqtt   mqtt://" + bound_.mqtt,
                               "  ws     ws://" + bound_.http +
                                   "/mqtt   (server API and admin API on http://" + bound_.http +
                                   ")"};
  if (bound_.mqtts) out.push_back("  mqtts  mqtts://" + *bound_.mqtts);
  if (bound_.https) out.push_back("  wss    wss://" + *bound_.https + "/mqtt");
  return out;
}

void real_world::start() {
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
      server::server_options{.config = config, .speed = options_.speed, .fault_seed = s_.seed});
  bound_ = server_->start();
  server_thread_ = std::thread([this] { server_->run(); });
  server_->call([this](server::hub& h) {
    h.events().set_listener([this](const server::event& e) {
      if (e.kind == "accept" || e.kind == "api" || e.kind == "start") return;  // noise
      trace().add({.source = "server",
                   .kind = e.kind,
                   .code = e.code,
                   .user = e.user,
                   .device = e.device,
                   .detail = e.detail});
    });
  });
  if (!options_.server_only && !options_.client_cmd) {
    runtime_ = std::make_unique<client::runtime>(client::runtime_options{.speed = options_.speed});
  }
  if (options_.data_dir.empty()) {
    // Memory-backed when the machine has /dev/shm: creating a client's SQLite database
    // syncs it to disk, and on a busy disk one sync can stall a client for longer than
    // a scenario's first window (20x speed: 100 ms of wall time is 2 s).
    std::error_code ec;
    const bool shm = std::filesystem::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0;
    data_dir_ = (shm ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path()) /
                ("imock-harness-" + std::to_string(getpid()) + "-" + s_.name);
    remove_data_dir_ = true;
  } else {
    data_dir_ = options_.data_dir / s_.name;
  }
  if (options_.client_cmd && !options_.server_only) {
    // Started before the steps, so their start-up does not count against the first step.
    for (const auto& [name, spec] : s_.clients) {
      auto& c = client(spec);
      if (!static_cast<external_client&>(c).launch()) {
        throw std::runtime_error("cannot start the client program: " + *options_.client_cmd);
      }
    }
  }
}

void real_world::stop() {
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
    remove_data_dir_ = false;
  }
}

harness_client& real_world::client(const client_spec& spec) {
  auto it = clients_.find(spec.name);
  if (it != clients_.end()) return *it->second;
  client_setup setup{.name = spec.name,
                     .app_key = spec.app,
                     .device = spec.device,
                     .platform = spec.platform,
                     .heartbeat_s = static_cast<std::uint16_t>(spec.heartbeat_ms / 1000),
                     .reconnect_kick = spec.reconnect_kick,
                     .schedule_ms = spec.schedule_ms.value_or(std::vector<std::int64_t>{}),
                     .data_dir = spec.database ? data_dir_ : std::filesystem::path(),
                     .speed = options_.speed};
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
    c = std::make_unique<external_client>(*options_.client_cmd, setup, trace(),
                                          options_.ready_wait);
  } else {
    c = std::make_unique<in_process_client>(*runtime_, setup, trace());
  }
  return *clients_.emplace(spec.name, std::move(c)).first->second;
}

}  // namespace imock::harness

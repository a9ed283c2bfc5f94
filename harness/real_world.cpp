#include "imock/harness/real_world.hpp"

#include <arpa/inet.h>
#include <fstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>

#include "imock/client/sdk.hpp"
#include "imock/harness/client_program.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/hub.hpp"

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
  std::vector<std::string> navigation;  // http://... navigation hosts; empty: urls
  std::vector<transport> navigation_transports;
};

json::array transport_names(const std::vector<transport>& v) {
  json::array a;
  for (const auto t : v) a.emplace_back(to_string(t));
  return a;
}

json::array json_strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

// The reference SDK, in this process.
class in_process_client final : public harness_client {
 public:
  in_process_client(client::runtime& rt, client_setup setup, trace_log& trace)
      : rt_(rt), setup_(std::move(setup)), trace_(trace), client_(std::make_unique<client::client>(rt)) {}

  std::string init() override {
    inited_ = true;
    const auto rc = client_->init(setup_.app_key, {.urls = setup_.urls,
                                                  .tls_verify = false,
                                                  .data_dir = setup_.data_dir,
                                                  .device_id = setup_.device,
                                                  .platform = setup_.platform,
                                                  .heartbeat_s = setup_.heartbeat_s,
                                                  .schedule_ms = setup_.schedule_ms,
                                                  .reconnect_kick = setup_.reconnect_kick,
                                                  .navigation = setup_.navigation,
                                                  .navigation_transports =
                                                      setup_.navigation_transports});
    const std::string name = setup_.name;
    listen_to_messages();
    client_->set_connection_status_listener([this, name](rc::status st, rc::code cause) {
      trace_.add({.source = name,
                  .kind = "status",
                  .status = static_cast<int>(st),
                  .code = static_cast<int>(cause)});
    });
    client_->set_attempt_listener([this, name](std::int64_t t, std::uint32_t n) {
      trace_.add(
          {.source = name, .kind = "attempt", .detail = "#" + std::to_string(n), .client_ms = t});
    });
    return rc == rc::code::ok ? "" : "init returned " + std::to_string(static_cast<int>(rc));
  }

  std::string connect(const std::string& token, int time_limit_s, bool init_first) override {
    if (init_first && !inited_) init();
    const std::string name = setup_.name;
    client_->connect(
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
    return {};
  }
  std::string disconnect() override { return returned("disconnect", client_->disconnect()); }
  std::string logout() override { return returned("logout", client_->logout()); }
  std::string network(bool up) override {
    client_->set_network_available(up);
    return {};
  }
  std::string foreground() override {
    client_->app_foreground();
    return {};
  }
  std::string reconnect_kick(bool on) override {
    return returned("reconnect_kick", client_->set_reconnect_kick_enable(on));
  }

  std::string send_message(const std::string& to, const std::string& object_name,
                           const std::string& content) override {
    const auto text = message_text(content);
    const auto rc = client_->send_message(
        to, object_name, content, "",
        [this, text](const client::message& m) { remember(m.id, text); },
        [this](std::int64_t id) { send_outcome(id, 0); },
        [this](int code, std::int64_t id) { send_outcome(id, code); });
    if (rc != rc::code::ok) send_outcome(0, static_cast<int>(rc));
    return {};
  }
  std::string resend(std::int64_t id) override {
    const auto rc = client_->resend_message(
        id, [this](std::int64_t m) { send_outcome(m, 0); },
        [this](int code, std::int64_t m) { send_outcome(m, code); });
    if (rc != rc::code::ok) send_outcome(id, static_cast<int>(rc));
    return {};
  }
  std::string relaunch() override {
    client_.reset();  // callbacks already queued for the old one do not run
    client_ = std::make_unique<client::client>(rt_);
    inited_ = false;
    return {};
  }
  std::string history(const std::string& peer) override {
    json::array texts;
    for (const auto& m : client_->history(peer)) texts.emplace_back(message_text(m.content));
    trace_.add({.source = setup_.name, .kind = "history", .detail = peer, .text = json::serialize(texts)});
    return {};
  }

 private:
  void listen_to_messages() {
    const std::string name = setup_.name;
    client_->set_receive_listener(
        [this, name](const client::message& m, int left, bool offline, bool has_package) {
          trace_.add({.source = name,
                      .kind = "message",
                      .user = m.sender,
                      .detail = m.uid,
                      .text = message_text(m.content),
                      .left = left,
                      .offline = offline,
                      .has_package = has_package});
        });
    client_->set_offline_sync_listener(
        [this, name] { trace_.add({.source = name, .kind = "sync_completed"}); });
  }

  // Callbacks run on the runtime's callback thread, one at a time and in order.
  void remember(std::int64_t id, const std::string& text) {
    std::lock_guard lock(texts_mutex_);
    texts_[id] = text;
  }
  void send_outcome(std::int64_t id, int code) {
    std::string text;
    {
      std::lock_guard lock(texts_mutex_);
      text = texts_[id];
    }
    trace_.add({.source = setup_.name,
                .kind = code == 0 ? "sent" : "send_error",
                .code = code,
                .detail = "#" + std::to_string(id),
                .text = text});
  }

  std::string returned(const char* call, rc::code code) {
    trace_.add({.source = setup_.name,
                .kind = "returned",
                .code = static_cast<int>(code),
                .detail = call});
    return {};
  }

  client::runtime& rt_;
  client_setup setup_;
  trace_log& trace_;
  std::unique_ptr<client::client> client_;
  std::mutex texts_mutex_;
  std::map<std::int64_t, std::string> texts_;  // each send's text, by its message id
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

  std::string init() override {
    if (!launch()) return "cannot start: " + program_.command();
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
          {"speed", setup_.speed},
          {"navigation", json_strings(setup_.navigation)},
          {"navigation_transports", transport_names(setup_.navigation_transports)}});
    inited_ = true;
    return {};
  }
  std::string connect(const std::string& token, int time_limit_s, bool init_first) override {
    if (!launch()) return "cannot start: " + program_.command();
    if (init_first && !inited_) init();
    return send({{"cmd", "connect"}, {"token", token}, {"time_limit_s", time_limit_s}});
  }
  std::string disconnect() override { return send({{"cmd", "disconnect"}}); }
  std::string logout() override { return send({{"cmd", "logout"}}); }
  std::string network(bool up) override { return send({{"cmd", "network"}, {"available", up}}); }
  std::string foreground() override { return send({{"cmd", "foreground"}}); }
  std::string reconnect_kick(bool on) override {
    return send({{"cmd", "reconnect_kick"}, {"on", on}});
  }
  std::string send_message(const std::string& to, const std::string& object_name,
                           const std::string& content) override {
    return send({{"cmd", "send"}, {"to", to}, {"object_name", object_name}, {"content", content}});
  }
  std::string resend(std::int64_t id) override { return send({{"cmd", "resend"}, {"id", id}}); }
  std::string relaunch() override {
    inited_ = false;
    return send({{"cmd", "relaunch"}});
  }
  std::string history(const std::string& peer) override {
    return send({{"cmd", "history"}, {"peer", peer}});
  }

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
    if (!ready_cv_.wait_for(lock, ready_wait_, [this] { return ready_ || output_ended_; }) ||
        !ready_) {
      warn_no_ready(program_.command(), ready_wait_, setup_.name, trace_, output_ended_);
    }
    return true;
  }

  // A program that does not take a command is said in the trace; the expectations
  // that follow fail on what it then does not do.
  std::string send(const json::object& o) {
    if (!program_.started()) return {};
    if (!program_.send(o)) {
      trace_.add({.source = setup_.name, .kind = "trace", .detail = "write to client failed"});
    }
    return {};
  }

  void read_loop() {
    while (!stop_ && !program_.closed()) {
      const auto line =
          program_.read_line(client_program::clock_type::now() + std::chrono::milliseconds(100));
      if (line) on_line(*line);
    }
    // A program that ends (or closes its output) ends the wait for its ready line too.
    std::lock_guard lock(ready_mutex_);
    output_ended_ = true;
    ready_cv_.notify_all();
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
  bool output_ended_ = false;
};

}  // namespace

// An app run by hand (imock-harness serve): the person is told what to do, and the app
// is seen only through the server, as its connect attempts (real_world::start turns
// each CONNECT of its user into one).
class real_world::hand_client final : public harness_client {
 public:
  hand_client(real_world& w, const client_spec& spec, std::int64_t wait_ms)
      : w_(w), spec_(spec), wait_ms_(wait_ms) {}

  [[nodiscard]] bool shows(std::string_view event) const override { return event == "attempt"; }

  std::string init() override { return {}; }  // the app inits itself
  std::string connect(const std::string&, int, bool) override {
    w_.note("now: connect your client '" + spec_.name + "' (user " + spec_.user + ")");
    const std::string name = spec_.name;
    return wait_for(
        [name](const trace_entry& e) { return e.source == name && e.kind == "attempt"; },
        "connect");
  }
  std::string disconnect() override { return leave("disconnect"); }
  std::string logout() override { return leave("log out"); }
  std::string network(bool up) override {
    w_.note(std::string("now: ") +
            (up ? "give the network back to" : "take the network away from") + " your client '" +
            spec_.name + "'");
    return {};
  }
  std::string foreground() override {
    w_.note("now: bring your client '" + spec_.name + "' to the foreground");
    return {};
  }
  std::string reconnect_kick(bool on) override {
    w_.note("now: turn reconnect-kick " + std::string(on ? "on" : "off") + " in your client '" +
            spec_.name + "'");
    return {};
  }
  std::string send_message(const std::string& to, const std::string&,
                           const std::string& content) override {
    w_.note("now: send '" + shortened(message_text(content)) + "' from your client '" +
            spec_.name + "' to " + to);
    return {};
  }
  std::string resend(std::int64_t) override {
    w_.note("now: resend the message that failed in your client '" + spec_.name + "'");
    return {};
  }
  std::string relaunch() override {
    w_.note("now: quit your app '" + spec_.name + "' and start it again");
    return {};
  }
  std::string history(const std::string&) override { return {}; }  // shows() says no

 private:
  std::string leave(const std::string& verb) {
    w_.note("now: " + verb + " your client '" + spec_.name + "'");
    const std::string user = spec_.user;
    return wait_for(
        [user](const trace_entry& e) {
          return e.source == "server" && (e.kind == "disconnect" || e.kind == "closed") &&
                 e.user == user;
        },
        verb == "log out" ? "log out" : "disconnect");
  }

  // Waits (wait_ms of scenario time) for a trace entry after the last one this client
  // waited for; an app that acted before it was asked to still counts.
  std::string wait_for(const std::function<bool(const trace_entry&)>& p, const std::string& what) {
    const auto until = w_.now_ms() + wait_ms_;
    std::optional<std::size_t> found;
    w_.wait(until, [&] {
      const auto all = w_.trace().snapshot();
      for (std::size_t i = next_; i < all.size(); ++i) {
        if (p(all[i])) {
          found = i;
          return true;
        }
      }
      return false;
    });
    if (!found) {
      return "your client '" + spec_.name + "' did not " + what + " within " + format_ms(wait_ms_);
    }
    next_ = *found + 1;
    return {};
  }

  real_world& w_;
  client_spec spec_;
  std::int64_t wait_ms_;
  std::size_t next_ = 0;
};

real_world::real_world(const scenario& s, real_world_options options)
    : s_(s), options_(std::move(options)) {}

real_world::~real_world() {
  stop();
  if (dead_fd_ >= 0) ::close(dead_fd_);
}

std::string real_world::dead_address() {
  if (!dead_address_.empty()) return dead_address_;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  dead_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (dead_fd_ < 0 || ::bind(dead_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(dead_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    // Port 1 as a last resort: nothing listens there on these machines.
    dead_address_ = "127.0.0.1:1";
    return dead_address_;
  }
  dead_address_ = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  return dead_address_;
}

std::int64_t real_world::now_ms() {
  return static_cast<std::int64_t>(
      std::chrono::duration<double, std::milli>(clock_type::now() - start_).count() *
      options_.speed);
}

std::int64_t real_world::server_now_ms() { return server_->get().now_ms(); }

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
  return server_->get().request(r);
}

std::string real_world::timing_note() const {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "real sockets at %gx: timing checks take %s of slack (%.0f ms of wall time)",
                options_.speed, format_ms(options_.slack_ms).c_str(),
                static_cast<double>(options_.slack_ms) / options_.speed);
  return buf;
}

void real_world::note(const std::string& line) {
  if (options_.by_hand && options_.by_hand->say) {
    options_.by_hand->say(line);
  } else {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
}

void real_world::introduce() {
  note("scenario " + s_.name + ": " + s_.description);
  note("  mqtt   mqtt://" + bound_.mqtt);
  note("  ws     ws://" + bound_.http + "/mqtt   (server API and admin API on http://" +
       bound_.http + ")");
  if (bound_.mqtts) note("  mqtts  mqtts://" + *bound_.mqtts);
  if (bound_.https) note("  wss    wss://" + *bound_.https + "/mqtt");
  note("  navigation http://" + bound_.http + "/navi.json   (docs/protocol.md §8)");
  note("  console http://" + bound_.http + "/console   (watch and break it by hand, docs/console.md)");
  for (const auto& [name, c] : s_.clients) {
    const auto* app = s_.server.find_app(c.app);
    const auto token = token::issue(c.app, c.user, app != nullptr ? app->secret : "x",
                                    server_now_ms(), app != nullptr ? app->token_lifetime_ms : 0);
    note("  client '" + name + "': app key " + c.app + ", user " + c.user + ", device " + c.device +
         ", token " + token.value_or("(cannot issue)"));
  }
}

const client_spec* real_world::hand_client_of(const std::string& user,
                                              const std::string& device) const {
  const client_spec* by_user = nullptr;
  for (const auto& [name, c] : s_.clients) {
    if (c.user != user) continue;
    if (c.device == device) return &c;
    if (by_user == nullptr) by_user = &c;
  }
  return by_user;
}

void real_world::start() {
  auto config = s_.server;
  bool tls = false;
  for (const auto& [name, c] : s_.clients) {
    tls = tls || c.transport == transport::tls || c.transport == transport::wss;
  }
  if (options_.listen) {
    config.listen = *options_.listen;  // imock-harness serve --listen: as given
  } else {
    config = server::on_ephemeral_ports(std::move(config), tls);
  }
  server_ = std::make_unique<server::local_server>(server::server_options{
      .config = config,
      .speed = options_.speed,
      .fault_seed = s_.seed,
      .ready_file = options_.ready_file.empty() ? std::nullopt : std::optional(options_.ready_file),
      .echo_events = options_.echo_events});
  bound_ = server_->bound();
  server_->get().call([this](server::hub& h) {
    h.events().add_listener([this](const server::event& e) {
      if (auto entry = trace_entry_of(e)) trace().add(std::move(*entry));
      // An app run by hand shows its connect attempts only to the server: each CONNECT
      // the server takes is an attempt of the client it comes from. (One refused at
      // the TCP level, while the server does not accept, is not seen.)
      if (options_.by_hand && e.kind == server::event_kind::connect) {
        if (const auto* c = hand_client_of(e.user, e.device)) {
          trace().add({.source = c->name,
                       .kind = "attempt",
                       .detail = "#" + std::to_string(++hand_attempts_[c->name])});
        }
      }
    });
  });
  if (!options_.record_file.empty()) {
    server_->get().request({.method = "POST", .path = "/admin/record/start", .body = "{}"});
  }
  if (options_.by_hand) introduce();
  if (!options_.by_hand && !options_.client_cmd) {
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
  if (options_.client_cmd && !options_.by_hand) {
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
  if (server_ && !options_.record_file.empty()) {
    // Before the clients go: their leaving is not part of what was recorded.
    auto& srv = server_->get();
    srv.request({.method = "POST", .path = "/admin/record/stop"});
    const auto rec = srv.request({.method = "GET", .path = "/admin/record/last"});
    std::ofstream(options_.record_file, std::ios::trunc) << rec.body << "\n";
    options_.record_file.clear();
  }
  clients_.clear();
  runtime_.reset();
  if (server_) {
    server_->stop(500);
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
    case transport::tcp:
      setup.urls = {"mqtt://" + bound_.mqtt};
      break;
    case transport::tls:
      setup.urls = {"mqtts://" + bound_.mqtts.value_or("")};
      break;
    case transport::ws:
      setup.urls = {"ws://" + bound_.http + "/mqtt"};
      break;
    case transport::wss:
      setup.urls = {"wss://" + bound_.https.value_or("") + "/mqtt"};
      break;
  }
  for (const auto host : spec.navigation) {
    setup.navigation.push_back("http://" +
                               (host == navigation_host::server ? bound_.http : dead_address()));
  }
  if (!spec.navigation.empty()) setup.navigation_transports = {spec.transport};
  std::unique_ptr<harness_client> c;
  if (options_.by_hand) {
    c = std::make_unique<hand_client>(*this, spec, options_.by_hand->wait_ms);
  } else if (options_.client_cmd) {
    c = std::make_unique<external_client>(*options_.client_cmd, setup, trace(),
                                          options_.ready_wait);
  } else {
    c = std::make_unique<in_process_client>(*runtime_, setup, trace());
  }
  return *clients_.emplace(spec.name, std::move(c)).first->second;
}

}  // namespace imock::harness

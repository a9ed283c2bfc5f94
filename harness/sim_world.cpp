#include "imock/harness/sim_world.hpp"


#include <boost/json.hpp>
#include <type_traits>
#include <unordered_map>

#include "imock/base/json_fields.hpp"
#include "imock/harness/client_program.hpp"
#include "imock/protocol/hex.hpp"
#include "imock/sim/addresses.hpp"
#include "imock/client/inbox.hpp"

namespace imock::harness {
namespace {

namespace json = boost::json;

// What a client program is told to connect to in virtual time: a name only, since
// its links are the simulation's; the scheme says which transport it stands for.
std::string url_of(transport t) {
  const std::string host(sim::k_server_host);
  switch (t) {
    case transport::tcp:
      return "mqtt://" + host + ":1883";
    case transport::tls:
      return "mqtts://" + host + ":8883";
    case transport::ws:
      return "ws://" + host + "/mqtt";
    case transport::wss:
      return "wss://" + host + "/mqtt";
  }
  return "mqtt://" + host + ":1883";
}

// The navigation hosts of a client, as names of the simulated network.
std::vector<std::string> navigation_urls(const client_spec& spec) {
  std::vector<std::string> urls;
  for (const auto host : spec.navigation) {
    urls.push_back("http://" + std::string(host == navigation_host::server ? sim::k_server_host
                                                                           : sim::k_dead_host));
  }
  return urls;
}

json::array navigation_json(const client_spec& spec) {
  json::array a;
  for (const auto& url : navigation_urls(spec)) a.emplace_back(url);
  return a;
}

// FNV-1a: a client's jitter seed from its name and the scenario's seed, so runs repeat.
std::uint64_t seed_of(std::string_view name, std::uint64_t scenario_seed) {
  std::uint64_t h = 14695981039346656037ULL ^ scenario_seed;
  for (const char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

// The reference machine of one scenario client, its events recorded in the trace.
class sim_world::sim_client final : public harness_client {
 public:
  sim_client(sim_world& w, const client_spec& spec) : w_(w), spec_(spec) { launch(); }

  std::string init() override {
    inited_ = true;
    auto o = std::make_shared<client::options>();
    o->app_key = spec_.app;
    o->device_id = spec_.device;
    o->platform = spec_.platform;
    o->heartbeat_s = static_cast<int>(spec_.heartbeat_ms / 1000);
    if (spec_.schedule_ms) o->schedule_ms = *spec_.schedule_ms;
    o->reconnect_kick = spec_.reconnect_kick;
    o->navigation = navigation_urls(spec_);
    if (!spec_.navigation.empty()) o->navigation_transports = {spec_.transport};
    o->messages = true;
    // A relaunched app draws other jitter than the first run did, as a real one would.
    const auto rc = host_->init(std::move(o), seed_of(spec_.name, w_.s_.seed) + (launches_ - 1));
    return rc == rc::code::ok ? "" : "init returned " + std::to_string(static_cast<int>(rc));
  }
  std::string connect(const std::string& token, int time_limit_s, bool init_first) override {
    if (init_first && !inited_) init();
    host_->connect(token, time_limit_s);
    return {};
  }
  std::string disconnect() override { return returned("disconnect", host_->disconnect()); }
  std::string logout() override { return returned("logout", host_->logout()); }
  std::string network(bool up) override {
    host_->network(up);
    return {};
  }
  std::string foreground() override {
    host_->foreground();
    return {};
  }
  std::string reconnect_kick(bool on) override {
    return returned("reconnect_kick", host_->set_reconnect_kick(on));
  }

  std::string send_message(const std::string& to, const std::string& object_name,
                           const std::string& content) override {
    const auto id = host_->send_message(to, object_name, content);
    contents_[id] = content;
    return {};
  }
  std::string resend(std::int64_t id) override {
    if (!host_->resend_message(id)) {
      w_.trace().add({.source = spec_.name,
                      .kind = "send_error",
                      .code = static_cast<int>(rc::code::invalid_parameter),
                      .detail = "#" + std::to_string(id)});
    }
    return {};
  }
  std::string relaunch() override {
    launch();
    return {};
  }
  std::string history(const std::string& peer) override {
    json::array texts;
    for (const auto& m : host_->history(peer)) texts.emplace_back(message_text(m.content));
    w_.trace().add(
        {.source = spec_.name, .kind = "history", .detail = peer, .text = json::serialize(texts)});
    return {};
  }

 private:
  // A new app: the machine and its host made again; the database (db_) is kept.
  void launch() {
    host_.reset();  // its link closes first
    host_ = std::make_unique<sim::client_host>(
        w_.clock_, *w_.server_, spec_.transport,
        sim::latency{.up_ms = spec_.latency_up_ms, .down_ms = spec_.latency_down_ms});
    host_->set_observer([this](const client::action& a, std::int64_t now) { observe(a, now); });
    host_->set_message_observer(
        [this](const client::message_action& a, std::int64_t) { observe_message(a); });
    if (spec_.database) host_->set_message_store(&db_);
    inited_ = false;
    ++launches_;
  }

  void observe_message(const client::message_action& a) {
    auto& trace = w_.trace();
    const std::string& name = spec_.name;
    if (const auto* r = std::get_if<client::message_received>(&a)) {
      const auto& m = r->message;
      trace.add({.source = name,
                 .kind = "message",
                 .user = m.from,
                 .detail = m.uid,
                 .text = message_text(m.content),
                 .left = static_cast<int>(m.left),
                 .offline = m.offline,
                 .has_package = m.has_package});
    } else if (const auto* ok = std::get_if<client::message_sent>(&a)) {
      trace.add({.source = name,
                 .kind = "sent",
                 .detail = "#" + std::to_string(ok->local_id),
                 .text = message_text(contents_[ok->local_id])});
    } else if (const auto* bad = std::get_if<client::send_failed>(&a)) {
      trace.add({.source = name,
                 .kind = "send_error",
                 .code = bad->code,
                 .detail = "#" + std::to_string(bad->local_id),
                 .text = message_text(contents_[bad->local_id])});
    } else if (std::holds_alternative<client::sync_completed>(a)) {
      trace.add({.source = name, .kind = "sync_completed"});
    }
  }

  std::string returned(const char* call, rc::code code) {
    w_.trace().add(
        {.source = spec_.name, .kind = "returned", .code = static_cast<int>(code), .detail = call});
    return {};
  }

  void observe(const client::action& a, std::int64_t now) {
    auto& trace = w_.trace();
    const std::string& name = spec_.name;
    if (const auto n = client::attempt_begun(a)) {
      trace.add({.source = name, .kind = "attempt", .detail = "#" + std::to_string(*n), .client_ms = now});
    }
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, client::status_changed>) {
            trace.add({.source = name,
                       .kind = "status",
                       .status = static_cast<int>(x.value),
                       .code = static_cast<int>(x.cause)});
          } else if constexpr (std::is_same_v<T, client::db_opened>) {
            trace.add({.source = name, .kind = "db_opened", .code = static_cast<int>(x.code)});
          } else if constexpr (std::is_same_v<T, client::success>) {
            trace.add({.source = name, .kind = "success", .user = x.user_id});
          } else if constexpr (std::is_same_v<T, client::error>) {
            trace.add({.source = name, .kind = "error", .code = static_cast<int>(x.code)});
          }
        },
        a);
  }

  sim_world& w_;
  client_spec spec_;
  client::memory_store db_;  // the app's database: it outlives a relaunch
  std::map<std::int64_t, std::string> contents_;  // what each send carried, by its id
  std::unique_ptr<sim::client_host> host_;
  std::uint64_t launches_ = 0;
  bool inited_ = false;
};

// Another SDK in virtual time: a client program (docs/scenarios.md, "Virtual time")
// whose clock is the simulation's and whose links are links of the simulated
// network. Every command carries the virtual time and is answered, synchronously,
// by what the program did (events, link_open / link_send / link_close) and an
// "idle" line with its next timer; the program's timers fire when the harness
// sends "clock" at that time. Nothing depends on the wall clock but the bound on
// how long the program may take to answer.
class sim_world::program_client final : public harness_client, public sim::client_end {
 public:
  static constexpr auto k_answer_wait = std::chrono::seconds(10);

  program_client(sim_world& w, const client_spec& spec)
      : w_(w),
        spec_(spec),
        program_(*w.client_cmd_),
        self_(std::make_shared<program_client*>(this)) {}
  ~program_client() override { *self_ = nullptr; }

  bool launch() {
    if (program_.started()) return true;
    if (!program_.start()) {
      say("cannot start: " + program_.command());
      dead_ = true;
      return false;
    }
    // Its "ready" line, bounded like every answer; the program starts before the
    // first step, and waiting costs no virtual time.
    const auto deadline = client_program::clock_type::now() + std::chrono::seconds(2);
    while (true) {
      const auto line = program_.read_line(deadline);
      if (!line) {
        warn_no_ready(program_.command(), std::chrono::seconds(2), spec_.name, w_.trace(),
                      program_.closed());
        break;
      }
      const auto o = parse_program_line(*line);
      if (o && event_name(*o) == "ready") break;
    }
    return true;
  }

  std::string init() override {
    if (!launch()) return "cannot start: " + program_.command();
    inited_ = true;
    json::array schedule;
    for (auto ms : spec_.schedule_ms.value_or(std::vector<std::int64_t>{}))
      schedule.emplace_back(ms);
    exchange({{"cmd", "init"},
              {"virtual_time", true},
              {"app_key", spec_.app},
              {"urls", json::array{url_of(spec_.transport)}},
              {"device", spec_.device},
              {"platform", spec_.platform},
              {"heartbeat_s", spec_.heartbeat_ms / 1000},
              {"reconnect_kick", spec_.reconnect_kick},
              {"schedule_ms", schedule},
              {"data_dir", ""},
              {"tls_verify", false},
              {"navigation", navigation_json(spec_)},
              {"navigation_transports",
               spec_.navigation.empty() ? json::array{} : json::array{to_string(spec_.transport)}}});
    return init_code_ == 0 ? "" : "init answered code " + std::to_string(init_code_);
  }
  std::string connect(const std::string& token, int time_limit_s, bool init_first) override {
    if (init_first && !inited_) init();
    exchange({{"cmd", "connect"}, {"token", token}, {"time_limit_s", time_limit_s}});
    return {};
  }
  std::string disconnect() override { return exchange({{"cmd", "disconnect"}}); }
  std::string logout() override { return exchange({{"cmd", "logout"}}); }
  std::string network(bool up) override {
    return exchange({{"cmd", "network"}, {"available", up}});
  }
  std::string foreground() override { return exchange({{"cmd", "foreground"}}); }
  std::string reconnect_kick(bool on) override {
    return exchange({{"cmd", "reconnect_kick"}, {"on", on}});
  }
  std::string send_message(const std::string& to, const std::string& object_name,
                           const std::string& content) override {
    return exchange({{"cmd", "send"}, {"to", to}, {"object_name", object_name}, {"content", content}});
  }
  std::string resend(std::int64_t id) override { return exchange({{"cmd", "resend"}, {"id", id}}); }
  std::string relaunch() override {
    inited_ = false;
    return exchange({{"cmd", "relaunch"}});
  }
  std::string history(const std::string& peer) override {
    return exchange({{"cmd", "history"}, {"peer", peer}});
  }

  // --- sim::client_end: what the simulated network tells the program ---
  void on_connected(std::uint64_t link) override { link_event("link_up", link); }
  void on_refused(std::uint64_t link) override { link_event("link_refused", link, true); }
  void on_closed(std::uint64_t link) override { link_event("link_closed", link, true); }
  void on_reset(std::uint64_t link) override { link_event("link_reset", link, true); }
  void on_bytes(std::uint64_t link, std::string_view bytes) override {
    const auto it = program_link_.find(link);
    if (it == program_link_.end()) return;
    exchange({{"cmd", "link_data"}, {"link", it->second}, {"data", to_hex(bytes)}});
  }

 private:
  void link_event(const char* cmd, std::uint64_t link, bool ends_it = false) {
    const auto it = program_link_.find(link);
    if (it == program_link_.end()) return;
    const auto ours = it->second;
    if (ends_it) {
      sim_link_.erase(ours);
      program_link_.erase(it);
    }
    exchange({{"cmd", cmd}, {"link", ours}});
  }

  /// Sends `command` at the current virtual time and takes the program's answer up
  /// to its "idle" line. Nothing here fails a step: a program that stops answering
  /// is said in the trace, and the next expectation fails.
  std::string exchange(json::object command) {
    if (dead_ || !launch()) return {};
    command["now_ms"] = w_.clock_.now();
    const std::string what = std::string(command["cmd"].as_string());
    if (!program_.send(command)) {
      give_up("did not read the '" + what + "' command");
      return {};
    }
    const auto deadline = client_program::clock_type::now() + k_answer_wait;
    while (true) {
      const auto line = program_.read_line(deadline);
      if (!line) {
        give_up(program_.closed() ? "exited while answering '" + what + "'"
                                  : "sent no {\"event\":\"idle\"} within 10 s of '" + what +
                                        "' (in virtual time every command is answered up to an "
                                        "idle line: docs/scenarios.md, \"Virtual time\")");
        return {};
      }
      const auto o = parse_program_line(*line);
      if (!o) {
        say("unparsable line: " + *line);
        continue;
      }
      if (take(*o)) return {};
    }
  }

  /// One line of an answer; true for the closing "idle".
  bool take(const json::object& o) {
    if (auto e = trace_entry_of(spec_.name, o)) {
      w_.trace().add(std::move(*e));
      return false;
    }
    const std::string event = event_name(o);
    const auto link = json_fields::int_or(o, "link", -1);
    if (event == "idle") {
      const auto* next = o.if_contains("next_timer_ms");
      wake_at(next != nullptr && next->is_number() ? std::optional(json_fields::int_or(o, "next_timer_ms"))
                                                   : std::nullopt);
      return true;
    }
    if (event == "init") {
      init_code_ = static_cast<int>(json_fields::int_or(o, "code"));
    } else if (event == "link_open") {
      if (sim_link_.contains(link)) {
        say("link_open of link " + std::to_string(link) + ", which is already open");
        return false;
      }
      const auto via = sim::server_transport(json_fields::string_or(o, "server"), spec_.transport);
      if (!via) {  // a host the simulation does not have: refused a round trip later
        w_.clock_.after(spec_.latency_up_ms + spec_.latency_down_ms, [self = self_, link] {
          if (program_client* c = *self; c != nullptr) {
            c->exchange({{"cmd", "link_refused"}, {"link", link}});
          }
        });
        return false;
      }
      const auto id = w_.server_->connect(
          *this, *via, {.up_ms = spec_.latency_up_ms, .down_ms = spec_.latency_down_ms});
      sim_link_[link] = id;
      program_link_[id] = link;
    } else if (event == "navigate") {
      navigate(json_fields::int_or(o, "request", -1), json_fields::string_or(o, "url"), json_fields::string_or(o, "app_key"),
               json_fields::string_or(o, "body"));
    } else if (event == "link_send") {
      const auto it = sim_link_.find(link);
      auto bytes = from_hex(json_fields::string_or(o, "data"));
      if (it == sim_link_.end() || !bytes) {
        say("link_send on an unknown link or with bad hex data");
      } else {
        w_.server_->send(it->second, std::move(*bytes));
      }
    } else if (event == "link_close") {
      if (const auto it = sim_link_.find(link); it != sim_link_.end()) {
        w_.server_->close(it->second);
        program_link_.erase(it->second);
        sim_link_.erase(it);
      }
    }
    return false;
  }

  // A navigation request of the program, through the simulated network as the
  // reference SDK's (sim/client_host): answered `up` + `down` ms later, or never.
  void navigate(std::int64_t request, const std::string& url, const std::string& app_key,
                const std::string& body) {
    w_.server_->navigate(
        url, app_key, body, {.up_ms = spec_.latency_up_ms, .down_ms = spec_.latency_down_ms},
        [self = self_, request](std::optional<server::api_response> answer) {
          program_client* c = *self;
          if (c == nullptr) return;
          if (!answer) {
            c->exchange({{"cmd", "navigation_unanswered"}, {"request", request}});
            return;
          }
          c->exchange({{"cmd", "navigation_answer"},
                       {"request", request},
                       {"status", answer->http_status},
                       {"body", answer->body}});
        });
  }

  /// Keeps one scheduler event at the program's next timer: "clock" then.
  void wake_at(std::optional<std::int64_t> next) {
    if (next == wake_at_) return;
    wake_at_ = next;
    const auto generation = ++wake_generation_;
    if (!next) return;
    w_.clock_.at(*next, [self = self_, generation] {
      program_client* c = *self;
      if (c == nullptr || generation != c->wake_generation_) return;
      c->wake_at_.reset();
      c->exchange({{"cmd", "clock"}});
    });
  }

  void say(const std::string& what) {
    w_.trace().add({.source = spec_.name, .kind = "trace", .detail = what});
  }
  void give_up(const std::string& why) {
    say("client program " + why + "; no more commands go to it");
    dead_ = true;
  }

  sim_world& w_;
  client_spec spec_;
  client_program program_;
  std::unordered_map<std::int64_t, std::uint64_t> sim_link_;      // the program's id -> ours
  std::unordered_map<std::uint64_t, std::int64_t> program_link_;  // ours -> the program's
  std::optional<std::int64_t> wake_at_;
  std::uint64_t wake_generation_ = 0;
  std::shared_ptr<program_client*> self_;
  int init_code_ = -1;
  bool inited_ = false;
  bool dead_ = false;
};

sim_world::sim_world(const scenario& s, std::optional<std::string> client_cmd)
    : s_(s), client_cmd_(std::move(client_cmd)) {}

std::string sim_world::timing_note() const {
  return client_cmd_ ? "simulated: exact scenario time, clients through '" + *client_cmd_ +
                           "' in virtual time"
                     : "simulated: exact scenario time";
}

sim_world::~sim_world() { stop(); }

void sim_world::start() {
  auto config = s_.server;
  server_ = std::make_unique<sim::server_host>(clock_, config, s_.seed);
  if (client_cmd_) {
    // Started before the steps, as over real sockets (no virtual time passes).
    for (const auto& [name, spec] : s_.clients) static_cast<program_client&>(client(spec)).launch();
  }
  server_->hub().events().add_listener([this](const server::event& e) {
        if (stopped_) return;
    if (auto entry = trace_entry_of(e)) trace().add(std::move(*entry));
  });
}

void sim_world::stop() {
  stopped_ = true;
  clients_.clear();
  server_.reset();
}

bool sim_world::wait(std::int64_t until_ms, const std::function<bool()>& done) {
  return clock_.run_until(k_epoch_ms + until_ms, done);
}

server::api_response sim_world::request(const server::api_request& r) {
  return server_->request(r);
}

harness_client& sim_world::client(const client_spec& spec) {
  auto& slot = clients_[spec.name];
  if (!slot) {
    if (client_cmd_) {
      slot = std::make_unique<program_client>(*this, spec);
    } else {
      slot = std::make_unique<sim_client>(*this, spec);
    }
  }
  return *slot;
}

}  // namespace imock::harness

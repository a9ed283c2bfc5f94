// imock-client --harness: the JSON-lines protocol imock-harness uses to drive a client
// program (docs/scenarios.md, "Other clients"). Commands arrive on stdin, one JSON
// object per line; events leave on stdout, one per line, in the order they happened.
#include "imock/client/harness_mode.hpp"

#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "imock/base/json_fields.hpp"
#include "imock/client/inbox.hpp"
#include "imock/client/sdk.hpp"
#include "imock/client/virtual_host.hpp"
#include "imock/protocol/hex.hpp"

namespace imock::client {
namespace {

namespace json = boost::json;

std::mutex g_out;

void emit(const json::object& o) {
  const std::string line = json::serialize(o) + "\n";
  std::lock_guard lock(g_out);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

// Virtual time (docs/scenarios.md, "Virtual time"): the connection machine in a
// virtual_host whose clock is the harness's (every command says the time) and whose
// links are the harness's, as link_* lines. No Asio runtime, no sockets.
json::object message_line(const message& m, int left, bool offline, bool has_package) {
  return {{"event", "message"},      {"uid", m.uid},       {"from", m.sender},
          {"object_name", m.object_name}, {"content", m.content}, {"sent_ms", m.sent_ms},
          {"offline", offline},      {"left", left},       {"has_package", has_package}};
}

json::object outcome_line(std::int64_t id, int code, const std::string& content) {
  json::object o{{"event", code == 0 ? "sent" : "send_error"}, {"id", id}, {"content", content}};
  if (code != 0) o["code"] = code;
  return o;
}

json::object history_line(const std::string& peer, const std::vector<message>& rows) {
  json::array messages;
  for (const auto& m : rows) {
    messages.push_back(json::object{{"id", m.id},
                                    {"uid", m.uid},
                                    {"sender", m.sender},
                                    {"direction", m.direction},
                                    {"object_name", m.object_name},
                                    {"content", m.content},
                                    {"sent_ms", m.sent_ms}});
  }
  return {{"event", "history"}, {"peer", peer}, {"messages", std::move(messages)}};
}

class virtual_session final : private link_network {
 public:
  virtual_session() { launch(); }

  /// The app again (relaunch): a new host, the same database (store_).
  void launch() {
    host_ = std::make_unique<virtual_host>(static_cast<link_network&>(*this));
    host_->set_message_store(&store_);
    host_->set_message_observer([this](const message_action& a, std::int64_t) {
      if (const auto* r = std::get_if<message_received>(&a)) {
        const auto& in = r->message;
        emit(message_line({.uid = in.uid, .sender = in.from, .object_name = in.object_name,
                           .content = in.content, .sent_ms = in.sent_ms},
                          static_cast<int>(in.left), in.offline, in.has_package));
      } else if (const auto* ok = std::get_if<message_sent>(&a)) {
        emit(outcome_line(ok->local_id, 0, contents_[ok->local_id]));
      } else if (const auto* bad = std::get_if<send_failed>(&a)) {
        emit(outcome_line(bad->local_id, bad->code, contents_[bad->local_id]));
      } else if (std::holds_alternative<sync_completed>(a)) {
        emit({{"event", "sync_completed"}});
      }
    });
    host_->set_observer([](const action& a, std::int64_t now) {
      std::visit(
          [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if (const auto n = attempt_begun(a)) {
              emit({{"event", "attempt"}, {"n", *n}, {"t_ms", now}});
            }
            if constexpr (std::is_same_v<T, status_changed>) {
              emit({{"event", "status"},
                    {"status", static_cast<int>(x.value)},
                    {"code", static_cast<int>(x.cause)}});
            } else if constexpr (std::is_same_v<T, db_opened>) {
              emit({{"event", "db_opened"}, {"code", static_cast<int>(x.code)}});
            } else if constexpr (std::is_same_v<T, success>) {
              emit({{"event", "success"}, {"user", x.user_id}});
            } else if constexpr (std::is_same_v<T, error>) {
              emit({{"event", "error"}, {"code", static_cast<int>(x.code)}});
            }
          },
          a);
    });
  }

  virtual_host& host() noexcept { return *host_; }

  void send(const json::object& o, std::int64_t now) {
    const auto content = json_fields::string_or(o, "content");
    const auto id = host_->send_message(json_fields::string_or(o, "to"),
                                        json_fields::string_or(o, "object_name", "RC:TxtMsg"),
                                        content, now);
    contents_[id] = content;
  }
  void resend(std::int64_t id, std::int64_t now) {
    if (!host_->resend_message(id, now)) {
      emit(outcome_line(id, static_cast<int>(rc::code::invalid_parameter), ""));
    }
  }

  /// A link event from the harness; false for a command that is not one.
  bool link_command(const std::string& cmd, const json::object& o, std::int64_t now) {
    const auto link = static_cast<std::uint64_t>(json_fields::int_or(o, "link", 0));
    if (cmd == "link_up") {
      host_->link_up(link, now);
    } else if (cmd == "link_refused") {
      host_->link_refused(link, now);
    } else if (cmd == "link_closed") {
      host_->link_closed(link, now);
    } else if (cmd == "link_reset") {
      host_->link_reset(link, now);
    } else if (cmd == "link_data") {
      if (const auto bytes = from_hex(json_fields::string_or(o, "data"))) {
        host_->link_bytes(link, *bytes, now);
      } else {
        emit({{"event", "bad_command"}, {"line", "link_data with bad hex data"}});
      }
    } else if (cmd == "navigation_answer") {
      host_->navigation_answer(static_cast<std::uint64_t>(json_fields::int_or(o, "request", 0)),
                              static_cast<int>(json_fields::int_or(o, "status", 0)), json_fields::string_or(o, "body"), now);
    } else if (cmd == "navigation_unanswered") {
      host_->navigation_unanswered(static_cast<std::uint64_t>(json_fields::int_or(o, "request", 0)), now);
    } else {
      return false;
    }
    return true;
  }

 private:
  std::uint64_t open(const std::string& server) override {
    const auto id = next_link_++;
    json::object line{{"event", "link_open"}, {"link", id}};
    if (!server.empty()) line["server"] = server;
    emit(line);
    return id;
  }
  std::uint64_t navigate(const navigation_request& r) override {
    const auto id = next_request_++;
    emit({{"event", "navigate"},
          {"request", id},
          {"url", r.url},
          {"app_key", r.app_key},
          {"body", r.body}});
    return id;
  }
  void send(std::uint64_t link, std::string bytes) override {
    emit({{"event", "link_send"}, {"link", link}, {"data", to_hex(bytes)}});
  }
  void close(std::uint64_t link) override { emit({{"event", "link_close"}, {"link", link}}); }

  memory_store store_;  // the app's database: a relaunch keeps it
  std::map<std::int64_t, std::string> contents_;  // each send's content, by its id
  std::unique_ptr<virtual_host> host_;
  std::uint64_t next_link_ = 1;
  std::uint64_t next_request_ = 1;
};

// `navigation_transports`: names of docs/protocol.md §1 ("tcp", "ws", ...); others are
// left out (an unknown one would otherwise widen the filter to "any").
std::vector<transport> transports(const json::object& o) {
  std::vector<transport> out;
  for (const auto& name : json_fields::strings(o, "navigation_transports")) {
    if (const auto t = k_transport_names.parse(name)) out.push_back(*t);
  }
  return out;
}

options virtual_options(const json::object& o) {
  options opts;
  opts.app_key = json_fields::string_or(o, "app_key");
  opts.device_id = json_fields::string_or(o, "device");
  if (o.contains("platform")) opts.platform = json_fields::string_or(o, "platform");
  opts.heartbeat_s = static_cast<int>(json_fields::int_or(o, "heartbeat_s", 30));
  opts.reconnect_kick = json_fields::bool_or(o, "reconnect_kick", false);
  if (const auto* s = o.if_contains("schedule_ms"); s != nullptr && s->is_array()) {
    std::vector<std::int64_t> schedule;
    for (const auto& ms : s->as_array()) {
      if (ms.is_int64()) schedule.push_back(ms.as_int64());
    }
    if (!schedule.empty()) opts.schedule_ms = std::move(schedule);
  }
  opts.navigation = json_fields::strings(o, "navigation");
  opts.navigation_transports = transports(o);
  opts.messages = json_fields::bool_or(o, "messages", true);
  return opts;
}

}  // namespace

int run_harness_mode() {
  std::unique_ptr<runtime> rt;
  std::unique_ptr<client> c;
  std::unique_ptr<virtual_session> session;  // virtual time, once an init asked for it
  // The network's state as reported before the client exists (the OS's, not a call).
  int network_before_init = -1;  // -1: not reported; 0 / 1: unavailable / available
  const auto returned = [](const std::string& call, rc::code code) {
    emit({{"event", "returned"}, {"call", call}, {"code", static_cast<int>(code)}});
  };
  // Like the SDK: anything before init fails with 33001 (a network report is kept for
  // the client to come).
  const auto before_init = [&](const std::string& cmd, const json::object& o) {
    if (cmd == "connect") {
      emit({{"event", "error"}, {"code", static_cast<int>(rc::code::client_not_init)}});
    } else if (cmd == "disconnect" || cmd == "logout" || cmd == "reconnect_kick") {
      returned(cmd, rc::code::client_not_init);
    } else if (cmd == "network") {
      network_before_init = json_fields::bool_or(o, "available", true) ? 1 : 0;
    } else if (cmd == "send") {
      emit(outcome_line(0, static_cast<int>(rc::code::client_not_init),
                        json_fields::string_or(o, "content")));
    } else if (cmd == "history") {
      emit(history_line(json_fields::string_or(o, "peer"), {}));
    }
  };
  // The SDK's own client, with the listeners that turn its callbacks into lines.
  std::mutex contents_mutex;
  std::map<std::int64_t, std::string> contents;  // each send's content, by its id
  const auto content_of = [&](std::int64_t id) {
    std::lock_guard lock(contents_mutex);
    return contents[id];
  };
  const auto make_client = [&] {
    c = std::make_unique<client>(*rt);
    c->set_connection_status_listener([](rc::status st, rc::code cause) {
      emit({{"event", "status"}, {"status", static_cast<int>(st)}, {"code", static_cast<int>(cause)}});
    });
    c->set_attempt_listener([](std::int64_t t, std::uint32_t n) {
      emit({{"event", "attempt"}, {"n", n}, {"t_ms", t}});
    });
    c->set_receive_listener([](const message& m, int left, bool offline, bool has_package) {
      emit(message_line(m, left, offline, has_package));
    });
    c->set_offline_sync_listener([] { emit({{"event", "sync_completed"}}); });
  };
  const auto handle_virtual = [&](const std::string& cmd, const json::object& o, std::int64_t now) {
    if (session) session->host().advance(now);
    if (cmd == "init") {
      if (!session) session = std::make_unique<virtual_session>();
      const auto rc = session->host().init(std::make_shared<const options>(virtual_options(o)), 0);
      if (network_before_init >= 0) {
        session->host().network_changed(network_before_init == 1, now);
        network_before_init = -1;
      }
      emit({{"event", "init"}, {"code", static_cast<int>(rc)}});
    } else if (cmd == "clock") {
      // advance() above was the whole of it
    } else if (!session || !session->host().machine().initialized()) {
      before_init(cmd, o);
    } else if (session->link_command(cmd, o, now)) {
      // handled
    } else if (cmd == "connect") {
      session->host().connect(json_fields::string_or(o, "token"), static_cast<int>(json_fields::int_or(o, "time_limit_s", 0)), now);
    } else if (cmd == "disconnect") {
      returned(cmd, session->host().disconnect(now));
    } else if (cmd == "logout") {
      returned(cmd, session->host().logout(now));
    } else if (cmd == "network") {
      session->host().network_changed(json_fields::bool_or(o, "available", true), now);
    } else if (cmd == "foreground") {
      session->host().foreground(now);
    } else if (cmd == "reconnect_kick") {
      returned(cmd, session->host().set_reconnect_kick(json_fields::bool_or(o, "on", false)));
    } else if (cmd == "send") {
      session->send(o, now);
    } else if (cmd == "resend") {
      session->resend(json_fields::int_or(o, "id"), now);
    } else if (cmd == "relaunch") {
      session->launch();
    } else if (cmd == "history") {
      const auto peer = json_fields::string_or(o, "peer");
      emit(history_line(peer, session->host().history(peer)));
    } else {
      emit({{"event", "bad_command"}, {"line", cmd}});
    }
    json::object idle{{"event", "idle"}};
    const auto next = session ? session->host().next_timer() : std::nullopt;
    if (next) {
      idle["next_timer_ms"] = *next;
    } else {
      idle["next_timer_ms"] = nullptr;
    }
    emit(idle);
  };
  emit({{"event", "ready"}});
  std::string line;
  while (std::getline(std::cin, line)) {
    boost::system::error_code ec;
    const auto v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      emit({{"event", "bad_command"}, {"line", line}});
      continue;
    }
    const auto& o = v.as_object();
    const std::string cmd = json_fields::string_or(o, "cmd");
    if (cmd == "quit") break;
    // A command that says the time is virtual time: its timers first, then the
    // command, then "idle" with the next timer.
    if (const auto* now = o.if_contains("now_ms"); now != nullptr && now->is_number()) {
      constexpr std::int64_t k_no_time = INT64_MIN;
      const auto t = json_fields::int_or(o, "now_ms", k_no_time);
      if (t == k_no_time) {  // 1.5, 1e300: not a time in ms
        emit({{"event", "bad_command"}, {"line", line}});
        continue;
      }
      handle_virtual(cmd, o, t);
      continue;
    }
    if (cmd == "init") {
      if (!rt) {
        const double speed = json_fields::number_or(o, "speed", 1.0);
        rt = std::make_unique<runtime>(runtime_options{.speed = speed});
      }
      if (!c) make_client();
      sdk_options opts;
      if (const auto* urls = o.if_contains("urls"); urls != nullptr && urls->is_array()) {
        for (const auto& u : urls->as_array()) {
          if (u.is_string()) opts.urls.emplace_back(u.as_string());
        }
      }
      opts.device_id = json_fields::string_or(o, "device");
      if (o.contains("platform")) opts.platform = json_fields::string_or(o, "platform");
      opts.heartbeat_s = static_cast<std::uint16_t>(json_fields::int_or(o, "heartbeat_s", 30));
      opts.reconnect_kick = json_fields::bool_or(o, "reconnect_kick", false);
      opts.tls_verify = json_fields::bool_or(o, "tls_verify", true);
      opts.data_dir = json_fields::string_or(o, "data_dir");
      opts.navigation = json_fields::strings(o, "navigation");
      opts.navigation_transports = transports(o);
      opts.messages = json_fields::bool_or(o, "messages", true);
      if (const auto* s = o.if_contains("schedule_ms"); s != nullptr && s->is_array()) {
        for (const auto& ms : s->as_array()) {
          if (ms.is_int64()) opts.schedule_ms.push_back(ms.as_int64());
        }
      }
      const auto rc = c->init(json_fields::string_or(o, "app_key"), opts);
      if (network_before_init >= 0) {
        c->set_network_available(network_before_init == 1);
        network_before_init = -1;
      }
      emit({{"event", "init"}, {"code", static_cast<int>(rc)}});
      continue;
    }
    if (!c) {
      before_init(cmd, o);
      continue;
    }
    if (cmd == "connect") {
      c->connect(
          json_fields::string_or(o, "token"), static_cast<int>(json_fields::int_or(o, "time_limit_s", 0)),
          [](rc::code code) {
            emit({{"event", "db_opened"}, {"code", static_cast<int>(code)}});
          },
          [](const std::string& user) {
            emit({{"event", "success"}, {"user", user}});
          },
          [](rc::code code) {
            emit({{"event", "error"}, {"code", static_cast<int>(code)}});
          });
    } else if (cmd == "disconnect") {
      returned(cmd, c->disconnect());
    } else if (cmd == "logout") {
      returned(cmd, c->logout());
    } else if (cmd == "network") {
      c->set_network_available(json_fields::bool_or(o, "available", true));
    } else if (cmd == "foreground") {
      c->app_foreground();
    } else if (cmd == "reconnect_kick") {
      returned(cmd, c->set_reconnect_kick_enable(json_fields::bool_or(o, "on", false)));
    } else if (cmd == "send") {
      const auto content = json_fields::string_or(o, "content");
      const auto rc = c->send_message(
          json_fields::string_or(o, "to"), json_fields::string_or(o, "object_name", "RC:TxtMsg"),
          content, json_fields::string_or(o, "push_content"),
          [&contents_mutex, &contents, content](const message& m) {
            std::lock_guard lock(contents_mutex);
            contents[m.id] = content;
          },
          [&content_of](std::int64_t id) { emit(outcome_line(id, 0, content_of(id))); },
          [&content_of](int code, std::int64_t id) { emit(outcome_line(id, code, content_of(id))); });
      if (rc != rc::code::ok) emit(outcome_line(0, static_cast<int>(rc), content));
    } else if (cmd == "resend") {
      const auto id = json_fields::int_or(o, "id");
      const auto rc = c->resend_message(
          id, [&content_of](std::int64_t m) { emit(outcome_line(m, 0, content_of(m))); },
          [&content_of](int code, std::int64_t m) { emit(outcome_line(m, code, content_of(m))); });
      if (rc != rc::code::ok) emit(outcome_line(id, static_cast<int>(rc), ""));
    } else if (cmd == "relaunch") {
      c.reset();  // the app is gone; the next init makes it again, with the same data_dir
    } else if (cmd == "history") {
      const auto peer = json_fields::string_or(o, "peer");
      emit(history_line(peer, c->history(peer)));
    } else {
      emit({{"event", "bad_command"}, {"line", line}});
    }
  }
  c.reset();
  rt.reset();
  session.reset();
  return 0;
}

}  // namespace imock::client

#include "imock/server/recording.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <set>

namespace imock::server {

namespace json = boost::json;

// --- recorder ------------------------------------------------------------------------

void recorder::start(std::int64_t now_ms, std::uint64_t last_seq, json::array sessions) {
  on_ = true;
  started_ms_ = now_ms;
  first_seq_ = last_seq;
  sessions_ = std::move(sessions);
  calls_.clear();
  calls_lost_ = 0;
}

void recorder::note_call(std::int64_t now_ms, std::string_view via, std::string_view path,
                         json::object params, int http_status, int code, std::uint64_t after_seq,
                         std::string_view app) {
  if (!on_) return;
  if (calls_.size() >= k_max_calls) {
    ++calls_lost_;
    return;
  }
  calls_.push_back(json::object{{"t_ms", now_ms},
                                {"via", via},
                                {"path", path},
                                {"params", std::move(params)},
                                {"status", http_status},
                                {"code", code},
                                {"after_seq", after_seq}});
  if (!app.empty()) calls_.back().as_object()["app"] = app;
}

std::optional<json::object> recorder::stop(std::int64_t now_ms, const event_log& log) {
  if (!on_) return std::nullopt;
  on_ = false;
  json::array events;
  const auto kept = log.since(first_seq_, std::numeric_limits<std::size_t>::max());
  // The log drops its oldest past its capacity: say how many of the span are gone.
  const std::uint64_t first_kept = kept.empty() ? log.last_seq() + 1 : kept.front().seq;
  const std::uint64_t lost = first_kept > first_seq_ + 1 ? first_kept - first_seq_ - 1 : 0;
  for (const auto& e : kept) events.push_back(json::parse(to_json(e)));
  last_ = json::object{{"format", "imock-recording"},
                       {"version", 1},
                       {"started_ms", started_ms_},
                       {"stopped_ms", now_ms},
                       {"first_seq", first_seq_},
                       {"events_lost", lost},
                       {"calls_lost", calls_lost_},
                       {"sessions", std::move(sessions_)},
                       {"calls", std::move(calls_)},
                       {"events", std::move(events)}};
  calls_ = {};
  sessions_ = {};
  return last_;
}

json::object recorder::status(const event_log& log) const {
  json::object out{{"recording", on_}, {"finished", last_.has_value()}};
  if (on_) {
    out["started_ms"] = started_ms_;
    out["actions"] = calls_.size() + calls_lost_;
    out["events"] = log.last_seq() - first_seq_;
  } else if (last_) {
    out["started_ms"] = last_->at("started_ms");
    out["stopped_ms"] = last_->at("stopped_ms");
    out["actions"] = last_->at("calls").as_array().size();
    out["events"] = last_->at("events").as_array().size();
  }
  return out;
}

// --- scenario_from_recording ---------------------------------------------------------

namespace {

constexpr std::string_view k_default_app = "imock-demo-key";  // server::default_config()
constexpr std::int64_t k_trailing_quiet_ms = 10'000;           // the time after the last event
constexpr std::int64_t k_min_quiet_ms = 100;                   // shorter gaps: no step

// A YAML scalar: plain when it cannot be read as anything but this string, else
// double-quoted with escapes.
std::string scalar(std::string_view s) {
  static const std::set<std::string_view> k_special = {
      "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~",
      "True", "False", "Yes", "No", "On", "Off", "Null", "NULL", "TRUE", "FALSE"};
  const bool plain =
      !s.empty() && !k_special.contains(s) &&
      std::all_of(s.begin(), s.end(),
                  [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == '/';
                  }) &&
      !(s.front() >= '0' && s.front() <= '9') && s.front() != '-' && s.front() != '.';
  if (plain) return std::string(s);
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char k_hex[] = "0123456789abcdef";
      out += "\\x";
      out += k_hex[u >> 4];
      out += k_hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string duration(std::int64_t ms) {
  if (ms > 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// The observed delay plus max(1 s, half of it), up to the next 100 ms.
std::string within(std::int64_t observed_ms) {
  const auto w = std::max<std::int64_t>(observed_ms, 0) + std::max<std::int64_t>(1000, observed_ms / 2);
  return duration((w + 99) / 100 * 100);
}

std::string str_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return {};
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_int64() || v->is_uint64()) return json::serialize(*v);
  if (v->is_bool()) return v->as_bool() ? "true" : "false";
  if (v->is_array() && !v->as_array().empty() && v->as_array().front().is_string()) {
    return std::string(v->as_array().front().as_string());
  }
  return {};
}

std::optional<std::int64_t> int_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  boost::system::error_code ec;
  if (v->is_number()) {
    const auto n = v->to_number<std::int64_t>(ec);
    if (!ec) return n;
  }
  if (v->is_string()) {
    const std::string s(v->as_string());
    char* end = nullptr;
    const auto n = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end == s.c_str() + s.size()) return n;
  }
  return std::nullopt;
}

bool truthy(const json::object& o, std::string_view key) {
  const auto s = str_of(o, key);
  return s == "true" || s == "1";
}

struct client {
  std::string name, app, user, device, transport, platform;
};

// The kinds that are the clients' doing (or what they were told), as the server saw it.
bool expected_kind(std::string_view k) {
  return k == "connect" || k == "kick" || k == "disconnect" || k == "timeout" ||
         k == "protocol_error" || k == "slow_reader";
}

std::string client_name(std::string_view device, std::string_view user,
                        const std::set<std::string>& taken) {
  auto clean = [](std::string_view s) {
    std::string out;
    for (const char c : s) {
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
        out += c;
      } else if (c >= 'A' && c <= 'Z') {
        out += static_cast<char>(c - 'A' + 'a');
      } else if (!out.empty() && out.back() != '-') {
        out += '-';
      }
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out.substr(0, 40);
  };
  std::string base = clean(device);
  if (base.empty() || base == "all") base = clean(user);
  if (base.empty() || base == "all") base = "client";
  std::string name = base;
  for (int n = 2; taken.contains(name); ++n) name = base + "-" + std::to_string(n);
  return name;
}

class converter {
 public:
  converter(const json::object& rec, const scenario_options& o) : rec_(rec), options_(o) {}

  std::string run(std::string* why) {
    const auto* calls = rec_.if_contains("calls");
    const auto* events = rec_.if_contains("events");
    if (str_of(rec_, "format") != "imock-recording" || calls == nullptr || !calls->is_array() ||
        events == nullptr || !events->is_array()) {
      if (why != nullptr) *why = "not an imock recording (format imock-recording, calls, events)";
      return {};
    }
    for (const auto& v : events->as_array()) {
      if (v.is_object()) events_.push_back(&v.as_object());
    }
    for (const auto& v : calls->as_array()) {
      if (v.is_object()) calls_.push_back(&v.as_object());
    }
    find_clients();
    write_steps();
    return header() + clients_yaml() + "steps:\n" + steps_;
  }

 private:
  void find_clients() {
    std::set<std::string> taken;
    // Those connected when the recording started, then those that sent a CONNECT: a
    // session object has the fields of a connect event (app, user, device, transport,
    // session) and its platform on its own.
    std::vector<const json::object*> seen;
    if (const auto* at_start = rec_.if_contains("sessions"); at_start != nullptr && at_start->is_array()) {
      for (const auto& v : at_start->as_array()) {
        if (v.is_object() && !str_of(v.as_object(), "user").empty()) {
          seen.push_back(&v.as_object());
          at_start_.push_back(seen.size() - 1);
        }
      }
    }
    for (const auto* e : events_) {
      if (str_of(*e, "kind") == "connect") seen.push_back(e);
    }
    for (std::size_t i = 0; i < seen.size(); ++i) {
      const auto* e = seen[i];
      if (str_of(*e, "user").empty()) continue;
      const auto key = str_of(*e, "app") + '\n' + str_of(*e, "user") + '\n' + str_of(*e, "device");
      auto it = by_key_.find(key);
      if (it == by_key_.end()) {
        client c;
        c.app = str_of(*e, "app");
        c.user = str_of(*e, "user");
        c.device = str_of(*e, "device");
        c.transport = str_of(*e, "transport");
        c.platform = str_of(*e, "platform");
        const auto detail = str_of(*e, "detail");
        if (const auto at = detail.find("platform="); at != std::string::npos) {
          const auto from = at + 9;
          c.platform = detail.substr(from, detail.find(' ', from) - from);
        }
        c.name = client_name(c.device, c.user, taken);
        taken.insert(c.name);
        it = by_key_.emplace(key, clients_.size()).first;
        clients_.push_back(c);
      }
      if (std::find(at_start_.begin(), at_start_.end(), i) != at_start_.end()) {
        at_start_clients_.push_back(it->second);
      }
      if (const auto s = int_of(*e, "session"); s && *s != 0) by_session_[*s] = it->second;
    }
  }

  const client* client_of(const json::object& e) const {
    if (const auto s = int_of(e, "session"); s && *s != 0) {
      if (const auto it = by_session_.find(*s); it != by_session_.end()) return &clients_[it->second];
    }
    const auto key = str_of(e, "app") + '\n' + str_of(e, "user") + '\n' + str_of(e, "device");
    if (const auto it = by_key_.find(key); it != by_key_.end()) return &clients_[it->second];
    return nullptr;
  }

  std::string header() const {
    auto count = [](std::size_t n, const char* what) {
      return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
    };
    std::string out = "# Recorded with imock (docs/console.md): " + count(calls_.size(), "action") +
                      ", " + count(events_.size(), "event") + ", " +
                      duration(int_of(rec_, "stopped_ms").value_or(0) -
                               int_of(rec_, "started_ms").value_or(0)) +
                      ".\n";
    if (int_of(rec_, "events_lost").value_or(0) > 0) {
      out += "# The event log had dropped " + str_of(rec_, "events_lost") +
             " events of the recording (limits.event_log): what they showed is missing.\n";
    }
    std::set<std::string> apps;
    for (const auto& c : clients_) {
      if (c.app != k_default_app) apps.insert(c.app);
    }
    for (const auto& a : apps) {
      out += "# App '" + a + "' is not in the default config: add a server: section with it\n"
             "# (docs/scenarios.md, \"server\"; its secret is not in the recording).\n";
    }
    std::string description = options_.description.empty()
                                  ? "Recorded by hand: what was done to the server and what the clients did."
                                  : options_.description;
    out += "name: " + scalar(options_.name) + "\n";
    out += "description: " + scalar(description) + "\n";
    return out;
  }

  std::string clients_yaml() const {
    if (clients_.empty()) return "clients: {}\n";
    std::string out = "clients:\n";
    for (const auto& c : clients_) {
      std::vector<std::string> fields;
      if (c.app != k_default_app) fields.push_back("app: " + scalar(c.app));
      if (c.user != c.name) fields.push_back("user: " + scalar(c.user));
      if (c.device != c.name) fields.push_back("device: " + scalar(c.device));
      if (!c.transport.empty() && c.transport != "tcp") fields.push_back("transport: " + c.transport);
      if (!c.platform.empty() && c.platform != "ios") fields.push_back("platform: " + scalar(c.platform));
      out += "  " + c.name + ":";
      if (!fields.empty()) {
        out += " {";
        for (std::size_t i = 0; i < fields.size(); ++i) out += (i ? ", " : "") + fields[i];
        out += "}";
      }
      out += "\n";
    }
    return out;
  }

  void step(const std::string& line) { steps_ += "  - " + line + "\n"; }
  void comment(const std::string& line) { steps_ += "  # " + line + "\n"; }

  // The expectations for the events of one span, and the quiet time to `until_ms`.
  void write_span(std::uint64_t after_seq, std::uint64_t upto_seq, std::int64_t from_ms,
                  std::int64_t until_ms) {
    std::int64_t last_ms = from_ms;
    for (const auto* e : events_) {
      const auto seq = static_cast<std::uint64_t>(int_of(*e, "seq").value_or(0));
      if (seq <= after_seq || seq > upto_seq) continue;
      const auto kind = str_of(*e, "kind");
      if (!expected_kind(kind)) continue;
      const auto* c = client_of(*e);
      if (c == nullptr) continue;
      const auto t = int_of(*e, "t_ms").value_or(from_ms);
      if (kind == "connect" && !connected_.contains(c->name)) {
        // A later client's first connect: the others were quiet until then.
        if (!connected_.empty() && t - last_ms >= k_min_quiet_ms) {
          step("absent: {server: connect, for: " + duration(t - last_ms) + "}");
        }
        connected_.insert(c->name);
        step("connect: " + c->name);
        last_ms = t;
      }
      std::string fields = "server: " + kind + ", client: " + c->name;
      const auto code = int_of(*e, "code").value_or(0);
      if (kind == "connect" || code != 0) fields += ", code: " + std::to_string(code);
      step("expect: {" + fields + ", within: " + within(t - last_ms) + "}");
      last_ms = std::max(last_ms, t);
    }
    const auto quiet = until_ms - last_ms;
    if (quiet >= k_min_quiet_ms) {
      // Before any client connected, a quiet time is only the tester's pace.
      step(connected_.empty() ? "wait: " + duration(quiet)
                              : "absent: {server: connect, for: " + duration(quiet) + "}");
    }
  }

  void write_steps() {
    const auto started = int_of(rec_, "started_ms").value_or(0);
    const auto stopped = int_of(rec_, "stopped_ms").value_or(started);
    const auto first_seq = static_cast<std::uint64_t>(int_of(rec_, "first_seq").value_or(0));
    constexpr auto k_end = std::numeric_limits<std::uint64_t>::max();
    auto seq_of = [](const json::object* c) {
      return static_cast<std::uint64_t>(int_of(*c, "after_seq").value_or(0));
    };
    auto t_of = [&](const json::object* c) { return int_of(*c, "t_ms").value_or(started); };
    // Online when the recording started: it connects first (in a replay, the app is
    // asked to), and that connect is expected before anything else.
    for (const auto i : at_start_clients_) {
      const auto& name = clients_[i].name;
      if (connected_.contains(name)) continue;
      comment(name + " was connected when the recording started");
      step("connect: " + name);
      step("expect: {server: connect, client: " + name + ", code: 0, within: " + within(0) + "}");
      connected_.insert(name);
    }
    write_span(first_seq, calls_.empty() ? k_end : seq_of(calls_.front()), started,
               calls_.empty() ? std::min(stopped, last_event_ms(started) + k_trailing_quiet_ms)
                              : t_of(calls_.front()));
    for (std::size_t i = 0; i < calls_.size(); ++i) {
      write_call(*calls_[i]);
      const bool last = i + 1 == calls_.size();
      const auto until = last ? std::min(stopped, std::max(last_event_ms(started), t_of(calls_[i])) +
                                                      k_trailing_quiet_ms)
                              : t_of(calls_[i + 1]);
      write_span(seq_of(calls_[i]), last ? k_end : seq_of(calls_[i + 1]), t_of(calls_[i]), until);
    }
  }

  std::int64_t last_event_ms(std::int64_t fallback) const {
    std::int64_t out = fallback;
    for (const auto* e : events_) {
      if (expected_kind(str_of(*e, "kind"))) out = std::max(out, int_of(*e, "t_ms").value_or(out));
    }
    return out;
  }

  // The filter of an admin action: `client: NAME` when it names one client's session or
  // its user and device, else the fields as given.
  std::string filter(const json::object& p) const {
    if (const auto s = int_of(p, "session"); s && *s != 0) {
      const auto it = by_session_.find(*s);
      if (it == by_session_.end()) return {};
      return "client: " + clients_[it->second].name;
    }
    const auto app = str_of(p, "app"), user = str_of(p, "user"), device = str_of(p, "device");
    for (const auto& c : clients_) {
      if (!user.empty() && !device.empty() && c.user == user && c.device == device &&
          (app.empty() || app == c.app)) {
        return "client: " + c.name;
      }
    }
    std::vector<std::string> out;
    if (!app.empty()) out.push_back("app: " + scalar(app));
    if (!user.empty()) out.push_back("user: " + scalar(user));
    if (!device.empty()) out.push_back("device: " + scalar(device));
    std::string joined;
    for (const auto& f : out) joined += (joined.empty() ? "" : ", ") + f;
    return joined;
  }

  // `user` (a client's name when it is that client's user) and `app` when not the default.
  static std::vector<std::string> user_app(const json::object& p) {
    std::vector<std::string> out{"user: " + scalar(str_of(p, "user"))};
    if (const auto app = str_of(p, "app"); !app.empty() && app != k_default_app) {
      out.push_back("app: " + scalar(app));
    }
    return out;
  }

  static std::string map(std::vector<std::string> fields) {
    std::string out = "{";
    for (std::size_t i = 0; i < fields.size(); ++i) out += (i ? ", " : "") + fields[i];
    return out + "}";
  }

  void write_call(const json::object& c) {
    const auto path = str_of(c, "path");
    const auto status = int_of(c, "status").value_or(0);
    const auto* pv = c.if_contains("params");
    static const json::object k_none;
    const auto& p = pv != nullptr && pv->is_object() ? pv->as_object() : k_none;
    if (str_of(c, "via") == "api") return write_api_call(c, path, p);
    if (status != 200) {
      comment(path + " was refused (" + std::to_string(status) + "): not replayed");
      return;
    }
    const auto f = filter(p);
    auto with_filter = [&](std::vector<std::string> fields) {
      if (!f.empty()) fields.insert(fields.begin(), f);
      return map(std::move(fields));
    };
    if (int_of(p, "session") && f.empty()) {
      comment(path + " of a session that was not seen connecting: not replayed");
      return;
    }
    std::vector<std::string> extra;
    if (path == "/admin/kick") {
      extra.push_back("code: " + std::to_string(int_of(p, "code").value_or(31010)));
      step("kick: " + with_filter(extra));
    } else if (path == "/admin/drop") {
      if (truthy(p, "disconnect")) extra.push_back("disconnect: true");
      if (truthy(p, "reset")) extra.push_back("reset: true");
      if (const auto r = int_of(p, "reason")) extra.push_back("reason: " + std::to_string(*r));
      step("drop: " + with_filter(extra));
    } else if (path == "/admin/blackhole" || path == "/admin/release") {
      if (p.contains("include_new")) {
        extra.push_back(std::string("include_new: ") + (truthy(p, "include_new") ? "true" : "false"));
      }
      step(path.substr(7) + ": " + with_filter(extra));
    } else if (path == "/admin/users/block") {
      const auto ms = int_of(p, "duration_ms").value_or(int_of(p, "minutes").value_or(1) * 60'000);
      auto fields = user_app(p);
      fields.push_back("for: " + duration(ms));
      step("block: " + map(fields));
    } else if (path == "/admin/users/unblock") {
      step("unblock: " + map(user_app(p)));
    } else if (path == "/admin/tokens/expire") {
      step("expire_tokens: " + map(user_app(p)));
    } else if (path == "/admin/apps/state") {
      step("app_state: " + map({"app: " + scalar(str_of(p, "app")), "state: " + scalar(str_of(p, "state"))}));
    } else if (path == "/admin/refuse") {
      extra.push_back("count: " + std::to_string(int_of(p, "count").value_or(1)));
      extra.push_back("code: " + std::to_string(int_of(p, "code").value_or(31003)));
      if (const auto e = int_of(p, "every")) extra.push_back("every: " + std::to_string(*e));
      step("refuse: " + with_filter(extra));
    } else if (path == "/admin/delay") {
      extra.push_back("for: " + duration(int_of(p, "ms").value_or(0)));
      extra.push_back("count: " + std::to_string(int_of(p, "count").value_or(1)));
      step("delay: " + with_filter(extra));
    } else if (path == "/admin/restart") {
      step("restart: {down: " + duration(int_of(p, "down_ms").value_or(0)) + "}");
    } else if (path == "/admin/stop-accepting") {
      step(std::string("stop_accepting: {silent: ") + (truthy(p, "silent") ? "true" : "false") + "}");
    } else if (path == "/admin/resume-accepting") {
      step("resume_accepting: {}");
    } else if (path == "/admin/faults/clear") {
      step("clear_faults: {}");
    } else if (path == "/admin/navigation") {
      std::vector<std::string> fields{"fail: " + scalar(str_of(p, "fail"))};
      if (const auto n = int_of(p, "count")) fields.push_back("count: " + std::to_string(*n));
      if (!str_of(p, "app").empty()) fields.push_back("app: " + scalar(str_of(p, "app")));
      step("navigation: " + map(fields));
    } else {
      comment(path + ": not converted (write it as a step by hand, docs/scenarios.md)");
    }
  }

  void write_api_call(const json::object& c, const std::string& path, const json::object& p) {
    static const std::map<std::string, std::string, std::less<>> k_calls = {
        {"/user/getToken.json", "getToken"},       {"/user/token/expire.json", "token_expire"},
        {"/user/block.json", "block"},             {"/user/unblock.json", "unblock"},
        {"/user/block/query.json", "block_query"}, {"/user/checkOnline.json", "check_online"}};
    const auto it = k_calls.find(path);
    if (it == k_calls.end()) {
      comment("server API " + path + ": not converted");
      return;
    }
    std::vector<std::string> fields{"call: " + it->second};
    if (const auto app = str_of(c, "app"); !app.empty() && app != k_default_app) {
      fields.push_back("app: " + scalar(app));
    }
    if (const auto u = str_of(p, "userId"); !u.empty()) fields.push_back("user: " + scalar(u));
    if (const auto m = str_of(p, "minute"); !m.empty()) fields.push_back("minute: " + scalar(m));
    if (p.contains("time")) fields.push_back("time: now");
    if (const auto page = str_of(p, "page"); !page.empty()) fields.push_back("page: " + scalar(page));
    if (const auto size = str_of(p, "size"); !size.empty()) fields.push_back("size: " + scalar(size));
    fields.push_back("expect: " + std::to_string(int_of(c, "code").value_or(200)));
    step("api: " + map(fields));
  }

  const json::object& rec_;
  const scenario_options& options_;
  std::vector<const json::object*> events_, calls_;
  std::vector<client> clients_;
  std::map<std::string, std::size_t> by_key_;
  std::map<std::int64_t, std::size_t> by_session_;
  std::set<std::string> connected_;
  std::vector<std::size_t> at_start_;          // indexes into find_clients' `seen`
  std::vector<std::size_t> at_start_clients_;  // into clients_: connected at the start
  std::string steps_;
};

}  // namespace

std::string scenario_from_recording(const json::object& recording, const scenario_options& options,
                                    std::string* why) {
  return converter(recording, options).run(why);
}

}  // namespace imock::server

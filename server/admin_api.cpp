#include "server/admin_api.hpp"

#include <boost/json.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <limits>
#include <map>
#include <stdexcept>

#include "base/constant_time.hpp"

namespace imock::server {
namespace {

namespace json = boost::json;

// A bad request: answered with HTTP 400 and the message.
struct bad_request : std::runtime_error {
  using std::runtime_error::runtime_error;
};

api_response reply(int status, const json::value& body) { return {status, json::serialize(body)}; }

api_response ok(json::object body = {}) {
  body["code"] = 200;
  return reply(200, body);
}

api_response error(int status, std::string_view message) {
  return reply(status, json::object{{"code", status}, {"error", message}});
}

// Request parameters: the JSON body for POST, the query string for GET.
class params {
 public:
  explicit params(const api_request& r) {
    const auto q = r.path.find('?');
    if (q != std::string::npos) {
      try {
        // params_view decodes %XX (and '+' as space with the default options).
        for (const auto& p : boost::urls::params_view(std::string_view(r.path).substr(q + 1))) {
          obj_[p.key] = p.value;
        }
      } catch (const std::exception&) {
        throw bad_request("bad query string");
      }
    }
    if (!r.body.empty()) {
      boost::system::error_code ec;
      json::value v = json::parse(r.body, ec);
      if (ec) throw bad_request("body is not JSON: " + ec.message());
      if (!v.is_object()) throw bad_request("body must be a JSON object");
      for (const auto& [k, val] : v.as_object()) obj_[k] = val;
    }
  }

  [[nodiscard]] bool has(std::string_view key) const { return obj_.contains(key); }

  std::string str(std::string_view key, std::string_view fallback = {}) const {
    const auto* v = obj_.if_contains(key);
    if (v == nullptr || v->is_null()) return std::string(fallback);
    if (v->is_string()) return std::string(v->as_string());
    if (v->is_int64()) return std::to_string(v->as_int64());
    if (v->is_uint64()) return std::to_string(v->as_uint64());
    throw bad_request("'" + std::string(key) + "' must be a string");
  }

  std::string required_str(std::string_view key) const {
    auto s = str(key);
    if (s.empty()) throw bad_request("'" + std::string(key) + "' is required");
    return s;
  }

  std::int64_t num(std::string_view key, std::int64_t fallback) const {
    const auto* v = obj_.if_contains(key);
    if (v == nullptr || v->is_null()) return fallback;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    if (v->is_double() &&
        v->as_double() == static_cast<double>(static_cast<std::int64_t>(v->as_double()))) {
      return static_cast<std::int64_t>(v->as_double());
    }
    if (v->is_string()) {
      const auto& s = v->as_string();
      std::int64_t out = 0;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
      if (ec == std::errc() && end == s.data() + s.size()) return out;
    }
    throw bad_request("'" + std::string(key) + "' must be an integer");
  }

  double real(std::string_view key, double fallback) const {
    const auto* v = obj_.if_contains(key);
    if (v == nullptr || v->is_null()) return fallback;
    if (v->is_number()) return v->to_number<double>();
    throw bad_request("'" + std::string(key) + "' must be a number");
  }

  bool flag(std::string_view key, bool fallback) const {
    const auto* v = obj_.if_contains(key);
    if (v == nullptr || v->is_null()) return fallback;
    if (v->is_bool()) return v->as_bool();
    if (v->is_string()) {
      const auto& s = v->as_string();
      if (s == "1" || s == "true") return true;
      if (s == "0" || s == "false") return false;
    }
    throw bad_request("'" + std::string(key) + "' must be true or false");
  }

  session_filter filter() const {
    session_filter f{.app = str("app"), .user = str("user"), .device = str("device")};
    if (has("session")) f.session = static_cast<session_id>(num("session", 0));
    return f;
  }

  rc::code code(std::string_view key, rc::code fallback) const {
    if (!has(key)) return fallback;
    const auto value = num(key, 0);
    const auto* row = rc::find(static_cast<int>(value));
    if (row == nullptr || value == 0) {
      throw bad_request("'" + std::string(key) + "': " + std::to_string(value) +
                        " is not a documented code (see docs/codes.md)");
    }
    return row->value;
  }

 private:
  json::object obj_;
};

json::object to_json(const session_view& s) {
  return {{"session", s.id},
          {"transport", to_string(s.via)},
          {"remote", s.remote},
          {"connected", s.connected},
          {"blackholed", s.blackholed},
          {"app", s.app},
          {"user", s.user},
          {"device", s.device},
          {"platform", s.platform},
          {"opened_ms", s.opened_ms},
          {"connected_ms", s.connected_ms},
          {"keep_alive_s", s.keep_alive_s}};
}

json::object to_json(const fault_rule& r) {
  return {{"id", r.id},
          {"on", to_string(r.on)},
          {"action", to_string(r.action)},
          {"app", r.app},
          {"user", r.user},
          {"device", r.device},
          {"nth", r.nth},
          {"every", r.every},
          {"probability", r.probability},
          {"times", r.times},
          {"code", static_cast<int>(r.code)},
          {"delay_ms", r.delay_ms},
          {"send_disconnect", r.send_disconnect},
          {"matched", r.matched},
          {"fired", r.fired}};
}

fault_rule rule_from(const params& p) {
  fault_rule r;
  const auto on = k_fault_trigger_names.parse(p.str("on", "connect"));
  if (!on) throw bad_request("'on' must be connect, connack or packet");
  const auto act = k_fault_action_names.parse(p.required_str("action"));
  if (!act) throw bad_request("'action' must be refuse, delay, drop, blackhole or kick");
  r.on = *on;
  r.action = *act;
  r.app = p.str("app");
  r.user = p.str("user");
  r.device = p.str("device");
  r.nth = static_cast<std::uint32_t>(p.num("nth", 0));
  r.every = static_cast<std::uint32_t>(p.num("every", 0));
  r.probability = p.real("probability", 1.0);
  if (!(r.probability > 0.0 && r.probability <= 1.0)) {
    throw bad_request("'probability' must be in (0, 1]");
  }
  r.times = static_cast<std::uint32_t>(p.num("times", 1));
  r.code = p.code("code", r.action == fault_action::kick ? rc::code::disconn_kick
                                                         : rc::code::conn_server_unavailable);
  r.delay_ms = p.num("delay_ms", 0);
  if (r.delay_ms < 0) throw bad_request("'delay_ms' must be >= 0");
  if (r.action == fault_action::delay && r.on != fault_trigger::connect) {
    throw bad_request("'delay' only works on connect");
  }
  if (r.action == fault_action::refuse && r.on != fault_trigger::connect) {
    throw bad_request("'refuse' only works on connect (use kick or drop)");
  }
  r.send_disconnect = p.flag("send_disconnect", true);
  return r;
}

json::object to_json(const navigation_fault_rule& r) {
  return {{"fail", to_string(r.fail)}, {"count", r.count}, {"app", r.app}, {"fired", r.fired}};
}

// The body of POST /admin/navigation as a rule; nullopt and `error` when it is wrong.
std::optional<navigation_fault_rule> navigation_rule_from(const params& p, std::string& error) {
  const auto fail = p.str("fail");
  const auto parsed = k_navigation_fault_names.parse(fail);
  if (!parsed) {
    error = (fail.empty() ? std::string("'fail' is required")
                          : "'fail': '" + fail + "' is not a navigation fault") +
            " (expected one of: " + k_navigation_fault_names.list() + ")";
    return std::nullopt;
  }
  const auto count = p.num("count", 0);
  if (count < 0 || count > std::numeric_limits<std::uint32_t>::max()) {
    error = "'count' must be 0 (until cleared) or a number of requests";
    return std::nullopt;
  }
  return navigation_fault_rule{
      .fail = *parsed, .count = static_cast<std::uint32_t>(count), .app = p.str("app")};
}

std::string describe(const navigation_fault_rule& r) {
  if (r.fail == navigation_fault::none) return "navigation faults cleared";
  std::string out = "navigation fault " + std::string(to_string(r.fail)) + " armed (";
  out += r.count == 0 ? std::string("until cleared") : std::to_string(r.count) + " requests";
  if (!r.app.empty()) out += ", app " + r.app;
  return out + ")";
}

using handler = std::function<api_response(const params&, std::int64_t)>;

}  // namespace

std::optional<api_response> admin_access(std::string_view token, const api_request& r) {
  if (token.empty()) return std::nullopt;
  std::string_view shown;
  bool has_header = false;
  for (const auto& [name, value] : r.headers) {
    if (name != "authorization") continue;
    has_header = true;
    constexpr std::string_view k_scheme = "bearer ";
    std::string_view v = value;
    if (v.size() > k_scheme.size() &&
        std::equal(k_scheme.begin(), k_scheme.end(), v.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      shown = v.substr(k_scheme.size());
    }
  }
  if (!shown.empty() && equal_in_constant_time(shown, token)) return std::nullopt;
  return error(401, !has_header
                        ? "the admin API needs the admin token: send the header "
                          "'Authorization: Bearer TOKEN' (docs/admin-api.md, \"Access\")"
                    : shown.empty()
                        ? "the Authorization header must be 'Bearer TOKEN' (docs/admin-api.md)"
                        : "wrong admin token (docs/admin-api.md, \"Access\")");
}

bool admin_api::handles(std::string_view path) noexcept { return path.starts_with("/admin/"); }

api_response admin_api::handle(const api_request& request, std::int64_t now_ms) {
  const std::string path = request.path.substr(0, request.path.find('?'));
  const bool get = request.method == "GET";
  auto applied = [&](actions&& todo, std::string_view what, json::object extra = {}) {
    extra["affected"] = todo.size();
    hub_.log(event_kind::admin, std::string(what) + " (" + std::to_string(todo.size()) + " sessions)",
             now_ms);
    control_.apply(std::move(todo));
    return ok(std::move(extra));
  };

  // GET endpoints.
  const std::map<std::string_view, handler> reads{
      {"/admin/sessions",
       [&](const params& p, std::int64_t) {
         json::array list;
         for (const auto& s : hub_.sessions(p.filter())) list.push_back(to_json(s));
         return ok({{"sessions", std::move(list)}});
       }},
      {"/admin/events",
       [&](const params& p, std::int64_t) {
         const auto since = static_cast<std::uint64_t>(p.num("since", 0));
         const auto limit = static_cast<std::size_t>(p.num("limit", 10'000));
         const auto events = hub_.events().since(since, limit);
         if (p.str("format") == "text") {
           std::string text;
           for (const auto& e : events) text += to_text(e) + "\n";
           return api_response{200, text};
         }
         json::array list;
         for (const auto& e : events) list.push_back(json::parse(to_json(e)));
         return ok({{"last_seq", hub_.events().last_seq()}, {"events", std::move(list)}});
       }},
      {"/admin/faults",
       [&](const params&, std::int64_t) {
         json::array list;
         for (const auto& r : hub_.faults().rules()) list.push_back(to_json(r));
         return ok({{"faults", std::move(list)}});
       }},
      {"/admin/navigation",
       [&](const params&, std::int64_t) { return ok(to_json(hub_.faults().navigation())); }},
      {"/admin/clock",
       [&](const params&, std::int64_t now) {
         return ok({{"now_ms", now}});
       }},
      {"/admin/status",
       [&](const params&, std::int64_t now) {
         return ok({{"now_ms", now},
                    {"accepting", control_.accepting()},
                    {"sessions", hub_.session_count()},
                    {"connected", hub_.connected_count()},
                    {"faults", hub_.faults().rules().size()},
                    {"last_event", hub_.events().last_seq()}});
       }},
  };

  // POST endpoints.
  const std::map<std::string_view, handler> writes{
      {"/admin/kick",
       [&](const params& p, std::int64_t now) {
         const auto why = p.code("code", rc::code::disconn_kick);
         return applied(hub_.kick(p.filter(), why, "admin kick", now), "kick");
       }},
      {"/admin/users/block",
       [&](const params& p, std::int64_t now) {
         const auto app = p.required_str("app");
         const auto user = p.required_str("user");
         auto* rec = hub_.dir().find_app(app);
         if (rec == nullptr) throw bad_request("unknown app '" + app + "'");
         const auto ms =
             p.has("duration_ms") ? p.num("duration_ms", 0) : p.num("minutes", 0) * 60'000;
         if (ms <= 0) throw bad_request("give 'minutes' or 'duration_ms' > 0");
         hub_.dir().ensure_user(*rec, user).blocked_until_ms = now + ms;
         return applied(hub_.disconnect_user(app, user, rc::code::conn_user_blocked, now),
                        "block " + app + "/" + user + " for " + std::to_string(ms) + " ms");
       }},
      {"/admin/users/unblock",
       [&](const params& p, std::int64_t now) {
         const auto app = p.required_str("app");
         const auto user = p.required_str("user");
         if (auto* rec = hub_.dir().find_user(app, user)) rec->blocked_until_ms = 0;
         hub_.log(event_kind::admin, "unblock " + app + "/" + user, now);
         return ok();
       }},
      {"/admin/tokens/expire",
       [&](const params& p, std::int64_t now) {
         const auto app = p.required_str("app");
         const auto user = p.required_str("user");
         auto* rec = hub_.dir().find_app(app);
         if (rec == nullptr) throw bad_request("unknown app '" + app + "'");
         const auto before = p.num("before_ms", now + 1);
         hub_.dir().ensure_user(*rec, user).revoked_before_ms = before;
         hub_.log(event_kind::admin,
                  "tokens of " + app + "/" + user + " issued before " + std::to_string(before) +
                      " revoked",
                  now);
         return ok({{"before_ms", before}});
       }},
      {"/admin/apps/state",
       [&](const params& p, std::int64_t now) {
         const auto app = p.required_str("app");
         auto* rec = hub_.dir().find_app(app);
         if (rec == nullptr) throw bad_request("unknown app '" + app + "'");
         const auto state = p.required_str("state");
         const auto parsed = k_app_state_names.parse(state);
         if (!parsed) throw bad_request("'state' must be active, blocked or deleted");
         rec->config.state = *parsed;
         hub_.log(event_kind::admin, "app " + app + " is now " + state, now);
         return ok();
       }},
      {"/admin/drop",
       [&](const params& p, std::int64_t now) {
         const bool with = p.flag("disconnect", false);
         const bool reset = p.flag("reset", false);
         if (with && reset) throw bad_request("'disconnect' and 'reset' exclude each other");
         const auto reason = static_cast<std::uint8_t>(p.num("reason", 0x80));
         const auto how = reset  ? hub::drop_how::reset
                          : with ? hub::drop_how::with_disconnect
                                 : hub::drop_how::silently;
         return applied(hub_.drop(p.filter(), how, reason, now),
                        std::string("drop ") + (reset  ? "with a TCP reset"
                                                : with ? "with DISCONNECT"
                                                       : "silently"));
       }},
      {"/admin/blackhole",
       [&](const params& p, std::int64_t now) {
         hub_.blackhole(p.filter(), true, p.flag("include_new", true), now);
         return ok();
       }},
      {"/admin/release",
       [&](const params& p, std::int64_t now) {
         hub_.blackhole(p.filter(), false, p.flag("include_new", true), now);
         return ok();
       }},
      {"/admin/faults",
       [&](const params& p, std::int64_t now) {
         auto rule = rule_from(p);
         const auto id = hub_.faults().add(std::move(rule));
         hub_.log(event_kind::admin, "fault rule " + std::to_string(id) + " armed", now);
         return ok({{"id", id}});
       }},
      {"/admin/faults/remove",
       [&](const params& p, std::int64_t) {
         const bool removed = hub_.faults().remove(static_cast<std::uint64_t>(p.num("id", 0)));
         return ok({{"removed", removed}});
       }},
      {"/admin/faults/clear",
       [&](const params&, std::int64_t now) {
         hub_.faults().clear();
         hub_.log(event_kind::admin, "fault rules and the navigation fault cleared", now);
         return ok();
       }},
      {"/admin/navigation",
       [&](const params& p, std::int64_t now) {
         std::string why;
         auto rule = navigation_rule_from(p, why);
         if (!rule) return error(400, why);
         hub_.log(event_kind::admin, describe(*rule), now);
         hub_.faults().set_navigation(std::move(*rule));
         return ok();
       }},
      {"/admin/refuse",
       [&](const params& p, std::int64_t now) {
         fault_rule r{.on = fault_trigger::connect,
                      .action = fault_action::refuse,
                      .app = p.str("app"),
                      .user = p.str("user"),
                      .device = p.str("device")};
         r.times = static_cast<std::uint32_t>(p.num("count", 1));
         r.every = static_cast<std::uint32_t>(p.num("every", 0));
         r.probability = p.real("probability", 1.0);
         if (!(r.probability > 0.0 && r.probability <= 1.0)) {
           throw bad_request("'probability' must be in (0, 1]");
         }
         r.code = p.code("code", rc::code::conn_server_unavailable);
         const auto id = hub_.faults().add(std::move(r));
         hub_.log(event_kind::admin, "refuse rule " + std::to_string(id) + " armed", now);
         return ok({{"id", id}});
       }},
      {"/admin/delay",
       [&](const params& p, std::int64_t now) {
         fault_rule r{.on = fault_trigger::connect,
                      .action = fault_action::delay,
                      .app = p.str("app"),
                      .user = p.str("user"),
                      .device = p.str("device")};
         r.times = static_cast<std::uint32_t>(p.num("count", 1));
         r.delay_ms = p.num("ms", -1);
         if (r.delay_ms < 0) throw bad_request("'ms' (>= 0) is required");
         const auto id = hub_.faults().add(std::move(r));
         hub_.log(event_kind::admin, "delay rule " + std::to_string(id) + " armed", now);
         return ok({{"id", id}});
       }},
      {"/admin/stop-accepting",
       [&](const params& p, std::int64_t now) {
         const bool silent = p.flag("silent", false);
         control_.set_accept_mode(silent ? server_control::accept_mode::drop_syn
                                         : server_control::accept_mode::refuse);
         hub_.log(event_kind::admin, silent ? "stopped accepting: SYNs go unanswered" : "stopped accepting",
                  now);
         return ok();
       }},
      {"/admin/resume-accepting",
       [&](const params&, std::int64_t now) {
         control_.set_accepting(true);
         hub_.log(event_kind::admin, "accepting again", now);
         return ok();
       }},
      {"/admin/restart",
       [&](const params& p, std::int64_t now) {
         const auto down_ms = p.num("down_ms", 0);
         if (down_ms < 0) throw bad_request("'down_ms' must be >= 0");
         control_.set_accepting(false);
         auto todo = hub_.shutdown(now);
         if (down_ms == 0) {
           control_.set_accepting(true);
         } else {
           control_.resume_accepting_after(down_ms);
         }
         return applied(std::move(todo), "restart, down for " + std::to_string(down_ms) + " ms");
       }},
      {"/admin/shutdown",
       [&](const params&, std::int64_t now) {
         hub_.log(event_kind::admin, "shutdown requested", now);
         control_.request_shutdown();
         return ok();
       }},
      {"/admin/seed",
       [&](const params& p, std::int64_t now) {
         hub_.faults().reseed(static_cast<std::uint64_t>(p.num("seed", 1)));
         hub_.log(event_kind::admin, "fault generator reseeded", now);
         return ok();
       }},
  };

  try {
    const auto& table = get ? reads : writes;
    const auto it = table.find(path);
    if (it == table.end()) {
      const auto& other = get ? writes : reads;
      if (other.contains(path)) {
        return error(405, std::string(path) + " takes " + (get ? "POST" : "GET"));
      }
      return error(404, "no admin endpoint " + path + " (see docs/admin-api.md)");
    }
    params p(request);
    return it->second(p, now_ms);
  } catch (const bad_request& e) {
    return error(400, e.what());
  } catch (const std::exception& e) {
    return error(500, e.what());
  }
}

}  // namespace imock::server

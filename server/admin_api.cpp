#include "imock/server/admin_api.hpp"

#include <boost/json.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>

#include <algorithm>
#include <array>
#include <variant>
#include <cctype>
#include <limits>

#include "imock/base/constant_time.hpp"
#include "imock/base/json_fields.hpp"
#include "imock/base/utf8.hpp"
#include "imock/server/admin_requests.hpp"

namespace imock::server {
namespace {

namespace json = boost::json;

api_response reply(int status, const json::value& body) { return {status, json::serialize(body)}; }

api_response ok(json::object body = {}) {
  body["code"] = 200;
  return reply(200, body);
}

// The message may quote the client (a path, a key): as_utf8 keeps the answer JSON.
api_response error(int status, std::string_view message) {
  return reply(status, json::object{{"code", status}, {"error", as_utf8(message)}});
}

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

json::object to_json(const navigation_fault_rule& r) {
  return {{"fail", to_string(r.fail)}, {"count", r.count}, {"app", r.app}, {"fired", r.fired}};
}

std::string describe(const navigation_fault_rule& r) {
  if (r.fail == navigation_fault::none) return "navigation faults cleared";
  std::string out = "navigation fault " + std::string(to_string(r.fail)) + " armed (";
  out += r.count == 0 ? std::string("until cleared") : std::to_string(r.count) + " requests";
  if (!r.app.empty()) out += ", app " + r.app;
  return out + ")";
}

}  // namespace

// A request's parameters as one object: the query string's, then the JSON body's.
// nullopt and `why` when either cannot be read.
std::optional<json::object> admin_parameters(const api_request& r, std::string& why) {
  json::object out;
  if (const auto q = r.path.find('?'); q != std::string::npos) {
    const auto parsed = boost::urls::parse_query(std::string_view(r.path).substr(q + 1));
    if (!parsed) {
      why = "bad query string: " + parsed.error().message();
      return std::nullopt;
    }
    // params_view decodes %XX, and '+' as a space. What is not UTF-8 is refused here, as
    // the JSON parser refuses it in a body: values end up in answers and the event log.
    for (const auto& p : boost::urls::params_view(*parsed)) {
      if (!is_utf8(p.key) || !is_utf8(p.value)) {
        why = "bad query string: a key or value is not UTF-8";
        return std::nullopt;
      }
      out[p.key] = p.value;
    }
  }
  if (!r.body.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec) {
      why = "body is not JSON: " + ec.message();
      return std::nullopt;
    }
    if (!v.is_object()) {
      why = "body must be a JSON object";
      return std::nullopt;
    }
    for (const auto& [k, val] : v.as_object()) out[k] = val;
  }
  return out;
}

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

namespace {

// Carries out one typed write request (admin_requests.hpp) on the hub.
struct write_executor {
  hub& hub_;
  server_control& control_;
  std::int64_t now;

  api_response applied(actions&& todo, std::string_view what, json::object extra = {}) {
    extra["affected"] = todo.size();
    hub_.log(event_kind::admin, std::string(what) + " (" + std::to_string(todo.size()) + " sessions)",
             now);
    control_.apply(std::move(todo));
    return ok(std::move(extra));
  }

  api_response operator()(const admin::kick& k) {
    return applied(hub_.kick(k.filter, k.code, "admin kick", now), "kick");
  }
  api_response operator()(const admin::block& b) {
    auto* rec = hub_.dir().find_app(b.app);
    if (rec == nullptr) return error(400, "unknown app '" + b.app + "'");
    // Any duration_ms > 0 is taken (up to INT64_MAX): one past the end of time blocks for
    // good, as /user/block.json's saturating end does, rather than overflowing.
    std::int64_t until = 0;
    if (__builtin_add_overflow(now, b.duration_ms, &until)) {
      until = std::numeric_limits<std::int64_t>::max();
    }
    hub_.dir().ensure_user(*rec, b.user).blocked_until_ms = until;
    return applied(hub_.disconnect_user(b.app, b.user, rc::code::conn_user_blocked, now),
                   "block " + b.app + "/" + b.user + " for " + std::to_string(b.duration_ms) + " ms");
  }
  api_response operator()(const admin::unblock& u) {
    if (auto* rec = hub_.dir().find_user(u.app, u.user)) rec->blocked_until_ms = 0;
    hub_.log(event_kind::admin, "unblock " + u.app + "/" + u.user, now);
    return ok();
  }
  api_response operator()(const admin::expire_tokens& e) {
    auto* rec = hub_.dir().find_app(e.app);
    if (rec == nullptr) return error(400, "unknown app '" + e.app + "'");
    const auto before = e.before_ms.value_or(now + 1);
    hub_.dir().ensure_user(*rec, e.user).revoked_before_ms = before;
    hub_.log(event_kind::admin,
             "tokens of " + e.app + "/" + e.user + " issued before " + std::to_string(before) +
                 " revoked",
             now);
    return ok({{"before_ms", before}});
  }
  api_response operator()(const admin::set_app_state& a) {
    auto* rec = hub_.dir().find_app(a.app);
    if (rec == nullptr) return error(400, "unknown app '" + a.app + "'");
    rec->config.state = a.state;
    hub_.log(event_kind::admin, "app " + a.app + " is now " + std::string(to_string(a.state)), now);
    return ok();
  }
  api_response operator()(const admin::drop& d) {
    return applied(hub_.drop(d.filter, d.how, d.reason, now),
                   std::string("drop ") + (d.how == hub::drop_how::reset             ? "with a TCP reset"
                                           : d.how == hub::drop_how::with_disconnect ? "with DISCONNECT"
                                                                                     : "silently"));
  }
  api_response operator()(const admin::blackhole& b) {
    hub_.blackhole(b.filter, b.on, b.include_new, now);
    return ok();
  }
  api_response operator()(const admin::add_fault& f) {
    const auto id = hub_.faults().add(f.rule);
    hub_.log(event_kind::admin, std::string(f.via) + " rule " + std::to_string(id) + " armed", now);
    return ok({{"id", id}});
  }
  api_response operator()(const admin::remove_fault& r) {
    return ok({{"removed", hub_.faults().remove(r.id)}});
  }
  api_response operator()(const admin::clear_faults&) {
    hub_.faults().clear();
    hub_.log(event_kind::admin, "fault rules and the navigation fault cleared", now);
    return ok();
  }
  api_response operator()(const admin::set_navigation& n) {
    hub_.log(event_kind::admin, describe(n.rule), now);
    hub_.faults().set_navigation(n.rule);
    return ok();
  }
  api_response operator()(const admin::stop_accepting& s) {
    control_.set_accept_mode(s.silent ? server_control::accept_mode::drop_syn
                                      : server_control::accept_mode::refuse);
    hub_.log(event_kind::admin, s.silent ? "stopped accepting: SYNs go unanswered" : "stopped accepting",
             now);
    return ok();
  }
  api_response operator()(const admin::resume_accepting&) {
    control_.set_accepting(true);
    hub_.log(event_kind::admin, "accepting again", now);
    return ok();
  }
  api_response operator()(const admin::restart& r) {
    control_.set_accepting(false);
    auto todo = hub_.shutdown(now);
    if (r.down_ms == 0) {
      control_.set_accepting(true);
    } else {
      control_.resume_accepting_after(r.down_ms);
    }
    return applied(std::move(todo), "restart, down for " + std::to_string(r.down_ms) + " ms");
  }
  api_response operator()(const admin::shutdown&) {
    hub_.log(event_kind::admin, "shutdown requested", now);
    control_.request_shutdown();
    return ok();
  }
  api_response operator()(const admin::reseed& r) {
    hub_.faults().reseed(r.seed);
    hub_.log(event_kind::admin, "fault generator reseeded", now);
    return ok();
  }
};

// The GET endpoints.
constexpr std::array<std::string_view, 7> k_read_paths = {
    "/admin/sessions", "/admin/events",  "/admin/faults", "/admin/navigation",
    "/admin/clock",    "/admin/status",  "/admin/apps"};

}  // namespace

api_response admin_api::handle(const api_request& request, std::int64_t now_ms) {
  const std::string path = request.path.substr(0, request.path.find('?'));
  const bool get = request.method == "GET";
  const bool is_read =
      std::find(k_read_paths.begin(), k_read_paths.end(), path) != k_read_paths.end();
  const bool is_write = admin::is_write_path(path);
  if (get ? !is_read : !is_write) {
    if (get ? is_write : is_read) {
      return error(405, std::string(path) + " takes " + (get ? "POST" : "GET"));
    }
    return error(404, "no admin endpoint " + path + " (see docs/admin-api.md)");
  }
  std::string why;
  const auto params = admin_parameters(request, why);
  if (!params) return error(400, why);

  if (!get) {
    const auto parsed = admin::parse_admin_request(path, *params);
    if (!parsed.value) return error(400, admin::describe(parsed.problems));
    return std::visit(write_executor{hub_, control_, now_ms}, *parsed.value);
  }

  json_fields::field_reader in(*params, /*spelled=*/true);
  if (path == "/admin/sessions") {
    const auto f = admin::read_filter(in);
    if (!in.ok()) return error(400, admin::describe(in.problems()));
    json::array list;
    for (const auto& s : hub_.sessions(f)) list.push_back(to_json(s));
    return ok({{"sessions", std::move(list)}});
  }
  if (path == "/admin/events") {
    const auto since = in.integer("since").value_or(0);
    const auto limit = in.integer("limit").value_or(10'000);
    const auto format = in.string("format").value_or("json");
    if (since < 0) in.problem("since", "'since' must be >= 0");
    if (limit < 0) in.problem("limit", "'limit' must be >= 0");
    if (format != "json" && format != "text") in.problem("format", "'format' must be json or text");
    if (!in.ok()) return error(400, admin::describe(in.problems()));
    const auto events =
        hub_.events().since(static_cast<std::uint64_t>(since), static_cast<std::size_t>(limit));
    if (format == "text") {
      std::string text;
      for (const auto& e : events) text += to_text(e) + "\n";
      return api_response{200, text};
    }
    json::array list;
    for (const auto& e : events) list.push_back(json::parse(to_json(e)));
    return ok({{"last_seq", hub_.events().last_seq()}, {"events", std::move(list)}});
  }
  if (path == "/admin/faults") {
    json::array list;
    for (const auto& r : hub_.faults().rules()) list.push_back(to_json(r));
    return ok({{"faults", std::move(list)}});
  }
  if (path == "/admin/navigation") return ok(to_json(hub_.faults().navigation()));
  if (path == "/admin/apps") {
    // Keys, states and blocked users; never the secrets.
    std::vector<const app_record*> apps;
    for (const auto& [key, rec] : hub_.dir().apps()) apps.push_back(&rec);
    std::sort(apps.begin(), apps.end(),
              [](const auto* a, const auto* b) { return a->config.key < b->config.key; });
    json::array list;
    for (const auto* a : apps) {
      json::array blocked;
      for (const auto& [user, rec] : a->users) {
        if (rec.blocked(now_ms)) blocked.push_back(json::value(user));
      }
      list.push_back(json::object{{"key", a->config.key},
                                  {"state", to_string(a->config.state)},
                                  {"users", a->users.size()},
                                  {"blocked", std::move(blocked)}});
    }
    return ok({{"apps", std::move(list)}});
  }
  if (path == "/admin/clock") return ok({{"now_ms", now_ms}});
  return ok({{"now_ms", now_ms},
             {"accepting", control_.accepting()},
             {"sessions", hub_.session_count()},
             {"connected", hub_.connected_count()},
             {"faults", hub_.faults().rules().size()},
             {"last_event", hub_.events().last_seq()}});
}

}  // namespace imock::server

#include "imock/server/endpoints.hpp"

#include <boost/json.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>

#include <string>

#include "imock/base/json_fields.hpp"
#include "imock/base/utf8.hpp"
#include "imock/server/admin_requests.hpp"

namespace imock::server {

endpoints::endpoints(hub& h, server_control& control)
    : hub_(h),
      control_(control),
      api_(h.dir(), h.config().limits, h.config().messages, hooks()),
      admin_(h, control),
      navigation_(h.dir(), h.faults(), h.config().navigation) {}

api_hooks endpoints::hooks() {
  return {
      .is_online = [this](std::string_view app,
                          std::string_view user) { return hub_.is_online(app, user); },
      // Called while a request is handled, so "now" is the request's time: the hub's
      // latest event time is not enough (a block disconnects at the request's time).
      .disconnect_user =
          [this](std::string_view app, std::string_view user, rc::code why) {
            control_.apply(hub_.disconnect_user(app, user, why, now_ms_));
          },
      .log_call =
          [this](std::string_view detail) {
            hub_.log(event_kind::api, std::string(detail), now_ms_);
          },
      .publish =
          [this](const publish_request& r) {
            std::vector<recipient_uid> uids;
            control_.apply(hub_.publish(r, now_ms_, uids));
            return uids;
          },
  };
}

bool endpoints::handles(std::string_view path) noexcept {
  path = path.substr(0, path.find('?'));
  return server_api::handles(path) || admin_api::handles(path) || navigation::handles(path);
}

namespace {

namespace json = boost::json;

api_response json_answer(int status, json::object body) {
  body["code"] = status;
  return {status, json::serialize(body)};
}

// A server API call's parameters for a recording: the query string's and the form
// body's (a key sent twice becomes a list). The signature is in headers: not kept.
json::object form_parameters(const api_request& r) {
  json::object out;
  auto add = [&out](std::string_view text) {
    const auto parsed = boost::urls::parse_query(text);
    if (!parsed) return;
    for (const auto& p : boost::urls::params_view(*parsed)) {
      json::value v(as_utf8(p.value));
      const std::string key = as_utf8(p.key);
      if (auto* had = out.if_contains(key)) {
        if (!had->is_array()) *had = json::array{std::move(*had)};
        had->as_array().push_back(std::move(v));
      } else {
        out[key] = std::move(v);
      }
    }
  };
  if (const auto q = r.path.find('?'); q != std::string::npos) add(std::string_view(r.path).substr(q + 1));
  add(r.body);
  return out;
}

int code_of(const api_response& a) {
  boost::system::error_code ec;
  const auto v = json::parse(a.body, ec);
  if (ec || !v.is_object()) return 0;
  return static_cast<int>(json_fields::int_or(v.as_object(), "code", 0));
}

// The NAME of /admin/files/NAME, %XX decoded (the console encodes it).
std::string file_name_of(std::string_view path) {
  constexpr std::string_view k_prefix = "/admin/files/";
  if (!path.starts_with(k_prefix)) return {};
  const auto encoded = path.substr(k_prefix.size());
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  };
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%' && i + 2 < encoded.size() && hex(encoded[i + 1]) >= 0 && hex(encoded[i + 2]) >= 0) {
      out += static_cast<char>(hex(encoded[i + 1]) * 16 + hex(encoded[i + 2]));
      i += 2;
    } else {
      out += encoded[i];
    }
  }
  return out;
}

}  // namespace

void endpoints::record(const api_request& r, std::string_view via, std::string_view path,
                       const api_response& answer, std::uint64_t after_seq) {
  if (!recorder_.recording()) return;
  json::object params;
  if (via == "api") {
    params = form_parameters(r);
  } else {
    std::string why;
    if (auto p = admin_parameters(r, why)) params = std::move(*p);
  }
  // A server API call: the app it was signed for (its key, never its secret).
  const auto app = via == "api" ? r.header("app-key", "rc-app-key") : std::nullopt;
  recorder_.note_call(now_ms_, via, path, std::move(params), answer.http_status, code_of(answer),
                      after_seq, app ? as_utf8(*app) : std::string());
}

// Recording (/admin/record*) and the console's files (/admin/files*).
std::optional<api_response> endpoints::handle_console_paths(const api_request& r,
                                                            std::string_view path) {
  const bool get = r.method == "GET";
  auto wrong_method = [&](std::string_view wants) {
    return json_answer(405, {{"error", std::string(path) + " takes " + std::string(wants)}});
  };
  if (path == "/admin/record/start" || path == "/admin/record/stop") {
    if (r.method != "POST") return wrong_method("POST");
    if (path == "/admin/record/start") {
      json::array online;
      for (const auto& v : hub_.sessions({})) {
        if (!v.connected) continue;
        online.push_back(json::object{{"session", v.id},
                                      {"app", v.app},
                                      {"user", v.user},
                                      {"device", v.device},
                                      {"transport", to_string(v.via)},
                                      {"platform", v.platform}});
      }
      recorder_.start(now_ms_, hub_.events().last_seq(), std::move(online));
      hub_.log(event_kind::admin, "recording started", now_ms_);
      return json_answer(200, {{"recording", true}, {"started_ms", now_ms_}});
    }
    hub_.log(event_kind::admin, "recording stopped", now_ms_);
    const auto rec = recorder_.stop(now_ms_, hub_.events());
    if (!rec) return json_answer(409, {{"error", "no recording is running (POST /admin/record/start)"}});
    return json_answer(200, {{"recording", false},
                             {"actions", rec->at("calls").as_array().size()},
                             {"events", rec->at("events").as_array().size()}});
  }
  if (path == "/admin/record" || path == "/admin/record/last" || path == "/admin/record/scenario") {
    if (!get) return wrong_method("GET");
    if (path == "/admin/record") return json_answer(200, recorder_.status(hub_.events()));
    if (!recorder_.last()) {
      return json_answer(404, {{"error", "no recording yet: POST /admin/record/start, then /stop"}});
    }
    if (path == "/admin/record/last") return api_response{200, json::serialize(*recorder_.last())};
    std::string why;
    const auto params = admin_parameters(r, why);
    if (!params) return json_answer(400, {{"error", why}});
    scenario_options o;
    if (const auto name = json_fields::string_or(*params, "name"); !name.empty()) o.name = name;
    o.description = json_fields::string_or(*params, "description");
    auto yaml = scenario_from_recording(*recorder_.last(), o, &why);
    if (yaml.empty()) return json_answer(500, {{"error", why}});
    return api_response{200, std::move(yaml), "application/yaml; charset=utf-8"};
  }
  if (path == "/admin/files" || path.starts_with("/admin/files/")) {
    if (!get) return wrong_method("GET");
    if (path == "/admin/files") {
      json::array list;
      for (const auto& f : files_) {
        list.push_back(json::object{
            {"name", f.name}, {"type", f.content_type}, {"size", f.content.size()}});
      }
      return json_answer(200, {{"files", std::move(list)}});
    }
    const auto name = file_name_of(path);
    for (const auto& f : files_) {
      if (f.name == name) return api_response{200, f.content, f.content_type};
    }
    return json_answer(404, {{"error", "no console file '" + as_utf8(name) +
                                           "' (imock-server --console-file PATH)"}});
  }
  return std::nullopt;
}

api_response endpoints::handle(const api_request& r, std::int64_t now_ms) {
  now_ms_ = now_ms;
  const std::string_view path = std::string_view(r.path).substr(0, r.path.find('?'));
  const auto before = hub_.events().last_seq();
  if (server_api::handles(path)) {
    api_request stripped = r;
    stripped.path = std::string(path);
    auto answer = api_.handle(stripped, now_ms);
    record(r, "api", path, answer, before);
    return answer;
  }
  if (admin_api::handles(path)) {
    if (auto answer = handle_console_paths(r, path)) return std::move(*answer);
    auto answer = admin_.handle(r, now_ms);
    if (r.method == "POST" && admin::is_write_path(path)) record(r, "admin", path, answer, before);
    return answer;
  }
  if (navigation::handles(path)) {
    auto answer = navigation_.handle(r, now_ms);
    hub_.events().add(std::move(answer.logged));
    return std::move(answer.response);
  }
  return {404, R"j({"code":404,"error":"not found (see docs/server-api.md, docs/admin-api.md)"})j"};
}

}  // namespace imock::server

// The server steps: admin actions (kick, block, drop, fault, ...), checked as the
// server would check their body, and the signed server API calls (api: {call: ...}).
#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <limits>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "imock/harness/loader_reader.hpp"
#include "imock/protocol/api_request.hpp"
#include "imock/server/admin_requests.hpp"
#include "imock/server/config.hpp"
#include "imock/server/faults.hpp"

namespace imock::harness::detail {
namespace {

constexpr std::uint64_t k_max_u32 = std::numeric_limits<std::uint32_t>::max();

// Server actions that take an optional session filter: `all`, null or {} means every
// session.
bool filter_optional(std::string_view kind) noexcept {
  return kind == "kick" || kind == "drop" || kind == "blackhole" || kind == "release" ||
         kind == "refuse";
}

// The scenario key an admin body's key was read from (`for` became duration_ms).
std::string_view yaml_key_of(std::string_view body_key) noexcept {
  if (body_key == "duration_ms" || body_key == "ms") return "for";
  if (body_key == "down_ms") return "down";
  if (body_key == "delay_ms") return "delay";
  return body_key;
}

// --- the signed server API calls ---

struct api_call_info {
  std::string_view name;
  std::string_view alias;  // the endpoint's own spelling, also accepted
  std::string_view path;
  bool needs_user;
  bool user_list;  // userId may repeat
  key_list keys;
};

constexpr std::array<std::string_view, 7> k_c_get_token = {"call", "app",          "client", "user",
                                                           "name", "portrait_uri", "expect"};
constexpr std::array<std::string_view, 6> k_c_token_expire = {"call", "app",  "client",
                                                              "user", "time", "expect"};
constexpr std::array<std::string_view, 6> k_c_block = {"call", "app",    "client",
                                                       "user", "minute", "expect"};
constexpr std::array<std::string_view, 5> k_c_user = {"call", "app", "client", "user", "expect"};
constexpr std::array<std::string_view, 5> k_c_block_query = {"call", "app", "page", "size",
                                                             "expect"};

constexpr std::array<api_call_info, 6> k_api_calls = {{
    {"getToken", "get_token", "/user/getToken.json", true, false, k_c_get_token},
    {"token_expire", "", "/user/token/expire.json", true, true, k_c_token_expire},
    {"block", "", "/user/block.json", true, true, k_c_block},
    {"unblock", "", "/user/unblock.json", true, true, k_c_user},
    {"block_query", "", "/user/block/query.json", false, false, k_c_block_query},
    {"check_online", "checkOnline", "/user/checkOnline.json", true, false, k_c_user},
}};

// The "code" of a server API answer (docs/server-api.md).
constexpr std::array<int, 13> k_api_codes = {200,  404,  405,  1000, 1001, 1002, 1003,
                                             1004, 1005, 1006, 1008, 1050, 2007};

// application/x-www-form-urlencoded value: unreserved bytes as they are, the rest %XX.
// The placeholder the runner replaces with the server's clock (ms) when it sends the call.
constexpr std::string_view k_now_placeholder = "{now}";

}  // namespace

// --- server actions ---

// app / user / device / client of a server action into `body`. `device`: whether the
// action takes a device. `client: NAME` stands for that client's app, user (and device).
void reader::read_filter(const std::vector<entry>& params, json::object& body, bool with_device) {
  const auto* c = find(params, "client");
  const auto* app = find(params, "app");
  const auto* user = find(params, "user");
  const auto* device = with_device ? find(params, "device") : nullptr;
  if (c != nullptr) {
    const std::string sets = with_device ? "app, user and device" : "app and user";
    for (const auto* other : {app, user, device}) {
      if (other != nullptr) {
        const std::string keys = with_device ? "app/user/device" : "app/user";
        error(other->key.Mark(),
              "client: sets " + sets + " already (expected either client or " + keys + ")");
      }
    }
    if (const auto name = client_name(*c)) {
      if (const auto* spec = spec_of(*name)) {
        body["app"] = spec->app;
        body["user"] = spec->user;
        if (with_device) {
          body["device"] = spec->device;
        }
      }
    }
    return;
  }
  if (app != nullptr) {
    if (const auto v = app_name(*app)) {
      body["app"] = *v;
    }
  }
  if (user != nullptr) {
    if (const auto v = read_non_empty(*user)) {
      body["user"] = *v;
    }
  }
  if (device != nullptr) {
    if (const auto v = read_non_empty(*device)) {
      body["device"] = *v;
    }
  }
}

std::optional<step_body> reader::read_server_action(const kind_info& kind, const entry& e) {
  const std::string what(kind.name);
  std::vector<entry> params;
  if (e.value.IsScalar()) {
    if (e.value.Scalar() == "all" && filter_optional(kind.name)) {
      // every session: no filter
    } else if (contains(kind.params, "client")) {
      params.push_back(entry{"client", e.value, e.value});  // `drop: alice`
    } else {
      error_at(e, "expected a map for " + what +
                      (kind.params.empty() ? " (it takes no parameters: " + what + ": {})"
                                           : " (keys: " + join(kind.params) + ")") +
                      ", got " + describe(e.value));
      return std::nullopt;
    }
  } else if (e.value.IsMap()) {
    params = read_map(e.value, "in " + what, kind.params);
  } else if (!e.value.IsNull()) {
    error_at(e, "expected a map for " + what + ", got " + describe(e.value));
    return std::nullopt;
  }
  const auto where = e.value.IsMap() ? e.value.Mark() : e.key.Mark();
  const auto before = errors_.size();
  json::object body;

  const auto set_code = [&](std::string_view key) {
    if (const auto* c = find(params, key)) {
      if (const auto v = read_code(*c, false)) {
        body[key] = *v;
      }
    }
  };
  // Counts: 0..2^32-1, as the server stores them.
  const auto set_count = [&](std::string_view key) {
    if (const auto* p = find(params, key)) {
      if (const auto v = read_unsigned(*p, 0, k_max_u32)) {
        body[key] = *v;
      }
    }
  };
  const auto set_bool = [&](std::string_view key) {
    if (const auto* p = find(params, key)) {
      if (const auto v = read_bool(*p)) {
        body[key] = *v;
      }
    }
  };
  const auto set_probability = [&] {
    if (const auto* p = find(params, "probability")) {
      if (const auto v = read_number(*p, std::numeric_limits<double>::lowest(),
                                     std::numeric_limits<double>::max(), "e.g. 0.5")) {
        body["probability"] = *v;
      }
    }
  };
  // block, unblock, expire_tokens act on one user of one app.
  const auto user_target = [&] {
    read_filter(params, body, false);
    if (find(params, "user") == nullptr && find(params, "client") == nullptr) {
      error(where, what + " needs user (a user id) or client (a client's name)");
    }
    if (!body.contains("app") && !first_app().empty()) {
      json::object with_app{{"app", first_app()}};  // first, as the docs list it
      for (const auto& kv : body) {
        with_app[kv.key()] = kv.value();
      }
      body = std::move(with_app);
    }
  };

  if (kind.name == "kick") {
    read_filter(params, body, true);
    set_code("code");
  } else if (kind.name == "block") {
    user_target();
    if (const auto* p = required(params, where, what, "for")) {
      if (const auto ms = read_positive_duration(*p)) {
        body["duration_ms"] = *ms;
      }
    }
  } else if (kind.name == "unblock" || kind.name == "expire_tokens") {
    user_target();
  } else if (kind.name == "app_state") {
    if (const auto* p = find(params, "app")) {
      if (const auto v = app_name(*p)) {
        body["app"] = *v;
      }
    } else {
      body["app"] = first_app();
    }
    if (const auto* p = required(params, where, what, "state")) {
      if (const auto v = read_choice(*p, server::k_app_state_names)) {
        body["state"] = *v;
      }
    }
  } else if (kind.name == "drop") {
    read_filter(params, body, true);
    set_bool("disconnect");
    set_bool("reset");
    if (const auto* p = find(params, "reason")) {
      if (const auto v = read_reason(*p)) {
        body["reason"] = *v;
      }
    }
  } else if (kind.name == "blackhole" || kind.name == "release") {
    read_filter(params, body, true);
    set_bool("include_new");
  } else if (kind.name == "delay") {
    if (const auto* p = required(params, where, what, "for")) {
      if (const auto ms = read_duration(*p)) {
        body["ms"] = *ms;
      }
    }
    set_count("count");
    read_filter(params, body, true);
  } else if (kind.name == "refuse") {
    set_count("count");
    set_code("code");
    set_count("every");
    set_probability();
    read_filter(params, body, true);
  } else if (kind.name == "fault") {
    read_fault(params, where, body);
    set_count("nth");
    set_count("every");
    set_count("times");
    set_probability();
    set_code("code");
    set_bool("send_disconnect");
    if (const auto* p = find(params, "delay")) {
      if (const auto ms = read_duration(*p)) {
        body["delay_ms"] = *ms;
      }
    }
    read_filter(params, body, true);
  } else if (kind.name == "restart") {
    if (const auto* p = find(params, "down")) {
      if (const auto ms = read_duration(*p)) {
        body["down_ms"] = *ms;
      }
    }
  } else if (kind.name == "stop_accepting") {
    set_bool("silent");
  } else if (kind.name == "navigation") {
    if (const auto* p = required(params, where, what, "fail")) {
      if (const auto v = read_choice(*p, server::k_navigation_fault_names)) {
        body["fail"] = *v;
      }
    }
    set_count("count");
    if (const auto* p = find(params, "app")) {
      if (const auto v = app_name(*p)) body["app"] = *v;
    }
  }
  // resume_accepting, clear_faults: no parameters.
  if (errors_.size() != before) {
    return std::nullopt;
  }
  // The rules between fields and the ranges are the server's (admin_requests.hpp):
  // the body is refused here for the reason the server would refuse it, at its line.
  const auto checked = server::admin::parse_admin_request(kind.path, body);
  for (const auto& problem : checked.problems) {
    if (const auto* at = find(params, yaml_key_of(problem.field))) {
      error_at(*at, problem.message);
    } else {
      error(where, "in " + what + ": " + problem.message);
    }
  }
  if (!checked.value) {
    return std::nullopt;
  }
  return server_action{what, std::string(kind.path), json::serialize(body)};
}

void reader::read_fault(const std::vector<entry>& params, const YAML::Mark& where,
                        json::object& body) {
  std::optional<std::string> on;
  const auto* on_entry = find(params, "on");
  if (on_entry != nullptr) {
    on = read_choice(*on_entry, server::k_fault_trigger_names);
    if (on) {
      body["on"] = *on;
    }
  }
  if (const auto* p = required(params, where, "fault", "action")) {
    if (const auto action = read_choice(*p, server::k_fault_action_names)) {
      body["action"] = *action;
    }
  }
}

// An MQTT reason code: 0..255, decimal or 0x hex (0x8E).
std::optional<std::uint64_t> reader::read_reason(const entry& e) {
  const auto* s = scalar(e, "an MQTT reason code 0..255 (e.g. 0x8E or 142)");
  if (s == nullptr) {
    return std::nullopt;
  }
  std::optional<std::uint64_t> v;
  if (s->starts_with("0x") || s->starts_with("0X")) {
    std::uint64_t hex = 0;
    const auto* first = s->data() + 2;
    const auto* last = s->data() + s->size();
    const auto [end, ec] = std::from_chars(first, last, hex, 16);
    if (first != last && ec == std::errc{} && end == last) {
      v = hex;
    }
  } else {
    v = parse_unsigned(*s);
  }
  if (!v || *v > 255) {
    error_at(e, "bad reason '" + *s + "' for " + e.name +
                    " (expected an MQTT reason code 0..255, e.g. 0x8E or 142)");
    return std::nullopt;
  }
  return v;
}

// --- the signed server API ---

std::optional<step_body> reader::read_api(const entry& e) {
  if (!e.value.IsMap()) {
    error_at(e, "expected a map for api (e.g. api: {call: getToken, user: alice}), got " +
                    describe(e.value));
    return std::nullopt;
  }
  // The call decides which keys are valid: find it before reading the map.
  std::vector<std::string_view> call_names;
  call_names.reserve(k_api_calls.size());
  for (const auto& c : k_api_calls) {
    call_names.push_back(c.name);
  }
  const api_call_info* call = nullptr;
  std::optional<entry> call_entry;
  for (const auto& kv : e.value) {
    if (kv.first.IsScalar() && kv.first.Scalar() == "call") {
      call_entry = entry{"call", kv.first, kv.second};
      break;
    }
  }
  if (!call_entry) {
    error(e.value.Mark(), "api is missing required key 'call' (expected one of: " +
                              join(key_list(call_names)) + ")");
    return std::nullopt;
  }
  const auto* name = scalar(*call_entry, "an API call (" + join(key_list(call_names)) + ")");
  if (name == nullptr) {
    return std::nullopt;
  }
  for (const auto& c : k_api_calls) {
    if (c.name == *name || (!c.alias.empty() && c.alias == *name)) {
      call = &c;
    }
  }
  if (call == nullptr) {
    error_at(*call_entry, "unknown API call '" + *name +
                              "' (expected one of: " + join(key_list(call_names)) + ")");
    return std::nullopt;
  }
  const auto before = errors_.size();
  const auto params = read_map(e.value, "in api call " + std::string(call->name), call->keys);
  api_action a;
  a.path = std::string(call->path);
  std::vector<std::pair<std::string, std::string>> form;

  const auto* client = find(params, "client");
  const auto* app = find(params, "app");
  const auto* user = find(params, "user");
  const client_spec* spec = nullptr;
  if (client != nullptr) {
    for (const auto* other : {app, user}) {
      if (other != nullptr) {
        error(other->key.Mark(),
              "client: sets app and user already (expected either client or app/user)");
      }
    }
    if (const auto n = client_name(*client)) {
      spec = spec_of(*n);
    }
  }
  if (app != nullptr) {
    a.app = app_name(*app).value_or("");
  } else {
    a.app = spec != nullptr ? spec->app : first_app();
  }
  if (spec != nullptr) {
    form.emplace_back("userId", spec->user);
  } else if (user != nullptr) {
    read_api_users(*user, call->user_list, form);
  } else if (call->needs_user && client == nullptr) {
    error(e.value.Mark(), "api call " + std::string(call->name) +
                              " needs user (a user id) or client (a client's name)");
  }
  // The other parameters go as written: a scenario may send a bad one on purpose and
  // expect the server's 1002.
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> k_form_names = {{
      {"name", "name"},
      {"portrait_uri", "portraitUri"},
      {"minute", "minute"},
      {"page", "page"},
      {"size", "size"},
  }};
  for (const auto& [key, form_name] : k_form_names) {
    if (const auto* p = find(params, key)) {
      if (auto v = read_string(*p)) {
        form.emplace_back(form_name, std::move(*v));
      }
    }
  }
  if (call->name == "block" && find(params, "minute") == nullptr) {
    error(e.value.Mark(), "api call block is missing required key 'minute'");
  }
  if (call->name == "token_expire") {
    std::string time(k_now_placeholder);  // default: now
    if (const auto* p = find(params, "time")) {
      if (const auto* s = scalar(*p, "now or ms since the epoch")) {
        if (*s != "now" && !parse_unsigned(*s)) {
          error_at(*p, "bad time '" + *s +
                           "' for time (expected now or ms since the epoch, e.g. 1700000000000)");
        } else if (*s != "now") {
          time = *s;
        }
      }
    }
    form.emplace_back("time", time);
  }
  if (const auto* p = find(params, "expect")) {
    if (const auto* s = scalar(*p, "a server API code (e.g. 200, 1002)")) {
      const auto v = parse_unsigned(*s);
      if (!v || std::find(k_api_codes.begin(), k_api_codes.end(), static_cast<int>(*v)) ==
                    k_api_codes.end()) {
        std::string codes;
        for (const int c : k_api_codes) {
          codes += (codes.empty() ? "" : ", ") + std::to_string(c);
        }
        error_at(*p, "bad expect '" + *s + "' for api (expected a server API code: " + codes +
                         "; see docs/server-api.md)");
      } else {
        a.expect_code = static_cast<int>(*v);
      }
    }
  }
  for (const auto& [key, value] : form) {
    a.form += (a.form.empty() ? "" : "&") + key + "=" +
              (value == k_now_placeholder ? value : form_escape(value));
  }
  if (errors_.size() != before) {
    return std::nullopt;
  }
  return a;
}

void reader::read_api_users(const entry& e, bool list_allowed,
                            std::vector<std::pair<std::string, std::string>>& form) {
  if (e.value.IsSequence() && list_allowed) {
    if (e.value.size() == 0) {
      error_at(e, "expected at least one user id for user, got an empty list");
    }
    for (const auto& item : e.value) {
      if (auto v = read_non_empty(entry{"user", item, item})) {
        form.emplace_back("userId", std::move(*v));
      }
    }
    return;
  }
  const auto* s = scalar(e, list_allowed ? "a user id or a list of them" : "a user id");
  if (s != nullptr) {
    form.emplace_back("userId", *s);
  }
}

}  // namespace imock::harness::detail

#include "imock/harness/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <span>
#include <system_error>
#include <utility>

#include "imock/base/yaml_read.hpp"
#include "imock/protocol/api_request.hpp"
#include "imock/protocol/codes.hpp"
#include "imock/server/admin_requests.hpp"
#include "imock/server/config.hpp"
#include "imock/server/event_log.hpp"
#include "imock/server/faults.hpp"

namespace imock::harness {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace yaml_read = yaml_read;
using yaml_read::describe;
using yaml_read::entry;
using yaml_read::find;
using yaml_read::join;
using yaml_read::key_list;
using yaml_read::parse_unsigned;

constexpr std::int64_t k_ms_per_s = 1000;
constexpr std::uint64_t k_max_int = std::numeric_limits<int>::max();
constexpr std::uint64_t k_max_u32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::int64_t k_default_within_ms = 5'000;
constexpr std::int64_t k_default_tolerance_ms = 300;
constexpr std::size_t k_max_documented_count = 1'000;  // a schedule of 1000 gaps is ~18 h

constexpr std::array<std::string_view, 8> k_top_keys = {"name",  "description", "tags",    "seed",
                                                        "speed", "server",      "clients", "steps"};
// The server config's top-level keys a scenario may use (docs/server-config.md);
// `listen` is refused: the harness binds its own ephemeral ports.
constexpr std::array<std::string_view, 4> k_server_keys = {"apps", "users", "limits", "navigation"};
constexpr std::array<std::string_view, 12> k_client_keys = {
    "app",        "user",     "device",   "platform", "transport",  "reconnect_kick",
    "heartbeat",  "time_limit", "schedule", "database", "latency", "navigation"};
constexpr std::array<std::string_view, 2> k_latency_keys = {"up", "down"};
// The calls whose returned code a `returned` expectation checks (docs/scenarios.md).
constexpr std::array<std::string_view, 3> k_returning_calls = {"disconnect", "logout",
                                                               "reconnect_kick"};

constexpr auto& k_transports = k_transport_names.rows;
// `literal` is not among them: a literal token is written `token_text: "..."`.
constexpr std::array<std::pair<std::string_view, token_kind>, 8> k_token_kinds = {{
    {"fresh", token_kind::fresh},
    {"api", token_kind::api},
    {"expired", token_kind::expired},
    {"tampered", token_kind::tampered},
    {"other_app", token_kind::other_app},
    {"unreadable", token_kind::unreadable},
    {"empty", token_kind::empty},
    {"previous", token_kind::previous},
}};
// The "code" of a server API answer (docs/server-api.md).
constexpr std::array<int, 13> k_api_codes = {200,  404,  405,  1000, 1001, 1002, 1003,
                                             1004, 1005, 1006, 1008, 1050, 2007};

// --- step kinds and their parameters ---

enum class family { client, server, api, wait, expect, absent, count, schedule, status };

constexpr std::array<std::string_view, 1> k_p_client = {"client"};
constexpr std::array<std::string_view, 5> k_p_connect = {"client", "token", "token_text",
                                                         "time_limit", "init"};
constexpr std::array<std::string_view, 2> k_p_reconnect_kick = {"client", "on"};
constexpr std::array<std::string_view, 5> k_p_kick = {"client", "app", "user", "device", "code"};
constexpr std::array<std::string_view, 4> k_p_block = {"client", "app", "user", "for"};
constexpr std::array<std::string_view, 3> k_p_user = {"client", "app", "user"};
constexpr std::array<std::string_view, 2> k_p_app_state = {"app", "state"};
constexpr std::array<std::string_view, 7> k_p_drop = {"client",     "app",    "user", "device",
                                                      "disconnect", "reason", "reset"};
constexpr std::array<std::string_view, 1> k_p_stop_accepting = {"silent"};
constexpr std::array<std::string_view, 5> k_p_blackhole = {"client", "app", "user", "device",
                                                           "include_new"};
constexpr std::array<std::string_view, 6> k_p_delay = {"for", "count", "client",
                                                       "app", "user",  "device"};
constexpr std::array<std::string_view, 8> k_p_refuse = {"count",  "code", "every", "probability",
                                                        "client", "app",  "user",  "device"};
constexpr std::array<std::string_view, 13> k_p_fault = {
    "on",          "action", "send_disconnect", "delay", "nth",  "every", "times",
    "probability", "code",   "client",          "app",   "user", "device"};
constexpr std::array<std::string_view, 0> k_p_none = {};
constexpr std::array<std::string_view, 1> k_p_restart = {"down"};
constexpr std::array<std::string_view, 3> k_p_navigation = {"fail", "count", "app"};
constexpr std::array<std::string_view, 11> k_p_api = {"call", "app",          "client", "user",
                                                      "name", "portrait_uri", "time",   "minute",
                                                      "page", "size",         "expect"};
// Expectations: the keys of both forms (used for the "indent it" hint only; the
// form's own list is built when the step is read).
constexpr std::array<std::string_view, 15> k_p_expect = {
    "client",   "server",   "status", "code",   "error",  "success", "db_opened", "attempt",
    "returned", "sequence", "user",   "device", "detail", "within",  "not_before"};
constexpr std::array<std::string_view, 13> k_p_absent = {
    "client",  "server",   "status", "code",   "error",  "success", "db_opened",
    "attempt", "returned", "user",   "device", "detail", "for"};
constexpr std::array<std::string_view, 16> k_p_count = {
    "client",   "server", "status", "code",   "error",  "success",  "db_opened", "attempt",
    "returned", "user",   "device", "detail", "equals", "at_least", "at_most",   "within"};
constexpr std::array<std::string_view, 6> k_p_schedule = {"client", "server",    "intervals",
                                                          "count",  "tolerance", "within"};
constexpr std::array<std::string_view, 2> k_p_status = {"client", "is"};

struct kind_info {
  std::string_view name;
  family fam;
  std::string_view path;  // admin endpoint of a server action
  key_list params;
};

constexpr std::array<kind_info, 31> k_kinds = {{
    {"init", family::client, "", k_p_client},
    {"connect", family::client, "", k_p_connect},
    {"disconnect", family::client, "", k_p_client},
    {"logout", family::client, "", k_p_client},
    {"network_down", family::client, "", k_p_client},
    {"network_up", family::client, "", k_p_client},
    {"foreground", family::client, "", k_p_client},
    {"reconnect_kick", family::client, "", k_p_reconnect_kick},
    {"kick", family::server, "/admin/kick", k_p_kick},
    {"block", family::server, "/admin/users/block", k_p_block},
    {"unblock", family::server, "/admin/users/unblock", k_p_user},
    {"expire_tokens", family::server, "/admin/tokens/expire", k_p_user},
    {"app_state", family::server, "/admin/apps/state", k_p_app_state},
    {"drop", family::server, "/admin/drop", k_p_drop},
    {"blackhole", family::server, "/admin/blackhole", k_p_blackhole},
    {"release", family::server, "/admin/release", k_p_blackhole},
    {"delay", family::server, "/admin/delay", k_p_delay},
    {"refuse", family::server, "/admin/refuse", k_p_refuse},
    {"fault", family::server, "/admin/faults", k_p_fault},
    {"stop_accepting", family::server, "/admin/stop-accepting", k_p_stop_accepting},
    {"resume_accepting", family::server, "/admin/resume-accepting", k_p_none},
    {"restart", family::server, "/admin/restart", k_p_restart},
    {"clear_faults", family::server, "/admin/faults/clear", k_p_none},
    {"navigation", family::server, "/admin/navigation", k_p_navigation},
    {"api", family::api, "", k_p_api},
    {"wait", family::wait, "", k_p_none},
    {"expect", family::expect, "", k_p_expect},
    {"absent", family::absent, "", k_p_absent},
    {"count", family::count, "", k_p_count},
    {"schedule", family::schedule, "", k_p_schedule},
    {"status", family::status, "", k_p_status},
}};

const kind_info* find_kind(std::string_view name) noexcept {
  for (const auto& k : k_kinds) {
    if (k.name == name) {
      return &k;
    }
  }
  return nullptr;
}

// "init, connect, ...": every step kind, for the messages that list them.
std::string kind_names() {
  std::vector<std::string_view> names;
  names.reserve(k_kinds.size());
  for (const auto& info : k_kinds) {
    names.push_back(info.name);
  }
  return join(key_list(names));
}

// Server actions that take an optional session filter: `all`, null or {} means every
// session.
bool filter_optional(std::string_view kind) noexcept {
  return kind == "kick" || kind == "drop" || kind == "blackhole" || kind == "release" ||
         kind == "refuse";
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

// --- small helpers ---

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_lower_alnum(char c) noexcept { return is_digit(c) || (c >= 'a' && c <= 'z'); }

// [a-z0-9][a-z0-9-]* (scenario names), [a-z0-9-]+ (tags), [a-z0-9_-]+ (client names).
bool valid_scenario_name(std::string_view s) noexcept {
  return !s.empty() && is_lower_alnum(s.front()) &&
         std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}
bool valid_tag(std::string_view s) noexcept {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}
bool valid_client_name(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return is_lower_alnum(c) || c == '-' || c == '_';
  });
}

// At most two single-byte edits apart (Levenshtein): 'descripton', 'sequencce'.
bool close_to(std::string_view a, std::string_view b) {
  constexpr std::size_t k_max_edits = 2;
  if ((a.size() > b.size() ? a.size() - b.size() : b.size() - a.size()) > k_max_edits) {
    return false;
  }
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()] <= k_max_edits;
}

std::string join(const std::vector<std::string>& items) {
  std::vector<std::string_view> views(items.begin(), items.end());
  return join(key_list(views));
}

bool contains(key_list keys, std::string_view key) noexcept {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// The scenario key an admin body's key was read from (`for` became duration_ms).
std::string_view yaml_key_of(std::string_view body_key) noexcept {
  if (body_key == "duration_ms" || body_key == "ms") return "for";
  if (body_key == "down_ms") return "down";
  if (body_key == "delay_ms") return "delay";
  return body_key;
}

// --- the one-line rendering of a step (step.text) ---

bool needs_quotes(std::string_view s) noexcept {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') {
    return true;
  }
  return s.find_first_of(",[]{}:#\"'\\&*!|>%@`") != std::string_view::npos ||
         std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

std::string double_quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          std::array<char, 8> buf{};
          std::snprintf(buf.data(), buf.size(), "\\x%02x", static_cast<unsigned>(c));
          out += buf.data();
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// Flow style, one line: `{client: alice, token: expired}`. A scalar written in quotes
// (yaml-cpp tags it "!") stays quoted, so `token_text: "31004"` reads as written.
std::string render(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return node.Tag() == "!" || needs_quotes(node.Scalar()) ? double_quoted(node.Scalar())
                                                              : node.Scalar();
    case YAML::NodeType::Sequence: {
      std::string out = "[";
      for (const auto& item : node) {
        out += (out.size() > 1 ? ", " : "") + render(item);
      }
      return out + "]";
    }
    case YAML::NodeType::Map: {
      std::string out = "{";
      for (const auto& kv : node) {
        out += (out.size() > 1 ? ", " : "") + render(kv.first) + ": " + render(kv.second);
      }
      return out + "}";
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "null";
}

// application/x-www-form-urlencoded value: unreserved bytes as they are, the rest %XX.
// The placeholder the runner replaces with the server's clock (ms) when it sends the call.
constexpr std::string_view k_now_placeholder = "{now}";

// What an expect / absent / count step looks for.
struct event_target {
  std::string client;  // empty: the server's log
  std::vector<client_event_match> client_events;
  std::optional<server_event_match> server_event;
};

// Reads a scenario document. Errors are collected (not thrown): each reader reports
// what it found wrong and returns nullopt, its caller skips that part and goes on, so
// one run of `imock-harness check` lists every problem it can see.
class reader {
 public:
  reader(std::string file, fs::path base_dir, std::vector<load_error>& errors)
      : file_(std::move(file)), base_dir_(std::move(base_dir)), errors_(errors) {}

  std::optional<scenario> read(const YAML::Node& root) {
    if (!root.IsMap()) {
      error(root.Mark(), "expected a map with keys " + join(k_top_keys) +
                             " at the top level, got " + describe(root));
      return std::nullopt;
    }
    const auto before = errors_.size();
    const auto entries = read_map(root, "at the top level", k_top_keys);
    scenario s;
    s.file = file_;
    // The server first, whatever the file's order: clients default to its first app.
    s.server = server::default_config();
    if (const auto* e = find(entries, "server")) {
      read_server(*e, s);
    }
    for (const auto& app : s.server.apps) {
      app_keys_.push_back(app.key);
    }

    if (const auto* e = required(entries, root.Mark(), "the scenario", "name")) {
      if (const auto* text = scalar(*e, "a scenario name")) {
        if (valid_scenario_name(*text)) {
          s.name = *text;
        } else {
          error_at(*e, "bad name '" + *text +
                           "' (expected a-z, 0-9 and '-', starting with a letter or digit, "
                           "e.g. kick-by-login-elsewhere)");
        }
      }
    }
    if (const auto* e = required(entries, root.Mark(), "the scenario", "description")) {
      if (auto text = read_non_empty(*e)) {
        s.description = std::move(*text);
      }
    }
    if (const auto* e = find(entries, "tags")) {
      read_tags(*e, s);
    }
    if (const auto* e = find(entries, "seed")) {
      if (const auto v = read_unsigned(*e, 0, std::numeric_limits<std::uint64_t>::max())) {
        s.seed = *v;
      }
    }
    if (const auto* e = find(entries, "speed")) {
      s.speed = read_speed(*e);
    }
    if (const auto* e = required(entries, root.Mark(), "the scenario", "clients")) {
      read_clients(*e, s);
    }
    if (const auto* e = required(entries, root.Mark(), "the scenario", "steps")) {
      read_steps(*e, s);
    }
    if (errors_.size() != before) {
      return std::nullopt;
    }
    return s;
  }

 private:
  // --- errors ---

  [[nodiscard]] source_mark mark(const YAML::Mark& m) const {
    if (m.is_null()) {
      return source_mark{file_, 1, 1};
    }
    return source_mark{file_, m.line + 1, m.column + 1};
  }

  void error(const YAML::Mark& m, std::string message) {
    errors_.push_back(load_error{mark(m), std::move(message)});
  }

  void error_at(const entry& e, std::string message) {
    error(yaml_read::mark_of(e), std::move(message));
  }

  // The value read, or nullopt with what is wrong with it reported.
  template <class T>
  std::optional<T> take(const entry& e, yaml_read::result<T> r) {
    if (!r.value) {
      error_at(e, std::move(r.error));
    }
    return std::move(r.value);
  }

  // --- maps ---

  // Unknown and duplicate keys are reported and left out; the rest is returned.
  // `context` completes "unknown key 'x' ...": "in connect", "at the top level".
  std::vector<entry> read_map(const YAML::Node& map, std::string_view context, key_list known) {
    std::vector<yaml_read::problem> problems;
    std::vector<std::string> unknown;
    auto entries = yaml_read::read_map(map, context, known, problems, &unknown);
    for (auto& name : unknown) {
      unknown_keys_[{map.Mark().line, map.Mark().column}].push_back(std::move(name));
    }
    for (auto& p : problems) {
      error(p.mark, std::move(p.message));
    }
    return entries;
  }

  // Whether the map at `where` had an unknown key that looks like a misspelt `name`: its
  // "unknown key" error already says what is wrong, a "missing key" error would repeat it.
  [[nodiscard]] bool misspelt(const YAML::Mark& where, std::string_view name) const {
    const auto it = unknown_keys_.find({where.line, where.column});
    return it != unknown_keys_.end() &&
           std::any_of(it->second.begin(), it->second.end(),
                       [&](const std::string& key) { return close_to(key, name); });
  }

  const entry* required(const std::vector<entry>& entries, const YAML::Mark& where,
                        std::string_view what, std::string_view name) {
    if (const auto* e = find(entries, name)) {
      return e;
    }
    if (misspelt(where, name)) {
      return nullptr;
    }
    error(where, std::string(what) + " is missing required key '" + std::string(name) + "'");
    return nullptr;
  }

  // --- scalars ---

  const std::string* scalar(const entry& e, std::string_view expected) {
    if (!e.value.IsScalar()) {
      error_at(e, yaml_read::wrong_kind(e, expected));
      return nullptr;
    }
    return &e.value.Scalar();
  }

  std::optional<std::string> read_string(const entry& e) {
    return take(e, yaml_read::read_string(e));
  }

  std::optional<std::string> read_non_empty(const entry& e) {
    return take(e, yaml_read::read_non_empty(e));
  }

  std::optional<bool> read_bool(const entry& e) { return take(e, yaml_read::read_bool(e)); }

  std::optional<std::uint64_t> read_unsigned(const entry& e, std::uint64_t min, std::uint64_t max) {
    return take(e, yaml_read::read_unsigned(e, min, max));
  }

  std::optional<double> read_number(const entry& e, double min_exclusive, double max,
                                    std::string_view range) {
    const auto* s = scalar(e, "a number " + std::string(range));
    if (s == nullptr) {
      return std::nullopt;
    }
    double v = 0;
    const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc{} || end != s->data() + s->size() || !std::isfinite(v) ||
        v <= min_exclusive || v > max) {
      error_at(e,
               "bad number '" + *s + "' for " + e.name + " (expected " + std::string(range) + ")");
      return std::nullopt;
    }
    return v;
  }

  std::optional<double> read_speed(const entry& e) {
    return read_number(e, 0, std::numeric_limits<double>::max(), "greater than 0, e.g. 20 or 0.5");
  }

  std::optional<std::int64_t> read_duration(const entry& e) {
    return take(e, yaml_read::read_duration(e));
  }

  std::optional<std::int64_t> read_positive_duration(const entry& e) {
    return take(e, yaml_read::read_positive_duration(e));
  }

  std::optional<std::int64_t> read_heartbeat(const entry& e) {
    return take(e, yaml_read::read_keep_alive(e, "e.g. 30s, 2m"));
  }

  // The SDK's timeLimit: whole seconds; 0 or a negative number keeps trying.
  std::optional<std::int64_t> read_time_limit(const entry& e) {
    constexpr std::string_view k_expected =
        "whole seconds, e.g. 10s, 1m; 0 or a negative number such as -1 keeps trying";
    const auto* s = scalar(e, "a duration (" + std::string(k_expected) + ")");
    if (s == nullptr) {
      return std::nullopt;
    }
    const bool negative = !s->empty() && s->front() == '-';
    const auto ms = parse_duration_ms(std::string_view(*s).substr(negative ? 1 : 0));
    if (!ms || *ms % k_ms_per_s != 0 ||
        *ms / k_ms_per_s > static_cast<std::int64_t>(std::numeric_limits<int>::max())) {
      error_at(e, "bad duration '" + *s + "' for " + e.name + " (expected " +
                      std::string(k_expected) + ")");
      return std::nullopt;
    }
    return negative ? -*ms : *ms;
  }

  std::optional<int> read_code(const entry& e, bool allow_zero) {
    const auto* s = scalar(e, "a documented code (e.g. 31004, see docs/codes.md)");
    if (s == nullptr) {
      return std::nullopt;
    }
    const auto v = parse_unsigned(*s);
    if (!v || *v > k_max_int) {
      error_at(e, "bad code '" + *s + "' for " + e.name +
                      " (expected a documented code, e.g. 31004, see docs/codes.md)");
      return std::nullopt;
    }
    const int code = static_cast<int>(*v);
    if (rc::find(code) == nullptr) {
      error_at(e, std::to_string(code) + " is not a documented code (see docs/codes.md)");
      return std::nullopt;
    }
    if (code == 0 && !allow_zero) {
      error_at(e, "0 is not an error code (expected a documented non-zero code for " + e.name +
                      ", see docs/codes.md)");
      return std::nullopt;
    }
    return code;
  }

  std::optional<int> read_status(const entry& e) {
    const auto* s = scalar(e, "a documented status (e.g. 0, 10, see docs/codes.md)");
    if (s == nullptr) {
      return std::nullopt;
    }
    const auto v = parse_unsigned(*s);
    if (!v || *v > k_max_int) {
      error_at(e, "bad status '" + *s + "' for " + e.name +
                      " (expected a documented status number, e.g. 0 or 10, see docs/codes.md)");
      return std::nullopt;
    }
    const int status = static_cast<int>(*v);
    if (rc::find_status(status) == nullptr) {
      error_at(e, std::to_string(status) + " is not a documented status (see docs/codes.md)");
      return std::nullopt;
    }
    return status;
  }

  template <std::size_t N>
  std::optional<std::string> read_choice(const entry& e,
                                         const std::array<std::string_view, N>& names) {
    const auto* s = scalar(e, "one of: " + join(names));
    if (s == nullptr) {
      return std::nullopt;
    }
    if (!contains(names, *s)) {
      error_at(e,
               "bad value '" + *s + "' for " + e.name + " (expected one of: " + join(names) + ")");
      return std::nullopt;
    }
    return *s;
  }

  // A name from one of the enum tables (base/names.hpp), kept as its text.
  template <class E, std::size_t N>
  std::optional<std::string> read_choice(const entry& e, const names<E, N>& table) {
    const auto v = read_enum(e, table.rows);
    return v ? std::optional<std::string>(table.of(*v)) : std::nullopt;
  }

  // A server event kind an expectation can see: the runner leaves start, accept and
  // api out of the trace as noise, so waiting for them could never pass.
  std::optional<std::string> read_event_kind(const entry& e) {
    const auto v = read_enum(e, server::k_event_kind_names.rows);
    if (!v) return std::nullopt;
    if (server::left_out_of_traces(*v)) {
      error_at(e, "server: " + std::string(server::k_event_kind_names.of(*v)) +
                      " is left out of traces, so no expectation can see it");
      return std::nullopt;
    }
    return std::string(server::k_event_kind_names.of(*v));
  }

  template <class T, std::size_t N>
  std::optional<T> read_enum(const entry& e,
                             const std::array<std::pair<std::string_view, T>, N>& table,
                             std::string_view hint = {}) {
    return take(e, yaml_read::read_enum(e, table, hint));
  }

  // --- references to clients and apps ---

  std::optional<std::string> client_name(const entry& e) {
    const auto* s = scalar(e, "a client name");
    if (s == nullptr) {
      return std::nullopt;
    }
    // Without a readable clients section every name would be "unknown": one error
    // (the section's) is enough.
    if (clients_known_ && !clients_.contains(*s)) {
      error_at(e, "unknown client '" + *s + "' (declared: " +
                      (client_order_.empty() ? std::string("none") : join(client_order_)) + ")");
      return std::nullopt;
    }
    return *s;
  }

  // The spec of a declared client, or nullptr (undeclared, or the section had errors).
  const client_spec* spec_of(const std::string& name) const {
    const auto it = clients_.find(name);
    return it != clients_.end() ? &it->second : nullptr;
  }

  // `may_be_unknown`: a client may use an app key the server does not know (that
  // is how a scenario gets 31002); actions on the server need a configured app.
  std::optional<std::string> app_name(const entry& e, bool may_be_unknown = false) {
    const auto* s = scalar(e, "an app key");
    if (s == nullptr) {
      return std::nullopt;
    }
    if (apps_known_ && !may_be_unknown && !contains_app(*s)) {
      error_at(e, "unknown app '" + *s + "' (" +
                      (app_keys_.empty() ? std::string("the server section has no apps")
                                         : "the server section has: " + join(app_keys_)) +
                      ")");
      return std::nullopt;
    }
    return *s;
  }

  [[nodiscard]] bool contains_app(const std::string& key) const {
    return std::find(app_keys_.begin(), app_keys_.end(), key) != app_keys_.end();
  }

  [[nodiscard]] std::string first_app() const {
    return app_keys_.empty() ? std::string() : app_keys_.front();
  }

  // --- top-level sections ---

  void read_server(const entry& e, scenario& s) {
    if (e.value.IsNull()) {
      return;  // `server:` with nothing after it: the default config, as for the server
    }
    if (!e.value.IsMap()) {
      error_at(e, "expected a map for server (the server config: " + join(k_server_keys) +
                      "; docs/server-config.md), got " + describe(e.value));
      apps_known_ = false;
      return;
    }
    // Keys the scenario schema refuses are reported here (with the scenario's wording)
    // and removed, so the server's parser can still check the rest.
    std::vector<YAML::Node> refused;
    for (const auto& kv : e.value) {
      if (!kv.first.IsScalar()) {
        continue;  // the server's parser reports it
      }
      const auto& name = kv.first.Scalar();
      if (name == "listen") {
        error(kv.first.Mark(),
              "listen is not allowed in a scenario's server section: the harness binds its "
              "own ephemeral ports (remove it)");
        refused.push_back(kv.first);
      } else if (const YAML::Node nav = kv.second;
                 name == "navigation" && nav.IsMap() && nav["servers"]) {
        // The list would have to name the harness's ephemeral ports, and the simulation
        // has no ports at all: the server lists its own listeners.
        error(nav["servers"].Mark(),
              "navigation.servers is not allowed in a scenario's server section: the harness "
              "binds its own ports (set the clients' navigation instead; cache_lifetime is fine)");
        refused.push_back(kv.first);
      } else if (!contains(k_server_keys, name)) {
        error(kv.first.Mark(), "unknown key '" + name +
                                   "' in server (expected one of: " + join(k_server_keys) + ")");
        refused.push_back(kv.first);
      }
    }
    YAML::Node section = e.value;
    for (const auto& key : refused) {
      section.remove(key);
    }
    server::config_error cerr;
    auto config = server::parse_config_node(section, file_, base_dir_, cerr);
    if (!config) {
      errors_.push_back(load_error{mark_of(cerr.where), cerr.message});
      apps_known_ = false;
      return;
    }
    s.server = std::move(*config);
  }

  // config_error's "file:line:column" back into a mark.
  [[nodiscard]] source_mark mark_of(const std::string& where) const {
    const std::string prefix = file_ + ":";
    if (where.starts_with(prefix)) {
      const std::string_view rest = std::string_view(where).substr(prefix.size());
      const auto colon = rest.find(':');
      const auto line = parse_unsigned(rest.substr(0, colon));
      const auto column =
          colon == std::string_view::npos ? std::nullopt : parse_unsigned(rest.substr(colon + 1));
      if (line && column && *line <= k_max_int && *column <= k_max_int) {
        return source_mark{file_, static_cast<int>(*line), static_cast<int>(*column)};
      }
    }
    return source_mark{file_, 1, 1};
  }

  void read_tags(const entry& e, scenario& s) {
    if (!e.value.IsSequence()) {
      error_at(e, "expected a list of tags for tags (e.g. tags: [kick, terminal]), got " +
                      describe(e.value));
      return;
    }
    for (const auto& item : e.value) {
      if (!item.IsScalar()) {
        error(item.Mark(), "expected a tag (a-z, 0-9 and '-') in tags, got " + describe(item));
      } else if (!valid_tag(item.Scalar())) {
        error(item.Mark(),
              "bad tag '" + item.Scalar() + "' (expected a-z, 0-9 and '-', e.g. kick)");
      } else {
        s.tags.push_back(item.Scalar());
      }
    }
  }

  void read_clients(const entry& e, scenario& s) {
    if (!e.value.IsMap()) {
      error_at(e, "expected a map of clients for clients (e.g. clients: {alice: {}}), got " +
                      describe(e.value));
      return;
    }
    clients_known_ = true;
    std::map<std::string, int> first_line;
    for (const auto& kv : e.value) {
      if (!kv.first.IsScalar()) {
        error(kv.first.Mark(), "expected a client name in clients, got " + describe(kv.first));
        continue;
      }
      const std::string& name = kv.first.Scalar();
      if (const auto it = first_line.find(name); it != first_line.end()) {
        error(kv.first.Mark(),
              "duplicate client '" + name + "' (first at line " + std::to_string(it->second) + ")");
        continue;
      }
      first_line.emplace(name, kv.first.Mark().line + 1);
      // Declared even when its name or settings are bad: steps naming it then get no
      // second, misleading "unknown client" error.
      client_order_.push_back(name);
      auto spec = read_client(name, kv.first, kv.second);
      clients_.emplace(name, spec);
      s.clients.emplace(name, std::move(spec));
    }
  }

  client_spec read_client(const std::string& name, const YAML::Node& key, const YAML::Node& value) {
    client_spec c;
    c.name = name;
    c.user = name;
    c.device = name;
    c.where = mark(key.Mark());
    if (!valid_client_name(name)) {
      error(key.Mark(),
            "bad client name '" + name + "' (expected a-z, 0-9, '_' and '-', e.g. alice)");
    } else if (name == "all") {
      error(key.Mark(), "'all' cannot name a client: drop: all, kick: all ... mean every session");
    }
    std::vector<entry> entries;
    if (value.IsMap()) {
      entries = read_map(value, "in client '" + name + "'", k_client_keys);
    } else if (!value.IsNull()) {
      error(value.Mark(), "expected a map of settings for client '" + name +
                              "' (or nothing, for the defaults), got " + describe(value));
    }
    if (const auto* e = find(entries, "app")) {
      if (auto app = app_name(*e, /*may_be_unknown=*/true)) {
        c.app = std::move(*app);
      }
    } else if (apps_known_ && app_keys_.empty()) {
      error(key.Mark(), "client '" + name +
                            "' needs an app, and the server section has none (add apps: or "
                            "remove apps: [])");
    } else {
      c.app = first_app();
    }
    if (const auto* e = find(entries, "user")) {
      if (auto v = read_non_empty(*e)) {
        c.user = std::move(*v);
      }
    }
    if (const auto* e = find(entries, "device")) {
      if (auto v = read_non_empty(*e)) {
        c.device = std::move(*v);
      }
    }
    if (const auto* e = find(entries, "platform")) {
      if (auto v = read_string(*e)) {
        c.platform = std::move(*v);
      }
    }
    if (const auto* e = find(entries, "transport")) {
      if (const auto v = read_enum(*e, k_transports)) {
        c.transport = *v;
      }
    }
    if (const auto* e = find(entries, "reconnect_kick")) {
      if (const auto v = read_bool(*e)) {
        c.reconnect_kick = *v;
      }
    }
    if (const auto* e = find(entries, "heartbeat")) {
      if (const auto v = read_heartbeat(*e)) {
        c.heartbeat_ms = *v;
      }
    }
    if (const auto* e = find(entries, "time_limit")) {
      if (const auto v = read_time_limit(*e)) {
        c.time_limit_ms = *v;
      }
    }
    if (const auto* e = find(entries, "schedule")) {
      c.schedule_ms = read_duration_list(*e, "schedule: [50ms, 250ms, 1s]");
    }
    if (const auto* e = find(entries, "database")) {
      if (const auto v = read_bool(*e)) {
        c.database = *v;
      }
    }
    if (const auto* e = find(entries, "latency")) {
      read_latency(*e, c);
    }
    if (const auto* e = find(entries, "navigation")) {
      c.navigation = read_navigation(*e);
    }
    return c;
  }

  // `navigation: true` (the server's navigation) or a list of hosts in the order the
  // SDK asks them, each `server` or `dead` (`[dead, server]`: the first host is down).
  std::vector<navigation_host> read_navigation(const entry& e) {
    if (e.value.IsScalar() && !e.value.IsSequence()) {
      if (const auto on = read_bool(e)) {
        if (*on) return {navigation_host::server};
        return {};
      }
      return {};
    }
    if (!e.value.IsSequence() || e.value.size() == 0) {
      error_at(e, "expected true, false or a non-empty list of navigation hosts (server, dead) "
                  "for navigation, e.g. navigation: [dead, server]; got " +
                      (e.value.IsSequence() ? std::string("an empty list") : describe(e.value)));
      return {};
    }
    std::vector<navigation_host> hosts;
    for (const auto& item : e.value) {
      const entry host{e.name, e.key, item};
      if (const auto v = read_enum(host, k_navigation_host_names.rows)) hosts.push_back(*v);
    }
    return hosts;
  }

  // `latency: 20ms` (each way) or `latency: {up: 5ms, down: 30ms}`.
  void read_latency(const entry& e, client_spec& c) {
    if (e.value.IsMap()) {
      const auto params = read_map(e.value, "in latency", k_latency_keys);
      if (const auto* p = find(params, "up")) c.latency_up_ms = read_duration(*p).value_or(0);
      if (const auto* p = find(params, "down")) c.latency_down_ms = read_duration(*p).value_or(0);
      return;
    }
    if (const auto v = read_duration(e)) {
      c.latency_up_ms = *v;
      c.latency_down_ms = *v;
    }
  }

  // A non-empty list of durations > 0.
  std::optional<std::vector<std::int64_t>> read_duration_list(const entry& e,
                                                              std::string_view example) {
    if (!e.value.IsSequence() || e.value.size() == 0) {
      error_at(e, "expected a non-empty list of durations for " + e.name + " (e.g. " +
                      std::string(example) + "), got " +
                      (e.value.IsSequence() ? std::string("an empty list") : describe(e.value)));
      return std::nullopt;
    }
    std::vector<std::int64_t> out;
    bool ok = true;
    for (const auto& item : e.value) {
      const auto ms = read_positive_duration(entry{e.name, item, item});
      ok = ok && ms.has_value();
      out.push_back(ms.value_or(0));
    }
    return ok ? std::optional(std::move(out)) : std::nullopt;
  }

  void read_steps(const entry& e, scenario& s) {
    if (e.value.IsNull() || (e.value.IsSequence() && e.value.size() == 0)) {
      error_at(e, "steps is empty (expected a list of at least one step)");
      return;
    }
    if (!e.value.IsSequence()) {
      error_at(e, "expected a list of steps for steps, got " + describe(e.value));
      return;
    }
    std::size_t index = 0;
    std::optional<YAML::Mark> previous;
    for (const auto& node : e.value) {
      if (auto st = read_step(e.value, node, index++, previous)) {
        s.steps.push_back(std::move(*st));
      }
      previous = node.Mark();
    }
  }

  // --- steps ---

  std::optional<step> read_step(const YAML::Node& list, const YAML::Node& node, std::size_t index,
                                const std::optional<YAML::Mark>& previous) {
    if (node.IsNull()) {
      // A null item carries the next token's mark (the next step's line); the list's
      // is the better pointer, with the line of the step before it.
      error(list.Mark(),
            "step " + std::to_string(index + 1) + " is empty (a '-' with nothing after it" +
                (previous ? ", after the step at line " + std::to_string(previous->line + 1) : "") +
                "; expected a map with one kind, e.g. connect: alice)");
      return std::nullopt;
    }
    if (!node.IsMap()) {
      std::string message =
          "expected a step (a map with one kind, e.g. connect: alice), got " + describe(node);
      if (node.IsScalar() && find_kind(node.Scalar()) != nullptr) {
        message += " (write " + node.Scalar() + ": ... with a colon)";
      }
      error(node.Mark(), message);
      return std::nullopt;
    }
    const auto before = errors_.size();
    const kind_info* kind = nullptr;
    std::optional<entry> kind_entry;
    std::vector<std::string> seen;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) {
        error(kv.first.Mark(), "expected a step kind, got " + describe(kv.first));
        continue;
      }
      const std::string& name = kv.first.Scalar();
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
        error(kv.first.Mark(), "duplicate key '" + name + "' in a step");
        continue;
      }
      seen.push_back(name);
      if (name == "note") {
        continue;  // free text for the reader of the file
      }
      const auto* k = find_kind(name);
      if (kind == nullptr && k != nullptr) {
        kind = k;
        kind_entry = entry{name, kv.first, kv.second};
      } else if (kind != nullptr && contains(kind->params, name)) {
        // The classic slip: `- connect: alice` then `  token: expired` on the next line.
        error(kv.first.Mark(), "key '" + name + "' next to " + std::string(kind->name) +
                                   ": a step's parameters go inside its map (" +
                                   std::string(kind->name) + ": {..., " + name + ": ...})");
      } else if (kind != nullptr && k != nullptr) {
        error(kv.first.Mark(), "a step has one kind: '" + name + "' follows '" +
                                   std::string(kind->name) +
                                   "' in the same step (start a new step with '- ')");
      } else {
        error(kv.first.Mark(),
              "unknown step kind '" + name + "' (expected one of: " + kind_names() + ")");
      }
    }
    if (kind == nullptr) {
      if (errors_.size() == before) {
        error(node.Mark(), "step has no kind (expected one of: " + kind_names() + ")");
      }
      return std::nullopt;
    }
    auto body = read_body(*kind, *kind_entry);
    if (!body || errors_.size() != before) {
      return std::nullopt;
    }
    step st;
    st.body = std::move(*body);
    st.text = std::string(kind->name) +
              (kind_entry->value.IsNull() ? std::string() : ": " + render(kind_entry->value));
    st.where = mark(node.Mark());
    return st;
  }

  std::optional<step_body> read_body(const kind_info& kind, const entry& e) {
    switch (kind.fam) {
      case family::client:
        return read_client_action(kind, e);
      case family::server:
        return read_server_action(kind, e);
      case family::api:
        return read_api(e);
      case family::wait:
        if (const auto ms = read_duration(e)) {
          return wait_action{*ms};
        }
        return std::nullopt;
      case family::expect:
      case family::absent:
      case family::count:
        return read_expectation(kind, e);
      case family::schedule:
        return read_schedule(e);
      case family::status:
        return read_status_step(e);
    }
    return std::nullopt;
  }

  // The value of a step that names a client: `NAME`, or a map with `client: NAME`.
  // Returns the map's entries (empty for the short form) and the client, or nullopt.
  std::optional<std::pair<std::vector<entry>, std::string>> client_and_params(
      const kind_info& kind, const entry& e, std::string_view example) {
    const std::string what(kind.name);
    if (e.value.IsScalar()) {
      auto name = client_name(entry{"client", e.value, e.value});
      if (!name) {
        return std::nullopt;
      }
      return std::pair{std::vector<entry>{}, std::move(*name)};
    }
    if (!e.value.IsMap()) {
      error_at(e, "expected a client name or a map for " + what + " (e.g. " + std::string(example) +
                      "), got " + describe(e.value));
      return std::nullopt;
    }
    auto params = read_map(e.value, "in " + what, kind.params);
    const auto* c = required(params, e.value.Mark(), what, "client");
    if (c == nullptr) {
      return std::nullopt;
    }
    auto name = client_name(*c);
    if (!name) {
      return std::nullopt;
    }
    return std::pair{std::move(params), std::move(*name)};
  }

  std::optional<step_body> read_client_action(const kind_info& kind, const entry& e) {
    static const std::map<std::string_view, client_action::kind> k_what = {
        {"init", client_action::kind::init},
        {"connect", client_action::kind::connect},
        {"disconnect", client_action::kind::disconnect},
        {"logout", client_action::kind::logout},
        {"network_down", client_action::kind::network_down},
        {"network_up", client_action::kind::network_up},
        {"foreground", client_action::kind::foreground},
        {"reconnect_kick", client_action::kind::set_reconnect_kick},
    };
    const std::string example = kind.name == "connect" ? "connect: {client: alice, token: expired}"
                                : kind.name == "reconnect_kick"
                                    ? "reconnect_kick: {client: alice, on: true}"
                                    : std::string(kind.name) + ": alice";
    auto parsed = client_and_params(kind, e, example);
    if (!parsed) {
      return std::nullopt;
    }
    auto& [params, client] = *parsed;
    client_action a;
    a.what = k_what.at(kind.name);
    a.client = client;
    const auto before = errors_.size();
    if (a.what == client_action::kind::connect) {
      const auto* token = find(params, "token");
      const auto* text = find(params, "token_text");
      if (token != nullptr) {
        if (const auto v =
                read_enum(*token, k_token_kinds, "; a literal token is token_text: \"...\"")) {
          a.token = *v;
        }
      }
      if (text != nullptr) {
        if (token != nullptr) {
          error(text->key.Mark(),
                "token and token_text both say which token to use (expected "
                "one: token_text is a literal token)");
        } else if (auto v = read_string(*text)) {
          a.token = token_kind::literal;
          a.token_text = std::move(*v);
        }
      }
      if (const auto* t = find(params, "time_limit")) {
        a.time_limit_ms = read_time_limit(*t);
      }
      if (const auto* i = find(params, "init")) {
        a.init_first = read_bool(*i).value_or(true);
      }
    } else if (a.what == client_action::kind::set_reconnect_kick) {
      const auto* on =
          required(params, e.value.IsMap() ? e.value.Mark() : e.key.Mark(), "reconnect_kick", "on");
      if (on != nullptr) {
        a.on = read_bool(*on).value_or(false);
      }
    }
    if (errors_.size() != before) {
      return std::nullopt;
    }
    return a;
  }

  // --- server actions ---

  // app / user / device / client of a server action into `body`. `device`: whether the
  // action takes a device. `client: NAME` stands for that client's app, user (and device).
  void read_filter(const std::vector<entry>& params, json::object& body, bool with_device) {
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

  std::optional<step_body> read_server_action(const kind_info& kind, const entry& e) {
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

  void read_fault(const std::vector<entry>& params, const YAML::Mark& where, json::object& body) {
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
  std::optional<std::uint64_t> read_reason(const entry& e) {
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

  std::optional<step_body> read_api(const entry& e) {
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

  void read_api_users(const entry& e, bool list_allowed,
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

  // --- expectations ---

  // The keys of one client event, and of one server event.
  static constexpr std::array<std::string_view, 6> k_client_events = {
      "status", "error", "success", "db_opened", "attempt", "returned"};
  static constexpr std::array<std::string_view, 8> k_client_event_keys = {
      "status", "code", "error", "success", "db_opened", "attempt", "returned", "sequence"};
  static constexpr std::array<std::string_view, 6> k_server_event_keys = {
      "server", "code", "user", "device", "client", "detail"};

  std::optional<step_body> read_expectation(const kind_info& kind, const entry& e) {
    const std::string what(kind.name);
    if (!e.value.IsMap()) {
      error_at(e, "expected a map for " + what + " (e.g. " + what +
                      ": {client: alice, status: 0} or " + what +
                      ": {server: connect, code: 31004}), got " + describe(e.value));
      return std::nullopt;
    }
    bool server_form = false;
    for (const auto& kv : e.value) {
      server_form = server_form || (kv.first.IsScalar() && kv.first.Scalar() == "server");
    }
    std::vector<std::string_view> known;
    if (server_form) {
      known.assign(k_server_event_keys.begin(), k_server_event_keys.end());
    } else {
      known.emplace_back("client");
      for (const auto k : k_client_event_keys) {
        if (k != "sequence" || kind.fam == family::expect) {
          known.push_back(k);
        }
      }
    }
    switch (kind.fam) {
      case family::expect:
        known.insert(known.end(), {"within", "not_before"});
        break;
      case family::absent:
        known.emplace_back("for");
        break;
      default:
        known.insert(known.end(), {"equals", "at_least", "at_most", "within"});
        break;
    }
    const auto before = errors_.size();
    const auto params = read_map(e.value, "in " + what, known);
    event_target target;
    if (server_form) {
      target.server_event = read_server_event(params);
    } else {
      if (const auto* c = required_with(params, e.value.Mark(), what,
                                        "client: NAME for a client's events, or server: KIND for "
                                        "the server's log",
                                        "client")) {
        target.client = client_name(*c).value_or("");
      }
      read_client_events(params, e.value.Mark(), what, kind.fam == family::expect,
                         target.client_events);
    }
    step_body body;
    if (kind.fam == family::expect) {
      expect_step x;
      x.client = target.client;
      x.client_events = std::move(target.client_events);
      if (target.server_event) {
        x.server_events.push_back(*target.server_event);
      }
      x.within_ms = k_default_within_ms;
      if (const auto* p = find(params, "within")) {
        x.within_ms = read_duration(*p).value_or(0);
      }
      if (const auto* p = find(params, "not_before")) {
        x.not_before_ms = read_duration(*p).value_or(0);
        if (x.not_before_ms > x.within_ms) {
          error_at(*p, "not_before " + std::to_string(x.not_before_ms) +
                           " ms is after the end of the window (within " +
                           std::to_string(x.within_ms) + " ms)");
        }
      }
      body = std::move(x);
    } else if (kind.fam == family::absent) {
      absent_step x;
      x.client = target.client;
      if (!target.client_events.empty()) {
        x.client_event = target.client_events.front();
      }
      x.server_event = target.server_event;
      if (const auto* p = required(params, e.value.Mark(), what, "for")) {
        x.for_ms = read_positive_duration(*p).value_or(0);
      }
      body = std::move(x);
    } else {
      count_step x;
      x.client = target.client;
      if (!target.client_events.empty()) {
        x.client_event = target.client_events.front();
      }
      x.server_event = target.server_event;
      read_bounds(params, e.value.Mark(), x);
      if (const auto* p = required(params, e.value.Mark(), what, "within")) {
        x.within_ms = read_positive_duration(*p).value_or(0);
      }
      body = std::move(x);
    }
    if (errors_.size() != before) {
      return std::nullopt;
    }
    return body;
  }

  // `required` with what was expected in the message.
  const entry* required_with(const std::vector<entry>& entries, const YAML::Mark& where,
                             const std::string& what, std::string_view expected,
                             std::string_view name) {
    if (const auto* e = find(entries, name)) {
      return e;
    }
    if (misspelt(where, name)) {
      return nullptr;
    }
    error(where, what + " is missing required key '" + std::string(name) + "' (expected " +
                     std::string(expected) + ")");
    return nullptr;
  }

  std::optional<server_event_match> read_server_event(const std::vector<entry>& params) {
    server_event_match m;
    if (const auto* p = find(params, "server")) {
      if (const auto kind = read_event_kind(*p)) {
        m.kind = *kind;
      }
    }
    if (const auto* p = find(params, "code")) {
      m.code = read_code(*p, true);  // 0: a connect that was accepted
    }
    const auto* client = find(params, "client");
    const auto* user = find(params, "user");
    const auto* device = find(params, "device");
    if (client != nullptr) {
      for (const auto* other : {user, device}) {
        if (other != nullptr) {
          error(other->key.Mark(),
                "client: sets user and device already (expected either client or user/device)");
        }
      }
      if (const auto n = client_name(*client)) {
        if (const auto* spec = spec_of(*n)) {
          m.user = spec->user;
          m.device = spec->device;
        }
      }
    } else {
      if (user != nullptr) {
        m.user = read_non_empty(*user);
      }
      if (device != nullptr) {
        m.device = read_non_empty(*device);
      }
    }
    if (const auto* p = find(params, "detail")) {
      m.detail_contains = read_non_empty(*p);
    }
    return m;
  }

  // Exactly one event (or, for expect, one `sequence` of them) among the keys.
  void read_client_events(const std::vector<entry>& params, const YAML::Mark& where,
                          const std::string& what, bool sequence_allowed,
                          std::vector<client_event_match>& out) {
    const auto* sequence = find(params, "sequence");
    if (sequence != nullptr) {
      for (const auto k : k_client_events) {
        if (const auto* other = find(params, k)) {
          error(other->key.Mark(), "'" + other->name +
                                       "' next to sequence (expected the events "
                                       "inside the sequence: sequence: [{" +
                                       other->name + ": ...}])");
        }
      }
      if (const auto* code = find(params, "code")) {
        error(code->key.Mark(),
              "'code' next to sequence (expected it inside the sequence, "
              "next to its status)");
      }
      read_sequence(*sequence, out);
      return;
    }
    if (auto m = read_client_event(params, where, what, sequence_allowed)) {
      out.push_back(std::move(*m));
    }
  }

  void read_sequence(const entry& e, std::vector<client_event_match>& out) {
    if (!e.value.IsSequence() || e.value.size() == 0) {
      error_at(e,
               "expected a non-empty list of events for sequence (e.g. sequence: [{status: "
               "10}, {status: 0}]), got " +
                   (e.value.IsSequence() ? std::string("an empty list") : describe(e.value)));
      return;
    }
    std::vector<std::string_view> known(k_client_event_keys.begin(), k_client_event_keys.end() - 1);
    for (const auto& item : e.value) {
      if (!item.IsMap()) {
        error(item.IsNull() ? e.value.Mark() : item.Mark(),
              "expected an event in sequence (e.g. {status: 10}), got " + describe(item));
        continue;
      }
      const auto params = read_map(item, "in a sequence event", known);
      if (auto m = read_client_event(params, item.Mark(), "a sequence event", false)) {
        out.push_back(std::move(*m));
      }
    }
  }

  std::optional<client_event_match> read_client_event(const std::vector<entry>& params,
                                                      const YAML::Mark& where,
                                                      const std::string& what,
                                                      bool sequence_allowed) {
    const entry* event = nullptr;
    for (const auto& param : params) {  // in file order: the second one is the error
      const auto* p = &param;
      if (!contains(k_client_events, p->name)) {
        continue;
      }
      if (event == nullptr) {
        event = p;
      } else {
        error(p->key.Mark(),
              "'" + event->name + "' and '" + p->name + "' in one " +
                  (what == "a sequence event" ? "sequence event" : what) + " (expected one event" +
                  (sequence_allowed ? "; use sequence: [...] for several in order" : "") + ")");
      }
    }
    const auto* code = find(params, "code");
    if (event == nullptr) {
      const bool typo = std::any_of(k_client_events.begin(), k_client_events.end(),
                                    [&](std::string_view k) { return misspelt(where, k); }) ||
                        misspelt(where, "sequence");
      if (typo) {
        return std::nullopt;
      }
      error(where, what + " needs an event (expected one of: " + join(k_client_events) +
                       (sequence_allowed ? ", sequence" : "") + ")");
      return std::nullopt;
    }
    client_event_match m;
    m.event = event->name;
    if (code != nullptr && event->name != "status" && event->name != "returned") {
      const bool has_code = event->name == "error" || event->name == "db_opened";
      error(code->key.Mark(),
            "code goes with status (the cause of a status change)" +
                (has_code ? "; the code of " + event->name + " is its value, e.g. " + event->name +
                                (event->name == "error" ? ": 31004" : ": 0")
                          : std::string()));
    }
    if (event->name == "status") {
      m.status = read_status(*event);
      if (code != nullptr) {
        m.code = read_code(*code, false);
      }
    } else if (event->name == "error") {
      // error: true is any error (absent: {client: a, error: true} = no error at all).
      if (!(event->value.IsScalar() && event->value.Scalar() == "true")) {
        m.code = read_code(*event, false);
      }
    } else if (event->name == "db_opened") {
      m.code = read_code(*event, true);
    } else if (event->name == "returned") {
      if (const auto call = read_choice(*event, k_returning_calls)) m.call = std::string(*call);
      if (code != nullptr) m.code = read_code(*code, true);
    } else if (event->name == "success") {
      if (const auto* s = scalar(*event, "true or a user id")) {
        if (*s == "false" || s->empty()) {
          error_at(*event,
                   "bad value '" + *s +
                       "' for success (expected true, or the user id, e.g. success: alice)");
        } else if (*s != "true") {
          m.user = *s;
        }
      }
    } else {
      if (const auto v = read_bool(*event); v && !*v) {
        error_at(*event, "attempt: false is not an event (expected attempt: true)");
      }
    }
    return m;
  }

  void read_bounds(const std::vector<entry>& params, const YAML::Mark& where, count_step& x) {
    const auto* equals = find(params, "equals");
    const auto* at_least = find(params, "at_least");
    const auto* at_most = find(params, "at_most");
    const auto bound = [&](const entry* p) -> std::optional<int> {
      if (p == nullptr) {
        return std::nullopt;
      }
      const auto v = read_unsigned(*p, 0, k_max_int);
      return v ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
    };
    x.equals = bound(equals);
    x.at_least = bound(at_least);
    x.at_most = bound(at_most);
    if (equals == nullptr && at_least == nullptr && at_most == nullptr) {
      error(where, "count needs equals, at_least or at_most");
    }
    if (equals != nullptr && (at_least != nullptr || at_most != nullptr)) {
      error(equals->key.Mark(), "equals goes alone (expected equals, or at_least and/or at_most)");
    }
    if (x.at_least && x.at_most && *x.at_least > *x.at_most) {
      error(at_least->value.Mark(), "at_least " + std::to_string(*x.at_least) +
                                        " is greater than at_most " + std::to_string(*x.at_most));
    }
  }

  std::optional<step_body> read_schedule(const entry& e) {
    if (!e.value.IsMap()) {
      error_at(e,
               "expected a map for schedule (e.g. schedule: {client: alice, intervals: "
               "documented, count: 5}), got " +
                   describe(e.value));
      return std::nullopt;
    }
    const auto before = errors_.size();
    const auto params = read_map(e.value, "in schedule", k_p_schedule);
    schedule_step x;
    if (const auto* c = required(params, e.value.Mark(), "schedule", "client")) {
      x.client = client_name(*c).value_or("");
      // server: KIND measures the gaps between the server's events about this client
      // (its pings, say) instead of the client's connect attempts.
      if (const auto* k = find(params, "server")) {
        if (const auto kind = read_event_kind(*k)) {
          server_event_match m{.kind = std::string(*kind)};
          if (const auto* spec = spec_of(x.client)) {
            m.user = spec->user;
            m.device = spec->device;
          }
          x.server_event = std::move(m);
        }
      }
    }
    const auto* count = find(params, "count");
    if (const auto* p = required(params, e.value.Mark(), "schedule", "intervals")) {
      if (p->value.IsScalar() && p->value.Scalar() == "documented") {
        if (count == nullptr) {
          error(p->key.Mark(),
                "intervals: documented needs count (how many gaps to check, "
                "e.g. count: 5)");
        } else if (const auto n = read_unsigned(*count, 1, k_max_documented_count)) {
          x.intervals_ms = documented_intervals(*n);
        }
      } else if (p->value.IsSequence()) {
        if (auto list = read_duration_list(*p, "intervals: [50ms, 250ms]")) {
          x.intervals_ms = std::move(*list);
        }
        if (count != nullptr) {
          error(count->key.Mark(),
                "count goes with intervals: documented (a list of intervals "
                "gives its own count)");
        }
      } else {
        error_at(*p, "expected documented or a list of durations for intervals, got " +
                         describe(p->value));
      }
    }
    x.tolerance_ms = k_default_tolerance_ms;
    if (const auto* p = find(params, "tolerance")) {
      x.tolerance_ms = read_duration(*p).value_or(0);
    }
    if (const auto* p = find(params, "within")) {
      x.within_ms = read_positive_duration(*p).value_or(0);
    }
    if (errors_.size() != before) {
      return std::nullopt;
    }
    return x;
  }

  std::optional<step_body> read_status_step(const entry& e) {
    if (!e.value.IsMap()) {
      error_at(e, "expected a map for status (e.g. status: {client: alice, is: 0}), got " +
                      describe(e.value));
      return std::nullopt;
    }
    const auto before = errors_.size();
    const auto params = read_map(e.value, "in status", k_p_status);
    status_step x;
    if (const auto* c = required(params, e.value.Mark(), "status", "client")) {
      x.client = client_name(*c).value_or("");
    }
    if (const auto* p = required(params, e.value.Mark(), "status", "is")) {
      x.status = read_status(*p).value_or(0);
    }
    if (errors_.size() != before) {
      return std::nullopt;
    }
    return x;
  }

  std::string file_;
  fs::path base_dir_;
  std::vector<load_error>& errors_;
  std::vector<std::string> app_keys_;
  bool apps_known_ = true;  // false: the server section had errors, app names unchecked
  std::map<std::string, client_spec> clients_;
  std::vector<std::string> client_order_;
  bool clients_known_ = false;  // false: no readable clients section, names unchecked
  // Unknown keys by the (line, column) of the map they were found in.
  std::map<std::pair<int, int>, std::vector<std::string>> unknown_keys_;
};

fs::path folder_of(const std::string& file) {
  std::error_code ec;
  const fs::path p = file.empty() ? fs::path(".") : fs::path(file);
  auto absolute = fs::absolute(p, ec);
  if (ec) {
    return p.parent_path();
  }
  return absolute.lexically_normal().parent_path();
}

bool before_in_file(const load_error& a, const load_error& b) noexcept {
  return a.where.line != b.where.line ? a.where.line < b.where.line
                                      : a.where.column < b.where.column;
}

}  // namespace

std::optional<scenario> parse_scenario(std::string_view yaml, const std::string& file,
                                       std::vector<load_error>& errors) {
  std::vector<load_error> found;
  std::optional<scenario> out;
  try {
    const auto docs = YAML::LoadAll(std::string(yaml));
    if (docs.empty() || docs.front().IsNull()) {
      found.push_back(load_error{
          source_mark{file, 1, 1},
          "the file is empty (expected a scenario: a map with keys " + join(k_top_keys) + ")"});
    } else {
      // A trailing `---` with nothing after it is an empty document: harmless.
      const auto second = std::find_if(docs.begin() + 1, docs.end(),
                                       [](const YAML::Node& d) { return !d.IsNull(); });
      if (second != docs.end()) {
        const auto& m = second->Mark();
        found.push_back(load_error{
            m.is_null() ? source_mark{file, 1, 1} : source_mark{file, m.line + 1, m.column + 1},
            "a second YAML document (expected one scenario per file)"});
      }
      out = reader(file, folder_of(file), found).read(docs.front());
    }
  } catch (const YAML::Exception& e) {
    found.clear();
    found.push_back(load_error{e.mark.is_null()
                                   ? source_mark{file, 1, 1}
                                   : source_mark{file, e.mark.line + 1, e.mark.column + 1},
                               yaml_read::exception_message(e)});
  } catch (const std::exception& e) {
    found.push_back(load_error{source_mark{file, 1, 1},
                               std::string("internal error while loading: ") + e.what()});
  } catch (...) {
    found.push_back(load_error{source_mark{file, 1, 1}, "internal error while loading"});
  }
  if (found.empty() && !out) {
    found.push_back(load_error{source_mark{file, 1, 1}, "could not load the scenario"});
  }
  if (!found.empty()) {
    std::stable_sort(found.begin(), found.end(), before_in_file);
    errors.insert(errors.end(), found.begin(), found.end());
    return std::nullopt;
  }
  return out;
}

std::optional<scenario> load_scenario(const std::filesystem::path& file,
                                      std::vector<load_error>& errors) {
  const std::string name = file.string();
  std::string text;
  // A file-level problem has no line: it points at the file's start.
  const source_mark start{name, 1, 1};
  try {
    auto read = yaml_read::read_file(file, "scenario file");
    if (!read.value) {
      errors.push_back(load_error{start, std::move(read.error)});
      return std::nullopt;
    }
    text = std::move(*read.value);
  } catch (const std::exception& e) {
    errors.push_back(load_error{start, std::string("cannot read the scenario file: ") + e.what()});
    return std::nullopt;
  }
  return parse_scenario(text, name, errors);
}

std::vector<std::filesystem::path> scenario_files(const std::vector<std::filesystem::path>& paths) {
  std::vector<fs::path> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (!fs::is_directory(p, ec)) {
      // A file as given, whatever its name; one that does not exist stays in the list
      // so that loading it says so rather than the run silently shrinking.
      out.push_back(p);
      continue;
    }
    fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code type_ec;
      const auto ext = it->path().extension();
      if ((ext == ".yaml" || ext == ".yml") && it->is_regular_file(type_ec)) {
        out.push_back(it->path());
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::int64_t> documented_intervals(std::size_t count) {
  // SPEC.md §4: 0.05 s, 0.25, 0.5, 1, 2, 4, 8, 16, 32 s, then every 64 s.
  static constexpr std::array<std::int64_t, 9> k_steps = {50,   250,  500,   1000, 2000,
                                                          4000, 8000, 16000, 32000};
  constexpr std::int64_t k_tail = 64'000;
  std::vector<std::int64_t> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(i < k_steps.size() ? k_steps[i] : k_tail);
  }
  return out;
}

}  // namespace imock::harness

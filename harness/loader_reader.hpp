// Internal to the scenario loader (harness/loader*.cpp), not part of its API: the
// step-kind table, the helpers the loader's files share, and the reader class whose
// members those files define.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "imock/base/names.hpp"
#include "imock/base/yaml_read.hpp"
#include "imock/harness/loader.hpp"
#include "imock/harness/scenario.hpp"

namespace imock::harness::detail {

namespace fs = std::filesystem;
namespace json = boost::json;
using yaml_read::describe;
using yaml_read::entry;
using yaml_read::find;
using yaml_read::join;
using yaml_read::key_list;
using yaml_read::parse_unsigned;

inline constexpr std::uint64_t k_max_int = std::numeric_limits<int>::max();

// --- step kinds and their parameters ---

enum class family {
  client, server, api, wait, expect, absent, count, schedule, status, send, inbox, history };

inline constexpr std::array<std::string_view, 1> k_p_client = {"client"};
inline constexpr std::array<std::string_view, 5> k_p_connect = {"client", "token", "token_text",
                                                                "time_limit", "init"};
inline constexpr std::array<std::string_view, 2> k_p_reconnect_kick = {"client", "on"};
inline constexpr std::array<std::string_view, 5> k_p_kick = {"client", "app", "user", "device",
                                                             "code"};
inline constexpr std::array<std::string_view, 4> k_p_block = {"client", "app", "user", "for"};
inline constexpr std::array<std::string_view, 3> k_p_user = {"client", "app", "user"};
inline constexpr std::array<std::string_view, 2> k_p_app_state = {"app", "state"};
inline constexpr std::array<std::string_view, 7> k_p_drop = {
    "client", "app", "user", "device", "disconnect", "reason", "reset"};
inline constexpr std::array<std::string_view, 1> k_p_stop_accepting = {"silent"};
inline constexpr std::array<std::string_view, 5> k_p_blackhole = {"client", "app", "user", "device",
                                                                  "include_new"};
inline constexpr std::array<std::string_view, 6> k_p_delay = {"for", "count", "client",
                                                              "app", "user",  "device"};
inline constexpr std::array<std::string_view, 8> k_p_refuse = {
    "count", "code", "every", "probability", "client", "app", "user", "device"};
inline constexpr std::array<std::string_view, 13> k_p_fault = {
    "on",          "action", "send_disconnect", "delay", "nth",  "every", "times",
    "probability", "code",   "client",          "app",   "user", "device"};
inline constexpr std::array<std::string_view, 0> k_p_none = {};
inline constexpr std::array<std::string_view, 1> k_p_restart = {"down"};
inline constexpr std::array<std::string_view, 3> k_p_navigation = {"fail", "count", "app"};
inline constexpr std::array<std::string_view, 11> k_p_api = {
    "call", "app",    "client", "user", "name",  "portrait_uri",
    "time", "minute", "page",   "size", "expect"};
// Expectations: the keys of both forms (used for the "indent it" hint only; the
// form's own list is built when the step is read).
inline constexpr std::array<std::string_view, 23> k_p_expect = {
    "client",   "server",   "status",     "code",           "error",  "success",
    "db_opened", "attempt", "returned",   "message",        "sent",   "send_error",
    "sync_completed", "from", "offline",  "left",           "has_package", "sequence",
    "user",     "device",   "detail",     "within",         "not_before"};
inline constexpr std::array<std::string_view, 21> k_p_absent = {
    "client",   "server",  "status",  "code",       "error",          "success", "db_opened",
    "attempt",  "returned", "message", "sent",      "send_error",     "sync_completed", "from",
    "offline",  "left",    "has_package", "user",   "device",         "detail",  "for"};
inline constexpr std::array<std::string_view, 24> k_p_count = {
    "client",   "server",  "status",  "code",        "error",      "success",  "db_opened",
    "attempt",  "returned", "message", "sent",       "send_error", "sync_completed", "from",
    "offline",  "left",    "has_package", "user",    "device",     "detail",   "equals",
    "at_least", "at_most", "within"};
inline constexpr std::array<std::string_view, 6> k_p_schedule = {"client", "server",    "intervals",
                                                                 "count",  "tolerance", "within"};
inline constexpr std::array<std::string_view, 2> k_p_status = {"client", "is"};
inline constexpr std::array<std::string_view, 8> k_p_send = {"client", "to",  "text", "size",
                                                             "object_name", "via", "from", "expect"};
inline constexpr std::array<std::string_view, 4> k_p_inbox = {"client", "messages", "from", "within"};
inline constexpr std::array<std::string_view, 4> k_p_history = {"client", "with", "messages",
                                                                "within"};

struct kind_info {
  std::string_view name;
  family fam;
  std::string_view path;  // admin endpoint of a server action
  key_list params;
};

inline constexpr std::array<kind_info, 36> k_kinds = {{
    {"init", family::client, "", k_p_client},
    {"connect", family::client, "", k_p_connect},
    {"disconnect", family::client, "", k_p_client},
    {"logout", family::client, "", k_p_client},
    {"network_down", family::client, "", k_p_client},
    {"network_up", family::client, "", k_p_client},
    {"foreground", family::client, "", k_p_client},
    {"reconnect_kick", family::client, "", k_p_reconnect_kick},
    {"resend", family::client, "", k_p_client},
    {"relaunch", family::client, "", k_p_client},
    {"send", family::send, "", k_p_send},
    {"inbox", family::inbox, "", k_p_inbox},
    {"history", family::history, "", k_p_history},
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

// --- small helpers and the rendering of a step (loader_text.cpp) ---

bool valid_scenario_name(std::string_view s) noexcept;
bool valid_tag(std::string_view s) noexcept;
bool valid_client_name(std::string_view s) noexcept;
bool close_to(std::string_view a, std::string_view b);
std::string join(const std::vector<std::string>& items);
bool contains(key_list keys, std::string_view key) noexcept;
std::string render(const YAML::Node& node);

// Reads a scenario document. Errors are collected (not thrown): each reader reports
// what it found wrong and returns nullopt, its caller skips that part and goes on, so
// one run of `imock-harness check` lists every problem it can see.
class reader {
 public:
  reader(std::string file, fs::path base_dir, std::vector<load_error>& errors)
      : file_(std::move(file)), base_dir_(std::move(base_dir)), errors_(errors) {}

  // The top-level walk (loader.cpp).
  std::optional<scenario> read(const YAML::Node& root);

 private:
  // --- errors (loader_values.cpp) ---

  [[nodiscard]] source_mark mark(const YAML::Mark& m) const;
  void error(const YAML::Mark& m, std::string message);
  void error_at(const entry& e, std::string message);

  // The value read, or nullopt with what is wrong with it reported.
  template <class T>
  std::optional<T> take(const entry& e, yaml_read::result<T> r) {
    if (!r.value) {
      error_at(e, std::move(r.error));
    }
    return std::move(r.value);
  }

  // --- maps (loader_values.cpp) ---

  std::vector<entry> read_map(const YAML::Node& map, std::string_view context, key_list known);
  [[nodiscard]] bool misspelt(const YAML::Mark& where, std::string_view name) const;
  const entry* required(const std::vector<entry>& entries, const YAML::Mark& where,
                        std::string_view what, std::string_view name);

  // --- scalars (loader_values.cpp) ---

  const std::string* scalar(const entry& e, std::string_view expected);
  std::optional<std::string> read_string(const entry& e);
  std::optional<std::string> read_non_empty(const entry& e);
  std::optional<bool> read_bool(const entry& e);
  std::optional<std::uint64_t> read_unsigned(const entry& e, std::uint64_t min, std::uint64_t max);
  std::optional<double> read_number(const entry& e, double min_exclusive, double max,
                                    std::string_view range);
  std::optional<double> read_speed(const entry& e);
  std::optional<std::int64_t> read_duration(const entry& e);
  std::optional<std::int64_t> read_positive_duration(const entry& e);
  std::optional<std::int64_t> read_heartbeat(const entry& e);
  std::optional<std::int64_t> read_time_limit(const entry& e);
  std::optional<int> read_code(const entry& e, bool allow_zero);
  std::optional<int> read_status(const entry& e);

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

  std::optional<std::string> read_event_kind(const entry& e);

  template <class T, std::size_t N>
  std::optional<T> read_enum(const entry& e,
                             const std::array<std::pair<std::string_view, T>, N>& table,
                             std::string_view hint = {}) {
    return take(e, yaml_read::read_enum(e, table, hint));
  }

  std::optional<std::vector<std::int64_t>> read_duration_list(const entry& e,
                                                              std::string_view example);

  // --- references to clients and apps (loader_values.cpp) ---

  std::optional<std::string> client_name(const entry& e);
  const client_spec* spec_of(const std::string& name) const;
  std::optional<std::string> app_name(const entry& e, bool may_be_unknown = false);
  [[nodiscard]] bool contains_app(const std::string& key) const;
  [[nodiscard]] std::string first_app() const;

  // --- top-level sections (loader.cpp; the clients: loader_clients.cpp) ---

  void read_server(const entry& e, scenario& s);
  [[nodiscard]] source_mark mark_of(const std::string& where) const;
  void read_tags(const entry& e, scenario& s);
  void read_clients(const entry& e, scenario& s);
  client_spec read_client(const std::string& name, const YAML::Node& key, const YAML::Node& value);
  std::vector<navigation_host> read_navigation(const entry& e);
  void read_latency(const entry& e, client_spec& c);

  // --- steps: the list, one step, client steps (loader_steps.cpp) ---

  void read_steps(const entry& e, scenario& s);
  std::optional<step> read_step(const YAML::Node& list, const YAML::Node& node, std::size_t index,
                                const std::optional<YAML::Mark>& previous);
  std::optional<step_body> read_body(const kind_info& kind, const entry& e);
  std::optional<std::pair<std::vector<entry>, std::string>> client_and_params(
      const kind_info& kind, const entry& e, std::string_view example);
  std::optional<step_body> read_client_action(const kind_info& kind, const entry& e);

  // --- server actions and the signed server API (loader_server_steps.cpp) ---

  void read_filter(const std::vector<entry>& params, json::object& body, bool with_device);
  std::optional<step_body> read_server_action(const kind_info& kind, const entry& e);
  void read_fault(const std::vector<entry>& params, const YAML::Mark& where, json::object& body);
  std::optional<std::uint64_t> read_reason(const entry& e);
  std::optional<step_body> read_api(const entry& e);
  void read_api_users(const entry& e, bool list_allowed,
                      std::vector<std::pair<std::string, std::string>>& form);

  // --- expectations, schedule and status (loader_expectations.cpp) ---

  std::optional<step_body> read_expectation(const kind_info& kind, const entry& e);
  const entry* required_with(const std::vector<entry>& entries, const YAML::Mark& where,
                             const std::string& what, std::string_view expected,
                             std::string_view name);
  std::optional<server_event_match> read_server_event(const std::vector<entry>& params);
  void read_client_events(const std::vector<entry>& params, const YAML::Mark& where,
                          const std::string& what, bool sequence_allowed,
                          std::vector<client_event_match>& out);
  void read_sequence(const entry& e, std::vector<client_event_match>& out);
  std::optional<client_event_match> read_client_event(const std::vector<entry>& params,
                                                      const YAML::Mark& where,
                                                      const std::string& what,
                                                      bool sequence_allowed);
  void read_bounds(const std::vector<entry>& params, const YAML::Mark& where, count_step& x);
  std::optional<step_body> read_schedule(const entry& e);
  std::optional<step_body> read_status_step(const entry& e);

  // --- messages (loader_messages.cpp) ---

  std::optional<std::string> user_of(const entry& e);
  std::optional<step_body> read_send(const entry& e);
  std::vector<std::string> read_texts(const entry& e);
  std::optional<step_body> read_inbox(const entry& e);
  std::optional<step_body> read_history(const entry& e);

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

}  // namespace imock::harness::detail

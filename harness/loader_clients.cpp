// The clients section of a scenario: each client's app, user, device, transport,
// heartbeat, reconnect schedule, latency and navigation.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "imock/harness/loader_reader.hpp"

namespace imock::harness::detail {
namespace {

constexpr std::array<std::string_view, 12> k_client_keys = {
    "app",       "user",       "device",   "platform", "transport", "reconnect_kick",
    "heartbeat", "time_limit", "schedule", "database", "latency",   "navigation"};
constexpr std::array<std::string_view, 2> k_latency_keys = {"up", "down"};

constexpr auto& k_transports = k_transport_names.rows;

}  // namespace

void reader::read_clients(const entry& e, scenario& s) {
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

client_spec reader::read_client(const std::string& name, const YAML::Node& key,
                                const YAML::Node& value) {
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
std::vector<navigation_host> reader::read_navigation(const entry& e) {
  if (e.value.IsScalar() && !e.value.IsSequence()) {
    if (const auto on = read_bool(e)) {
      if (*on) return {navigation_host::server};
      return {};
    }
    return {};
  }
  if (!e.value.IsSequence() || e.value.size() == 0) {
    error_at(e,
             "expected true, false or a non-empty list of navigation hosts (server, dead) "
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
void reader::read_latency(const entry& e, client_spec& c) {
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

}  // namespace imock::harness::detail

// imock-server configuration: apps, pre-registered users, limits, listeners.
// The same schema is the `server:` section of scenario files (docs/server.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imock/base/names.hpp"
#include "imock/protocol/codes.hpp"

namespace YAML {
class Node;
}

namespace imock::server {

enum class app_state { active, blocked, deleted };
enum class login_policy { single_mobile_device, multi_device };

inline constexpr names<app_state, 3> k_app_state_names{{{
    {"active", app_state::active},
    {"blocked", app_state::blocked},
    {"deleted", app_state::deleted},
}}};
inline constexpr names<login_policy, 2> k_login_policy_names{{{
    {"single_mobile_device", login_policy::single_mobile_device},
    {"multi_device", login_policy::multi_device},
}}};
inline std::string_view to_string(app_state s) noexcept { return k_app_state_names.of(s); }
inline std::string_view to_string(login_policy p) noexcept { return k_login_policy_names.of(p); }

struct app_config {
  std::string key;
  std::string secret;
  app_state state = app_state::active;
  std::int64_t token_lifetime_ms = 0;  // 0: tokens never expire (the documented default)
  login_policy policy = login_policy::single_mobile_device;
  rc::code revoked_token_code = rc::code::conn_token_expire;  // SPEC.md §6: 31020 or 31004
  std::uint32_t max_users = 0;  // 0: unlimited; getToken beyond it gives 2007
  friend bool operator==(const app_config&, const app_config&) = default;
};

struct user_config {
  std::string app_key;
  std::string user_id;
  std::string name;
  std::string portrait_uri;
  // 0: not blocked. Relative to server start when loaded from a file (`blocked_for`);
  // the server adds its start time.
  std::int64_t blocked_until_ms = 0;
  friend bool operator==(const user_config&, const user_config&) = default;
};

struct limits_config {
  std::uint32_t max_connections = 19'000;  // below the 20,000 open-file limit here
  std::uint32_t max_packet_size = 262'144;  // a 128 KB message (SPEC.md §8.6) and its envelope
  std::int64_t connect_timeout_ms = 10'000;  // no CONNECT by then: close
  std::uint16_t keep_alive_min_s = 5;
  std::uint16_t keep_alive_max_s = 600;
  std::size_t event_log_capacity = 100'000;  // events kept for /admin/events; older ones dropped
  std::size_t outbound_queue_bytes = 1024 * 1024;  // slow reader beyond this: disconnect (room for several 128 KB messages)
  std::uint32_t api_rate_limit_per_s = 0;         // server API requests per app per second, 0: off
  std::uint32_t connect_rate_limit_per_s = 0;     // CONNECTs per second, 0: off (30015 beyond)
  std::int64_t signature_window_ms = 5 * 60 * 1000;  // timestamps further off are refused
  bool replay_protection = true;                     // refuse a nonce seen again inside the window
  friend bool operator==(const limits_config&, const limits_config&) = default;
};

inline constexpr std::uint32_t k_max_accept_queues = 64;  // listen_config::accept_queues

struct listen_config {
  std::string mqtt = "127.0.0.1:18830";
  std::string http = "127.0.0.1:18080";
  std::optional<std::string> mqtts;  // "127.0.0.1:18831" when TLS is configured
  std::optional<std::string> https;  // "127.0.0.1:18443" when TLS is configured
  std::optional<std::filesystem::path> tls_cert;
  std::optional<std::filesystem::path> tls_key;
  bool tls_self_signed = false;
  // Listen queues per MQTT port (TCP and TLS), SO_REUSEPORT sockets the kernel spreads
  // new connections over. Each queue holds at most net.core.somaxconn (4096 here)
  // handshaken connections; a reconnect storm of 15,000 clients overflows one.
  std::uint32_t accept_queues = 4;
  // The admin API's bearer token (docs/admin-api.md, "Access"). Empty: the admin API is
  // open, which only loopback listeners allow (admin_token_problem).
  std::string admin_token;
  // More HTTP addresses that answer only navigation (/navi.json) and /healthz: more
  // navigation servers of this server, for an SDK given a list of them.
  std::vector<std::string> navigation;
  friend bool operator==(const listen_config&, const listen_config&) = default;
};

/// What POST /navi.json answers (docs/protocol.md §8).
struct navigation_config {
  /// The connection servers listed, in order. nullopt: this server's own listeners
  /// (mqtt, mqtts, ws, wss). Each is a URL net::parse_server_url reads.
  std::optional<std::vector<std::string>> servers;
  /// `cacheSeconds`: how long a client may reuse the list. Whole seconds; 0: not at all.
  std::int64_t cache_lifetime_ms = 2 * 60 * 60 * 1000;
  friend bool operator==(const navigation_config&, const navigation_config&) = default;
};

/// One-to-one messages (docs/protocol.md §9, docs/server-config.md "messages").
struct messages_config {
  /// How long a message waits for a user who is not online; past it the message is
  /// dropped (a `message_expired` event). SPEC.md §8.5: 1 to 7 days, default 7.
  std::int64_t retention_ms = std::int64_t{7} * 24 * 60 * 60 * 1000;
  /// The most messages kept for one user; one more drops that user's oldest
  /// (a `message_dropped` event), so a user who never comes back costs bounded memory.
  std::uint32_t max_stored_per_user = 10'000;
  /// Messages per offline-sync package (SPEC.md §8.3: at most 200).
  std::uint32_t package_size = 200;
  /// Off (the default, SPEC.md §8.5): a message taken by one online device is not
  /// delivered to the user's others. On: every device of the user gets every message.
  bool multi_device_sync = false;
  /// Messages a client may send per second (SPEC.md §8.6: 5); beyond it 20604. 0: off.
  std::uint32_t client_send_rate_per_s = 5;
  /// Message recipients the server API takes per app per minute (SPEC.md §8.6: 6000
  /// for private and status messages); beyond it 1008. 0: off.
  std::uint32_t api_recipients_per_min = 6000;
  /// The largest content, in bytes (SPEC.md §8.6: 128 KB); beyond it 30016 (client
  /// send) or 1005 (server API).
  std::uint32_t max_content_bytes = 128 * 1024;
  friend bool operator==(const messages_config&, const messages_config&) = default;
};

/// The environment variable that sets the admin token (over the config file's).
inline constexpr const char* k_admin_token_env = "IMOCK_ADMIN_TOKEN";

/// Why these listeners may not start: an HTTP or HTTPS listener off loopback with no
/// admin token (anyone who reaches it could kick, block and shut down). nullopt: fine.
std::optional<std::string> admin_token_problem(const listen_config& listen);
/// True for 127.0.0.0/8, ::1 and localhost in a "HOST:PORT" address.
bool is_loopback_address(std::string_view host_port) noexcept;

struct server_config {
  std::vector<app_config> apps;
  std::vector<user_config> users;
  limits_config limits;
  listen_config listen;
  navigation_config navigation;
  messages_config messages;

  [[nodiscard]] const app_config* find_app(std::string_view key) const noexcept;
  friend bool operator==(const server_config&, const server_config&) = default;
};

/// A configuration error: `where` is "file:line:column" (1-based) or the flag name.
struct config_error {
  std::string where;
  std::string message;
  [[nodiscard]] std::string to_string() const { return where + ": " + message; }
};

/// The embedded default: one demo app (key "imock-demo-key", secret
/// "imock-demo-secret", permanent tokens, single mobile device), no users,
/// default limits, loopback listeners on the documented ports.
server_config default_config();

/// The embedded default config as YAML text (what `imock-server --print-config` shows).
std::string_view default_config_yaml() noexcept;

/// Parses YAML text. `source_name` names the file in errors. On error returns
/// nullopt and fills `error` ("file:3:7: unknown key 'secrte' in app (expected one of
/// key, secret, state, ...)"). Unknown keys, wrong types, bad durations and
/// duplicate app keys are errors. An absent key keeps its default_config() value (an
/// absent `apps` keeps the demo app; `apps: []` has none). Relative TLS paths resolve
/// against the current directory.
std::optional<server_config> parse_config(std::string_view yaml_text, std::string_view source_name,
                                          config_error& error);

/// Reads and parses a file; relative TLS paths resolve against the file's folder. A file
/// that cannot be read gives `where` = the path and the system's reason.
std::optional<server_config> load_config(const std::filesystem::path& file, config_error& error);

/// Parses an already-loaded YAML node (the `server:` section of a scenario file).
/// Relative TLS paths resolve against the current directory.
std::optional<server_config> parse_config_node(const YAML::Node& node, std::string_view source_name,
                                               config_error& error);

/// As above, with relative TLS paths resolved against `base_dir` (a scenario file's
/// folder, so a scenario finds its certificates wherever it is run from).
std::optional<server_config> parse_config_node(const YAML::Node& node, std::string_view source_name,
                                               const std::filesystem::path& base_dir,
                                               config_error& error);

}  // namespace imock::server

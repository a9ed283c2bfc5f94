// The one table of documented codes (SPEC.md §2) and connection statuses (§3).
// Everything else -- the server's refusals, the client's callbacks, docs/codes.md,
// the conformance matrix -- reads from here.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>

namespace imock::rc {

/// Connection status as the status listener reports it (iOS numbering).
enum class status : int {
  connected = 0,
  network_unavailable = 1,
  kicked_offline_by_other_client = 6,
  connecting = 10,
  unconnected = 11,
  sign_out = 12,
  suspend = 13,
  timeout = 14,
  token_incorrect = 15,
  disconn_exception = 16,
  proxy_unavailable = 17,
  user_abandon = 19,
};

/// Documented connect / connection codes (SPEC.md §2).
enum class code : int {
  ok = 0,
  // Recoverable: the SDK retries on its own, the app sees status changes only.
  network_unavailable = 30002,
  navi_resource_error = 30004,
  navi_request_error = 30005,
  navi_response_error = 30006,
  navi_respond_error = 30007,
  navi_appkey_error = 30008,
  navi_server_error = 30009,
  socket_not_connected = 30010,
  socket_disconnected = 30011,
  ping_send_fail = 30013,  // pong not received (heartbeat timeout)
  connect_too_frequently = 30015,
  conn_ack_timeout = 31000,
  conn_proto_version_error = 31001,
  conn_server_unavailable = 31003,
  conn_redirected = 31006,
  proxy_unavailable = 31028,  // unverified: 34245 in a newer header
  connection_reset = 32054,
  connection_refused = 32061,
  // Terminal: delivered to the error callback, the SDK stops.
  conn_id_reject = 31002,
  conn_token_incorrect = 31004,
  conn_not_authorized = 31005,
  conn_app_blocked_or_deleted = 31008,
  conn_user_blocked = 31009,
  disconn_kick = 31010,
  conn_token_expire = 31020,
  conn_other_device_login = 31023,
  concurrent_limit_error = 31024,
  conn_cluster_error = 31025,
  conn_disposable_token_used = 31027,
  conn_user_abandon = 31029,
  client_not_init = 33001,
  database_error = 33002,
  invalid_parameter = 33003,
  connection_exist = 34001,
  connect_timeout = 34006,
};

/// Who can cause a code: the server refuses or kicks, the client SDK decides it
/// locally, or the network (socket errors, silence) causes it.
enum class origin { server, client, network };

struct code_info {
  code value;
  std::string_view name;  // the SDK's constant, e.g. "RC_CONN_TOKEN_INCORRECT"
  bool terminal;          // true: error callback, SDK stops; false: SDK reconnects
  /// The status the listener reports when this code happens; nullopt when the
  /// status does not change (an API call refused before anything started).
  std::optional<status> leads_to;
  /// Reason codes on the wire next to the `rc-code` user property: in a CONNACK that
  /// refuses a connect, and in a server DISCONNECT that ends a session; each legal in
  /// its packet. nullopt for codes that never travel.
  std::optional<std::uint8_t> connack_reason;
  std::optional<std::uint8_t> disconnect_reason;
  origin from;
  std::string_view description;
};

struct status_info {
  status value;
  std::string_view name;       // "KickedOfflineByOtherClient"
  std::optional<int> android;  // Android's number for the same state, if it has one
  bool app_must_handle;        // SPEC.md §3: 6, 14, 15, 16, 17, 19
  bool terminal;               // the SDK does not leave this status by itself
  std::string_view description;
};

/// Every documented code, in value order.
std::span<const code_info> all_codes() noexcept;
/// Every documented status, in value order.
std::span<const status_info> all_statuses() noexcept;

/// The row of `value`, or nullptr when it is not a documented code.
const code_info* find(int value) noexcept;
const code_info& info(code c) noexcept;
const status_info* find_status(int value) noexcept;
const status_info& info(status s) noexcept;

/// Android's number for an iOS status (SPEC.md §3), nullopt when Android has none.
std::optional<int> to_android(status s) noexcept;
/// The iOS status for an Android number, nullopt when there is none.
std::optional<status> from_android(int android) noexcept;

/// The rc code a client should report for a server DISCONNECT (or CONNACK)
/// that carries no `rc-code` property: derived from the MQTT reason code.
code code_for_mqtt_reason(std::uint8_t mqtt_reason, bool in_connack) noexcept;

/// std::error_code support: category "imock.rc", value = the documented number.
const std::error_category& rc_category() noexcept;
std::error_code make_error_code(code c) noexcept;

/// Name of `c` ("RC_CONN_TOKEN_INCORRECT"), or "UNKNOWN".
std::string_view name(code c) noexcept;
std::string_view name(status s) noexcept;

}  // namespace imock::rc

template <>
struct std::is_error_code_enum<imock::rc::code> : std::true_type {};

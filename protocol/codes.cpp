#include "imock/protocol/codes.hpp"

#include <algorithm>
#include <array>
#include <string>

namespace imock::rc {
namespace {

using enum code;
using s = status;
constexpr auto k_server = origin::server;
constexpr auto k_client = origin::client;
constexpr auto k_network = origin::network;
constexpr bool k_terminal = true;
constexpr bool k_recoverable = false;
constexpr std::optional<std::uint8_t> k_not_on_wire = std::nullopt;
constexpr std::optional<status> k_unchanged = std::nullopt;

// Sorted by value (a test checks it): find() does a binary search.
// connack_reason / disconnect_reason: the closest MQTT 5 reason code that is legal in
// that packet (MQTT 5 §3.2.2.2, §3.14.2.1; a test walks the table). A server code
// travels in a CONNACK when a connect is refused, in a DISCONNECT when a connected
// session is ended with it (kicks, faults, a block while online). Codes with no close
// DISCONNECT meaning use 0x98 Administrative action.
constexpr std::array k_codes = std::to_array<code_info>({
    {network_unavailable, "RC_NET_UNAVAILABLE", k_recoverable, s::network_unavailable,
     k_not_on_wire, k_not_on_wire, k_network,
     "No network; the schedule pauses until the network returns."},
    {navi_resource_error, "RC_NAVI_RESOURCE_ERROR", k_recoverable, s::suspend, k_not_on_wire,
     k_not_on_wire, k_network, "Navigation: connection-server list missing or unusable."},
    {navi_request_error, "RC_NAVI_REQUEST_FAIL", k_recoverable, s::suspend, k_not_on_wire,
     k_not_on_wire, k_network, "Navigation: request failed."},
    {navi_response_error, "RC_NAVI_RESPONSE_ERROR", k_recoverable, s::suspend, k_not_on_wire,
     k_not_on_wire, k_network, "Navigation: response could not be read."},
    {navi_respond_error, "RC_NAVI_NODE_NOT_FOUND", k_recoverable, s::suspend, k_not_on_wire,
     k_not_on_wire, k_network, "Navigation: no node for this app."},
    {navi_appkey_error, "RC_NAVI_APPKEY_ERROR", k_recoverable, s::suspend, k_not_on_wire,
     k_not_on_wire, k_network, "Navigation: app key refused by the navigation server."},
    {navi_server_error, "RC_NAVI_SERVER_ERROR", k_recoverable, s::suspend, k_not_on_wire,
     k_not_on_wire, k_network, "Navigation: server error."},
    {socket_not_connected, "RC_SOCKET_NOT_CONNECTED", k_recoverable, s::suspend, k_not_on_wire,
     k_not_on_wire, k_network, "Socket could not be connected."},
    {socket_disconnected, "RC_SOCKET_DISCONNECTED", k_recoverable, s::suspend, k_not_on_wire,
     k_not_on_wire, k_network, "Connection closed by the peer or the network (a drop)."},
    {ping_send_fail, "RC_PING_SEND_FAIL", k_recoverable, s::suspend, k_not_on_wire, k_not_on_wire,
     k_client, "Heartbeat: no PINGRESP within the heartbeat interval."},
    {connect_too_frequently, "RC_CONNECTION_TOO_FREQUENTLY", k_recoverable, s::suspend, 0x9F, 0x9F,
     k_server, "Server refused: connecting too often (CONNACK 0x9F)."},
    {conn_ack_timeout, "RC_CONN_ACK_TIMEOUT", k_recoverable, s::suspend, k_not_on_wire,
     k_not_on_wire, k_client, "No CONNACK within the connect-ack timeout."},
    {conn_proto_version_error, "RC_CONN_PROTO_VERSION_ERROR", k_recoverable, s::suspend, 0x84, 0x82,
     k_server, "Server refused the protocol version."},
    {conn_id_reject, "RC_CONN_ID_REJECT", k_terminal, s::unconnected, 0x85, 0x98, k_server,
     "App key unknown or client information malformed."},
    {conn_server_unavailable, "RC_CONN_SERVER_UNAVAILABLE", k_recoverable, s::suspend, 0x88, 0x8B,
     k_server, "Server unavailable (CONNACK 0x88, or DISCONNECT 0x8B shutting down)."},
    {conn_token_incorrect, "RC_CONN_TOKEN_INCORRECT", k_terminal, s::token_incorrect, 0x86, 0x98,
     k_server, "Token invalid, forged, or issued for another app key: fetch a new one once."},
    {conn_not_authorized, "RC_CONN_NOT_AUTHRORIZED", k_terminal, s::unconnected, 0x87, 0x87,
     k_server, "App check failed."},
    {conn_redirected, "RC_CONN_REDIRECTED", k_recoverable, s::suspend, 0x9D, 0x9D, k_server,
     "Redirected to another server (server reference property)."},
    {conn_app_blocked_or_deleted, "RC_CONN_APP_BLOCKED_OR_DELETED", k_terminal, s::unconnected,
     0x87, 0x87, k_server, "App key blocked or deleted."},
    {conn_user_blocked, "RC_CONN_USER_BLOCKED", k_terminal, s::disconn_exception, 0x8A, 0x98,
     k_server, "User blocked: refused at connect, or disconnected at once while online."},
    {disconn_kick, "RC_DISCONN_KICK", k_terminal, s::kicked_offline_by_other_client, 0x87, 0x8E,
     k_server, "Kicked offline after a successful connect (login elsewhere or admin kick)."},
    {conn_token_expire, "RC_CONN_TOKEN_EXPIRE", k_terminal, s::token_incorrect, 0x86, 0x98,
     k_server, "Token past its lifetime (or revoked, by default)."},
    {conn_other_device_login, "RC_CONN_OTHER_DEVICE_LOGIN", k_terminal,
     s::kicked_offline_by_other_client, 0x87, 0x87, k_server,
     "Reconnect refused: another device logged in meanwhile (reconnect-kick on)."},
    {concurrent_limit_error, "CONCURRENT_LIMIT_ERROR", k_terminal, s::unconnected, 0x97, 0x97,
     k_server, "Connection quota exceeded."},
    {conn_cluster_error, "RC_CONN_CLUSTER_ERROR", k_terminal, s::unconnected, 0x9C, 0x9C, k_server,
     "Wrong environment (cluster) for this app key."},
    {conn_disposable_token_used, "RC_CONN_DISPOSABLE_TOKEN_USED", k_terminal, s::token_incorrect,
     0x86, 0x98, k_server, "One-time token already used."},
    {proxy_unavailable, "RC_CONN_PROXY_UNAVAILABLE", k_recoverable, s::proxy_unavailable,
     k_not_on_wire, k_not_on_wire, k_network,
     "Proxy unavailable (unverified: 31028 in one header, 34245 in a newer one)."},
    {conn_user_abandon, "RC_CONN_USER_ABANDON", k_terminal, s::user_abandon, 0x8A, 0x98, k_server,
     "Account deactivated."},
    {connection_reset, "RC_CONNECTION_RESET_BY_PEER", k_recoverable, s::suspend, k_not_on_wire,
     k_not_on_wire, k_network, "Connection reset by peer."},
    {connection_refused, "RC_CONNECTION_REFUSED", k_recoverable, s::suspend, k_not_on_wire,
     k_not_on_wire, k_network, "TCP connection refused (server not accepting)."},
    {client_not_init, "RC_CLIENT_NOT_INIT", k_terminal, k_unchanged, k_not_on_wire, k_not_on_wire,
     k_client, "connect (or any call) before init."},
    {database_error, "DATABASE_ERROR", k_terminal, s::unconnected, k_not_on_wire, k_not_on_wire,
     k_client, "Local database cannot open: the user id in the token cannot name it."},
    {invalid_parameter, "RC_INVALID_PARAMETER", k_terminal, k_unchanged, k_not_on_wire,
     k_not_on_wire, k_client, "Bad argument (empty token, malformed URL, ...)."},
    {connection_exist, "RC_CONNECTION_EXIST", k_terminal, k_unchanged, k_not_on_wire, k_not_on_wire,
     k_client, "connect called while a connection exists or is being made."},
    {connect_timeout, "RC_CONNECT_TIMEOUT", k_terminal, s::timeout, k_not_on_wire, k_not_on_wire,
     k_client, "timeLimit reached before a connection was made; the SDK stops."},
});

constexpr std::array k_statuses = std::to_array<status_info>({
    {s::connected, "Connected", 0, false, false, "Connected."},
    {s::network_unavailable, "NetworkUnavailable", -1, false, false,
     "No network; reconnects when it returns."},
    {s::kicked_offline_by_other_client, "KickedOfflineByOtherClient", 3, true, true,
     "Kicked: another device logged in (31010) or the reconnect was refused (31023)."},
    {s::connecting, "Connecting", 1, false, false, "Connecting or reconnecting."},
    {s::unconnected, "Unconnected", 2, false, true, "Not connected and not trying."},
    {s::sign_out, "SignOut", 12, false, true, "The app called disconnect or logout."},
    {s::suspend, "Suspend", 13, false, false,
     "Connection lost (drop, heartbeat timeout); the reconnect schedule runs."},
    {s::timeout, "Timeout", 14, true, true, "timeLimit reached (error 34006)."},
    {s::token_incorrect, "TokenIncorrect", 4, true, true, "Token invalid or expired."},
    {s::disconn_exception, "DisconnException", 6, true, true, "User blocked."},
    {s::proxy_unavailable, "ProxyUnavailable", std::nullopt, true, false, "Proxy unavailable."},
    {s::user_abandon, "UserAbandon", std::nullopt, true, true, "Account deactivated."},
});

constexpr bool sorted_by_value() {
  for (std::size_t i = 1; i < k_codes.size(); ++i) {
    if (static_cast<int>(k_codes[i - 1].value) >= static_cast<int>(k_codes[i].value)) {
      return false;
    }
  }
  for (std::size_t i = 1; i < k_statuses.size(); ++i) {
    if (static_cast<int>(k_statuses[i - 1].value) >= static_cast<int>(k_statuses[i].value)) {
      return false;
    }
  }
  return true;
}
static_assert(sorted_by_value(), "keep the code and status tables sorted by value");

constexpr code_info k_ok_info{ok,   "RC_SUCCESS", false,    s::connected,
                              0x00, 0x00,         k_server, "Success."};

class rc_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "imock.rc"; }
  std::string message(int value) const override {
    const auto* row = find(value);
    if (row == nullptr) {
      return "unknown code " + std::to_string(value);
    }
    return std::string(row->name) + ": " + std::string(row->description);
  }
};

}  // namespace

std::span<const code_info> all_codes() noexcept { return k_codes; }
std::span<const status_info> all_statuses() noexcept { return k_statuses; }

const code_info* find(int value) noexcept {
  if (value == 0) {
    return &k_ok_info;
  }
  const auto it =
      std::lower_bound(k_codes.begin(), k_codes.end(), value,
                       [](const code_info& row, int v) { return static_cast<int>(row.value) < v; });
  return (it != k_codes.end() && static_cast<int>(it->value) == value) ? &*it : nullptr;
}

const code_info& info(code c) noexcept {
  const auto* row = find(static_cast<int>(c));
  return row != nullptr ? *row : k_ok_info;  // every enumerator has a row (tested)
}

const status_info* find_status(int value) noexcept {
  const auto it = std::find_if(k_statuses.begin(), k_statuses.end(), [&](const status_info& row) {
    return static_cast<int>(row.value) == value;
  });
  return it != k_statuses.end() ? &*it : nullptr;
}

const status_info& info(status st) noexcept {
  const auto* row = find_status(static_cast<int>(st));
  return row != nullptr ? *row : k_statuses.front();
}

std::optional<int> to_android(status st) noexcept { return info(st).android; }

std::optional<status> from_android(int android) noexcept {
  for (const auto& row : k_statuses) {
    if (row.android == android) {
      return row.value;
    }
  }
  return std::nullopt;
}

code code_for_mqtt_reason(std::uint8_t mqtt_reason, bool in_connack) noexcept {
  switch (mqtt_reason) {
    case 0x00:
      return in_connack ? ok : socket_disconnected;
    case 0x84:
      return conn_proto_version_error;
    case 0x85:
      return conn_id_reject;
    case 0x86:
      return conn_token_incorrect;
    case 0x87:
      return conn_not_authorized;
    case 0x88:
    case 0x89:
    case 0x8B:
      return conn_server_unavailable;
    case 0x8A:
      return conn_user_blocked;
    case 0x8E:
    case 0x98:  // administrative action: imock's DISCONNECT for terminal codes like 31009
      return disconn_kick;
    case 0x97:
      return concurrent_limit_error;
    case 0x9C:
      return conn_cluster_error;
    case 0x9D:
      return conn_redirected;
    case 0x9F:
      return connect_too_frequently;
    default:
      // Anything else (malformed, protocol error, keep alive timeout ...) is a
      // broken connection the SDK recovers from by reconnecting.
      return in_connack ? conn_server_unavailable : socket_disconnected;
  }
}

const std::error_category& rc_category() noexcept {
  static const rc_category_impl category;
  return category;
}

std::error_code make_error_code(code c) noexcept { return {static_cast<int>(c), rc_category()}; }

std::string_view name(code c) noexcept {
  const auto* row = find(static_cast<int>(c));
  return row != nullptr ? row->name : std::string_view("UNKNOWN");
}

std::string_view name(status st) noexcept {
  const auto* row = find_status(static_cast<int>(st));
  return row != nullptr ? row->name : std::string_view("Unknown");
}

}  // namespace imock::rc

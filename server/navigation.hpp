// The navigation server (docs/protocol.md §8): POST /navi.json names the connection
// servers an SDK should try, and for how long it may reuse the list. Sans-IO like the
// server API: the HTTP layer (or the simulation) hands over a request and carries out
// the answer; the event that records the request comes back with it.
//
// Which answer, in order: a method other than POST gets 405; an armed navigation
// fault (docs/admin-api.md, "Navigation") whose app filter matches the App-Key header
// answers instead of everything below; a missing or unknown app key gets 403 (30008);
// a body that does not decode, or no token, gets 400 (30006 at the client); else the
// list. A blocked or deleted app still gets its list: its CONNECT is refused (31008).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "imock/server/config.hpp"
#include "imock/server/directory.hpp"
#include "imock/server/event_log.hpp"
#include "imock/server/faults.hpp"
#include "imock/server/server_api.hpp"

namespace imock::server {

inline constexpr std::string_view k_navigation_path = "/navi.json";

/// What one navigation request gets, and the event that records it (kind navigation;
/// code: the navigation code the client derives from the answer, 0 for a list,
/// 32061 for the `dead` fault's).
struct navigation_answer {
  api_response response;  // http_status 0: close the connection without an answer
  event logged;
};

class navigation {
 public:
  /// `dir`, `faults` and `config` must outlive this object.
  navigation(const directory& dir, fault_set& faults, const navigation_config& config);

  /// True for /navi.json (without a query string).
  [[nodiscard]] static bool handles(std::string_view path) noexcept;

  /// The URLs of the server's own listeners (mqtt, mqtts, ws, wss in that order),
  /// answered unless the config's navigation.servers gives the list.
  void set_connection_servers(std::vector<std::string> urls) { own_ = std::move(urls); }
  /// URLs where nothing accepts a connection: the `dead` fault's list.
  void set_dead_servers(std::vector<std::string> urls) { dead_ = std::move(urls); }

  /// The list an answer carries now (before wildcard hosts are replaced, see handle).
  [[nodiscard]] const std::vector<std::string>& servers() const noexcept;
  [[nodiscard]] const std::vector<std::string>& dead_servers() const noexcept { return dead_; }

  /// Answers one request at server time `now_ms`. A listed URL whose host is a wildcard
  /// address (0.0.0.0, ::) gets the host of the request's Host header instead: the
  /// address the client reached this server at.
  navigation_answer handle(const api_request& r, std::int64_t now_ms);

 private:
  const directory& dir_;
  fault_set& faults_;
  const navigation_config& config_;
  std::vector<std::string> own_;
  std::vector<std::string> dead_;
};

}  // namespace imock::server

// The admin and fault API (docs/admin-api.md): JSON over HTTP under /admin/.
// Sans-IO like the server API: the HTTP layer hands over requests; what must
// happen on sockets goes through server_control.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <boost/json/object.hpp>
#include <string_view>

#include "imock/server/hub.hpp"
#include "imock/server/server_api.hpp"

namespace imock::server {

/// What the admin API asks of the I/O layer.
class server_control {
 public:
  virtual ~server_control() = default;
  /// Carry out hub actions (send, close, delayed ones).
  virtual void apply(actions&& todo) = 0;
  /// How the MQTT ports answer new connections: accept them; refuse them (the
  /// listeners closed: ECONNREFUSED, 32061 at the client); or leave their SYNs
  /// unanswered (a full listen queue: the client's connect hangs until its own
  /// time-out, 30010). WebSocket upgrades are closed unless accepting.
  enum class accept_mode : std::uint8_t { accept, refuse, drop_syn };
  virtual void set_accept_mode(accept_mode m) = 0;
  [[nodiscard]] virtual bool accepting() const = 0;
  void set_accepting(bool on) { set_accept_mode(on ? accept_mode::accept : accept_mode::refuse); }
  /// Accept again after `after_ms` of server time.
  virtual void resume_accepting_after(std::int64_t after_ms) = 0;
  /// Graceful shutdown: DISCONNECT 0x8B to all, bounded wait, the process exits 0.
  virtual void request_shutdown() = 0;
};

/// A request's parameters as one object: the query string's, then the JSON body's.
/// nullopt and `why` when either cannot be read (not UTF-8, not a JSON object).
std::optional<boost::json::object> admin_parameters(const api_request& r, std::string& why);

/// The admin API's door (docs/admin-api.md, "Access"): nullopt lets `r` in; otherwise
/// the 401 to answer. With an empty `token` every request is let in. A request shows
/// the token as "Authorization: Bearer TOKEN", compared in constant time.
std::optional<api_response> admin_access(std::string_view token, const api_request& r);

class admin_api {
 public:
  admin_api(hub& h, server_control& control) : hub_(h), control_(control) {}

  [[nodiscard]] static bool handles(std::string_view path) noexcept;

  /// `path` may carry a query string (GET /admin/events?since=12&limit=100).
  api_response handle(const api_request& request, std::int64_t now_ms);

 private:
  hub& hub_;
  server_control& control_;
};

}  // namespace imock::server

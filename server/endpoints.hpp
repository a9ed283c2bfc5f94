// The server API and the admin API behind one entry point, sans-IO. The HTTP port
// (server.cpp) and the simulation (sim/server_host) both hand their requests to
// this one object, so a scenario's admin actions and API calls reach the same
// handlers whether they travel over HTTP or not.
#pragma once

#include <cstdint>
#include <string_view>

#include "server/admin_api.hpp"
#include "server/hub.hpp"
#include "server/server_api.hpp"

namespace imock::server {

class endpoints {
 public:
  /// `h` and `control` must outlive this object.
  endpoints(hub& h, server_control& control);

  /// True when `path` (without a query string) is a server API or admin API endpoint.
  [[nodiscard]] static bool handles(std::string_view path) noexcept;

  /// Runs one request at server time `now_ms`. `r.path` may carry a query string.
  /// A path neither API handles gets 404.
  api_response handle(const api_request& r, std::int64_t now_ms);

  [[nodiscard]] const server_api& api() const noexcept { return api_; }

 private:
  api_hooks hooks();

  hub& hub_;
  server_control& control_;
  std::int64_t now_ms_ = 0;  // the time of the request being handled
  server_api api_;
  admin_api admin_;
};

}  // namespace imock::server

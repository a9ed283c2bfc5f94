// The server API, the admin API and navigation behind one entry point, sans-IO. The
// HTTP port (server.cpp) and the simulation (sim/server_host) both hand their requests
// to this one object, so a scenario's admin actions, API calls and navigation reach
// the same handlers whether they travel over HTTP or not.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <string>
#include <vector>

#include "imock/server/admin_api.hpp"
#include "imock/server/hub.hpp"
#include "imock/server/navigation.hpp"
#include "imock/server/recording.hpp"
#include "imock/server/server_api.hpp"

namespace imock::server {

/// A file the console shows (imock-server --console-file): a conformance matrix, a
/// storm chart. Read once at start; served by GET /admin/files/NAME.
struct console_file {
  std::string name;  // the file name, without folders
  std::string content_type;
  std::string content;
};

class endpoints {
 public:
  /// `h` and `control` must outlive this object.
  endpoints(hub& h, server_control& control);

  /// True when `path` (a query string is ignored) is a server API or admin API
  /// endpoint, or navigation (/navi.json).
  [[nodiscard]] static bool handles(std::string_view path) noexcept;

  /// Runs one request at server time `now_ms`. `r.path` may carry a query string.
  /// A path none of them handles gets 404. An answer with http_status 0 is no answer:
  /// close the connection without writing (navigation's `request` fault).
  api_response handle(const api_request& r, std::int64_t now_ms);

  /// What navigation lists: the URLs of the server's own listeners, in the order mqtt,
  /// mqtts, ws, wss (the config's navigation.servers, when given, is listed instead).
  void set_connection_servers(std::vector<std::string> urls) {
    navigation_.set_connection_servers(std::move(urls));
  }
  /// What the `dead` navigation fault lists: URLs where every connect is refused.
  void set_dead_servers(std::vector<std::string> urls) {
    navigation_.set_dead_servers(std::move(urls));
  }

  [[nodiscard]] const server_api& api() const noexcept { return api_; }

  void set_console_files(std::vector<console_file> files) { files_ = std::move(files); }
  [[nodiscard]] const recorder& recording() const noexcept { return recorder_; }

 private:
  api_hooks hooks();
  std::optional<api_response> handle_console_paths(const api_request& r, std::string_view path);
  void record(const api_request& r, std::string_view via, std::string_view path,
              const api_response& answer, std::uint64_t after_seq);

  hub& hub_;
  server_control& control_;
  std::int64_t now_ms_ = 0;  // the time of the request being handled
  server_api api_;
  admin_api admin_;
  navigation navigation_;
  recorder recorder_;
  std::vector<console_file> files_;
};

}  // namespace imock::server

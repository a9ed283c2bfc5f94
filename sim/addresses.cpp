#include "imock/sim/addresses.hpp"

#include "imock/client/navigation.hpp"
#include "imock/net/url.hpp"

namespace imock::sim {

std::optional<transport> server_transport(const std::string& server, transport fallback) {
  if (server.empty()) return fallback;
  const auto url = net::parse_server_url(server);
  if (!url || url->host != k_server_host) return std::nullopt;
  return url->via;
}

std::optional<server::api_request> navigation_request(const std::string& url,
                                                      const std::string& app_key,
                                                      const std::string& body) {
  const auto parsed = net::parse_http_url(url);
  if (!parsed || parsed->host != k_server_host) return std::nullopt;
  return server::api_request{
      .method = "POST",
      .path = parsed->path + std::string(client::k_navigation_path),
      .content_type = "application/x-www-form-urlencoded",
      .headers = {{"app-key", app_key}},
      .body = body,
  };
}

}  // namespace imock::sim

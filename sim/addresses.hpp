// The simulated network's names: which URLs reach the simulated server, and how a
// navigation request to it becomes a request of its HTTP port. Everything else is a
// host that does not exist (its connects are refused, its navigation is unanswered),
// as http://dead.imock.sim is in the scenarios' navigation lists.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "imock/protocol/transport.hpp"
#include "imock/server/server_api.hpp"

namespace imock::sim {

/// The simulated server's host name: mqtt://imock.sim:1883, ws://imock.sim/mqtt,
/// http://imock.sim (its HTTP port: navigation, server API, admin API).
inline constexpr std::string_view k_server_host = "imock.sim";
/// A host name nothing answers on.
inline constexpr std::string_view k_dead_host = "dead.imock.sim";

/// The transport a connect to `server` takes to the simulated server: `fallback` for
/// an empty URL, the URL's own for one on k_server_host, nullopt for any other host
/// (or a URL that does not parse): that connect is refused.
std::optional<transport> server_transport(const std::string& server, transport fallback);

/// The request a POST /navi.json to `url` is at the simulated server's HTTP port;
/// nullopt when `url` is not on k_server_host: no answer comes.
std::optional<server::api_request> navigation_request(const std::string& url,
                                                      const std::string& app_key,
                                                      const std::string& body);

}  // namespace imock::sim

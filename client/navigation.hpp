// Navigation as a client speaks it (docs/protocol.md §8): the request an SDK sends
// before it connects, and how it reads the answer into a navigation_result, the
// documented code of every kind of failure included. No I/O: the Asio SDK, the
// simulation and imock-client's virtual time all send the request their own way and
// hand the answer here, so they derive the same code from the same bytes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "imock/client/connection.hpp"

namespace imock::client {

/// The request's target and its form body (token, device, platform), and the header
/// that names the app.
inline constexpr std::string_view k_navigation_path = "/navi.json";
inline constexpr std::string_view k_navigation_app_key_header = "App-Key";
std::string navigation_body(std::string_view token, std::string_view device_id,
                            std::string_view platform);

/// Reads an HTTP answer (status 0: none came). `transports`: those the client connects
/// with (options::navigation_transports; empty = all): servers of other transports,
/// and URLs that do not parse, are left out; 30004 when none is left.
navigation_result read_navigation_answer(int http_status, std::string_view body,
                                         const std::vector<transport>& transports);

/// No answer at all (refused, reset, closed early, timed out): 30005.
inline navigation_result navigation_unanswered() {
  return navigation_result{.code = rc::code::navi_request_error};
}

/// The list as the user's database keeps it, and back: one line of JSON
/// {"servers":[...],"expires_at_ms":N}. A text that does not read gives an empty list.
std::string server_list_to_text(const server_list& list);
server_list server_list_from_text(std::string_view text);

}  // namespace imock::client

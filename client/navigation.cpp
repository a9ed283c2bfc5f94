#include "imock/client/navigation.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>

#include "imock/net/url.hpp"
#include "imock/protocol/api_request.hpp"

namespace imock::client {
namespace {

constexpr std::int64_t k_default_lifetime_s = 2 * 60 * 60;  // SPEC.md §7: about 2 h
constexpr std::int64_t k_max_lifetime_s = 365LL * 24 * 60 * 60;
constexpr std::int64_t k_ms_per_s = 1000;

navigation_result failure(rc::code c) { return navigation_result{.code = c}; }

}  // namespace

std::string navigation_body(std::string_view token, std::string_view device_id,
                            std::string_view platform) {
  std::string body = "token=" + form_escape(token);
  if (!device_id.empty()) body += "&device=" + form_escape(device_id);
  if (!platform.empty()) body += "&platform=" + form_escape(platform);
  return body;
}

navigation_result read_navigation_answer(int http_status, std::string_view body,
                                         const std::vector<transport>& transports) {
  if (http_status <= 0) return navigation_unanswered();
  if (http_status == 401 || http_status == 403) return failure(rc::code::navi_appkey_error);
  if (http_status >= 500 && http_status <= 599) return failure(rc::code::navi_server_error);
  if (http_status != 200) return failure(rc::code::navi_response_error);

  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(body, ec);
  if (ec || !doc.is_object()) return failure(rc::code::navi_response_error);
  const auto& o = doc.as_object();
  const auto* code = o.if_contains("code");
  if (code == nullptr || !code->is_int64() || code->as_int64() != 200) {
    return failure(rc::code::navi_response_error);
  }
  std::int64_t lifetime_s = k_default_lifetime_s;
  if (const auto* c = o.if_contains("cacheSeconds"); c != nullptr) {
    if (!c->is_int64() || c->as_int64() < 0) return failure(rc::code::navi_response_error);
    lifetime_s = std::min(c->as_int64(), k_max_lifetime_s);
  }
  const auto* servers = o.if_contains("servers");
  if (servers == nullptr || !servers->is_array()) return failure(rc::code::navi_resource_error);
  if (servers->as_array().empty()) return failure(rc::code::navi_respond_error);

  navigation_result r{.lifetime_ms = lifetime_s * k_ms_per_s};
  for (const auto& entry : servers->as_array()) {
    if (!entry.is_string()) continue;
    const std::string_view url = entry.as_string();
    const auto parsed = net::parse_server_url(url);
    if (!parsed) continue;
    if (!transports.empty() &&
        std::find(transports.begin(), transports.end(), parsed->via) == transports.end()) {
      continue;
    }
    r.servers.emplace_back(url);
  }
  if (r.servers.empty()) return failure(rc::code::navi_resource_error);
  return r;
}

std::string server_list_to_text(const server_list& list) {
  boost::json::array servers;
  for (const auto& s : list.servers) servers.emplace_back(s);
  return boost::json::serialize(
      boost::json::object{{"servers", std::move(servers)}, {"expires_at_ms", list.expires_at_ms}});
}

server_list server_list_from_text(std::string_view text) {
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(text, ec);
  if (ec || !doc.is_object()) return {};
  const auto& o = doc.as_object();
  const auto* servers = o.if_contains("servers");
  const auto* until = o.if_contains("expires_at_ms");
  if (servers == nullptr || !servers->is_array() || until == nullptr || !until->is_int64()) {
    return {};
  }
  server_list list{.expires_at_ms = until->as_int64()};
  for (const auto& s : servers->as_array()) {
    if (s.is_string()) list.servers.emplace_back(s.as_string());
  }
  return list;
}

}  // namespace imock::client

#include "imock/server/navigation.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <optional>

#include "imock/net/address.hpp"
#include "imock/net/url.hpp"
#include "imock/protocol/api_request.hpp"
#include "imock/protocol/token.hpp"

namespace imock::server {
namespace {

namespace json = boost::json;

constexpr std::int64_t k_ms_per_s = 1000;
constexpr std::string_view k_not_json = "<html>imock navigation fault</html>";

// What the client is told and logged, before it becomes an answer.
struct outcome {
  int http_status = 200;
  std::string body;
  rc::code code = rc::code::ok;  // what the client derives (docs/protocol.md §8)
  std::string detail;
};

std::string error_body(rc::code code, std::string_view message) {
  return json::serialize(json::object{{"code", static_cast<int>(code)}, {"errorMessage", message}});
}

outcome refuse(int http_status, rc::code code, std::string message) {
  auto body = error_body(code, message);
  return {http_status, std::move(body), code, std::move(message)};
}

outcome list(const std::vector<std::string>& servers, std::int64_t cache_lifetime_ms, rc::code code,
             std::string detail) {
  json::array urls;
  for (const auto& url : servers) urls.emplace_back(url);
  const auto cache_s = cache_lifetime_ms / k_ms_per_s;
  json::object body{{"code", 200}, {"servers", std::move(urls)}, {"cacheSeconds", cache_s}};
  if (detail.empty()) {
    detail = "ok " + std::to_string(servers.size()) + " server" + (servers.size() == 1 ? "" : "s") +
             " cache " + std::to_string(cache_s) + "s";
  }
  return {200, json::serialize(body), code, std::move(detail)};
}

// What an armed fault answers instead of the list.
outcome faulty(navigation_fault fail, const std::vector<std::string>& dead,
               std::int64_t cache_lifetime_ms) {
  std::string detail = "fault " + std::string(to_string(fail));
  switch (fail) {
    case navigation_fault::resource:
      return {200,
              json::serialize(
                  json::object{{"code", 200}, {"cacheSeconds", cache_lifetime_ms / k_ms_per_s}}),
              rc::code::navi_resource_error, std::move(detail)};
    case navigation_fault::request:
      return {0, {}, rc::code::navi_request_error, std::move(detail)};
    case navigation_fault::response:
      return {200, std::string(k_not_json), rc::code::navi_response_error, std::move(detail)};
    case navigation_fault::node:
      return list({}, cache_lifetime_ms, rc::code::navi_respond_error, std::move(detail));
    case navigation_fault::app_key:
      return {403, error_body(rc::code::navi_appkey_error, "app key refused (navigation fault)"),
              rc::code::navi_appkey_error, std::move(detail)};
    case navigation_fault::server:
      return {500, error_body(rc::code::navi_server_error, "server error (navigation fault)"),
              rc::code::navi_server_error, std::move(detail)};
    case navigation_fault::dead:
      return list(dead, cache_lifetime_ms, rc::code::connection_refused, std::move(detail));
    case navigation_fault::none:
      break;
  }
  return refuse(500, rc::code::navi_server_error, "unknown navigation fault");
}

// A single-valued form field: absent is empty; given twice is ambiguous (false).
bool single(const form_fields& f, std::string_view key, std::string_view& out) {
  const auto values = f.all(key);
  if (values.size() > 1) return false;
  out = values.empty() ? std::string_view{} : values.front();
  return true;
}

bool host_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_' || c == ':';
}

// The host of a Host header ("h:p", "[v6]:p" or "h"), when it is a plain host name or
// address: it goes into URLs, so nothing else may come through.
std::optional<std::string> host_of(std::string_view header) {
  auto hp = net::parse_host_port(header);
  if (!hp) hp = net::parse_host_port(std::string(header) + ":0");
  if (!hp || hp->host.empty() || !std::all_of(hp->host.begin(), hp->host.end(), host_char)) {
    return std::nullopt;
  }
  return hp->host;
}

bool is_wildcard(std::string_view host) noexcept {
  return host == "0.0.0.0" || host == "::" || host == "0:0:0:0:0:0:0:0";
}

// `servers` with wildcard hosts (a listener bound to every interface) replaced by the
// host the client reached us at; without a usable Host header they stay as they are.
std::vector<std::string> reachable(const std::vector<std::string>& servers,
                                   std::optional<std::string_view> host_header) {
  const auto host = host_header ? host_of(*host_header) : std::nullopt;
  if (!host) return servers;
  std::vector<std::string> out;
  out.reserve(servers.size());
  for (const auto& url : servers) {
    auto parsed = net::parse_server_url(url);
    if (parsed && is_wildcard(parsed->host)) {
      parsed->host = *host;
      out.push_back(parsed->to_string());
    } else {
      out.push_back(url);
    }
  }
  return out;
}

}  // namespace

navigation::navigation(const directory& dir, fault_set& faults, const navigation_config& config)
    : dir_(dir), faults_(faults), config_(config) {}

bool navigation::handles(std::string_view path) noexcept { return path == k_navigation_path; }

const std::vector<std::string>& navigation::servers() const noexcept {
  return config_.servers ? *config_.servers : own_;
}

navigation_answer navigation::handle(const api_request& r, std::int64_t now_ms) {
  navigation_answer answer;
  auto& e = answer.logged;
  e.t_ms = now_ms;
  e.kind = event_kind::navigation;
  const auto key = r.header("app-key", "rc-app-key").value_or("");
  e.app = printable(key);
  const auto fields = form_fields::parse(r.body);
  std::string_view token;
  std::string_view device;
  std::string_view platform;
  const bool single_valued = fields && single(*fields, "token", token) &&
                             single(*fields, "device", device) &&
                             single(*fields, "platform", platform);
  if (const auto claims = token::peek(token)) e.user = claims->user_id;
  e.device = printable(device);

  const auto decide = [&]() -> outcome {
    if (r.method != "POST") {
      auto res = api_error(api_code::method_not_allowed, "use POST for navigation");
      return {res.http_status, std::move(res.body), rc::code::navi_response_error,
              "method " + printable(r.method)};
    }
    if (const auto fail = faults_.take_navigation(key); fail != navigation_fault::none) {
      return faulty(fail, reachable(dead_, r.header("host")), config_.cache_lifetime_ms);
    }
    if (key.empty()) return refuse(403, rc::code::navi_appkey_error, "missing App-Key header");
    if (dir_.find_app(key) == nullptr) {
      return refuse(403, rc::code::navi_appkey_error, "unknown app key");
    }
    if (!fields) {
      return refuse(400, rc::code::navi_response_error, "malformed form body: bad %-escape");
    }
    if (!single_valued) {
      return refuse(400, rc::code::navi_response_error, "token, device and platform go once each");
    }
    if (token.empty()) return refuse(400, rc::code::navi_response_error, "token is required");
    return list(reachable(servers(), r.header("host")), config_.cache_lifetime_ms, rc::code::ok,
                {});
  };
  auto o = decide();
  answer.response = api_response{o.http_status, std::move(o.body)};
  e.code = static_cast<int>(o.code);
  e.detail = std::move(o.detail);
  if (!platform.empty()) e.detail += " platform=" + printable(platform);
  return answer;
}

}  // namespace imock::server

#include "imock/net/url.hpp"

#include <boost/url/parse.hpp>

#include "imock/base/parse.hpp"
#include "imock/net/address.hpp"

namespace imock::net {
namespace {

template <class T>
std::optional<T> failure(std::string_view url, std::string* error, std::string_view kind,
                         const std::string& why) {
  if (error != nullptr) *error = "bad " + std::string(kind) + " '" + std::string(url) + "': " + why;
  return std::nullopt;
}

// Host and port of a parsed URL: brackets off an IPv6 host, the default port when none.
bool host_and_port(const boost::urls::url_view& u, std::uint16_t default_port, std::string& host,
                   std::uint16_t& port, std::string& why) {
  host = std::string(u.encoded_host());
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty()) {
    why = "no host";
    return false;
  }
  port = default_port;
  if (u.has_port()) {
    const auto n = parse_unsigned(u.port());
    if (!n || *n > 65'535) {
      why = "bad port '" + std::string(u.port()) + "'";
      return false;
    }
    port = static_cast<std::uint16_t>(*n);
  }
  return true;
}

}  // namespace

std::optional<server_url> parse_server_url(std::string_view url, std::string* error) {
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return failure<server_url>(url, error, "server URL", parsed.error().message());
  server_url out;
  const auto scheme = parsed->scheme();
  std::uint16_t default_port = 0;
  if (scheme == "mqtt" || scheme == "tcp") {
    out.via = transport::tcp;
    default_port = 1883;
  } else if (scheme == "mqtts" || scheme == "ssl" || scheme == "tls") {
    out.via = transport::tls;
    default_port = 8883;
  } else if (scheme == "ws") {
    out.via = transport::ws;
    default_port = 80;
  } else if (scheme == "wss") {
    out.via = transport::wss;
    default_port = 443;
  } else {
    return failure<server_url>(url, error, "server URL", "scheme must be mqtt, mqtts, ws or wss");
  }
  std::string why;
  if (!host_and_port(*parsed, default_port, out.host, out.port, why)) {
    return failure<server_url>(url, error, "server URL", why);
  }
  out.path = std::string(parsed->encoded_path());
  if (out.path.empty()) out.path = "/mqtt";
  return out;
}

std::string server_url::to_string() const {
  static constexpr std::string_view k_schemes[] = {"mqtt", "mqtts", "ws", "wss"};
  std::string s =
      std::string(k_schemes[static_cast<int>(via)]) + "://" + host_port{host, port}.to_string();
  if (via == transport::ws || via == transport::wss) s += path;
  return s;
}

std::optional<http_url> parse_http_url(std::string_view url, std::string* error) {
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return failure<http_url>(url, error, "HTTP URL", parsed.error().message());
  if (parsed->scheme() != "http") {
    return failure<http_url>(url, error, "HTTP URL", "expected http://HOST:PORT");
  }
  http_url out;
  std::string why;
  if (!host_and_port(*parsed, 80, out.host, out.port, why)) {
    return failure<http_url>(url, error, "HTTP URL", why);
  }
  out.path = std::string(parsed->encoded_path());
  return out;
}

std::string http_url::authority() const { return host_port{host, port}.to_string(); }

}  // namespace imock::net

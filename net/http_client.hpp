// A blocking HTTP/1.1 client for imock's own calls: the SDK fetching a token, the
// storm tool and the tests calling the admin and server APIs. One connection, kept
// alive between requests and opened again when the server closed it; every request
// bounded by a time-out. Not for load: the storm tool's load is MQTT.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "imock/net/url.hpp"

namespace imock::net {

struct http_response {
  int status = 0;  // 0 when there was no answer (`error` says why)
  std::string body;
  std::string error;  // "" when an answer came
  [[nodiscard]] bool ok() const noexcept { return error.empty(); }
  /// "HTTP 400 {...}" or the error, for messages.
  [[nodiscard]] std::string what() const;
};

using http_headers = std::vector<std::pair<std::string, std::string>>;

class http_client {
 public:
  explicit http_client(http_url base);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// `target` is the path (and query) on the base URL's host.
  http_response request(std::string_view method, std::string_view target,
                        std::string_view body = {},
                        std::string_view content_type = "application/json",
                        const http_headers& headers = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));
  http_response get(std::string_view target,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return request("GET", target, {}, {}, {}, timeout);
  }
  http_response post_json(std::string_view target, std::string_view json,
                          const http_headers& headers = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return request("POST", target, json, "application/json", headers, timeout);
  }

  [[nodiscard]] const http_url& base() const noexcept { return base_; }

 private:
  struct impl;
  http_url base_;
  std::unique_ptr<impl> impl_;
};

/// One request on a fresh connection to `host_port` ("127.0.0.1:18080").
http_response http_request(std::string_view host_port, std::string_view method,
                           std::string_view target, std::string_view body = {},
                           std::string_view content_type = "application/json",
                           const http_headers& headers = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace imock::net

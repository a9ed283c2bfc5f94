// One HTTP/1.1 request on a fresh connection, asynchronously, on an event loop that
// other things share: the SDK's navigation request runs on its client's event loop this
// way. (Blocking callers use net/http_client.hpp.) Resolve, bind a source address,
// connect, write, read the answer with a bounded body; no time-out of its own: the
// owner closes the exchange when its own deadline passes.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>

#include "imock/net/http_client.hpp"
#include "imock/net/url.hpp"

namespace imock::net {

struct http_exchange_request {
  std::string method = "POST";
  http_url url;        // host, port; `target` is on it
  std::string target;  // path and query
  http_headers headers;
  std::string content_type = "application/x-www-form-urlencoded";
  std::string body;
  std::string source;  // local address to bind, "" for the kernel's choice
  std::uint64_t body_limit = 64 * 1024;  // a longer answer is no answer
};

class http_exchange {
 public:
  /// The HTTP status and body, or status 0 and "" when no whole answer came.
  using done_fn = std::function<void(int status, std::string body)>;
  virtual ~http_exchange() = default;
  /// `done` runs once, on the executor, unless close() came first.
  virtual void start(done_fn done) = 0;
  /// Ends the exchange; `done` does not run afterwards. Call it on the executor.
  virtual void close() = 0;
};

std::shared_ptr<http_exchange> make_http_exchange(const boost::asio::any_io_executor& executor,
                                                  http_exchange_request request);

}  // namespace imock::net

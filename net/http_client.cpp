#include "imock/net/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "imock/net/address.hpp"

namespace imock::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string http_response::what() const {
  if (!error.empty()) return error;
  return "HTTP " + std::to_string(status) + " " + body.substr(0, 300);
}

struct http_client::impl {
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

http_client::http_client(http_url base) : base_(std::move(base)), impl_(std::make_unique<impl>()) {}
http_client::~http_client() = default;

http_response http_client::request(std::string_view method, std::string_view target,
                                   std::string_view body, std::string_view content_type,
                                   const http_headers& headers, std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, base_.authority());
  req.set(http::field::user_agent, "imock");
  if (!body.empty()) req.set(http::field::content_type, content_type);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = std::string(body);
  req.prepare_payload();
  req.keep_alive(true);
  const auto where = "http://" + base_.authority() + std::string(target) + ": ";
  // Asynchronous operations on the stream's own timer, run for a bounded time: the
  // time-out holds for connect, write and read alike. A kept connection the server
  // closed meanwhile fails at once: once more on a fresh one.
  for (int round = 0; round < 2; ++round) {
    const bool fresh = !d.stream.has_value();
    if (fresh) {
      d.stream.emplace(d.io);
      d.buffer.clear();
    }
    http::response<http::string_body> res;
    boost::system::error_code failure;
    bool done = false;
    const auto finish = [&](boost::system::error_code ec) {
      failure = ec;
      done = true;
    };
    const auto read_response = [&] {
      http::async_read(*d.stream, d.buffer, res,
                       [&](boost::system::error_code ec, std::size_t) { finish(ec); });
    };
    const auto write_request = [&] {
      http::async_write(*d.stream, req, [&](boost::system::error_code ec, std::size_t) {
        if (ec) return finish(ec);
        read_response();
      });
    };
    d.stream->expires_after(timeout);
    if (fresh) {
      asio::ip::tcp::resolver resolver(d.io);
      boost::system::error_code rec;
      const auto endpoints = resolver.resolve(base_.host, std::to_string(base_.port), rec);
      if (rec) {
        d.stream.reset();
        return {.error = where + "cannot resolve " + base_.host + ": " + rec.message()};
      }
      d.stream->async_connect(endpoints,
                              [&](boost::system::error_code ec, const asio::ip::tcp::endpoint&) {
                                if (ec) return finish(ec);
                                write_request();
                              });
    } else {
      write_request();
    }
    d.io.restart();
    d.io.run_for(timeout + std::chrono::seconds(1));
    if (!done) failure = asio::error::timed_out;
    if (!failure) {
      if (!res.keep_alive()) d.stream.reset();
      return {.status = static_cast<int>(res.result_int()), .body = std::move(res.body())};
    }
    d.stream.reset();
    d.io.restart();
    d.io.poll();  // let the cancelled handlers run
    if (fresh || failure == beast::error::timeout || failure == asio::error::timed_out) {
      return {.error = where + failure.message()};
    }
  }
  return {.error = where + "the connection closed twice"};
}

http_response http_request(std::string_view host_port, std::string_view method,
                           std::string_view target, std::string_view body,
                           std::string_view content_type, const http_headers& headers,
                           std::chrono::milliseconds timeout) {
  std::string why;
  const auto hp = parse_host_port(host_port, &why);
  if (!hp) return {.error = why};
  http_client c(http_url{.host = hp->host, .port = hp->port});
  return c.request(method, target, body, content_type, headers, timeout);
}

}  // namespace imock::net

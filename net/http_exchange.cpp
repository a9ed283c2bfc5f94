#include "imock/net/http_exchange.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "imock/net/source_address.hpp"

namespace imock::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

class exchange_impl final : public http_exchange,
                            public std::enable_shared_from_this<exchange_impl> {
 public:
  exchange_impl(const asio::any_io_executor& executor, http_exchange_request r)
      : url_(std::move(r.url)), source_(std::move(r.source)), resolver_(executor), socket_(executor) {
    request_.method_string(r.method);
    request_.target(r.target);
    request_.set(http::field::host, url_.authority());
    for (const auto& [name, value] : r.headers) request_.set(name, value);
    if (!r.body.empty() || r.method == "POST") {
      request_.set(http::field::content_type, r.content_type);
      request_.body() = std::move(r.body);
    }
    request_.prepare_payload();
    parser_.body_limit(r.body_limit);
  }

  void start(done_fn done) override {
    done_ = std::move(done);
    error_code ec;
    const auto ip = asio::ip::make_address(url_.host, ec);
    if (!ec) return connect_to(tcp::endpoint(ip, url_.port));
    resolver_.async_resolve(url_.host, std::to_string(url_.port),
                            [self = shared_from_this()](error_code e,
                                                        const tcp::resolver::results_type& r) {
                              if (e || r.empty()) return self->finish(0);
                              self->connect_to(r.begin()->endpoint());
                            });
  }

  void close() override {
    done_ = nullptr;
    error_code ignored;
    resolver_.cancel();
    socket_.close(ignored);
  }

 private:
  void connect_to(const tcp::endpoint& ep) {
    if (!done_) return;
    if (open_socket(socket_, ep, source_)) return finish(0);
    socket_.async_connect(ep, [self = shared_from_this()](error_code e) {
      if (e) return self->finish(0);
      http::async_write(self->socket_, self->request_, [self](error_code e2, std::size_t) {
        if (e2) return self->finish(0);
        http::async_read(self->socket_, self->buffer_, self->parser_,
                         [self](error_code e3, std::size_t) {
                           if (e3) return self->finish(0);
                           self->finish(self->parser_.get().result_int());
                         });
      });
    });
  }

  void finish(unsigned status) {
    auto done = std::move(done_);
    done_ = nullptr;
    error_code ignored;
    socket_.close(ignored);
    if (done) done(static_cast<int>(status), status == 0 ? std::string() : parser_.get().body());
  }

  http_url url_;
  std::string source_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  done_fn done_;
};

}  // namespace

std::shared_ptr<http_exchange> make_http_exchange(const asio::any_io_executor& executor,
                                                  http_exchange_request request) {
  return std::make_shared<exchange_impl>(executor, std::move(request));
}

}  // namespace imock::net

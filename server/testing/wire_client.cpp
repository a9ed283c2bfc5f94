#include "imock/server/testing/wire_client.hpp"

#include <openssl/sha.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "imock/net/address.hpp"
#include "imock/net/tls.hpp"

namespace imock::server::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

tcp::endpoint endpoint_of(const std::string& host_port) {
  const auto hp = net::parse_host_port(host_port);
  return {asio::ip::make_address(hp->host), hp->port};
}

// Every operation runs the private io_context for a bounded time. A read that
// times out stays pending and completes during a later call: no cancellation, so
// TLS and WebSocket streams stay usable.
template <typename Stream>
class client_impl final : public wire_client {
 public:
  template <typename... Args>
  explicit client_impl(Args&&... args) : stream_(io_, std::forward<Args>(args)...) {}

  asio::io_context io_;
  Stream stream_;

  void run_until(const bool& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      io_.restart();
      io_.run_one_for(deadline - std::chrono::steady_clock::now());
    }
  }

  bool send_bytes(std::string_view bytes) override {
    if (closed_) return false;
    bool done = false;
    bool ok = false;
    auto data = std::make_shared<std::string>(bytes);
    auto handler = [&, data](boost::system::error_code ec, std::size_t) {
      done = true;
      ok = !ec;
    };
    if constexpr (requires { stream_.binary(true); }) {
      stream_.binary(true);
      stream_.async_write(asio::buffer(*data), handler);
    } else {
      asio::async_write(stream_, asio::buffer(*data), handler);
    }
    run_until(done, std::chrono::seconds(5));
    return ok;
  }

 protected:
  std::string read_some(std::chrono::milliseconds timeout) override {
    if (!reading_ && inbox_.empty() && !closed_) {
      reading_ = true;
      stream_.async_read_some(asio::buffer(buffer_),
                              [this](boost::system::error_code ec, std::size_t n) {
                                reading_ = false;
                                if (ec) {
                                  closed_ = true;
                                } else {
                                  inbox_.append(buffer_.data(), n);
                                }
                              });
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (reading_ && std::chrono::steady_clock::now() < deadline) {
      io_.restart();
      io_.run_one_for(deadline - std::chrono::steady_clock::now());
    }
    std::string out;
    out.swap(inbox_);
    return out;
  }

 private:
  std::array<char, 4096> buffer_{};
  std::string inbox_;
  bool reading_ = false;
};

}  // namespace

std::unique_ptr<wire_client> wire_client::open(transport via, const bound_addresses& bound,
                                               std::string* error,
                                               std::string_view ws_subprotocol) {
  auto fail = [&](std::string why) -> std::unique_ptr<wire_client> {
    if (error != nullptr) *error = std::move(why);
    return nullptr;
  };
  try {
    static const auto tls = net::make_client_context(false);
    switch (via) {
      case transport::tcp: {
        auto c = std::make_unique<client_impl<tcp::socket>>();
        c->stream_.connect(endpoint_of(bound.mqtt));
        return c;
      }
      case transport::tls: {
        if (!bound.mqtts) return fail("no mqtts listener");
        auto c = std::make_unique<client_impl<ssl::stream<tcp::socket>>>(*tls);
        c->stream_.next_layer().connect(endpoint_of(*bound.mqtts));
        c->stream_.handshake(ssl::stream_base::client);
        return c;
      }
      case transport::ws:
      case transport::wss: {
        const std::string subprotocol(ws_subprotocol);
        auto decorate = [subprotocol](websocket::request_type& req) {
          if (!subprotocol.empty()) req.set(http::field::sec_websocket_protocol, subprotocol);
        };
        if (via == transport::ws) {
          auto c = std::make_unique<client_impl<websocket::stream<beast::tcp_stream>>>();
          beast::get_lowest_layer(c->stream_).connect(endpoint_of(bound.http));
          c->stream_.set_option(websocket::stream_base::decorator(decorate));
          c->stream_.handshake(bound.http, "/mqtt");
          return c;
        }
        if (!bound.https) return fail("no https listener");
        auto c =
            std::make_unique<client_impl<websocket::stream<beast::ssl_stream<beast::tcp_stream>>>>(
                *tls);
        beast::get_lowest_layer(c->stream_).connect(endpoint_of(*bound.https));
        c->stream_.next_layer().handshake(ssl::stream_base::client);
        c->stream_.set_option(websocket::stream_base::decorator(decorate));
        c->stream_.handshake(*bound.https, "/mqtt");
        return c;
      }
    }
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return fail("unknown transport");
}

std::optional<mqtt::packet> wire_client::receive(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::error_code ec;
  while (true) {
    if (auto p = decoder_.next(ec)) return p;
    if (ec || closed_) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    decoder_.feed(read_some(left));
  }
}

bool wire_client::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    (void)read_some(left);
  }
  return true;
}

mqtt::connect connect_packet(std::string_view app_key, std::string_view token,
                             std::string_view device, bool reconnect, bool reconnect_kick,
                             std::string_view platform, std::uint16_t keep_alive) {
  mqtt::connect c;
  c.client_id = std::string(device);
  c.keep_alive = keep_alive;
  c.username = std::string(app_key);
  c.password = std::string(token);
  c.props.user_properties = {{"imock-reconnect", reconnect ? "1" : "0"},
                             {"imock-reconnect-kick", reconnect_kick ? "1" : "0"},
                             {"imock-platform", std::string(platform)}};
  return c;
}

std::string verdict::to_string() const {
  return packet + " reason=" + std::to_string(reason) + " rc-code=" + std::to_string(rc);
}

verdict verdict_of(const std::optional<mqtt::packet>& p) {
  verdict v;
  if (!p) {
    v.packet = "none";
    return v;
  }
  v.packet = std::string(mqtt::type_name(mqtt::type_of(*p)));
  const mqtt::properties* props = nullptr;
  if (const auto* a = std::get_if<mqtt::connack>(&*p)) {
    v.reason = a->reason;
    props = &a->props;
  } else if (const auto* d = std::get_if<mqtt::disconnect>(&*p)) {
    v.reason = d->reason;
    props = &d->props;
  }
  if (props != nullptr) {
    if (const auto* rc = props->find_user_property("rc-code")) v.rc = std::stoi(*rc);
  }
  return v;
}

http_result server_api_call(const std::string& host_port, std::string_view app_key,
                            std::string_view app_secret, std::string_view path,
                            std::string_view form_body) {
  static std::uint64_t counter = 0;
  const std::string nonce = "n" + std::to_string(++counter);
  const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  return http_request(host_port, "POST", path, form_body, "application/x-www-form-urlencoded",
                      signed_headers(app_key, app_secret, nonce, ts));
}

}  // namespace imock::server::testing

// client_stream against echo servers of each transport over real loopback sockets:
// up, bytes both ways in order (queued before up, too), the WebSocket subprotocol
// and user agent, the stage a failure is reported at, a peer that closes, and
// close() that silences the stream.
#include "imock/net/client_stream.hpp"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "imock/net/tls.hpp"

namespace imock::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr auto k_bound = std::chrono::seconds(10);  // every wait below ends by then

// Runs `io` until `done()` or the bound.
template <typename Done>
void run_until(asio::io_context& io, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + k_bound;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(5));
    io.restart();
  }
}

// What the stream told its owner.
struct recorder final : stream_events {
  bool up = false;
  std::string bytes;
  std::optional<stream_stage> down_at;
  error_code down_ec;
  void on_stream_up() override { up = true; }
  void on_stream_bytes(std::string_view b) override { bytes.append(b); }
  void on_stream_down(stream_stage at, const error_code& ec) override {
    down_at = at;
    down_ec = ec;
  }
};

// How an echo session behaves and what it reports.
struct echo_hooks {
  bool close_after_first = false;  // hang up after the first echo
  std::string* seen_request = nullptr;  // WS: "subprotocol|user agent|target"
  bool* ended = nullptr;  // set when the session has seen its peer go
};

// One accepted connection: handshakes as its transport asks, then sends back every
// byte (every message, for WebSocket) until the peer goes.
template <typename Stream>
class echo_session : public std::enable_shared_from_this<echo_session<Stream>> {
 public:
  static constexpr bool k_ws = requires(Stream& s) { s.binary(true); };
  static constexpr bool k_tls = std::is_same_v<Stream, ssl::stream<tcp::socket>> ||
                                std::is_same_v<Stream, websocket::stream<ssl::stream<tcp::socket>>>;
  template <typename... Args>
  explicit echo_session(echo_hooks hooks, Args&&... args)
      : hooks_(hooks), stream_(std::forward<Args>(args)...) {}
  ~echo_session() {
    if (hooks_.ended != nullptr) *hooks_.ended = true;
  }

  void start() {
    auto self = this->shared_from_this();
    if constexpr (k_ws && k_tls) {
      stream_.next_layer().async_handshake(ssl::stream_base::server, [self](error_code ec) {
        if (!ec) self->ws_accept();
      });
    } else if constexpr (k_tls) {
      stream_.async_handshake(ssl::stream_base::server, [self](error_code ec) {
        if (!ec) self->read();
      });
    } else if constexpr (k_ws) {
      ws_accept();
    } else {
      read();
    }
  }

 private:
  void ws_accept() {
    if constexpr (k_ws) {
      auto self = this->shared_from_this();
      http::async_read(stream_.next_layer(), buffer_, request_, [self](error_code ec, std::size_t) {
        if (ec) return;
        if (self->hooks_.seen_request != nullptr) {
          *self->hooks_.seen_request =
              std::string(self->request_[http::field::sec_websocket_protocol]) + "|" +
              std::string(self->request_[http::field::user_agent]) + "|" +
              std::string(self->request_.target());
        }
        const auto protocol = std::string(self->request_[http::field::sec_websocket_protocol]);
        self->stream_.set_option(websocket::stream_base::decorator(
            [protocol](websocket::response_type& res) {
              if (!protocol.empty()) res.set(http::field::sec_websocket_protocol, protocol);
            }));
        self->stream_.binary(true);
        self->stream_.async_accept(self->request_, [self](error_code e) {
          if (!e) self->read();
        });
      });
    }
  }

  void read() {
    auto self = this->shared_from_this();
    if constexpr (k_ws) {
      stream_.async_read(buffer_, [self](error_code ec, std::size_t) {
        if (ec) return;
        self->out_ = beast::buffers_to_string(self->buffer_.data());
        self->buffer_.consume(self->buffer_.size());
        self->write();
      });
    } else {
      stream_.async_read_some(asio::buffer(chunk_), [self](error_code ec, std::size_t n) {
        if (ec) return;
        self->out_.assign(self->chunk_.data(), n);
        self->write();
      });
    }
  }

  void write() {
    auto self = this->shared_from_this();
    auto done = [self](error_code ec, std::size_t) {
      if (ec) return;
      if (self->hooks_.close_after_first) {
        error_code ignored;
        beast::get_lowest_layer(self->stream_).close(ignored);
        return;
      }
      self->read();
    };
    if constexpr (k_ws) {
      stream_.async_write(asio::buffer(out_), done);
    } else {
      asio::async_write(stream_, asio::buffer(out_), done);
    }
  }

  echo_hooks hooks_;
  Stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::array<char, 1024> chunk_{};
  std::string out_;
};

class ClientStream : public ::testing::TestWithParam<transport> {
 protected:
  ClientStream()
      : server_ctx_(make_server_context(make_self_signed())),
        client_ctx_(make_client_context(false)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  // Accepts one connection and serves it as `via` says.
  void serve_one(transport via, bool close_after_first = false) {
    acceptor_.async_accept([this, via, close_after_first](error_code ec, tcp::socket s) {
      if (ec) return;
      const echo_hooks hooks{close_after_first, &seen_request_, &session_ended_};
      switch (via) {
        case transport::tcp:
          std::make_shared<echo_session<tcp::socket>>(hooks,
                                                      std::move(s))
              ->start();
          break;
        case transport::tls:
          std::make_shared<echo_session<ssl::stream<tcp::socket>>>(
              hooks, std::move(s), *server_ctx_)
              ->start();
          break;
        case transport::ws:
          std::make_shared<echo_session<websocket::stream<tcp::socket>>>(
              hooks, std::move(s))
              ->start();
          break;
        case transport::wss:
          std::make_shared<echo_session<websocket::stream<ssl::stream<tcp::socket>>>>(
              hooks, std::move(s), *server_ctx_)
              ->start();
          break;
      }
    });
  }

  stream_target target(transport via) const {
    stream_target t;
    t.via = via;
    t.host = "127.0.0.1";
    t.port = acceptor_.local_endpoint().port();
    t.user_agent = "client-stream-test";
    t.tls = client_ctx_;
    return t;
  }

  void run_until(const std::function<bool()>& done) { net::run_until(io_, done); }

  asio::io_context io_;
  std::shared_ptr<ssl::context> server_ctx_;
  std::shared_ptr<ssl::context> client_ctx_;
  tcp::acceptor acceptor_;
  std::string seen_request_;
  bool session_ended_ = false;
};

TEST_P(ClientStream, BytesQueuedBeforeUpGoOutAndComeBackInOrder) {
  serve_one(GetParam());
  auto events = std::make_shared<recorder>();
  auto s = make_client_stream(io_.get_executor(), target(GetParam()), events);
  s->send("first,");  // before start(): queued until the stream is up
  s->start();
  s->send("second,");
  run_until([&] { return events->up; });
  ASSERT_TRUE(events->up);
  EXPECT_TRUE(s->is_up());
  s->send("third");
  run_until([&] { return events->bytes.size() >= 18 || events->down_at; });
  EXPECT_EQ(events->bytes, "first,second,third");
  EXPECT_FALSE(events->down_at);
  s->close();
}

TEST_P(ClientStream, APeerThatClosesIsADownAtRead) {
  serve_one(GetParam(), /*close_after_first=*/true);
  auto events = std::make_shared<recorder>();
  auto s = make_client_stream(io_.get_executor(), target(GetParam()), events);
  s->start();
  s->send("ping");
  run_until([&] { return events->down_at.has_value(); });
  ASSERT_TRUE(events->down_at);
  EXPECT_EQ(*events->down_at, stream_stage::read) << events->down_ec.message();
  EXPECT_EQ(events->bytes, "ping");
  EXPECT_FALSE(s->is_up());
}

TEST_P(ClientStream, ARefusedConnectIsADownAtConnectWithoutUp) {
  const auto t = target(GetParam());
  acceptor_.close();  // nothing listens there now
  auto events = std::make_shared<recorder>();
  auto s = make_client_stream(io_.get_executor(), t, events);
  s->start();
  run_until([&] { return events->down_at.has_value(); });
  ASSERT_TRUE(events->down_at);
  EXPECT_EQ(*events->down_at, stream_stage::connect);
  EXPECT_EQ(events->down_ec, asio::error::connection_refused) << events->down_ec.message();
  EXPECT_FALSE(events->up);
}

TEST_P(ClientStream, AfterCloseTheOwnerHearsNothing) {
  serve_one(GetParam());
  auto events = std::make_shared<recorder>();
  auto s = make_client_stream(io_.get_executor(), target(GetParam()), events);
  s->start();
  run_until([&] { return events->up; });
  ASSERT_TRUE(events->up);
  s->send("late");
  s->close();
  s->send("ignored");
  // Whatever the server still does (an echo of "late", its own close) may not reach
  // the owner: run until the server's session has seen the client go.
  run_until([&] { return session_ended_; });
  ASSERT_TRUE(session_ended_);
  EXPECT_EQ(events->bytes, "");
  EXPECT_FALSE(events->down_at);
}

INSTANTIATE_TEST_SUITE_P(AllTransports, ClientStream,
                         ::testing::Values(transport::tcp, transport::tls, transport::ws,
                                           transport::wss),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(ClientStreamWs, SendsTheSubprotocolUserAgentAndPathItIsGiven) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::string seen;
  acceptor.async_accept([&](error_code ec, tcp::socket s) {
    if (!ec) {
      std::make_shared<echo_session<websocket::stream<tcp::socket>>>(
          echo_hooks{.seen_request = &seen}, std::move(s))
          ->start();
    }
  });
  stream_target t;
  t.via = transport::ws;
  t.host = "127.0.0.1";
  t.port = acceptor.local_endpoint().port();
  t.path = "/elsewhere";
  t.user_agent = "my-sdk/1.0";
  auto events = std::make_shared<recorder>();
  auto s = make_client_stream(io.get_executor(), t, events);
  s->start();
  run_until(io, [&] { return events->up || events->down_at.has_value(); });
  ASSERT_TRUE(events->up);
  EXPECT_EQ(seen, "mqtt|my-sdk/1.0|/elsewhere");
  s->close();
}

TEST(ClientStreamTls, WithoutAContextIsAProgrammerError) {
  asio::io_context io;
  stream_target t;
  t.via = transport::wss;
  t.host = "127.0.0.1";
  t.port = 1;
  EXPECT_THROW((void)make_client_stream(io.get_executor(), t, {}), std::invalid_argument);
}

TEST(ClientStreamTls, ACertificateForAnotherNameFailsTheHandshakeWhenVerified) {
  asio::io_context io;
  const auto pem = make_self_signed();  // names localhost, 127.0.0.1 and ::1
  const auto server_ctx = make_server_context(pem);
  // A TLS echo listener on `address`, verified against the certificate.
  auto connect_to = [&](const std::string& address) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address(address), 0));
    acceptor.async_accept([&](error_code ec, tcp::socket s) {
      if (!ec) {
        std::make_shared<echo_session<ssl::stream<tcp::socket>>>(echo_hooks{}, std::move(s),
                                                                 *server_ctx)
            ->start();
      }
    });
    stream_target t;
    t.via = transport::tls;
    t.host = address;
    t.port = acceptor.local_endpoint().port();
    t.tls = make_client_context(true, std::nullopt, pem.cert_pem);
    auto events = std::make_shared<recorder>();
    auto s = make_client_stream(io.get_executor(), t, events);
    s->start();
    run_until(io, [&] { return events->up || events->down_at.has_value(); });
    s->close();
    return events;
  };
  // 127.0.0.2 is loopback too, but not a name in the certificate.
  const auto wrong = connect_to("127.0.0.2");
  ASSERT_TRUE(wrong->down_at);
  EXPECT_EQ(*wrong->down_at, stream_stage::tls_handshake);
  EXPECT_FALSE(wrong->up);
  const auto right = connect_to("127.0.0.1");
  EXPECT_TRUE(right->up) << (right->down_at ? right->down_ec.message() : "");
}

}  // namespace
}  // namespace imock::net

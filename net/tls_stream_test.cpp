// tls_stream against Asio's own TLS client over real loopback sockets: handshake,
// reads that span records, writes larger than the socket buffer, every way a peer
// can leave, and close() while operations are pending.
#include "imock/net/tls_stream.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "imock/net/tls.hpp"

namespace imock::net {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr auto k_bound = std::chrono::seconds(10);  // every wait below ends by then

class TlsStream : public ::testing::Test {
 protected:
  TlsStream()
      : server_ctx_(make_server_context(make_self_signed())),
        client_ctx_(make_client_context(false)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  // A connected pair: our server stream and Asio's client stream, handshaken.
  void connect_pair() {
    client_.emplace(io_, *client_ctx_);
    tcp::socket accepted(io_);
    acceptor_.async_accept(accepted, [](error_code ec) { ASSERT_FALSE(ec) << ec.message(); });
    client_->next_layer().async_connect(acceptor_.local_endpoint(),
                                        [](error_code ec) { ASSERT_FALSE(ec) << ec.message(); });
    run_until([&] { return accepted.is_open() && client_->next_layer().is_open(); });
    server_.emplace(std::move(accepted), *server_ctx_);

    std::optional<error_code> server_done;
    std::optional<error_code> client_done;
    server_->async_handshake([&](error_code ec) { server_done = ec; });
    client_->async_handshake(ssl::stream_base::client, [&](error_code ec) { client_done = ec; });
    run_until([&] { return server_done && client_done; });
    ASSERT_FALSE(*server_done) << server_done->message();
    ASSERT_FALSE(*client_done) << client_done->message();
  }

  template <typename Done>
  void run_until(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + k_bound;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(std::chrono::milliseconds(10));
      io_.restart();
    }
    ASSERT_TRUE(done()) << "not done within the bound";
  }

  // Reads from the server stream until `want` bytes arrived or an error.
  std::string server_read(std::size_t want, error_code& last) {
    std::string got;
    bool waiting = false;
    char chunk[4096];
    std::function<void()> pump = [&] {
      waiting = true;
      server_->async_wait_readable([&](error_code ec) {
        waiting = false;
        if (ec) {
          last = ec;
          return;
        }
        for (;;) {
          const auto n = server_->read_some(chunk, sizeof chunk, ec);
          if (ec == asio::error::would_block) return pump();
          if (ec) {
            last = ec;
            return;
          }
          got.append(chunk, n);
          if (got.size() >= want) return;
        }
      });
    };
    pump();
    run_until([&] { return !waiting; });
    return got;
  }

  asio::io_context io_;
  std::shared_ptr<ssl::context> server_ctx_;
  std::shared_ptr<ssl::context> client_ctx_;
  tcp::acceptor acceptor_;
  std::optional<tls_stream> server_;
  std::optional<ssl::stream<tcp::socket>> client_;
};

std::string pattern(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

TEST_F(TlsStream, ReadsWhatTheClientWritesAcrossManyRecords) {
  connect_pair();
  // 100 KB: several 16 KB records, each read in 4 KB pieces, so bytes wait inside
  // OpenSSL while the socket has nothing: the readable-wait must see them.
  const std::string sent = pattern(std::size_t{100} * 1024);
  asio::async_write(*client_, asio::buffer(sent),
                    [](error_code ec, std::size_t) { ASSERT_FALSE(ec) << ec.message(); });
  error_code last;
  EXPECT_EQ(server_read(sent.size(), last), sent);
  EXPECT_FALSE(last) << last.message();
}

TEST_F(TlsStream, WritesMoreThanTheSocketBufferHoldsAndCompletesLater) {
  connect_pair();
  // 8 MB does not fit the loopback socket buffers: the write must wait for the
  // client to read and finish where it stopped.
  const std::string sent = pattern(std::size_t{8} * 1024 * 1024);
  std::optional<error_code> written;
  bool returned = false;
  server_->async_write(sent, [&](error_code ec) {
    EXPECT_TRUE(returned) << "completion ran inside async_write";
    written = ec;
  });
  returned = true;
  std::string got(sent.size(), '\0');
  std::optional<error_code> read;
  asio::async_read(*client_, asio::buffer(got), [&](error_code ec, std::size_t) { read = ec; });
  run_until([&] { return written && read; });
  EXPECT_FALSE(*written) << written->message();
  EXPECT_FALSE(*read) << read->message();
  EXPECT_TRUE(got == sent);
}

TEST_F(TlsStream, ClientCloseNotifyReadsAsEof) {
  connect_pair();
  std::optional<error_code> closed;
  client_->async_shutdown([&](error_code ec) { closed = ec; });
  error_code last;
  EXPECT_EQ(server_read(1, last), "");
  EXPECT_EQ(last, asio::error::eof) << last.message();
}

TEST_F(TlsStream, ClientVanishingWithoutCloseNotifyReadsAsTruncated) {
  connect_pair();
  // A FIN with no close_notify before it. (Closing would send a reset instead: the
  // server's session tickets are still unread in the client's socket.)
  client_->next_layer().shutdown(tcp::socket::shutdown_send);
  error_code last;
  EXPECT_EQ(server_read(1, last), "");
  EXPECT_EQ(last, ssl::error::stream_truncated) << last.message();
}

TEST_F(TlsStream, WritingToAResetPeerIsAnErrorNotASignal) {
  connect_pair();
  // Abortive close: the next send gets EPIPE/ECONNRESET. OpenSSL's own socket BIO
  // would raise SIGPIPE here and kill the test process.
  client_->next_layer().set_option(asio::socket_base::linger(true, 0));
  client_->next_layer().close();
  const std::string big = pattern(std::size_t{1024} * 1024);
  std::optional<error_code> written;
  auto again = std::make_shared<std::function<void()>>();
  int rounds = 0;
  *again = [&] {
    server_->async_write(big, [&](error_code ec) {
      if (!ec && ++rounds < 50) return (*again)();
      written = ec;
    });
  };
  (*again)();
  run_until([&] { return written.has_value(); });
  EXPECT_TRUE(*written) << "50 MB written to a closed peer";
}

TEST_F(TlsStream, ShutdownSendsCloseNotifyAndWaitsForThePeer) {
  connect_pair();
  std::optional<error_code> server_done;
  server_->async_shutdown([&](error_code ec) { server_done = ec; });
  // The client sees close_notify as EOF and answers with its own.
  char byte = 0;
  std::optional<error_code> client_read;
  client_->async_read_some(asio::buffer(&byte, 1),
                           [&](error_code ec, std::size_t) { client_read = ec; });
  run_until([&] { return client_read.has_value(); });
  EXPECT_EQ(*client_read, asio::error::eof) << client_read->message();
  EXPECT_FALSE(server_done) << "shutdown finished before the peer closed";
  client_->async_shutdown([](error_code) {});
  run_until([&] { return server_done.has_value(); });
  EXPECT_FALSE(*server_done) << server_done->message();
}

TEST_F(TlsStream, CloseAbortsAPendingWaitAndLaterCallsFailCleanly) {
  connect_pair();
  std::optional<error_code> waited;
  server_->async_wait_readable([&](error_code ec) { waited = ec; });
  server_->close();
  run_until([&] { return waited.has_value(); });
  EXPECT_EQ(*waited, asio::error::operation_aborted);
  error_code ec;
  char byte = 0;
  EXPECT_EQ(server_->read_some(&byte, 1, ec), 0u);
  EXPECT_EQ(ec, asio::error::bad_descriptor);
  std::optional<error_code> written;
  server_->async_write("x", [&](error_code e) { written = e; });
  run_until([&] { return written.has_value(); });
  EXPECT_EQ(*written, asio::error::operation_aborted);
}

TEST_F(TlsStream, HandshakeWithAPeerThatSpeaksPlainTextFails) {
  tcp::socket accepted(io_);
  tcp::socket plain(io_);
  acceptor_.async_accept(accepted, [](error_code) {});
  plain.async_connect(acceptor_.local_endpoint(), [](error_code) {});
  run_until([&] { return accepted.is_open() && plain.is_open(); });
  server_.emplace(std::move(accepted), *server_ctx_);
  std::optional<error_code> done;
  server_->async_handshake([&](error_code ec) { done = ec; });
  const std::string junk = "CONNECT not-tls HTTP/1.1\r\n\r\n";
  asio::write(plain, asio::buffer(junk));
  run_until([&] { return done.has_value(); });
  EXPECT_TRUE(*done) << "a plain-text peer completed a TLS handshake";
  EXPECT_EQ(done->category(), asio::error::get_ssl_category()) << done->message();
}

// Beast over tls_stream, as the HTTPS port and WSS use it: an HTTP request in, a
// response out, then a WebSocket upgrade, a binary message each way and a close.
TEST_F(TlsStream, BeastHttpAndWebSocketRunOverIt) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  namespace websocket = beast::websocket;
  connect_pair();

  http::request<http::string_body> req(http::verb::post, "/api", 11);
  req.set(http::field::host, "localhost");
  req.body() = std::string(40'000, 'q');  // several TLS records
  req.prepare_payload();
  http::async_write(*client_, req,
                    [](error_code ec, std::size_t) { ASSERT_FALSE(ec) << ec.message(); });
  beast::flat_buffer server_buf;
  http::request<http::string_body> got;
  std::optional<error_code> read;
  http::async_read(*server_, server_buf, got, [&](error_code ec, std::size_t) { read = ec; });
  run_until([&] { return read.has_value(); });
  ASSERT_FALSE(*read) << read->message();
  EXPECT_EQ(got.body(), req.body());

  http::response<http::string_body> res(http::status::ok, 11);
  res.body() = "ok";
  res.prepare_payload();
  std::optional<error_code> written;
  http::async_write(*server_, res, [&](error_code ec, std::size_t) { written = ec; });
  beast::flat_buffer client_buf;
  http::response<http::string_body> answer;
  std::optional<error_code> answered;
  http::async_read(*client_, client_buf, answer,
                   [&](error_code ec, std::size_t) { answered = ec; });
  run_until([&] { return written && answered; });
  ASSERT_FALSE(*written) << written->message();
  EXPECT_EQ(answer.body(), "ok");

  websocket::stream<tls_stream> ws_server(std::move(*server_));
  websocket::stream<ssl::stream<tcp::socket>&> ws_client(*client_);
  std::optional<error_code> accepted;
  std::optional<error_code> handshaken;
  ws_server.async_accept([&](error_code ec) { accepted = ec; });
  ws_client.async_handshake("localhost", "/mqtt", [&](error_code ec) { handshaken = ec; });
  run_until([&] { return accepted && handshaken; });
  ASSERT_FALSE(*accepted) << accepted->message();
  ASSERT_FALSE(*handshaken) << handshaken->message();

  ws_client.binary(true);
  const std::string message = pattern(70'000);
  ws_client.async_write(asio::buffer(message),
                        [](error_code ec, std::size_t) { ASSERT_FALSE(ec) << ec.message(); });
  beast::flat_buffer frame;
  std::optional<error_code> got_frame;
  ws_server.async_read(frame, [&](error_code ec, std::size_t) { got_frame = ec; });
  run_until([&] { return got_frame.has_value(); });
  ASSERT_FALSE(*got_frame) << got_frame->message();
  EXPECT_EQ(beast::buffers_to_string(frame.data()), message);

  // The server closes: close frame, then the teardown (close_notify, wait, close).
  std::optional<error_code> server_closed;
  ws_server.async_close(websocket::close_code::normal, [&](error_code ec) { server_closed = ec; });
  beast::flat_buffer rest;
  std::optional<error_code> client_saw;
  ws_client.async_read(rest, [&](error_code ec, std::size_t) { client_saw = ec; });
  run_until([&] { return client_saw.has_value(); });
  EXPECT_EQ(*client_saw, websocket::error::closed) << client_saw->message();
  client_->async_shutdown([](error_code) {});
  run_until([&] { return server_closed.has_value(); });
  EXPECT_FALSE(*server_closed) << server_closed->message();
  EXPECT_FALSE(ws_server.next_layer().socket().is_open()) << "teardown closes the socket";
}

}  // namespace
}  // namespace imock::net

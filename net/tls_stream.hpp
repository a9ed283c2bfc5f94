// The server side of a TLS connection that lets OpenSSL read and write the
// non-blocking socket itself (through a small BIO that sends with MSG_NOSIGNAL) and
// uses Asio only to wait for readiness.
//
// Why not asio::ssl::stream: it pairs the SSL object with memory BIOs and keeps two
// 17 KB record buffers per connection for as long as the connection lives, plus the
// BIO pair's own buffers; an idle TLS connection cost ~67 KB of server memory that
// way. Here the only per-connection memory is OpenSSL's session state, and with
// SSL_MODE_RELEASE_BUFFERS (set by make_server_context) OpenSSL frees its record
// buffers whenever they are empty. Reading follows the plain-TCP pattern of the
// server: wait until readable, then read_some() into a buffer the caller shares
// between connections.
//
// Rules: one thread drives a stream (the server's event loop); at most one operation
// of each kind (handshake, readable-wait, write, shutdown) is pending at a time;
// completion handlers are never called from inside the function that started them.
// After close(), no OpenSSL call touches the descriptor again.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/role.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

namespace boost::asio::ssl {
class context;
}

struct ssl_st;

namespace imock::net {

class tls_stream {
 public:
  using handler = std::function<void(boost::system::error_code)>;
  using io_handler = std::function<void(boost::system::error_code, std::size_t)>;
  using executor_type = boost::asio::ip::tcp::socket::executor_type;

  /// Takes an accepted socket; throws std::runtime_error if OpenSSL cannot make the
  /// SSL object (out of memory).
  tls_stream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& ctx);
  tls_stream(tls_stream&& other) noexcept;
  tls_stream& operator=(tls_stream&&) = delete;
  tls_stream(const tls_stream&) = delete;
  tls_stream& operator=(const tls_stream&) = delete;
  ~tls_stream();

  boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }
  executor_type get_executor() noexcept { return socket_.get_executor(); }

  /// Server handshake. Errors: OpenSSL's (ssl category), eof / stream_truncated when
  /// the peer goes away, operation_aborted after close().
  void async_handshake(handler done);

  /// Completes when read_some() may make progress without blocking: decrypted bytes,
  /// a record, EOF or an error are ready.
  void async_wait_readable(handler ready);

  /// Reads decrypted bytes. would_block when none are ready; eof after the peer's
  /// close_notify; stream_truncated when the peer closed without one.
  std::size_t read_some(char* data, std::size_t size, boost::system::error_code& ec);

  /// Writes all of `bytes`, which must stay alive and unchanged until `done` runs.
  void async_write(std::string_view bytes, handler done);

  // Asio's AsyncReadStream and AsyncWriteStream, so Beast's HTTP and WebSocket code
  // runs over this stream (the HTTPS port, WSS). Handlers may be move-only; they run
  // on the stream's thread, never inside the call that started them.
  template <typename MutableBuffers, typename Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    const auto b = first_of<boost::asio::mutable_buffer>(buffers);
    read_into(static_cast<char*>(b.data()), b.size(), shared(std::forward<Handler>(handler)));
  }
  template <typename ConstBuffers, typename Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    const auto b = first_of<boost::asio::const_buffer>(buffers);
    write_from(static_cast<const char*>(b.data()), b.size(),
               shared(std::forward<Handler>(handler)));
  }

  /// Sends close_notify and half-closes the TCP connection, then waits for the peer
  /// to close its side (close_notify, FIN or an error), discarding what it sends.
  /// The caller bounds the wait (close() aborts it).
  void async_shutdown(handler done);

  /// Closes the socket; pending operations complete with operation_aborted.
  void close() noexcept;

 private:
  struct ssl_free {
    void operator()(ssl_st* s) const noexcept;
  };
  enum class want { nothing, read, write };

  // The first non-empty buffer of a sequence (Asio's read_some/write_some rule).
  template <typename Buffer, typename Buffers>
  static Buffer first_of(const Buffers& buffers) {
    const auto end = boost::asio::buffer_sequence_end(buffers);
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != end; ++it) {
      const Buffer b(*it);
      if (b.size() != 0) return b;
    }
    return Buffer();
  }
  // A move-only handler in a copyable function.
  template <typename Handler>
  static io_handler shared(Handler&& h) {
    auto p = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(h));
    return [p](boost::system::error_code ec, std::size_t n) { (*p)(ec, n); };
  }
  void read_into(char* data, std::size_t size, io_handler done);
  void write_from(const char* data, std::size_t size, io_handler done);

  void handshake_step(handler done);
  void shutdown_step(handler done);
  void drain_step(handler done);
  void wait_for(want w, std::function<void(boost::system::error_code)> then);
  /// Waits for `w`, then runs `step` with `done` again; a failed wait fails `done`.
  void retry_after(want w, handler done, void (tls_stream::*step)(handler));
  void complete_later(handler h, boost::system::error_code ec);
  boost::system::error_code error_of(int ret, want& wanted);

  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<ssl_st, ssl_free> ssl_;
  want read_wants_ = want::nothing;  // what the last read_some() waited for
  bool closed_ = false;
};

/// Beast closes the stream through this when a WebSocket times out.
void beast_close_socket(tls_stream& stream);

/// Beast's WebSocket close ends with these (found by argument-dependent lookup):
/// close_notify, wait (bounded by the caller) for the peer's, close the socket.
void teardown(boost::beast::role_type role, tls_stream& stream, boost::system::error_code& ec);

template <typename Handler>
void async_teardown(boost::beast::role_type, tls_stream& stream, Handler&& handler) {
  auto h = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
  stream.async_shutdown([h, &stream](boost::system::error_code ec) {
    stream.close();
    (*h)(ec);
  });
}

}  // namespace imock::net

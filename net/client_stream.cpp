#include "imock/net/client_stream.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <stdexcept>

#include "imock/net/source_address.hpp"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24  // Linux >= 4.2, <linux/in.h>; older glibc lacks it
#endif

namespace imock::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// A stream's reads: TLS and WebSocket read into a buffer of their own (the layer may
// hold a partial record); plain TCP waits for readability and reads into one buffer
// per thread, so an idle connection holds no read buffer at all.
constexpr std::size_t k_stream_read_chunk = 2048;
constexpr std::size_t k_tcp_read_chunk = std::size_t{16} * 1024;

template <typename T>
struct is_ws : std::false_type {};
template <typename T>
struct is_ws<websocket::stream<T>> : std::true_type {};

template <typename Stream>
class stream_impl final : public client_stream,
                          public std::enable_shared_from_this<stream_impl<Stream>> {
 public:
  static constexpr bool k_tcp = std::is_same_v<Stream, tcp::socket>;
  static constexpr bool k_tls = std::is_same_v<Stream, ssl::stream<tcp::socket>>;
  static constexpr bool k_ws = is_ws<Stream>::value;

  template <typename... Args>
  stream_impl(const asio::any_io_executor& executor, stream_target target,
              std::weak_ptr<stream_events> owner, Args&&... args)
      : target_(std::move(target)),
        owner_(std::move(owner)),
        resolver_(executor),
        stream_(executor, std::forward<Args>(args)...) {}

  // With an IP literal (`address` or `host`), a socket that cannot be opened is
  // reported before start() returns.
  void start() override {
    error_code ec;
    const auto ip =
        asio::ip::make_address(target_.address.empty() ? target_.host : target_.address, ec);
    if (!ec) return connect_to(tcp::endpoint(ip, target_.port));
    if (!target_.address.empty()) return down(stream_stage::resolve, ec);
    resolver_.async_resolve(target_.host, std::to_string(target_.port),
                            [self = this->shared_from_this()](
                                error_code e, const tcp::resolver::results_type& results) {
                              if (!e && results.empty()) e = asio::error::host_not_found;
                              if (e) return self->down(stream_stage::resolve, e);
                              self->connect_to(results.begin()->endpoint());
                            });
  }

  void send(std::string_view bytes) override {
    if (closed_) return;
    pending_.append(bytes);
    do_write();
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    resolver_.cancel();
    auto& sock = socket();
    // Best effort: a FIN after what we sent (DISCONNECT), then close.
    sock.shutdown(tcp::socket::shutdown_send, ignored);
    sock.close(ignored);
  }

  [[nodiscard]] bool is_up() const noexcept override { return up_ && !closed_; }
  [[nodiscard]] std::size_t queued() const noexcept override {
    return closed_ ? 0 : pending_.size() + writing_.size();
  }

 private:
  tcp::socket& socket() {
    if constexpr (k_tcp || k_tls) {
      return beast::get_lowest_layer(stream_);
    } else {
      return beast::get_lowest_layer(stream_).socket();
    }
  }

  void connect_to(const tcp::endpoint& ep) {
    if (closed_) return;
    auto& sock = socket();
    if (auto ec = open_socket(sock, ep, target_.source)) return down(stream_stage::open, ec);
    error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    // TCP reads without waiting once up (do_read). Set before the connect, the flag
    // also serves Asio's own non-blocking connect: one ioctl per connection, not two.
    if constexpr (k_tcp) sock.non_blocking(true, ignored);
    sock.async_connect(ep, [self = this->shared_from_this()](error_code e) {
      if (e) return self->down(stream_stage::connect, e);
      self->handshake();
    });
  }

  // SNI and the certificate's name check. An IP literal is checked against the
  // certificate's IP addresses but not sent as SNI (RFC 6066 §3 allows host names only).
  template <typename TlsStream>
  void tls_handshake(TlsStream& tls, void (stream_impl::*next)()) {
    error_code not_ip;
    (void)asio::ip::make_address(target_.host, not_ip);
    if (not_ip) SSL_set_tlsext_host_name(tls.native_handle(), target_.host.c_str());
    tls.set_verify_callback(ssl::host_name_verification(target_.host));
    tls.async_handshake(ssl::stream_base::client,
                        [self = this->shared_from_this(), next](error_code e) {
                          if (e) return self->down(stream_stage::tls_handshake, e);
                          ((*self).*next)();
                        });
  }

  void handshake() {
    if (closed_) return;
    if constexpr (k_tcp) {
      up();
    } else if constexpr (k_tls) {
      tls_handshake(stream_, &stream_impl::up);
    } else if constexpr (!std::is_same_v<typename Stream::next_layer_type, beast::tcp_stream>) {
      tls_handshake(stream_.next_layer(), &stream_impl::ws_handshake);
    } else {
      ws_handshake();
    }
  }

  void ws_handshake() {
    if constexpr (k_ws) {
      if (closed_) return;
      stream_.set_option(websocket::stream_base::decorator(
          [protocol = target_.ws_subprotocol, agent = target_.user_agent](
              websocket::request_type& req) {
            if (!protocol.empty()) req.set(http::field::sec_websocket_protocol, protocol);
            req.set(http::field::user_agent, agent);
          }));
      stream_.set_option(
          websocket::stream_base::timeout{.handshake_timeout = std::chrono::seconds(30),
                                          .idle_timeout = websocket::stream_base::none(),
                                          .keep_alive_pings = false});
      stream_.binary(true);
      const std::string host = target_.host + ":" + std::to_string(target_.port);
      stream_.async_handshake(host, target_.path,
                              [self = this->shared_from_this()](error_code e) {
                                if (e) return self->down(stream_stage::ws_handshake, e);
                                self->up();
                              });
    }
  }

  void up() {
    if (closed_) return;
    up_ = true;
    if (auto o = owner_.lock()) o->on_stream_up();
    do_write();
    do_read();
  }

  void down(stream_stage at, const error_code& ec) {
    if (closed_) return;
    close();
    if (auto o = owner_.lock()) o->on_stream_down(at, ec);
  }

  void do_read() {
    if (closed_) return;
    auto self = this->shared_from_this();
    if constexpr (k_tcp) {
      stream_.async_wait(tcp::socket::wait_read, [self](error_code ec) {
        if (ec) return self->down(stream_stage::read, ec);
        thread_local std::array<char, k_tcp_read_chunk> chunk;
        const auto n = self->stream_.read_some(asio::buffer(chunk), ec);
        if (ec == asio::error::would_block) return self->do_read();
        if (ec) return self->down(stream_stage::read, ec);
        self->deliver(std::string_view(chunk.data(), n));
      });
    } else {
      if (!read_buffer_) read_buffer_ = std::make_unique<char[]>(k_stream_read_chunk);
      stream_.async_read_some(asio::buffer(read_buffer_.get(), k_stream_read_chunk),
                              [self](error_code ec, std::size_t n) {
                                if (ec) return self->down(stream_stage::read, ec);
                                self->deliver(std::string_view(self->read_buffer_.get(), n));
                              });
    }
  }

  void deliver(std::string_view bytes) {
    if (closed_) return;
    if (auto o = owner_.lock()) o->on_stream_bytes(bytes);
    do_read();
  }

  void do_write() {
    if (closed_ || writing_active_ || pending_.empty() || !up_) return;
    std::swap(pending_, writing_);
    writing_active_ = true;
    auto handler = [self = this->shared_from_this()](error_code ec, std::size_t) {
      self->writing_active_ = false;
      if (ec) return self->down(stream_stage::write, ec);
      self->writing_.clear();
      self->do_write();
    };
    if constexpr (k_ws) {
      stream_.async_write(asio::buffer(writing_), std::move(handler));
    } else {
      asio::async_write(stream_, asio::buffer(writing_), std::move(handler));
    }
  }

  stream_target target_;
  std::weak_ptr<stream_events> owner_;
  tcp::resolver resolver_;
  Stream stream_;
  std::string pending_;
  std::string writing_;
  std::unique_ptr<char[]> read_buffer_;
  bool up_ = false;
  bool writing_active_ = false;
  bool closed_ = false;
};

}  // namespace

error_code open_socket(tcp::socket& sock, const tcp::endpoint& ep, const std::string& source) {
  error_code ec;
  sock.open(ep.protocol(), ec);
  if (!ec && !source.empty()) {
    const auto local = asio::ip::make_address(source, ec);
    // Let connect() pick the port by the whole 4-tuple: a storm's closed sockets in
    // TIME_WAIT then do not use up the source address's ports (Linux >= 4.2).
    if (!ec && local.is_v4()) {
      const int one = 1;
      ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    }
    if (!ec) sock.bind(tcp::endpoint(local, 0), ec);
  }
  return ec;
}

std::string_view to_string(stream_stage s) noexcept {
  switch (s) {
    case stream_stage::open: return "open";
    case stream_stage::resolve: return "resolve";
    case stream_stage::connect: return "connect";
    case stream_stage::tls_handshake: return "tls handshake";
    case stream_stage::ws_handshake: return "ws handshake";
    case stream_stage::read: return "read";
    case stream_stage::write: return "write";
  }
  return "?";
}

std::shared_ptr<client_stream> make_client_stream(const asio::any_io_executor& executor,
                                                  stream_target target,
                                                  std::weak_ptr<stream_events> owner) {
  const bool needs_tls = target.via == transport::tls || target.via == transport::wss;
  if (needs_tls && !target.tls) {
    throw std::invalid_argument("make_client_stream: " + std::string(imock::to_string(target.via)) +
                                " needs a TLS context");
  }
  auto tls = target.tls;  // the stream's TLS layer refers to the context: keep it alive
  switch (target.via) {
    case transport::tcp:
      return std::make_shared<stream_impl<tcp::socket>>(executor, std::move(target),
                                                        std::move(owner));
    case transport::tls:
      return std::make_shared<stream_impl<ssl::stream<tcp::socket>>>(executor, std::move(target),
                                                                     std::move(owner), *tls);
    case transport::ws:
      return std::make_shared<stream_impl<websocket::stream<beast::tcp_stream>>>(
          executor, std::move(target), std::move(owner));
    case transport::wss:
      return std::make_shared<
          stream_impl<websocket::stream<beast::ssl_stream<beast::tcp_stream>>>>(
          executor, std::move(target), std::move(owner), *tls);
  }
  throw std::invalid_argument("make_client_stream: unknown transport");
}

}  // namespace imock::net

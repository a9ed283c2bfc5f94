#include "imock/net/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <stdexcept>

namespace imock::net {
namespace {

// OpenSSL's own socket BIO write()s, which raises SIGPIPE when the peer has gone;
// this one sends with MSG_NOSIGNAL (as Asio does), so a server that does not ignore
// SIGPIPE survives every client. The descriptor is the BIO's data; it never closes it.
int fd_of(BIO* b) { return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b))); }

bool transient(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

int bio_write(BIO* b, const char* data, int size) {
  BIO_clear_retry_flags(b);
  const auto n = ::send(fd_of(b), data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
  if (n < 0 && transient(errno)) BIO_set_retry_write(b);
  return static_cast<int>(n);
}

int bio_read(BIO* b, char* data, int size) {
  BIO_clear_retry_flags(b);
  const auto n = ::recv(fd_of(b), data, static_cast<std::size_t>(size), 0);
  if (n < 0 && transient(errno)) BIO_set_retry_read(b);
  return static_cast<int>(n);
}

long bio_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

const BIO_METHOD* socket_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "imock socket");
    if (m == nullptr) throw std::runtime_error("TLS: BIO_meth_new failed");
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
  }();
  return method;
}

}  // namespace

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

void tls_stream::ssl_free::operator()(ssl_st* s) const noexcept { SSL_free(s); }

tls_stream::tls_stream(tcp::socket socket, asio::ssl::context& ctx)
    : socket_(std::move(socket)), ssl_(SSL_new(ctx.native_handle())) {
  if (!ssl_) throw std::runtime_error("TLS: SSL_new failed");
  socket_.non_blocking(true);
  // The descriptor stays ours: close() closes it through Asio, which must know,
  // since its reactor has the descriptor registered.
  BIO* bio = BIO_new(socket_method());
  if (bio == nullptr) throw std::runtime_error("TLS: BIO_new failed");
  // The BIO's data slot is a void*; it carries the descriptor number, nothing to free.
  BIO_set_data(bio,  // NOLINTNEXTLINE(performance-no-int-to-ptr)
               reinterpret_cast<void*>(static_cast<std::intptr_t>(socket_.native_handle())));
  SSL_set_bio(ssl_.get(), bio, bio);
  SSL_set_accept_state(ssl_.get());
  // Writes resume from where a short write stopped, with the same (moved) buffer.
  SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // No renegotiation: a write never has to wait for a read.
  SSL_set_options(ssl_.get(), SSL_OP_NO_RENEGOTIATION);
}

tls_stream::tls_stream(tls_stream&& other) noexcept
    : socket_(std::move(other.socket_)),
      ssl_(std::move(other.ssl_)),
      read_wants_(other.read_wants_),
      closed_(other.closed_) {}

tls_stream::~tls_stream() = default;

void tls_stream::close() noexcept {
  closed_ = true;
  error_code ignored;
  socket_.close(ignored);
}

// Maps the result of an SSL_* call. Must run right after that call: it reads the
// thread's OpenSSL error queue and errno.
error_code tls_stream::error_of(int ret, want& wanted) {
  const int saved_errno = errno;
  const int kind = SSL_get_error(ssl_.get(), ret);
  wanted = want::nothing;
  switch (kind) {
    case SSL_ERROR_WANT_READ:
      wanted = want::read;
      return asio::error::would_block;
    case SSL_ERROR_WANT_WRITE:
      wanted = want::write;
      return asio::error::would_block;
    case SSL_ERROR_ZERO_RETURN:
      return asio::error::eof;
    case SSL_ERROR_SYSCALL: {
      if (const unsigned long e = ERR_get_error(); e != 0) {
        return {static_cast<int>(e), asio::error::get_ssl_category()};
      }
      if (saved_errno == 0 || saved_errno == EPIPE) return asio::ssl::error::stream_truncated;
      if (saved_errno == ECONNRESET) return asio::error::connection_reset;
      return {saved_errno, boost::system::system_category()};
    }
    default: {
      const unsigned long e = ERR_get_error();
      if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        return asio::ssl::error::stream_truncated;
      }
      if (e == 0) return asio::ssl::error::unspecified_system_error;
      return {static_cast<int>(e), asio::error::get_ssl_category()};
    }
  }
}

void tls_stream::complete_later(handler h, error_code ec) {
  asio::post(socket_.get_executor(), [h = std::move(h), ec] { h(ec); });
}

// Readiness waits use Asio's reactor: a wait re-arms the descriptor (EPOLL_CTL_MOD),
// so it completes even when the socket became ready before the wait started.
void tls_stream::wait_for(want w, std::function<void(error_code)> then) {
  socket_.async_wait(w == want::write ? tcp::socket::wait_write : tcp::socket::wait_read,
                     std::move(then));
}

void tls_stream::retry_after(want w, handler done, void (tls_stream::*step)(handler)) {
  wait_for(w, [this, step, done = std::move(done)](error_code ec) mutable {
    if (ec || closed_) return done(ec ? ec : asio::error::operation_aborted);
    (this->*step)(std::move(done));
  });
}

void tls_stream::async_handshake(handler done) {
  if (closed_) return complete_later(std::move(done), asio::error::operation_aborted);
  handshake_step(std::move(done));
}

void tls_stream::handshake_step(handler done) {
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_.get());
  if (r == 1) return complete_later(std::move(done), {});
  want w = want::nothing;
  const error_code ec = error_of(r, w);
  if (w == want::nothing) return complete_later(std::move(done), ec);
  retry_after(w, std::move(done), &tls_stream::handshake_step);
}

void tls_stream::async_wait_readable(handler ready) {
  if (closed_) return complete_later(std::move(ready), asio::error::operation_aborted);
  // Bytes OpenSSL already holds (the rest of a record, or a whole record read with
  // the last one) will not make the socket readable again.
  if (read_wants_ != want::write && SSL_has_pending(ssl_.get()) != 0) {
    return complete_later(std::move(ready), {});
  }
  wait_for(read_wants_ == want::write ? want::write : want::read,
           [this, ready = std::move(ready)](error_code ec) {
             ready(ec ? ec : (closed_ ? asio::error::operation_aborted : error_code{}));
           });
}

std::size_t tls_stream::read_some(char* data, std::size_t size, error_code& ec) {
  read_wants_ = want::nothing;
  if (closed_) {
    ec = asio::error::bad_descriptor;
    return 0;
  }
  ERR_clear_error();
  const int n = SSL_read(ssl_.get(), data, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
  if (n > 0) {
    ec = {};
    return static_cast<std::size_t>(n);
  }
  ec = error_of(n, read_wants_);
  return 0;
}

void tls_stream::read_into(char* data, std::size_t size, io_handler done) {
  if (size == 0 || closed_) {
    const error_code ec = closed_ ? error_code(asio::error::operation_aborted) : error_code();
    asio::post(socket_.get_executor(), [done = std::move(done), ec] { done(ec, 0); });
    return;
  }
  async_wait_readable([this, data, size, done = std::move(done)](error_code ec) mutable {
    if (ec) return done(ec, 0);
    const auto n = read_some(data, size, ec);
    if (ec == asio::error::would_block) return read_into(data, size, std::move(done));
    done(ec, n);
  });
}

void tls_stream::write_from(const char* data, std::size_t size, io_handler done) {
  std::size_t n = 0;
  error_code ec = closed_ ? error_code(asio::error::operation_aborted) : error_code();
  want w = want::nothing;
  if (!closed_ && size != 0) {
    ERR_clear_error();
    const int r =
        SSL_write(ssl_.get(), data, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
    if (r > 0) {
      n = static_cast<std::size_t>(r);
    } else {
      ec = error_of(r, w);
    }
  }
  if (w == want::nothing) {
    asio::post(socket_.get_executor(), [done = std::move(done), ec, n] { done(ec, n); });
    return;
  }
  wait_for(w, [this, data, size, done = std::move(done)](error_code wait_ec) mutable {
    if (wait_ec || closed_) return done(wait_ec ? wait_ec : asio::error::operation_aborted, 0);
    write_from(data, size, std::move(done));
  });
}

void beast_close_socket(tls_stream& stream) { stream.close(); }

void teardown(boost::beast::role_type, tls_stream& stream, error_code& ec) {
  stream.close();
  ec = {};
}

void tls_stream::async_write(std::string_view bytes, handler done) {
  write_from(bytes.data(), bytes.size(),
             [this, bytes, done = std::move(done)](error_code ec, std::size_t n) mutable {
               if (ec || n == bytes.size()) return done(ec);
               async_write(bytes.substr(n), std::move(done));
             });
}

void tls_stream::async_shutdown(handler done) {
  if (closed_) return complete_later(std::move(done), asio::error::operation_aborted);
  shutdown_step(std::move(done));
}

void tls_stream::shutdown_step(handler done) {
  ERR_clear_error();
  const int r = SSL_shutdown(ssl_.get());
  if (r < 0) {
    want w = want::nothing;
    const error_code ec = error_of(r, w);
    if (w == want::nothing) return complete_later(std::move(done), ec);
    return retry_after(w, std::move(done), &tls_stream::shutdown_step);
  }
  // close_notify is out (r == 0), or both sides have said goodbye (r == 1).
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  if (r == 1) return complete_later(std::move(done), {});
  drain_step(std::move(done));
}

void tls_stream::drain_step(handler done) {
  async_wait_readable([this, done = std::move(done)](error_code ec) mutable {
    if (ec) return done(ec);
    char scratch[512];
    for (;;) {
      read_some(scratch, sizeof scratch, ec);
      if (ec == asio::error::would_block) return drain_step(std::move(done));
      if (ec) return done(ec == asio::error::eof ? error_code{} : ec);
    }
  });
}

}  // namespace imock::net

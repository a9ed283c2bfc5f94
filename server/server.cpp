// The Asio/Beast edge of imock-server: listeners, one MQTT session template over
// the four stream types, the HTTP port (server API, admin API, navigation, metrics,
// WebSocket upgrade), navigation-only HTTP ports. One event-loop thread runs
// everything, so the hub needs no locks.
#include "imock/server/server.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <future>
#include <type_traits>
#include <unordered_map>

#include "imock/base/yaml_read.hpp"
#include "imock/net/address.hpp"
#include "imock/net/clock.hpp"
#include "imock/net/syn_tarpit.hpp"
#include "imock/net/tls.hpp"
#include "imock/net/tls_stream.hpp"
#include "imock/server/console_assets.hpp"
#include "imock/server/endpoints.hpp"
#include "imock/server/hub.hpp"
#include "imock/server/metrics.hpp"

namespace imock::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr std::size_t k_tcp_read_chunk = std::size_t{64} * 1024;  // shared by all TCP sessions
// Per WebSocket session, held by its pending read even when idle: small, since the
// decoder gathers a packet over as many reads as it takes (2048 -> 512: 1.5 KB less per
// idle WS connection; benchmarks/README.md).
constexpr std::size_t k_stream_read_chunk = 512;
constexpr auto k_linger = std::chrono::seconds(1);  // wait for the peer's FIN after ours
constexpr auto k_http_timeout = std::chrono::seconds(30);
constexpr auto k_handshake_timeout = std::chrono::seconds(10);
constexpr std::size_t k_http_body_limit = std::size_t{1024} * 1024;
constexpr int k_accept_batch = 64;
constexpr auto k_emfile_backoff = std::chrono::milliseconds(50);
constexpr auto k_emfile_log_interval = std::chrono::seconds(5);

template <typename T>
struct is_websocket : std::false_type {};
template <typename T>
struct is_websocket<websocket::stream<T>> : std::true_type {};

using tls_socket = net::tls_stream;
using ws_stream = websocket::stream<beast::tcp_stream>;

bool routine(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted || ec == websocket::error::closed ||
         ec == ssl::error::stream_truncated || ec == beast::error::timeout ||
         ec == asio::error::broken_pipe;
}

std::string describe(const boost::system::error_code& ec) {
  if (ec == asio::error::eof || ec == websocket::error::closed) return "peer closed";
  if (ec == asio::error::connection_reset) return "connection reset by peer";
  return ec.message();
}

// Sessions and the MQTT acceptors use the io_context's own executor type rather than
// any_io_executor: every socket and every pending operation then carries an 8-byte
// executor instead of a type-erased one, which counts with 10,000s of idle clients.
using loop_socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;

std::string remote_text(const tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

template <typename Socket>
std::string remote_of(const Socket& s) {
  boost::system::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  return ec ? std::string("?") : remote_text(ep);
}

}  // namespace

// What the server loop sees of a session, whatever its stream type.
class session_base {
 public:
  virtual ~session_base() = default;
  virtual void send(const mqtt::packet& p) = 0;
  virtual void close_when_sent() = 0;
  /// `p` is the last packet: send it, then close as close_when_sent does.
  virtual void send_last(const mqtt::packet& p) = 0;
  /// Close at once with a TCP RST: what was not yet written is dropped.
  virtual void reset() = 0;
};

class server::impl final : public server_control {
 public:
  explicit impl(server_options options)
      : opts_(std::move(options)),
        clock_(opts_.speed),
        hub_(opts_.config, opts_.fault_seed, clock_.now_ms()),
        endpoints_(hub_, *this),
        sweep_(io_),
        read_chunk_(k_tcp_read_chunk) {
        // --events: the event log on stderr, as text (the I/O layer's, not the log's).
    if (opts_.echo_events) {
      hub_.events().add_listener(
          [](const event& e) { std::fprintf(stderr, "event %s\n", to_text(e).c_str()); });
    }
  }

  bound_addresses start();
  void run() { io_.run(); }
  void stop(std::int64_t grace_ms);
  void call(const std::function<void(hub&)>& fn);
  api_response request(const api_request& r);
  std::int64_t now_ms() const { return clock_.now_ms(); }

  // --- used by sessions -------------------------------------------------------
  session_id open_session(const std::shared_ptr<session_base>& s, transport via,
                          std::string remote) {
    const auto id = hub_.open(via, std::move(remote), now_ms());
    sessions_.emplace(id, s);
    return id;
  }
  void session_closed(session_id id, std::string_view why) {
    sessions_.erase(id);
    hub_.on_closed(id, why, now_ms());
  }
  hub& the_hub() noexcept { return hub_; }
  const std::string& admin_token() const noexcept { return opts_.config.listen.admin_token; }
  std::vector<char>& read_chunk() noexcept { return read_chunk_; }
  const limits_config& limits() const noexcept { return hub_.config().limits; }
  ssl::context& tls() { return *tls_; }
  bool accepting_ws() const noexcept { return accepting() && !stopping_; }
  api_response handle_http(const api_request& r);

  // --- server_control ------------------------------------------------------------
  void apply(actions&& todo) override;
  void set_accept_mode(accept_mode m) override;
  bool accepting() const override { return accept_mode_ == accept_mode::accept; }
  void resume_accepting_after(std::int64_t after_ms) override;
  void request_shutdown() override { stop(2000); }

  asio::io_context io_{1};

 private:
  // navigation: a plain HTTP port that answers only /navi.json and /healthz.
  enum class listener_kind { mqtt, mqtts, http, https, navigation };
  struct listener {
    listener_kind kind;
    tcp::endpoint endpoint;
    int queue = 0;  // index among the SO_REUSEPORT queues of one MQTT port
    std::unique_ptr<tcp::acceptor> acceptor;
    std::unique_ptr<asio::steady_timer> backoff;
    std::unique_ptr<net::syn_tarpit> tarpit;  // stop accepting, silently (queue 0 only)
    std::chrono::steady_clock::time_point last_emfile_log{};
    std::uint64_t emfile_count = 0;
    tcp::endpoint peer;  // filled by each accept
  };

  void open_listener(listener& l);
  void accept_loop(listener& l);
  void on_accept(listener& l, loop_socket socket, const tcp::endpoint& peer);
  void schedule_sweep();
  void return_freed_memory();
  void write_ready_file(const bound_addresses& b) const;
  void load_console_files();
  void set_navigation_servers(const bound_addresses& b);

  server_options opts_;
  net::scaled_clock clock_;
  hub hub_;
  endpoints endpoints_;
  asio::steady_timer sweep_;
  std::shared_ptr<ssl::context> tls_;
  net::pem_pair tls_pem_;
  std::vector<listener> listeners_;
  // Bound and never listening: connects to its port are refused (RST). The `dead`
  // navigation fault lists it; held open so no other socket takes the port.
  std::unique_ptr<tcp::socket> dead_;
  std::unordered_map<session_id, std::weak_ptr<session_base>> sessions_;
  std::vector<char> read_chunk_;
  accept_mode accept_mode_ = accept_mode::accept;
  bool stopping_ = false;
  std::uint64_t accept_backoffs_ = 0;
  std::uint64_t opened_at_sweep_ = 0, closed_at_sweep_ = 0, closed_at_trim_ = 0;
  std::uint64_t memory_trims_ = 0;  // malloc_trim calls (/metrics imock_memory_trims_total)
  std::unique_ptr<asio::signal_set> signals_;

  friend class server;
};

namespace {

// One MQTT connection over Stream: loop_socket (TCP), net::tls_stream (TLS),
// websocket::stream<beast::tcp_stream> (WS) or websocket::stream<net::tls_stream> (WSS).
//
// Reads: plain TCP waits for readability and then reads into the server's shared
// chunk, so an idle connection holds no read buffer; the other streams need a
// buffer of their own while a read is pending. The decoder exists only while a read is
// being decoded or part of a packet is buffered. Writes: one in flight; packets sent
// meanwhile collect in the outbox's pending bytes, and the outbox exists only while
// there is something to write. When pending grows past limits.outbound_queue_bytes
// the peer is a slow reader: the session is closed at once and the hub logs it,
// so a client that stops reading cannot grow server memory.
template <typename Stream>
class mqtt_session final : public session_base,
                           public std::enable_shared_from_this<mqtt_session<Stream>> {
 public:
  static constexpr bool k_tcp = std::is_same_v<Stream, loop_socket>;
  static constexpr bool k_tls = std::is_same_v<Stream, tls_socket>;
  static constexpr bool k_ws = is_websocket<Stream>::value;

  mqtt_session(server::impl& srv, Stream&& stream, transport via)
      : srv_(srv), stream_(std::move(stream)), via_(via) {}

  /// TCP and TLS: register and start (TLS handshakes first). `peer` is the address
  /// accept returned.
  void start(const tcp::endpoint& peer) {
    id_ = srv_.open_session(this->shared_from_this(), via_, remote_text(peer));
    if constexpr (k_tls) {
      stream_.async_handshake([self = this->shared_from_this()](boost::system::error_code ec) {
        if (ec) return self->fail(ec, "TLS handshake: ");
        self->handshaken_ = true;
        self->do_read();
      });
    } else {
      handshaken_ = true;
      if constexpr (k_tcp) {
        stream_.non_blocking(true);
        // In a storm the CONNECT is usually in before the accept: read it now
        // rather than wait for a readiness event that has already happened.
        read_now();
      } else {
        do_read();
      }
    }
  }

  /// WebSocket: accept the upgrade `req` (subprotocol mqtt), then register.
  template <typename Request>
  void start_ws(Request req) {
    if constexpr (requires { beast::get_lowest_layer(stream_).expires_never(); }) {
      beast::get_lowest_layer(stream_).expires_never();  // the HTTP timeout, for WS
    }
    stream_.set_option(
        websocket::stream_base::timeout{.handshake_timeout = k_handshake_timeout,
                                        .idle_timeout = websocket::stream_base::none(),
                                        .keep_alive_pings = false});
    stream_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::sec_websocket_protocol, "mqtt");
      res.set(http::field::server, "imock");
    }));
    stream_.binary(true);
    stream_.read_message_max(
        std::max<std::size_t>(std::size_t{srv_.limits().max_packet_size} * 4, 1 << 20));
    auto r = std::make_shared<Request>(std::move(req));
    stream_.async_accept(*r, [self = this->shared_from_this(), r](boost::system::error_code ec) {
      if (ec) return;  // never registered: nothing to tell the hub
      auto& sock = beast::get_lowest_layer(self->stream_);
      self->id_ = self->srv_.open_session(self, self->via_, remote_of(socket_of(sock)));
      self->handshaken_ = true;
      self->do_read();
    });
  }

  void send(const mqtt::packet& p) override {
    if (queue(p)) do_write();
  }

  void close_when_sent() override {
    if (closed_) return;
    close_after_ = true;
    do_write();
  }

  // Known to be last before the write starts: over TCP the bytes can then share a
  // segment with the FIN (do_write), so kicking or refusing N clients sends N
  // segments, not 2N. (A silent drop sends no packet: close_when_sent alone.)
  void send_last(const mqtt::packet& p) override {
    if (!queue(p)) return;
    close_when_sent();
  }

  void reset() override {
    if (closed_) return;
    // SO_LINGER with a zero time-out: close() sends RST instead of FIN.
    boost::system::error_code ignored;
    socket_of(beast::get_lowest_layer(stream_))
        .set_option(asio::socket_base::linger(true, 0), ignored);
    hard_close("reset by server");
  }

 private:
  static tcp::socket& socket_of(beast::tcp_stream& s) { return s.socket(); }
  static loop_socket& socket_of(loop_socket& s) { return s; }
  static tcp::socket& socket_of(tls_socket& s) { return s.socket(); }

  void do_read() {
    if (closed_ || close_after_) return;
    auto self = this->shared_from_this();
    if constexpr (k_tcp) {
      stream_.async_wait(tcp::socket::wait_read, [self](boost::system::error_code ec) {
        if (ec) return self->fail(ec, "");
        self->read_now();
      });
    } else if constexpr (k_tls) {
      // Like TCP: no read buffer per connection; OpenSSL frees its own when empty.
      stream_.async_wait_readable([self](boost::system::error_code ec) {
        if (ec) return self->fail(ec, "");
        auto& chunk = self->srv_.read_chunk();
        const auto n = self->stream_.read_some(chunk.data(), chunk.size(), ec);
        if (ec == asio::error::would_block) return self->do_read();
        if (ec) return self->fail(ec, "");
        self->on_bytes(std::string_view(chunk.data(), n));
      });
    } else {
      if (!read_buffer_) read_buffer_ = std::make_unique<char[]>(k_stream_read_chunk);
      stream_.async_read_some(asio::buffer(read_buffer_.get(), k_stream_read_chunk),
                              [self](boost::system::error_code ec, std::size_t n) {
                                if (ec) return self->fail(ec, "");
                                if constexpr (k_ws) {
                                  if (self->stream_.got_text()) {
                                    return self->protocol_error("text frame (binary required)");
                                  }
                                }
                                self->on_bytes(std::string_view(self->read_buffer_.get(), n));
                              });
    }
  }

  // What has arrived, without waiting; nothing yet: wait (do_read).
  void read_now() requires k_tcp {
    boost::system::error_code ec;
    auto& chunk = srv_.read_chunk();
    const auto n = stream_.read_some(asio::buffer(chunk), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return do_read();
    if (ec) return fail(ec, "");
    on_bytes(std::string_view(chunk.data(), n));
  }

  void on_bytes(std::string_view bytes) {
    auto& h = srv_.the_hub();
    h.count_bytes(bytes.size(), 0);
    if (!decoder_) decoder_ = std::make_unique<mqtt::decoder>(srv_.limits().max_packet_size);
    decoder_->feed(bytes);
    std::error_code ec;
    while (!closed_ && !close_after_) {
      auto p = decoder_->next(ec);
      if (ec) {
        srv_.apply(h.on_decode_error(id_, ec, decoder_->error_detail(), srv_.now_ms()));
        return;
      }
      if (!p) break;
      srv_.apply(h.on_packet(id_, std::move(*p), srv_.now_ms()));
    }
    // An idle connection holds no decoder (nor its buffer).
    if (decoder_->buffered() == 0) decoder_.reset();
    do_read();
  }

  void protocol_error(std::string_view what) {
    srv_.apply(srv_.the_hub().on_decode_error(
        id_, mqtt::make_error_code(mqtt::reason_code::protocol_error), what, srv_.now_ms()));
  }

  // Encodes `p` into the outbox; false if nothing is to be written (closed, or
  // closed now because the peer reads too slowly).
  bool queue(const mqtt::packet& p) {
    if (closed_ || close_after_) return false;
    if (!out_) out_ = std::make_unique<outbox>();
    auto& pending = out_->pending;
    const auto before = pending.size();
    if (!mqtt::encode(p, pending)) return false;
    srv_.the_hub().count_bytes(0, pending.size() - before);
    if (pending.size() + out_->writing.size() > srv_.limits().outbound_queue_bytes) {
      srv_.the_hub().on_slow_reader(id_, srv_.now_ms());
      hard_close("slow reader: outbound queue full");
      return false;
    }
    return true;
  }

  // Over TCP, the last bytes before a close go out with MSG_MORE: the kernel holds
  // them until graceful_close's shutdown, which sends them with the FIN in one
  // segment. True if all of `bytes` went to the kernel.
  bool write_last(std::string& bytes) requires k_tcp {
    boost::system::error_code ec;
    const auto n = stream_.send(asio::buffer(bytes), MSG_MORE, ec);
    if (ec) return false;  // would block, or broken: the asynchronous write says which
    bytes.erase(0, n);
    return bytes.empty();
  }

  void do_write() {
    if (closed_ || write_active_) return;
    if (!out_ || out_->pending.empty()) {
      out_.reset();  // idle connections are the common case: they hold no outbox
      if (close_after_) graceful_close();
      return;
    }
    std::swap(out_->pending, out_->writing);
    write_active_ = true;
    auto handler = [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->write_active_ = false;
      if (ec) return self->fail(ec, "write: ");
      std::string().swap(self->out_->writing);
      self->do_write();
    };
    const auto& writing = out_->writing;
    if constexpr (k_ws) {
      stream_.async_write(asio::buffer(writing), std::move(handler));
    } else if constexpr (k_tls) {
      stream_.async_write(writing, [handler = std::move(handler)](boost::system::error_code ec) {
        handler(ec, 0);
      });
    } else {
      if (close_after_ && write_last(out_->writing)) {
        write_active_ = false;
        out_.reset();
        return graceful_close();
      }
      asio::async_write(stream_, asio::buffer(out_->writing), std::move(handler));
    }
  }

  // Our last packet is out: say goodbye at the stream's level, and give the peer
  // a bounded time (k_linger) to close its side before we close the socket.
  //
  // Over TCP the wait is for a close that could otherwise lose data: if the peer's
  // bytes arrive after close(), the kernel answers with RST and drops what it has not
  // delivered of ours. When all we sent is acknowledged (a silent drop of a quiet
  // connection: every client of a drop-all storm), nothing can be lost: send the FIN,
  // read what the peer sent, close now. No timer, no wait and no wake-up per
  // connection; the peer's FIN is then answered by the kernel alone.
  void graceful_close() {
    if (closing_started_) return;
    closing_started_ = true;
    if (!handshaken_) return hard_close("closed by server");
    if constexpr (k_tcp) {
      const bool all_acknowledged = unacknowledged_bytes() == 0;
      boost::system::error_code ignored;
      stream_.shutdown(tcp::socket::shutdown_send, ignored);
      if (all_acknowledged && drained_now()) return hard_close("closed by server");
    }
    auto self = this->shared_from_this();
    linger_ = std::make_unique<asio::steady_timer>(srv_.io_);
    linger_->expires_after(k_linger);
    linger_->async_wait([self](boost::system::error_code ec) {
      if (!ec) self->hard_close("closed by server");
    });
    if constexpr (k_tcp) {
      drain();
    } else if constexpr (k_tls) {
      stream_.async_shutdown(
          [self](boost::system::error_code) { self->hard_close("closed by server"); });
    } else {
      stream_.async_close(websocket::close_code::normal, [self](boost::system::error_code) {
        self->hard_close("closed by server");
      });
    }
  }

  // What we wrote that the peer has not acknowledged (SIOCOUTQ), or -1 if unknown.
  int unacknowledged_bytes() requires k_tcp {
    int n = -1;
    if (::ioctl(stream_.native_handle(), SIOCOUTQ, &n) != 0) return -1;
    return n;
  }

  // Reads what the peer has sent, without waiting: true when nothing is left unread
  // (the reads found nothing more, the peer's FIN, or an error), false if it is still
  // sending after a few reads.
  bool drained_now() requires k_tcp {
    auto& chunk = srv_.read_chunk();
    for (int i = 0; i < 4; ++i) {
      boost::system::error_code ec;
      const auto n = stream_.read_some(asio::buffer(chunk), ec);
      if (ec || n == 0) return true;  // would_block (all read), EOF, or a broken link
    }
    return false;
  }

  void drain() requires k_tcp {
    stream_.async_wait(tcp::socket::wait_read,
                       [self = this->shared_from_this()](boost::system::error_code ec) {
                         if (ec) return self->hard_close("closed by server");
                         auto& chunk = self->srv_.read_chunk();
                         const auto n = self->stream_.read_some(asio::buffer(chunk), ec);
                         if (ec == asio::error::would_block) return self->drain();
                         if (ec || n == 0) return self->hard_close("closed by server");
                         self->drain();
                       });
  }

  void fail(const boost::system::error_code& ec, std::string_view context) {
    if (closed_) return;
    if (closing_started_) return hard_close("closed by server");
    if (!routine(ec)) spdlog::debug("session {}: {}{}", id_, context, ec.message());
    hard_close(std::string(context) + describe(ec));
  }

  void hard_close(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    if constexpr (k_tls) {
      stream_.close();
    } else if constexpr (k_tcp) {
      boost::system::error_code ignored;
      stream_.close(ignored);
    } else {
      beast::get_lowest_layer(stream_).close();
    }
    if (linger_) linger_->cancel();
    if (id_ != 0) srv_.session_closed(id_, why);
  }

  server::impl& srv_;
  Stream stream_;
  transport via_;
  session_id id_ = 0;
  std::unique_ptr<mqtt::decoder> decoder_;  // while bytes are being decoded or buffered
  struct outbox {
    std::string pending;  // sent since the write in flight started
    std::string writing;  // the write in flight
  };
  std::unique_ptr<outbox> out_;  // while something is to be written
  std::unique_ptr<char[]> read_buffer_;
  std::unique_ptr<asio::steady_timer> linger_;
  bool handshaken_ = false;
  bool write_active_ = false;
  bool close_after_ = false;
  bool closing_started_ = false;
  bool closed_ = false;
};

// One HTTP connection (plain or TLS): the server API, the admin API, navigation,
// /metrics, /healthz, and the WebSocket upgrade at /mqtt, which hands the stream over
// to an mqtt_session. On a navigation-only port: /navi.json and /healthz, nothing else.
// 22 base64 characters and "==": the encoding of 16 bytes.
bool valid_websocket_key(std::string_view key) {
  if (key.size() != 24 || !key.ends_with("==")) return false;
  const auto base64 = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  };
  // The 22nd character carries 2 bits of the last byte and 4 zero bits.
  return std::all_of(key.begin(), key.begin() + 22, base64) &&
         std::string_view("AQgw").find(key[21]) != std::string_view::npos;
}

template <typename Stream>
class http_session final : public std::enable_shared_from_this<http_session<Stream>> {
 public:
  static constexpr bool k_tls = std::is_same_v<Stream, tls_socket>;

  http_session(server::impl& srv, Stream&& stream, bool navigation_only = false)
      : srv_(srv), stream_(std::move(stream)), navigation_only_(navigation_only) {}

  void start() {
    if constexpr (k_tls) {
      expire_after(k_handshake_timeout);
      stream_.async_handshake([self = this->shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->do_read();
      });
    } else {
      do_read();
    }
  }

 private:
  // beast::tcp_stream times out by itself; over TLS a timer closes the socket.
  void expire_after(std::chrono::steady_clock::duration d) {
    if constexpr (k_tls) {
      if (!deadline_) deadline_ = std::make_unique<asio::steady_timer>(srv_.io_);
      deadline_->expires_after(d);
      deadline_->async_wait([weak = this->weak_from_this()](boost::system::error_code ec) {
        if (auto self = weak.lock(); self && !ec) self->close();
      });
    } else {
      beast::get_lowest_layer(stream_).expires_after(d);
    }
  }

  void do_read() {
    parser_.emplace();
    parser_->body_limit(k_http_body_limit);
    parser_->header_limit(16 * 1024);
    expire_after(k_http_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(boost::system::error_code ec) {
    if (ec == http::error::end_of_stream || routine(ec)) return close();
    if (ec) {
      // Unparsable request: answer once, in the documented error shape, then close.
      return respond(400, R"({"code":400,"error":")" + ec.message() + "\"}", "application/json",
                     false);
    }
    auto req = parser_->release();
    if (navigation_only_) {
      const std::string_view target = req.target();
      const auto path = target.substr(0, target.find('?'));
      if (path != k_navigation_path && path != "/healthz") {
        return respond(404,
                       R"({"code":404,"error":"this port answers only /navi.json and /healthz"})",
                       "application/json", req.keep_alive());
      }
    }
    if (websocket::is_upgrade(req)) return upgrade(std::move(req));

    api_request r;
    r.method = std::string(req.method_string());
    r.path = std::string(req.target());
    r.content_type = std::string(req[http::field::content_type]);
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    r.body = std::move(req.body());
    const bool keep_alive = req.keep_alive();

    const auto q = r.path.find('?');
    const std::string_view path = std::string_view(r.path).substr(0, q);
    if (admin_api::handles(path)) {
      if (auto denied = admin_access(srv_.admin_token(), r)) {
        return respond(denied->http_status, std::move(denied->body), "application/json",
                       keep_alive);
      }
    }
    const auto wait_ms = wait_of(r.path);
    if (path == "/admin/events" && wait_ms > 0) {
      return long_poll(std::move(r), keep_alive, wait_ms);
    }
    auto res = srv_.handle_http(r);
    if (res.http_status == 0) return close();  // no answer at all (navigation fault)
    const bool is_json = !res.body.empty() && (res.body.front() == '{');
    const std::string type = !res.content_type.empty() ? res.content_type
                             : is_json                 ? "application/json"
                                                       : "text/plain; version=0.0.4";
    respond(res.http_status, std::move(res.body), type, keep_alive,
            path == "/console" || path.starts_with("/console/"));
  }

  // /admin/events?since=N&wait_ms=M: answer as soon as there is an event after N,
  // or after M ms (server time) with none.
  void long_poll(api_request r, bool keep_alive, std::int64_t wait_ms) {
    const auto since = since_of(r.path);
    const auto deadline = srv_.now_ms() + wait_ms;
    if (srv_.the_hub().events().last_seq() > since || srv_.now_ms() >= deadline) {
      auto res = srv_.handle_http(r);
      return respond(res.http_status, std::move(res.body), "application/json", keep_alive);
    }
    poll_timer_ = std::make_unique<asio::steady_timer>(srv_.io_);
    poll_timer_->expires_after(std::chrono::milliseconds(5));
    poll_timer_->async_wait([self = this->shared_from_this(), r = std::move(r), keep_alive,
                             deadline](boost::system::error_code ec) mutable {
      if (ec) return;
      self->long_poll(std::move(r), keep_alive, deadline - self->srv_.now_ms());
    });
  }

  static std::int64_t query_number(std::string_view target, std::string_view key) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return 0;
    auto query = target.substr(q + 1);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const auto part = query.substr(0, amp);
      if (part.starts_with(key) && part.size() > key.size() && part[key.size()] == '=') {
        return std::strtoll(std::string(part.substr(key.size() + 1)).c_str(), nullptr, 10);
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
    return 0;
  }
  static std::int64_t wait_of(std::string_view target) { return query_number(target, "wait_ms"); }
  static std::uint64_t since_of(std::string_view target) {
    return static_cast<std::uint64_t>(query_number(target, "since"));
  }

  void upgrade(http::request<http::string_body> req) {
    const std::string_view target = req.target();
    if (target.substr(0, target.find('?')) != "/mqtt") {
      return respond(404, R"({"code":404,"error":"WebSocket endpoint is /mqtt"})",
                     "application/json", false);
    }
    // RFC 6455 §4.1: the key is 16 random bytes in base64, 24 characters. Beast takes
    // any key of at most 24; an SDK that sends a wrong one should hear about it here.
    if (!valid_websocket_key(req[http::field::sec_websocket_key])) {
      return respond(400,
                     "{\"code\":400,\"error\":\"Sec-WebSocket-Key must be 16 bytes in base64 "
                     "(24 characters, RFC 6455 section 4.1)\"}",
                     "application/json", false);
    }
    const std::string_view offered = req[http::field::sec_websocket_protocol];
    if (offered.find("mqtt") == std::string_view::npos) {
      return respond(400, R"({"code":400,"error":"subprotocol 'mqtt' required"})",
                     "application/json", false);
    }
    if (!srv_.accepting_ws()) return close();  // stop-accepting: refused like the TCP ports
    if (deadline_) deadline_->cancel();        // the WebSocket has timeouts of its own
    using ws_type = websocket::stream<Stream>;
    auto s = std::make_shared<mqtt_session<ws_type>>(srv_, ws_type(std::move(stream_)),
                                                     k_tls ? transport::wss : transport::ws);
    s->start_ws(std::move(req));
  }

  void respond(int status, std::string body, std::string_view content_type, bool keep_alive,
               bool console = false) {
    auto res =
        std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
    res->set(http::field::server, "imock");
    res->set(http::field::content_type, content_type);
    if (console) {
      // The page talks only to this server; what it shows of clients is never markup.
      res->set("Content-Security-Policy",
               "default-src 'self'; connect-src 'self' blob:; img-src 'self' blob: data:; "
               "frame-src blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; "
               "base-uri 'none'");
      res->set(http::field::cache_control, "no-cache");
    }
    res->keep_alive(keep_alive);
    if (status == 401) res->set(http::field::www_authenticate, R"(Bearer realm="imock admin")");
    res->body() = std::move(body);
    res->prepare_payload();
    http::async_write(
        stream_, *res,
        [self = this->shared_from_this(), res](boost::system::error_code ec, std::size_t) {
          if (ec || !res->keep_alive()) return self->close();
          self->do_read();
        });
  }

  void close() {
    boost::system::error_code ignored;
    if constexpr (k_tls) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      stream_.close();
    } else {
      beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ignored);
      beast::get_lowest_layer(stream_).close();
    }
  }

  server::impl& srv_;
  Stream stream_;
  std::unique_ptr<asio::steady_timer> deadline_;  // TLS only
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::unique_ptr<asio::steady_timer> poll_timer_;
  bool navigation_only_ = false;
};

}  // namespace

// --- server::impl ---------------------------------------------------------------

bound_addresses server::impl::start() {
  const auto& listen = opts_.config.listen;
  if (auto why = admin_token_problem(listen)) throw std::runtime_error(*why);
  load_console_files();
  const bool want_tls = listen.tls_self_signed || (listen.tls_cert && listen.tls_key);
  if ((listen.tls_cert.has_value()) != (listen.tls_key.has_value())) {
    throw std::runtime_error("TLS needs both a certificate (--tls-cert) and a key (--tls-key)");
  }
  if (want_tls) {
    tls_pem_ = listen.tls_self_signed && !listen.tls_cert
                   ? net::make_self_signed("imock-server")
                   : net::load_pem_files(*listen.tls_cert, *listen.tls_key);
    tls_ = net::make_server_context(tls_pem_);
  }
  auto add = [&](listener_kind kind, const std::string& address, std::string_view flag) {
    std::string why;
    const auto hp = net::parse_host_port(address, &why);
    if (!hp) throw std::runtime_error(std::string(flag) + ": " + why);
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(hp->host, ec);
    tcp::endpoint ep;
    if (ec) {
      tcp::resolver resolver(io_);
      const auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
      if (ec || results.empty()) {
        throw std::runtime_error(std::string(flag) + ": cannot resolve '" + hp->host + "'");
      }
      ep = results.begin()->endpoint();
    } else {
      ep = tcp::endpoint(ip, hp->port);
    }
    const bool mqtt_port = kind == listener_kind::mqtt || kind == listener_kind::mqtts;
    const int queues = mqtt_port ? static_cast<int>(listen.accept_queues) : 1;
    for (int q = 0; q < queues; ++q) {
      listeners_.push_back(listener{.kind = kind, .endpoint = ep, .queue = q});
      try {
        open_listener(listeners_.back());
      } catch (const boost::system::system_error& e) {
        throw std::runtime_error(std::string(flag) + " " + address + ": " + e.code().message());
      }
      ep = listeners_.back().acceptor->local_endpoint();  // port 0 resolved: the rest join it
    }
  };
  if (listen.accept_queues < 1 || listen.accept_queues > k_max_accept_queues) {
    throw std::runtime_error("accept queues must be 1 to " + std::to_string(k_max_accept_queues) +
                             ", got " + std::to_string(listen.accept_queues));
  }
  add(listener_kind::mqtt, listen.mqtt, "--listen-mqtt");
  add(listener_kind::http, listen.http, "--listen-http");
  if (want_tls) {
    add(listener_kind::mqtts, listen.mqtts.value_or("127.0.0.1:18831"), "--listen-mqtts");
    add(listener_kind::https, listen.https.value_or("127.0.0.1:18443"), "--listen-https");
  } else if (listen.mqtts || listen.https) {
    throw std::runtime_error(
        "--listen-mqtts/--listen-https need TLS: give --tls-cert and --tls-key, or "
        "--tls-self-signed");
  }
  for (const auto& address : listen.navigation) {
    add(listener_kind::navigation, address, "listen.navigation");
  }

  bound_addresses out;
  for (auto& l : listeners_) {
    const auto ep = l.acceptor->local_endpoint();
    l.endpoint = ep;  // port 0 resolved: stop/resume accepting reopens the same port
    const std::string text = net::host_port{ep.address().to_string(), ep.port()}.to_string();
    switch (l.kind) {
      case listener_kind::mqtt:
        out.mqtt = text;
        break;
      case listener_kind::http:
        out.http = text;
        break;
      case listener_kind::mqtts:
        out.mqtts = text;
        break;
      case listener_kind::https:
        out.https = text;
        break;
      case listener_kind::navigation:
        out.navigation.push_back(text);
        break;
    }
  }
  set_navigation_servers(out);
  out.tls_fingerprint_sha256 = tls_pem_.fingerprint_sha256;
  out.tls_cert_pem = tls_pem_.cert_pem;
  for (auto& l : listeners_) accept_loop(l);
  schedule_sweep();
  if (opts_.handle_signals) {
    signals_ = std::make_unique<asio::signal_set>(io_, SIGINT, SIGTERM);
    signals_->async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      spdlog::info("signal {}: shutting down (DISCONNECT 0x8B to every session)", sig);
      stop(2000);
    });
  }
  if (opts_.ready_file) write_ready_file(out);
  std::string started = "mqtt " + out.mqtt + ", http " + out.http +
                        (out.mqtts ? ", mqtts " + *out.mqtts : "") +
                        (out.https ? ", https " + *out.https : "");
  for (const auto& n : out.navigation) started += ", navigation " + n;
  hub_.log(event_kind::start, started, now_ms());
  return out;
}

namespace {

// What navigation lists for the bound listeners, in its order (mqtt, mqtts, ws, wss);
// with `only`, every scheme at that one address instead of each listener's own.
std::vector<std::string> listener_urls(const bound_addresses& b,
                                       const std::optional<std::string>& only = std::nullopt) {
  const auto at = [&](const std::string& own) { return only ? *only : own; };
  std::vector<std::string> urls{"mqtt://" + at(b.mqtt)};
  if (b.mqtts) urls.push_back("mqtts://" + at(*b.mqtts));
  urls.push_back("ws://" + at(b.http) + "/mqtt");
  if (b.https) urls.push_back("wss://" + at(*b.https) + "/mqtt");
  return urls;
}

}  // namespace

void server::impl::set_navigation_servers(const bound_addresses& b) {
  endpoints_.set_connection_servers(listener_urls(b));
  // One port serves every scheme of the dead list: a connect of any transport is refused
  // before it could tell them apart.
  const auto& mqtt = std::find_if(listeners_.begin(), listeners_.end(), [](const listener& l) {
                       return l.kind == listener_kind::mqtt;
                     })->endpoint;
  auto dead = std::make_unique<tcp::socket>(io_);
  boost::system::error_code ec;
  dead->open(mqtt.protocol(), ec);
  if (!ec) ::fcntl(dead->native_handle(), F_SETFD, FD_CLOEXEC);
  if (!ec) dead->bind(tcp::endpoint(mqtt.address(), 0), ec);
  if (ec) {
    // Without it the `dead` fault lists no server (the client gets 30007, not 32061).
    hub_.log(event_kind::error, "no port for the dead navigation servers: " + ec.message(),
             now_ms());
    return;
  }
  const auto ep = dead->local_endpoint(ec);
  if (ec) return;
  endpoints_.set_dead_servers(
      listener_urls(b, net::host_port{ep.address().to_string(), ep.port()}.to_string()));
  dead_ = std::move(dead);
}

void server::impl::open_listener(listener& l) {
  const bool shared = (l.kind == listener_kind::mqtt || l.kind == listener_kind::mqtts) &&
                      hub_.config().listen.accept_queues > 1;
  if (shared && l.queue == 0 && l.endpoint.port() != 0) {
    // SO_REUSEPORT would let us share a port another program of this user already
    // listens on with SO_REUSEPORT; bind once without it first so that is an error.
    // (Port 0 needs no check: the kernel never hands out a port in use.)
    tcp::acceptor probe(io_);
    probe.open(l.endpoint.protocol());
    probe.set_option(asio::socket_base::reuse_address(true));
    probe.bind(l.endpoint);
  }
  auto acc = std::make_unique<tcp::acceptor>(io_);
  acc->open(l.endpoint.protocol());
  // Programs started by an embedding process (the harness's client programs) must
  // not inherit the listening socket: it would keep "stop accepting" from refusing.
  ::fcntl(acc->native_handle(), F_SETFD, FD_CLOEXEC);
  acc->set_option(asio::socket_base::reuse_address(true));
  if (shared) acc->set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
  // Linux's accepted sockets inherit TCP_NODELAY from their listener: set once here,
  // not by a setsockopt per connection.
  acc->set_option(tcp::no_delay(true));
  acc->bind(l.endpoint);
  acc->listen(asio::socket_base::max_listen_connections);
  acc->non_blocking(true);  // for the batch accepts after each wake-up
  l.acceptor = std::move(acc);
  if (!l.backoff) l.backoff = std::make_unique<asio::steady_timer>(io_);
}

void server::impl::accept_loop(listener& l) {
  if (!l.acceptor || !l.acceptor->is_open()) return;
  l.acceptor->async_accept(
      io_.get_executor(), l.peer, [this, &l](boost::system::error_code ec, loop_socket socket) {
        if (ec == asio::error::operation_aborted || !l.acceptor || !l.acceptor->is_open()) return;
        if (ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open ||
            ec == boost::system::errc::too_many_files_open_in_system ||
            ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
          // Out of file descriptors: the connection waits in the backlog. Back off instead
          // of spinning on accept, and say so at most once per interval.
          ++accept_backoffs_;
          ++l.emfile_count;
          const auto now = std::chrono::steady_clock::now();
          if (now - l.last_emfile_log >= k_emfile_log_interval) {
            spdlog::warn("accept: {} ({} times since the last message); backing off", ec.message(),
                         l.emfile_count);
            hub_.log(event_kind::accept_backoff, ec.message(), now_ms());
            l.last_emfile_log = now;
            l.emfile_count = 0;
          }
          l.backoff->expires_after(k_emfile_backoff);
          l.backoff->async_wait([this, &l](boost::system::error_code e) {
            if (!e) accept_loop(l);
          });
          return;
        }
        if (!ec) {
          on_accept(l, std::move(socket), l.peer);
          // A reconnect storm fills the listen queue faster than one accept per wake-up
          // drains it: take what is already queued (bounded) before waiting again.
          for (int i = 0; i < k_accept_batch && l.acceptor && l.acceptor->is_open(); ++i) {
            loop_socket more(io_);
            boost::system::error_code more_ec;
            l.acceptor->accept(more, l.peer, more_ec);
            if (more_ec) break;  // would_block: the queue is empty; errors: the async path reports
            on_accept(l, std::move(more), l.peer);
          }
        } else {
          spdlog::warn("accept: {}", ec.message());
        }
        accept_loop(l);
      });
}

void server::impl::on_accept(listener& l, loop_socket socket, const tcp::endpoint& peer) {
  switch (l.kind) {
    case listener_kind::mqtt:
      std::make_shared<mqtt_session<loop_socket>>(*this, std::move(socket), transport::tcp)
          ->start(peer);
      break;
    case listener_kind::mqtts:
      std::make_shared<mqtt_session<tls_socket>>(*this, tls_socket(std::move(socket), *tls_),
                                                 transport::tls)
          ->start(peer);
      break;
    case listener_kind::http:
      std::make_shared<http_session<beast::tcp_stream>>(*this, beast::tcp_stream(std::move(socket)))
          ->start();
      break;
    case listener_kind::https:
      std::make_shared<http_session<tls_socket>>(*this, tls_socket(std::move(socket), *tls_))
          ->start();
      break;
    case listener_kind::navigation:
      std::make_shared<http_session<beast::tcp_stream>>(*this, beast::tcp_stream(std::move(socket)),
                                                        true)
          ->start();
      break;
  }
}

void server::impl::schedule_sweep() {
  // Keep-alive and CONNECT deadlines are checked by one sweep instead of a timer per
  // session (memory per idle connection). Its period follows the speed so a scaled
  // keep alive is still enforced within ~1/4 s of server time.
  const auto period = std::clamp<std::chrono::nanoseconds>(
      clock_.real(250), std::chrono::milliseconds(1), std::chrono::milliseconds(250));
  sweep_.expires_after(period);
  sweep_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    apply(hub_.tick(now_ms()));
    return_freed_memory();
    schedule_sweep();
  });
}

// After a burst of closes (a drop-all storm) the freed sessions sit in malloc's free
// lists all through the heap, and glibc gives back to the kernel only the heap's top:
// RSS would stay at the storm's high-water mark for good. Once the churn settles (a
// sweep period with no connection opened or closed) after at least 1,024 closes,
// malloc_trim(0) returns every free page (benchmarks/README.md, "After storms").
void server::impl::return_freed_memory() {
  std::uint64_t opened = 0, closed = 0;
  for (std::size_t t = 0; t < k_transport_count; ++t) {
    opened += hub_.counters().accepted[t];
    closed += hub_.counters().closed[t];
  }
  const bool quiet = opened == opened_at_sweep_ && closed == closed_at_sweep_;
  opened_at_sweep_ = opened;
  closed_at_sweep_ = closed;
  if (!quiet || closed - closed_at_trim_ < 1024) return;
  closed_at_trim_ = closed;
#if defined(__GLIBC__)
  ::malloc_trim(0);
  ++memory_trims_;
#endif
}

void server::impl::apply(actions&& todo) {
  for (auto& a : todo) {
    if (a.delay_ms > 0) {
      auto timer = std::make_shared<asio::steady_timer>(io_, clock_.real(a.delay_ms));
      a.delay_ms = 0;
      timer->async_wait([this, timer, a = std::move(a)](boost::system::error_code ec) mutable {
        if (ec) return;
        actions later;
        later.push_back(std::move(a));
        apply(std::move(later));
      });
      continue;
    }
    const auto it = sessions_.find(a.session);
    if (it == sessions_.end()) continue;
    auto s = it->second.lock();
    if (!s) continue;
    if (a.reset) {
      s->reset();
      continue;
    }
    if (a.send && a.close) {
      s->send_last(*a.send);
    } else if (a.send) {
      s->send(*a.send);
    } else if (a.close) {
      s->close_when_sent();
    }
  }
}

void server::impl::set_accept_mode(accept_mode m) {
  if (m == accept_mode_) return;
  accept_mode_ = m;
  const bool on = m == accept_mode::accept;
  for (auto& l : listeners_) {
    if (l.kind != listener_kind::mqtt && l.kind != listener_kind::mqtts) continue;
    if (l.tarpit) l.tarpit->close();
    if (!on) {
      boost::system::error_code ignored;
      l.backoff->cancel();
      l.acceptor->close(ignored);
    }
  }
  if (m == accept_mode::drop_syn) {
    // Every queue of a port is closed by now: one tarpit takes the port.
    for (auto& l : listeners_) {
      if ((l.kind != listener_kind::mqtt && l.kind != listener_kind::mqtts) || l.queue != 0) {
        continue;
      }
      if (!l.tarpit) l.tarpit = std::make_unique<net::syn_tarpit>();
      if (const auto ec = l.tarpit->open(l.endpoint)) {
        // The port is then closed: connects are refused instead of left hanging.
        hub_.log(event_kind::error,
                 "cannot leave SYNs unanswered on port " + std::to_string(l.endpoint.port()) +
                     ": " + ec.message() + "; connects are refused instead",
                 now_ms());
      }
    }
  }
  if (!on) return;
  for (auto& l : listeners_) {
    if (l.kind != listener_kind::mqtt && l.kind != listener_kind::mqtts) continue;
    try {
      open_listener(l);
      accept_loop(l);
    } catch (const boost::system::system_error& e) {
      spdlog::error("cannot listen again on {}: {}", l.endpoint.port(), e.code().message());
      hub_.log(event_kind::error,
               "cannot listen again on port " + std::to_string(l.endpoint.port()) + ": " +
                   e.code().message(),
               now_ms());
    }
  }
}

void server::impl::resume_accepting_after(std::int64_t after_ms) {
  auto timer = std::make_shared<asio::steady_timer>(io_, clock_.real(after_ms));
  timer->async_wait([this, timer](boost::system::error_code ec) {
    if (ec || stopping_) return;
    set_accepting(true);
    hub_.log(event_kind::admin, "accepting again", now_ms());
  });
}

api_response server::impl::handle_http(const api_request& r) {
  const std::string_view path = std::string_view(r.path).substr(0, r.path.find('?'));
  if (endpoints::handles(path)) return endpoints_.handle(r, now_ms());
  if (path == "/metrics") {
    return {200,
            render_metrics(hub_, {.accepting = accepting(), .accept_backoffs = accept_backoffs_,
                                    .memory_trims = memory_trims_})};
  }
  if (r.method == "GET" && (path == "/console" || path == "/console/" || path.starts_with("/console/"))) {
    const auto name = path.size() <= std::string_view("/console/").size()
                          ? std::string_view("index.html")
                          : path.substr(std::string_view("/console/").size());
    for (const auto& f : console_assets()) {
      if (f.name == name) return {200, std::string(f.content), std::string(content_type_of(name))};
    }
    return {404, R"j({"code":404,"error":"the console has index.html, console.js and console.css"})j"};
  }
  if (path == "/healthz") {
    return {200,
            boost::json::serialize(boost::json::object{{"code", 200},
                                                       {"status", stopping_ ? "stopping" : "ok"},
                                                       {"sessions", hub_.session_count()}})};
  }
  return {404, R"j({"code":404,"error":"not found (see docs/server-api.md, docs/admin-api.md)"})j"};
}

void server::impl::stop(std::int64_t grace_ms) {
  asio::post(io_, [this, grace_ms] {
    if (stopping_) return;
    stopping_ = true;
    for (auto& l : listeners_) {
      boost::system::error_code ignored;
      if (l.acceptor) l.acceptor->close(ignored);
      if (l.backoff) l.backoff->cancel();
    }
    sweep_.cancel();
    if (signals_) signals_->cancel();
    apply(hub_.shutdown(now_ms()));
    // Wait (bounded) for the sessions to close after their DISCONNECT 0x8B.
    auto timer = std::make_shared<asio::steady_timer>(io_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    auto wait = std::make_shared<std::function<void()>>();
    *wait = [this, timer, deadline, wait] {
      if (sessions_.empty() || std::chrono::steady_clock::now() >= deadline) {
        io_.stop();
        *wait = nullptr;  // break the self-reference
        return;
      }
      timer->expires_after(std::chrono::milliseconds(5));
      timer->async_wait([wait](boost::system::error_code) {
        if (*wait) (*wait)();
      });
    };
    (*wait)();
  });
}

void server::impl::call(const std::function<void(hub&)>& fn) {
  std::promise<void> done;
  asio::post(io_, [&] {
    try {
      fn(hub_);
      done.set_value();
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  done.get_future().get();
}

api_response server::impl::request(const api_request& r) {
  std::promise<api_response> done;
  asio::post(io_, [&] { done.set_value(handle_http(r)); });
  return done.get_future().get();
}

// --console-file: read once, at most 4 MiB each, by file name (unique).
void server::impl::load_console_files() {
  std::vector<console_file> files;
  for (const auto& p : opts_.console_files) {
    auto content = yaml_read::read_file(p, "console file");
    if (!content.value) throw std::runtime_error(p.string() + ": " + content.error);
    const auto name = p.filename().string();
    for (const auto& f : files) {
      if (f.name == name) throw std::runtime_error("two console files are called '" + name + "'");
    }
    files.push_back({name, std::string(content_type_of(name)), std::move(*content.value)});
  }
  endpoints_.set_console_files(std::move(files));
}

void server::impl::write_ready_file(const bound_addresses& b) const {
  boost::json::object o{{"mqtt", b.mqtt}, {"http", b.http}, {"pid", ::getpid()}};
  if (b.mqtts) o["mqtts"] = *b.mqtts;
  if (b.https) o["https"] = *b.https;
  if (!b.navigation.empty()) {
    boost::json::array navigation;
    for (const auto& n : b.navigation) navigation.emplace_back(n);
    o["navigation"] = std::move(navigation);
  }
  if (!b.tls_fingerprint_sha256.empty()) o["tls_fingerprint_sha256"] = b.tls_fingerprint_sha256;
  const auto path = *opts_.ready_file;
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << boost::json::serialize(o) << "\n";
    if (!out) throw std::runtime_error("cannot write the ready file " + tmp);
  }
  std::filesystem::rename(tmp, path);  // readers never see half a file
}

// --- server -----------------------------------------------------------------------

server::server(server_options options) : impl_(std::make_unique<impl>(std::move(options))) {}
server::~server() = default;
bound_addresses server::start() { return impl_->start(); }
void server::run() { impl_->run(); }
void server::stop(std::int64_t grace_ms) { impl_->stop(grace_ms); }
void server::call(const std::function<void(hub&)>& fn) { impl_->call(fn); }
api_response server::request(const api_request& r) { return impl_->request(r); }
std::int64_t server::now_ms() const { return impl_->now_ms(); }

}  // namespace imock::server

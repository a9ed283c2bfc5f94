// The client side of an MQTT connection's byte stream, for every imock client: the
// reference SDK's driver, the test clients that send raw packets, the connect
// benchmark. One way to reach a listener over TCP, TLS, WebSocket or WSS (resolve,
// bind a source address, connect, TLS handshake with SNI and host-name check, WS
// upgrade), then bytes in and out. What the bytes mean (mqtt::encode, mqtt::decoder)
// is the owner's business.
//
// Events go to the owner on the stream's executor, through a weak pointer: an owner
// that is gone gets nothing, and none come after close().
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "imock/protocol/transport.hpp"

namespace boost::asio::ssl {
class context;
}

namespace imock::net {

/// Where a stream goes and how.
struct stream_target {
  transport via = transport::tcp;
  std::string host;  // a name (resolved) or an IP literal; the TLS name and WS Host
  std::uint16_t port = 0;
  /// An IP literal to connect to instead of resolving `host` (a load tool resolves
  /// once for thousands of connections); "" resolves `host`.
  std::string address;
  std::string path = "/mqtt";           // WS and WSS
  std::string ws_subprotocol = "mqtt";  // Sec-WebSocket-Protocol; "" sends none
  std::string user_agent = "imock";     // WS and WSS
  /// The local address to bind ("127.0.0.7"), "" for the kernel's choice.
  std::string source;
  /// TLS and WSS: the client context (net::make_client_context); required there.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

/// The step a stream failed at: before it was up (open .. ws_handshake) or after.
enum class stream_stage : std::uint8_t {
  open,  // socket() or bind(): EMFILE shows up here
  resolve,
  connect,
  tls_handshake,
  ws_handshake,
  read,
  write,
};
std::string_view to_string(stream_stage s) noexcept;

/// What a stream tells its owner. Each runs on the stream's executor.
class stream_events {
 public:
  virtual ~stream_events() = default;
  /// Connected (and handshaken): send() now goes out.
  virtual void on_stream_up() = 0;
  /// Bytes from the peer, in order; a WebSocket message may come in several calls.
  virtual void on_stream_bytes(std::string_view bytes) = 0;
  /// The stream failed or the peer closed it (`ec` is eof, or websocket closed); the
  /// stream is closed and says nothing more.
  virtual void on_stream_down(stream_stage at, const boost::system::error_code& ec) = 0;
};

class client_stream {
 public:
  virtual ~client_stream() = default;
  /// Starts resolving and connecting; the owner hears on_stream_up or on_stream_down.
  /// With an IP literal to connect to, a socket that cannot be opened or bound (EMFILE)
  /// is reported (on_stream_down at `open`) before start() returns.
  virtual void start() = 0;
  /// Queues `bytes`; they are written once the stream is up, in order (one WebSocket
  /// binary message per write). Ignored after close or failure.
  virtual void send(std::string_view bytes) = 0;
  /// Sends a FIN after what was written so far, then closes. Idempotent; no event
  /// reaches the owner afterwards. Call it on the stream's executor.
  virtual void close() = 0;
  [[nodiscard]] virtual bool is_up() const noexcept = 0;
  /// Bytes given to send() and not yet written (a slow reader's backlog).
  [[nodiscard]] virtual std::size_t queued() const noexcept = 0;
};

/// A stream on `executor` (a strand when several threads run its io_context).
/// Throws std::invalid_argument when TLS or WSS is asked for without `target.tls`
/// (a programmer error).
std::shared_ptr<client_stream> make_client_stream(const boost::asio::any_io_executor& executor,
                                                  stream_target target,
                                                  std::weak_ptr<stream_events> owner);

}  // namespace imock::net

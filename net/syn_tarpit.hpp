// A port whose SYNs go unanswered: a listening socket with a one-connection queue,
// filled by a connection of our own and never accepted. Linux drops a SYN to a
// listener whose accept queue is full (tcp_conn_request), so a client's connect()
// neither succeeds nor is refused: it hangs until the client's own time-out, as
// when a server's listen queue overflows in a storm. imock-server's
// "stop accepting, silently" (docs/admin-api.md). Plain sockets, no Asio.
#pragma once

#include <system_error>

#include <boost/asio/ip/tcp.hpp>

namespace imock::net {

class syn_tarpit {
 public:
  syn_tarpit() = default;
  ~syn_tarpit() { close(); }
  syn_tarpit(const syn_tarpit&) = delete;
  syn_tarpit& operator=(const syn_tarpit&) = delete;

  /// Listens on `at` (a port nobody else listens on now) and fills its queue.
  std::error_code open(const boost::asio::ip::tcp::endpoint& at);
  /// Frees the port (the queued connection is reset).
  void close() noexcept;
  [[nodiscard]] bool is_open() const noexcept { return listen_fd_ >= 0; }

 private:
  int listen_fd_ = -1;
  int filler_fd_ = -1;
};

}  // namespace imock::net
